package processor_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/depot"
	"github.com/diego-go/diego/internal/daemonconfig"
	"github.com/diego-go/diego/internal/gardentest"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/bulksync"
	"github.com/diego-go/diego/rep/cellrep"
	"github.com/diego-go/diego/rep/processor"
)

// discard publishes no log line: these specs are about the BBS's records and the app's answers.
type discard struct{}

func (discard) Publish(string, []byte) error { return nil }

var _ = Describe("with the real executor on a real garden", Ordered, func() {
	var (
		g   *gardentest.Garden
		cfg depot.Config
	)

	BeforeAll(func() {
		g = gardentest.Start(gardentest.Options{})
		cfg = depot.DefaultConfig()
		cfg.CellID = "cell-garden"
		cfg.PreloadedRootFS = []string{"busybox"}
		cfg.CachePath = GinkgoT().TempDir()
		cfg.DeclarativeHealthcheckPath = gardentest.HealthcheckDir()
		cfg.MemoryMB = "1024"
		cfg.GracefulShutdownInterval = daemonconfig.Duration(2 * time.Second)
	})

	// startCell starts the executor, the processor and the bulk sync as a rep does, and returns
	// the executor and a kill of all three (as kill -9 of the rep leaves the containers).
	startCell := func() (*depot.Executor, func()) {
		GinkgoHelper()
		logger := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
		e, err := depot.New(cfg, logger, g.Client, discard{})
		Expect(err).NotTo(HaveOccurred())
		procs := []ifrit.Process{ifrit.Invoke(e)}
		proc := processor.New(processor.Config{CellID: cfg.CellID, AvailabilityZone: "z1"}, e, realBBS.Client, logger)
		procs = append(procs, ifrit.Invoke(proc))
		procs = append(procs, ifrit.Invoke(bulksync.New(bulksync.Config{CellID: cfg.CellID, Interval: time.Second}, e, realBBS.Client, proc, logger)))
		stop := func(sig os.Signal) {
			for i := len(procs) - 1; i >= 0; i-- {
				procs[i].Signal(sig)
				Eventually(procs[i].Wait(), 15*time.Second).Should(Receive())
			}
			procs = nil
		}
		DeferCleanup(func() { stop(os.Interrupt) })
		return e, func() { stop(os.Kill) }
	}

	get := func(url string) string {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get(url)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	It("runs an instance to RUNNING, answering on its host port, and a rep started again after a kill adopts it", func() {
		ctx := context.Background()
		guid := fmt.Sprintf("garden-%d", specN.Add(1))
		Expect(realBBS.Client.DesireLRP(ctx, &models.DesiredLRP{ProcessGuid: guid, Domain: "d", RootFs: gardentest.RootFS, Instances: 1,
			MemoryMb: 64, DiskMb: 64, Ports: []uint32{8080}, LogGuid: "log-" + guid,
			EnvironmentVariables: []*models.EnvironmentVariable{{Name: "PORT", Value: "8080"}},
			Action:               &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: gardentest.TestAppPath(), User: "vcap"}}},
			// as an app's: RUNNING once it listens, not once it started
			CheckDefinition: &models.CheckDefinition{Checks: []*models.Check{{Value: &models.Check_TcpCheck{TcpCheck: &models.TCPCheck{Port: 8080}}}}},
		})).To(Succeed())
		e, kill := startCell()
		cell := cellrep.New(cellrep.Config{CellID: cfg.CellID, RootFSProviders: models.RootFSProviders{"preloaded": models.FixedSetRootFSProvider("busybox")}},
			e, slog.New(slog.DiscardHandler))
		rejected, err := cell.Perform(ctx, models.Work{LRPs: []models.RepLRP{{LRPKey: models.LRPKey{ProcessGUID: guid, Domain: "d"},
			PlacementConstraint: models.PlacementConstraint{RootFs: gardentest.RootFS}, Resource: models.Resource{MemoryMB: 64, DiskMB: 64}}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(rejected.Empty()).To(BeTrue())

		running := func() *models.ActualLRP {
			lrps, err := realBBS.Client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: guid})
			Expect(err).NotTo(HaveOccurred())
			if len(lrps) != 1 || lrps[0].GetState() != models.ActualLRPStateRunning {
				return nil
			}
			return lrps[0]
		}
		Eventually(running, 60*time.Second, 200*time.Millisecond).ShouldNot(BeNil())
		a := running()
		ig := a.GetActualLrpInstanceKey().GetInstanceGuid()
		url := fmt.Sprintf("http://%s:%d/", a.GetActualLrpNetInfo().GetAddress(), a.GetActualLrpNetInfo().GetPorts()[0].GetHostPort())
		Expect(get(url)).To(Equal("0 " + ig))

		kill()
		Expect(get(url)).To(Equal("0 "+ig), "the container outlives the rep")

		e, _ = startCell()
		Eventually(func() bool {
			c, err := e.GetContainer(ctx, ig)
			return err == nil && c.Adopted && c.State == executor.StateRunning
		}, 30*time.Second, 200*time.Millisecond).Should(BeTrue())
		Consistently(func() string { return running().GetActualLrpInstanceKey().GetInstanceGuid() }, 3*time.Second, 200*time.Millisecond).Should(Equal(ig))
		Expect(get(url)).To(Equal("0 " + ig))

		Expect(e.StopContainer(ctx, ig)).To(Succeed())
		Eventually(func() error { _, err := e.GetContainer(ctx, ig); return err }, 15*time.Second).Should(MatchError(executor.ErrContainerNotFound))
		lrps, err := realBBS.Client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: guid})
		Expect(err).NotTo(HaveOccurred())
		Expect(lrps).To(BeEmpty(), "the stopped instance is removed")
	})

	It("reports a crash in the executor's words, a task's result, and hands back a task whose download failed", func() {
		ctx := context.Background()
		guid := fmt.Sprintf("garden-%d", specN.Add(1))
		sh := func(script string) *models.Action {
			return &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/sh", Args: []string{"-c", script}, User: "vcap"}}}
		}
		Expect(realBBS.Client.DesireLRP(ctx, &models.DesiredLRP{ProcessGuid: guid, Domain: "d", RootFs: gardentest.RootFS, Instances: 1,
			MemoryMb: 64, DiskMb: 64, Action: sh("exit 3")})).To(Succeed())
		Expect(realBBS.Client.DesireTask(ctx, guid+"-ok", "d", &models.TaskDefinition{RootFs: gardentest.RootFS, MemoryMb: 64, DiskMb: 64,
			Action: sh("echo -n 42 > /tmp/result"), ResultFile: "/tmp/result"})).To(Succeed())
		Expect(realBBS.Client.DesireTask(ctx, guid+"-dl", "d", &models.TaskDefinition{RootFs: gardentest.RootFS, MemoryMb: 64, DiskMb: 64,
			Action: &models.Action{Value: &models.Action_SerialAction{SerialAction: &models.SerialAction{Actions: []*models.Action{
				{Value: &models.Action_DownloadAction{DownloadAction: &models.DownloadAction{From: "http://127.0.0.1:1/missing.tgz", To: "/tmp/x", User: "vcap"}}},
				sh("true"),
			}}}}})).To(Succeed())
		e, _ := startCell()
		cell := cellrep.New(cellrep.Config{CellID: cfg.CellID, RootFSProviders: models.RootFSProviders{"preloaded": models.FixedSetRootFSProvider("busybox")}},
			e, slog.New(slog.DiscardHandler))
		pc := models.PlacementConstraint{RootFs: gardentest.RootFS}
		res := models.Resource{MemoryMB: 64, DiskMB: 64}
		rejected, err := cell.Perform(ctx, models.Work{
			LRPs:  []models.RepLRP{{LRPKey: models.LRPKey{ProcessGUID: guid, Domain: "d"}, PlacementConstraint: pc, Resource: res}},
			Tasks: []models.RepTask{{TaskGuid: guid + "-ok", Domain: "d", PlacementConstraint: pc, Resource: res}, {TaskGuid: guid + "-dl", Domain: "d", PlacementConstraint: pc, Resource: res}},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(rejected.Empty()).To(BeTrue())

		Eventually(func() string {
			lrps, err := realBBS.Client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: guid})
			Expect(err).NotTo(HaveOccurred())
			if len(lrps) == 0 {
				return ""
			}
			return lrps[0].GetCrashReason()
		}, 60*time.Second, 200*time.Millisecond).Should(Equal("APP/PROC/WEB: Exited with status 3"))
		task := func(g string) func() *models.Task {
			return func() *models.Task {
				t, err := realBBS.Client.TaskByGuid(ctx, g)
				Expect(err).NotTo(HaveOccurred())
				return t
			}
		}
		Eventually(task(guid+"-ok"), 60*time.Second, 200*time.Millisecond).Should(HaveField("State", models.Task_Completed))
		Expect(task(guid + "-ok")()).To(And(HaveField("Failed", false), HaveField("Result", "42")))
		Eventually(task(guid+"-dl"), 60*time.Second, 200*time.Millisecond).Should(HaveField("RejectionCount", int32(1)))
		Expect(task(guid+"-dl")()).To(HaveField("State", models.Task_Pending), "placed again (no auctioneer here to do it)")
		Eventually(func() []executor.Container { cs, _ := e.ListContainers(ctx, nil); return cs }, 15*time.Second).Should(BeEmpty())
	})
})
