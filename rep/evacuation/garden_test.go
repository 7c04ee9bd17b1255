package evacuation_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/executor/depot"
	"github.com/diego-go/diego/internal/daemonconfig"
	"github.com/diego-go/diego/internal/gardentest"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/cellrep"
	"github.com/diego-go/diego/rep/evacuation"
	"github.com/diego-go/diego/rep/processor"
)

type discard struct{}

func (discard) Publish(string, []byte) error { return nil }

// gardenCell is one cell's executor, cell rep, processor and evacuator over a shared garden.
type gardenCell struct {
	id   string
	cell *cellrep.CellRep
	flag *evacuation.Flag
	evac ifrit.Process
}

var _ = Describe("evacuating a cell with the real executor on a real garden", Ordered, func() {
	var g *gardentest.Garden

	BeforeAll(func() {
		g = gardentest.Start(gardentest.Options{})
	})

	startCell := func(id string) *gardenCell {
		GinkgoHelper()
		logger := slog.New(slog.NewTextHandler(GinkgoWriter, nil)).With("cell", id)
		cfg := depot.DefaultConfig()
		cfg.CellID = id
		cfg.PreloadedRootFS = []string{"busybox"}
		cfg.CachePath = GinkgoT().TempDir()
		cfg.DeclarativeHealthcheckPath = gardentest.HealthcheckDir()
		cfg.MemoryMB = "512"
		cfg.GracefulShutdownInterval = daemonconfig.Duration(2 * time.Second)
		cfg.HealthCheckContainerOwnerName = id + "-health-check"
		e, err := depot.New(cfg, logger, g.Client, discard{})
		Expect(err).NotTo(HaveOccurred())
		c := &gardenCell{id: id, flag: evacuation.NewFlag()}
		proc := processor.New(processor.Config{CellID: id, Evacuating: c.flag.Evacuating}, e, realBBS.Client, logger)
		procs := []ifrit.Process{ifrit.Invoke(e), ifrit.Invoke(proc)}
		c.evac = ifrit.Invoke(evacuation.New(evacuation.Config{CellID: id, Timeout: time.Minute, PollInterval: 100 * time.Millisecond},
			c.flag, e, realBBS.Client, proc, logger))
		procs = append(procs, c.evac)
		DeferCleanup(func() {
			for i := len(procs) - 1; i >= 0; i-- {
				procs[i].Signal(os.Interrupt)
				Eventually(procs[i].Wait(), 15*time.Second).Should(Receive())
			}
		})
		c.cell = cellrep.New(cellrep.Config{CellID: id, RootFSProviders: models.RootFSProviders{"preloaded": models.FixedSetRootFSProvider("busybox")},
			Evacuating: c.flag.Evacuating}, e, logger)
		return c
	}

	It("moves every instance to the other cell with one always answering, and ends as soon as the last is replaced", func() {
		ctx := context.Background()
		guid := fmt.Sprintf("evac-garden-%d", specN.Add(1))
		Expect(realBBS.Client.DesireLRP(ctx, &models.DesiredLRP{ProcessGuid: guid, Domain: "d", RootFs: gardentest.RootFS, Instances: 1,
			MemoryMb: 64, DiskMb: 64, Ports: []uint32{8080}, LogGuid: "log-" + guid,
			EnvironmentVariables: []*models.EnvironmentVariable{{Name: "PORT", Value: "8080"}},
			Action:               &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: gardentest.TestAppPath(), User: "vcap"}}},
			// as an app's: an instance counts as RUNNING once it listens, not once it started
			CheckDefinition: &models.CheckDefinition{Checks: []*models.Check{{Value: &models.Check_TcpCheck{TcpCheck: &models.TCPCheck{Port: 8080}}}}},
		})).To(Succeed())
		a, b := startCell("cell-a"), startCell("cell-b")
		work := models.Work{LRPs: []models.RepLRP{{LRPKey: models.LRPKey{ProcessGUID: guid, Domain: "d"},
			PlacementConstraint: models.PlacementConstraint{RootFs: gardentest.RootFS}, Resource: models.Resource{MemoryMB: 64, DiskMB: 64}}}}
		rejected, err := a.cell.Perform(ctx, work)
		Expect(err).NotTo(HaveOccurred())
		Expect(rejected.Empty()).To(BeTrue())

		// the URLs of the RUNNING records, evacuating ones included
		urls := func() map[string]string {
			lrps, err := realBBS.Client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: guid})
			Expect(err).NotTo(HaveOccurred())
			out := map[string]string{}
			for _, l := range lrps {
				if l.GetState() == models.ActualLRPStateRunning {
					n := l.GetActualLrpNetInfo()
					out[l.GetActualLrpInstanceKey().GetCellId()] = fmt.Sprintf("http://%s:%d/", n.GetAddress(), n.GetPorts()[0].GetHostPort())
				}
			}
			return out
		}
		Eventually(urls, 60*time.Second, 200*time.Millisecond).Should(HaveKey("cell-a"))

		// every 50 ms until the spec ends: some RUNNING record answers
		var checks, misses atomic.Int32
		stopWatch := make(chan struct{})
		watched := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(watched)
			// a dead instance is refused at once; a live one on a busy machine may take a while
			client := http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stopWatch:
					return
				case <-time.After(50 * time.Millisecond):
				}
				answered := false
				var tried []string // what each URL gave, for the log of a miss
				for cell, u := range urls() {
					resp, err := client.Get(u)
					if err != nil {
						tried = append(tried, cell+": "+err.Error())
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					answered = answered || resp.StatusCode == http.StatusOK
					tried = append(tried, fmt.Sprintf("%s: status %d", cell, resp.StatusCode))
				}
				checks.Add(1)
				if !answered {
					misses.Add(1)
					GinkgoWriter.Printf("%s no instance answered: %v\n", time.Now().Format("15:04:05.000"), tried)
				}
			}
		}()

		a.flag.Evacuate()
		Consistently(a.evac.Wait(), time.Second).ShouldNot(Receive(), "the instance is kept until its replacement runs")
		Expect(urls()).To(HaveKey("cell-a"))
		// the auctioneer's part: the unclaimed replacement goes to the other cell
		rejected, err = a.cell.Perform(ctx, work)
		Expect(err).NotTo(HaveOccurred())
		Expect(rejected).To(Equal(models.Work{LRPs: work.LRPs}), "an evacuating cell takes nothing")
		rejected, err = b.cell.Perform(ctx, work)
		Expect(err).NotTo(HaveOccurred())
		Expect(rejected.Empty()).To(BeTrue())

		start := time.Now()
		Eventually(a.evac.Wait(), 60*time.Second).Should(Receive(BeNil()))
		GinkgoWriter.Printf("cell-a done %s after the replacement was placed\n", time.Since(start))
		Expect(urls()).To(HaveLen(1))
		Expect(urls()).To(HaveKey("cell-b"))
		close(stopWatch)
		<-watched
		Expect(checks.Load()).To(BeNumerically(">", 20))
		Expect(misses.Load()).To(BeZero(), "a moment with no instance answering")
	})
})
