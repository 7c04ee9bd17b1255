package server_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/auction"
	"github.com/diego-go/diego/auctioneer"
	"github.com/diego-go/diego/auctioneer/server"
	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep"
	"github.com/diego-go/diego/rep/reptest"
)

var _ = Describe("Runner (real Consul, test reps, a fake BBS decoding protobuf)", func() {
	const cellStateTimeout = 300 * time.Millisecond

	var (
		inbox   *server.Inbox
		fake    *fakeBBS
		reg     *prometheus.Registry
		results chan server.Result
		cfg     server.RunnerConfig
	)

	BeforeEach(func() {
		inbox = server.NewInbox()
		fake = startFakeBBS()
		reg = prometheus.NewRegistry()
		results = make(chan server.Result, 100)
		cfg = server.RunnerConfig{
			Inbox:            inbox,
			Cells:            server.ConsulCells{Client: consulClient},
			Reps:             rep.NewClient(rep.Options{StateTimeout: 5 * time.Second, WorkTimeout: 2 * time.Second}),
			BBS:              bbs.NewClient(fake.server.URL, nil),
			Logger:           logger,
			Metrics:          server.NewMetrics(reg),
			CellStateTimeout: cellStateTimeout,
			RequeueDelay:     100 * time.Millisecond,
			OnResult:         func(r server.Result) { results <- r },
		}
	})

	// run starts the runner as an ifrit process for the spec.
	run := func() {
		GinkgoHelper()
		p := ifrit.Background(server.NewRunner(cfg))
		Eventually(p.Ready()).Should(BeClosed())
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait(), 10*time.Second).Should(Receive(BeNil()))
		})
	}

	instancesOn := func(rep *reptest.Rep) []int32 {
		var idx []int32
		for _, l := range rep.Placed().LRPs {
			idx = append(idx, l.Index)
		}
		sort.Slice(idx, func(i, j int) bool { return idx[i] < idx[j] })
		return idx
	}

	It("finds the cells through their Consul presences, spreads the batch over them and sends each its work", func() {
		reps := []*reptest.Rep{startRep("cell-a", reptest.Options{}), startRep("cell-b", reptest.Options{}), startRep("cell-c", reptest.Options{})}
		// Queued before the runner starts, so they are one batch.
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("web", 64, 0, 1, 2, 3, 4, 5)})
		inbox.AddTasks([]models.TaskStartRequest{taskRequest("t1", 32), taskRequest("t2", 32), taskRequest("t3", 32)})
		run()

		var r server.Result
		Eventually(results, 5*time.Second).Should(Receive(&r))
		Expect(r.Cells).To(Equal(3))
		Expect(r.CellsSkipped).To(BeEmpty())
		Expect(r.PlacedLRPs).To(Equal(6))
		Expect(r.PlacedTasks).To(Equal(3))
		Expect(r.Rounds).To(Equal(1))
		for _, rep := range reps {
			Expect(rep.Placed().LRPs).To(HaveLen(2), rep.ID())
			Expect(rep.Placed().Tasks).To(HaveLen(1), rep.ID())
			Expect(rep.Works()).To(HaveLen(1), "one POST /work per cell and round")
			for _, l := range rep.Placed().LRPs {
				Expect(l.InstanceGUID).NotTo(BeEmpty())
			}
		}
		Expect(fake.FailedLRPs()).To(BeEmpty())
		Expect(fake.RejectedTasks()).To(BeEmpty())
	})

	It("puts requests that arrive during an auction into the next batch, duplicates merged (through the HTTP API)", func() {
		rep := startRep("cell-batch", reptest.Options{Total: models.Resources{MemoryMB: 4096, DiskMB: 4096, Containers: 100}})
		entered := make(chan struct{}, 10)
		release := make(chan struct{})
		var once sync.Once
		rep.SetBeforeWork(func(models.Work) {
			entered <- struct{}{}
			once.Do(func() { <-release })
		})
		defer once.Do(func() {})
		run()
		api := httptest.NewServer(server.NewHandler(logger, inbox))
		DeferCleanup(api.Close)
		client := auctioneer.NewClient(api.URL, nil)
		ctx := context.Background()

		Expect(client.RequestLRPAuctions(ctx, []models.LRPStartRequest{lrpRequest("first", 64, 0, 1)})).To(Succeed())
		Eventually(entered, 5*time.Second).Should(Receive(), "the first auction is submitting its work")

		// While the first auction waits on the cell: new work, with duplicates.
		Expect(client.RequestLRPAuctions(ctx, []models.LRPStartRequest{lrpRequest("second", 64, 0), lrpRequest("second", 64, 0, 1)})).To(Succeed())
		Expect(client.RequestLRPAuctions(ctx, []models.LRPStartRequest{lrpRequest("second", 64, 1)})).To(Succeed())
		Expect(client.RequestTaskAuctions(ctx, []models.TaskStartRequest{taskRequest("task", 8), taskRequest("task", 8)})).To(Succeed())
		Expect(client.RequestTaskAuctions(ctx, []models.TaskStartRequest{taskRequest("task", 8)})).To(Succeed())
		n, t := inbox.Len()
		Expect([]int{n, t}).To(Equal([]int{2, 1}), "waiting, merged")
		Consistently(results, 200*time.Millisecond).ShouldNot(Receive(), "the first auction has not finished")
		close(release)

		var first, second server.Result
		Eventually(results, 5*time.Second).Should(Receive(&first))
		Expect([]int{first.Instances, first.Tasks, first.PlacedLRPs}).To(Equal([]int{2, 0, 2}))
		Eventually(results, 5*time.Second).Should(Receive(&second))
		Expect([]int{second.Instances, second.Tasks, second.PlacedLRPs, second.PlacedTasks}).To(Equal([]int{2, 1, 2, 1}))
		Consistently(results, 300*time.Millisecond).ShouldNot(Receive(), "no third batch")

		works := rep.Works()
		Expect(works).To(HaveLen(2))
		Expect(works[1].Tasks).To(HaveLen(1))
		guids := map[string][]int32{}
		for _, l := range rep.Placed().LRPs {
			guids[l.ProcessGUID] = append(guids[l.ProcessGUID], l.Index)
		}
		Expect(guids).To(HaveKeyWithValue("first", ConsistOf(int32(0), int32(1))))
		Expect(guids).To(HaveKeyWithValue("second", ConsistOf(int32(0), int32(1))))
	})

	It("skips dead, hung and slow cells within the per-cell timeout and places on the rest", func() {
		healthy := startRep("cell-ok", reptest.Options{})
		hung := startRep("cell-hung", reptest.Options{})
		hung.SetHung(true)
		slow := startRep("cell-slow", reptest.Options{})
		slow.SetDelay(3 * time.Second)
		dropping := startRep("cell-dropping", reptest.Options{})
		dropping.SetDead(true)
		gone := startRep("cell-gone", reptest.Options{})
		gone.Close() // presence still in Consul, nothing listening
		run()

		start := time.Now()
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("web", 64, 0, 1)})
		var r server.Result
		Eventually(results, 5*time.Second).Should(Receive(&r))
		took := time.Since(start)
		AddReportEntry("auction with 4 of 5 cells unreachable", took.String())
		Expect(took).To(BeNumerically("<", cellStateTimeout+700*time.Millisecond), "never waits on a cell beyond the timeout")
		Expect(r.Cells).To(Equal(5))
		Expect(r.CellsSkipped).To(ConsistOf("cell-hung", "cell-slow", "cell-dropping", "cell-gone"))
		Expect(instancesOn(healthy)).To(Equal([]int32{0, 1}))
		Expect(hung.Works()).To(BeEmpty())
		Expect(slow.Works()).To(BeEmpty())
		Expect(fake.FailedLRPs()).To(BeEmpty())

		Expect(metricValue(reg, "auctioneer_cells_skipped_total", "")).To(Equal(4.0))
		Expect(metricValue(reg, "auctioneer_cell_state_fetch_duration_seconds", "")).To(Equal(5.0), "one observation per cell")
	})

	It("re-plans work a cell rejects on another cell within the same batch", func() {
		rejecting := startRep("cell-no", reptest.Options{})
		rejecting.SetRejecting(true)
		taking := startRep("cell-yes", reptest.Options{})
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("web", 64, 0, 1)})
		inbox.AddTasks([]models.TaskStartRequest{taskRequest("t", 64)})
		run()

		var r server.Result
		Eventually(results, 5*time.Second).Should(Receive(&r))
		Expect(r.Rounds).To(Equal(2))
		Expect(r.PlacedLRPs).To(Equal(2))
		Expect(r.PlacedTasks).To(Equal(1))
		Expect(instancesOn(taking)).To(Equal([]int32{0, 1}))
		Expect(taking.Placed().Tasks).To(HaveLen(1))
		Expect(rejecting.Works()).NotTo(BeEmpty())
		Expect(rejecting.Placed().Empty()).To(BeTrue())
		Expect(fake.FailedLRPs()).To(BeEmpty())
	})

	It("reports placement failures to the BBS: the ActualLRP's placement error, the Task rejected with the reason", func() {
		startRep("cell-small", reptest.Options{})
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("huge", 4096, 0, 1), lrpRequest("fits", 64, 0)})
		odd := taskRequest("odd-rootfs", 8)
		odd.RootFs = "preloaded:windows2016"
		inbox.AddTasks([]models.TaskStartRequest{taskRequest("huge-task", 4096), odd})
		run()

		var r server.Result
		Eventually(results, 5*time.Second).Should(Receive(&r))
		Expect(r.PlacedLRPs).To(Equal(1))
		Expect(r.Failures.FailedLRPs).To(HaveLen(2))
		Expect(r.Failures.FailedTasks).To(HaveLen(2))

		Expect(fake.FailedLRPs()).To(ConsistOf(
			HaveField("ActualLrpKey", And(HaveField("ProcessGuid", "huge"), HaveField("Index", int32(0)), HaveField("Domain", "domain"))),
			HaveField("ActualLrpKey", And(HaveField("ProcessGuid", "huge"), HaveField("Index", int32(1)))),
		))
		for _, f := range fake.FailedLRPs() {
			Expect(f.GetErrorMessage()).To(Equal("insufficient resources: memory"))
		}
		rejected := map[string]string{}
		for _, t := range fake.RejectedTasks() {
			rejected[t.GetTaskGuid()] = t.GetRejectionReason()
		}
		Expect(rejected).To(HaveKeyWithValue("huge-task", "insufficient resources: memory"))
		Expect(rejected).To(HaveKeyWithValue("odd-rootfs", "found no compatible cell for required rootfs"))

		Expect(metricValue(reg, "auctioneer_failed_placements_total", "lrp")).To(Equal(2.0))
		Expect(metricValue(reg, "auctioneer_failed_placements_total", "task")).To(Equal(2.0))
		Expect(metricValue(reg, "auctioneer_placed_total", "lrp")).To(Equal(1.0))
	})

	It("fails work every cell keeps rejecting after MaxRounds, and reports it", func() {
		for _, id := range []string{"cell-r1", "cell-r2"} {
			startRep(id, reptest.Options{}).SetRejecting(true)
		}
		cfg.MaxRounds = 2
		run()
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("web", 64, 0)})
		var r server.Result
		Eventually(results, 5*time.Second).Should(Receive(&r))
		Expect(r.Rounds).To(Equal(2))
		Expect(fake.FailedLRPs()).To(HaveLen(1))
		Expect(fake.FailedLRPs()[0].GetErrorMessage()).To(Equal(server.RejectedTooOften))
	})

	It("auctions work held back by the cap on starting containers again later instead of failing it", func() {
		rep := startRep("cell-cap", reptest.Options{})
		cfg.Auction = &auction.Options{StartingContainerWeight: auction.DefaultStartingContainerWeight, MaxStartsInFlight: 1}
		run()
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("web", 64, 0, 1, 2)})
		Eventually(func() []int32 { return instancesOn(rep) }, 5*time.Second).Should(Equal([]int32{0, 1, 2}))
		var r server.Result
		Expect(results).To(Receive(&r))
		Expect(r.PlacedLRPs).To(Equal(1))
		Expect(r.Requeued).To(Equal(2))
		Expect(fake.FailedLRPs()).To(BeEmpty())
	})

	It("re-plans the work of a cell that does not answer POST /work in time on another cell", func() {
		stuck := startRep("cell-stuck", reptest.Options{})
		release := make(chan struct{})
		stuck.SetBeforeWork(func(models.Work) { <-release })
		DeferCleanup(func() { close(release) })
		taking := startRep("cell-taking", reptest.Options{})
		cfg.Reps = rep.NewClient(rep.Options{StateTimeout: time.Second, WorkTimeout: 300 * time.Millisecond})
		run()
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("web", 64, 0, 1)})
		var r server.Result
		Eventually(results, 5*time.Second).Should(Receive(&r))
		Expect(r.Rounds).To(Equal(2))
		Expect(instancesOn(taking)).To(Equal([]int32{0, 1}))
		Expect(fake.FailedLRPs()).To(BeEmpty())
	})

	It("stops at once on a signal during an auction, without failing the work it could not place", func() {
		stuck := startRep("cell-stuck-stop", reptest.Options{})
		entered := make(chan struct{}, 1)
		release := make(chan struct{})
		stuck.SetBeforeWork(func(models.Work) { entered <- struct{}{}; <-release })
		DeferCleanup(func() { close(release) })
		p := ifrit.Background(server.NewRunner(cfg))
		Eventually(p.Ready()).Should(BeClosed())
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("web", 64, 0)})
		Eventually(entered, 5*time.Second).Should(Receive())

		start := time.Now()
		p.Signal(os.Interrupt)
		Eventually(p.Wait(), time.Second).Should(Receive(BeNil()))
		Expect(time.Since(start)).To(BeNumerically("<", 500*time.Millisecond))
		var r server.Result
		Expect(results).To(Receive(&r))
		Expect(r.Cancelled).To(BeTrue())
		Expect(fake.FailedLRPs()).To(BeEmpty())
	})

	It("fails the work as upstream's auctioneer does when no cell is present", func() {
		run()
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("lonely", 64, 0)})
		var r server.Result
		Eventually(results, 5*time.Second).Should(Receive(&r))
		Expect(r.Cells).To(BeZero())
		Expect(fake.FailedLRPs()).To(HaveLen(1))
		Expect(fake.FailedLRPs()[0].GetErrorMessage()).To(Equal("unable to communicate to compatible cells"))
	})

	It("keeps a batch whose cells cannot be listed (Consul unreachable) and auctions it once they can", func() {
		rep := startRep("cell-later", reptest.Options{})
		lister := &flakyLister{real: cfg.Cells}
		lister.failing.Store(true)
		cfg.Cells = lister
		run()
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("web", 64, 0)})
		var r server.Result
		Eventually(results, 5*time.Second).Should(Receive(&r))
		Expect(r.Requeued).To(Equal(1))
		Expect(fake.FailedLRPs()).To(BeEmpty())
		lister.failing.Store(false)
		Eventually(func() []int32 { return instancesOn(rep) }, 5*time.Second).Should(Equal([]int32{0}))
	})

	It("stops at once on a signal while the cells are being listed, without requeueing or failing the batch", func() {
		listing := make(chan struct{}, 1)
		cfg.Cells = blockingLister{entered: listing}
		p := ifrit.Background(server.NewRunner(cfg))
		Eventually(p.Ready()).Should(BeClosed())
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("web", 64, 0)})
		Eventually(listing, 5*time.Second).Should(Receive())

		p.Signal(os.Interrupt)
		Eventually(p.Wait(), time.Second).Should(Receive(BeNil()))
		var r server.Result
		Expect(results).To(Receive(&r))
		Expect(r.Cancelled).To(BeTrue())
		Expect(r.Requeued).To(BeZero())
		Expect(fake.FailedLRPs()).To(BeEmpty())
	})

	It("records auction duration, batch size, failed placements and cell-state fetch time", func() {
		startRep("cell-m", reptest.Options{})
		run()
		inbox.AddLRPs([]models.LRPStartRequest{lrpRequest("web", 64, 0, 1, 2)})
		Eventually(results, 5*time.Second).Should(Receive())
		families, err := reg.Gather()
		Expect(err).NotTo(HaveOccurred())
		names := map[string]bool{}
		for _, f := range families {
			names[f.GetName()] = true
		}
		for _, n := range []string{"auctioneer_auction_duration_seconds", "auctioneer_batch_size", "auctioneer_failed_placements_total", "auctioneer_cell_state_fetch_duration_seconds", "auctioneer_placed_total"} {
			Expect(names).To(HaveKey(n))
		}
		Expect(metricValue(reg, "auctioneer_placed_total", "lrp")).To(Equal(3.0))
	})
})

// metricValue reads a counter's value, or a histogram's sample count, from the registry; kind
// selects the "kind" label ("" for none).
func metricValue(reg *prometheus.Registry, name, kind string) float64 {
	GinkgoHelper()
	families, err := reg.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			label := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" {
					label = l.GetValue()
				}
			}
			if label != kind {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// The BBS's client is what the runner reports failures through.
var _ server.BBSClient = (*bbs.Client)(nil)

type flakyLister struct {
	real    server.CellLister
	failing atomic.Bool
}

func (f *flakyLister) Cells(ctx context.Context) ([]server.Cell, error) {
	if f.failing.Load() {
		return nil, errors.New("consul: connection refused")
	}
	return f.real.Cells(ctx)
}

// blockingLister is a Consul that does not answer: Cells blocks until its context ends.
type blockingLister struct{ entered chan struct{} }

func (b blockingLister) Cells(ctx context.Context) ([]server.Cell, error) {
	b.entered <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}
