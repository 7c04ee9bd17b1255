package depot_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/containerstore"
	"github.com/diego-go/diego/executor/depot"
	"github.com/diego-go/diego/internal/daemonconfig"
	"github.com/diego-go/diego/internal/gardentest"
)

// messages keeps what the executor publishes, by subject.
type messages struct {
	mu   sync.Mutex
	data map[string][][]byte
}

func (m *messages) Publish(subject string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = map[string][][]byte{}
	}
	m.data[subject] = append(m.data[subject], data)
	return nil
}

func (m *messages) On(subject string) [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.data[subject]...)
}

// idle is healthy at once and ends when stopped: these specs are about the executor around the
// steps, not the steps.
func idle(in containerstore.StepInput) (containerstore.Step, containerstore.Step) {
	return nil, idleStep(in.Callbacks.OnHealthy)
}

type idleStep func()

func (s idleStep) Perform(ctx context.Context) error {
	s()
	<-ctx.Done()
	return errors.New("cancelled")
}

var _ = Describe("the executor over a real garden", Ordered, func() {
	var (
		g   *gardentest.Garden
		cfg depot.Config
		pub *messages
	)

	BeforeAll(func() {
		g = gardentest.Start(gardentest.Options{Extra: map[string]any{"max_containers": 20}})
	})

	BeforeEach(func() {
		pub = &messages{}
		cfg = depot.DefaultConfig()
		cfg.CellID = "cell-depot"
		cfg.PreloadedRootFS = []string{"busybox"}
		cfg.CachePath = GinkgoT().TempDir()
		cfg.MemoryMB = "1024"
		cfg.ContainerReapInterval = daemonconfig.Duration(50 * time.Millisecond)
		cfg.ReservedExpirationTime = daemonconfig.Duration(300 * time.Millisecond)
		cfg.ContainerMetricsReportInterval = daemonconfig.Duration(100 * time.Millisecond)
		cfg.GardenHealthcheckInterval = daemonconfig.Duration(100 * time.Millisecond)
	})

	start := func() (*depot.Executor, ifrit.Process) {
		GinkgoHelper()
		e, err := depot.NewWithSteps(cfg, slog.New(slog.NewTextHandler(GinkgoWriter, nil)), g.Client, pub, idle)
		Expect(err).NotTo(HaveOccurred())
		p := ifrit.Invoke(e)
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait(), 10*time.Second).Should(Receive(BeNil()))
		})
		return e, p
	}

	receive := func(events <-chan executor.Event, guid string, t executor.EventType) executor.Event {
		GinkgoHelper()
		var got executor.Event
		Eventually(func() bool {
			for {
				select {
				case ev := <-events:
					if ev.Container.Guid == guid && ev.Type == t {
						got = ev
						return true
					}
				default:
					return false
				}
			}
		}, 20*time.Second, 20*time.Millisecond).Should(BeTrue(), "%s of %s", t, guid)
		return got
	}

	runInfo := executor.RunInfo{RootFSPath: gardentest.RootFS, MetricsConfig: executor.MetricsConfig{Guid: "metrics-guid", Index: 1,
		Tags: map[string]string{"app": "x"}}}

	It("reserves what fits, refuses the rest, reaps reservations never run, runs, reports metrics and deletes", func() {
		ctx := context.Background()
		e, _ := start()
		Expect(e.Healthy(ctx)).To(BeTrue())
		capacity, err := g.Client.Capacity()
		Expect(err).NotTo(HaveOccurred())
		total, _ := e.TotalResources(ctx)
		Expect(total.MemoryMB).To(Equal(1024))
		Expect(total.Containers).To(Equal(int(capacity.MaxContainers)-1), "one is kept for the health check")
		Expect(total.DiskMB).To(BeNumerically(">", 0))
		Expect(e.Ping(ctx)).To(Succeed())

		events, err := e.SubscribeToEvents(ctx)
		Expect(err).NotTo(HaveOccurred())
		failures := e.AllocateContainers(ctx, []executor.AllocationRequest{
			{Guid: "expires", Resource: executor.Resource{MemoryMB: 512}},
			{Guid: "too-big", Resource: executor.Resource{MemoryMB: 600}},
		})
		Expect(failures).To(HaveLen(1))
		Expect(failures[0].Guid).To(Equal("too-big"))
		Expect(failures[0].Reason).To(Equal("insufficient resources: memory"))
		Expect(failures[0].Err).To(MatchError(executor.ErrInsufficientResources), "the failure itself, for errors.Is")
		receive(events, "expires", executor.EventTypeContainerReserved)
		done := receive(events, "expires", executor.EventTypeContainerComplete)
		Expect(done.Container.RunResult.FailureReason).To(Equal("expired container"))
		Expect(e.RemainingResources(ctx)).To(Equal(total))
		Expect(e.DeleteContainer(ctx, "expires")).To(Succeed())

		Expect(e.AllocateContainers(ctx, []executor.AllocationRequest{{Guid: "runs", Resource: executor.Resource{MemoryMB: 64, DiskMB: 32},
			Tags: executor.Tags{"kind": "lrp"}}})).To(BeEmpty())
		Expect(e.RunContainer(ctx, "runs", runInfo)).To(Succeed())
		receive(events, "runs", executor.EventTypeContainerRunning)
		list, err := e.ListContainers(ctx, executor.Tags{"kind": "lrp"})
		Expect(err).NotTo(HaveOccurred())
		Expect(list).To(HaveLen(1))

		gc, err := g.Client.Lookup("runs")
		Expect(err).NotTo(HaveOccurred())
		p, err := gc.Run(garden.ProcessSpec{Path: "dd", Args: []string{"if=/dev/zero", "of=/tmp/five", "bs=1048576", "count=5"}, User: "root"},
			garden.ProcessIO{Stdout: GinkgoWriter, Stderr: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Wait()).To(Equal(0))
		metrics, err := e.GetBulkMetrics(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(metrics).To(HaveKey("runs"))
		Expect(metrics["runs"].DiskUsageInBytes).To(BeNumerically(">=", 5*1024*1024))
		Expect(metrics["runs"].MemoryLimitInBytes).To(BeEquivalentTo(64 * 1024 * 1024))
		Expect(metrics["runs"].DiskLimitInBytes).To(BeEquivalentTo(32 * 1024 * 1024))
		Expect(metrics["runs"].ContainerAgeInNanoseconds).To(BeNumerically(">", 0))

		Eventually(func() int { return len(pub.On("metrics.metrics-guid")) }, 5*time.Second).Should(BeNumerically(">=", 2))
		var msg depot.MetricsMessage
		Expect(json.Unmarshal(pub.On("metrics.metrics-guid")[1], &msg)).To(Succeed())
		Expect(msg.ApplicationID).To(Equal("metrics-guid"))
		Expect(msg.InstanceIndex).To(Equal(1))
		Expect(msg.MemoryBytesQuota).To(BeEquivalentTo(64 * 1024 * 1024))
		Expect(msg.DiskBytesQuota).To(BeEquivalentTo(32 * 1024 * 1024))
		Expect(msg.ContainerAge).To(BeNumerically(">", 0))
		Expect(msg.Tags).To(Equal(map[string]string{"app": "x", "source_id": "metrics-guid", "instance_id": "1"}))

		Expect(e.UpdateContainer(ctx, "runs", map[string]string{"app": "y", "space": "s"})).To(Succeed())
		seen := len(pub.On("metrics.metrics-guid"))
		Eventually(func() map[string]string {
			all := pub.On("metrics.metrics-guid")
			var last depot.MetricsMessage
			Expect(json.Unmarshal(all[len(all)-1], &last)).To(Succeed())
			if len(all) <= seen {
				return nil
			}
			return last.Tags
		}, 5*time.Second).Should(Equal(map[string]string{"app": "y", "space": "s", "source_id": "metrics-guid", "instance_id": "1"}))
		Expect(e.UpdateContainer(ctx, "unknown", nil)).To(MatchError(executor.ErrContainerNotFound))

		Expect(e.StopContainer(ctx, "runs")).To(Succeed())
		stopped := receive(events, "runs", executor.EventTypeContainerComplete)
		Expect(stopped.Container.RunResult.Stopped).To(BeTrue())
		Expect(e.DeleteContainer(ctx, "runs")).To(Succeed())
		_, err = e.GetContainer(ctx, "runs")
		Expect(err).To(MatchError(executor.ErrContainerNotFound))
		_, err = g.Client.Lookup("runs")
		Expect(err).To(HaveOccurred())
		Expect(e.RemainingResources(ctx)).To(Equal(total))
	})

	It("is unhealthy while garden's health check fails, and leaves no health check container behind", func() {
		cfg.GardenHealthcheckProcessPath = "/bin/false"
		cfg.GardenHealthcheckCommandRetryPause = daemonconfig.Duration(time.Millisecond)
		e, _ := start()
		Expect(e.Healthy(context.Background())).To(BeFalse())
		Consistently(func() bool { return e.Healthy(context.Background()) }, 500*time.Millisecond).Should(BeFalse())
		Eventually(func() []string {
			list, _ := g.Client.Containers(garden.Properties{containerstore.OwnerProperty: "executor-health-check-cell-depot"})
			var handles []string
			for _, c := range list {
				handles = append(handles, c.Handle())
			}
			return handles
		}, 5*time.Second).Should(Or(BeEmpty(), HaveEach(HavePrefix("executor-healthcheck-"))))
	})

	It("waits, when signalled, for a garden health check in flight", func() {
		cfg.GardenHealthcheckProcessPath = "/bin/sh"
		cfg.GardenHealthcheckProcessArgs = []string{"-c", "sleep 0.5"}
		cfg.GardenHealthcheckInterval = daemonconfig.Duration(50 * time.Millisecond)
		e, err := depot.NewWithSteps(cfg, slog.New(slog.NewTextHandler(GinkgoWriter, nil)), g.Client, pub, idle)
		Expect(err).NotTo(HaveOccurred())
		p := ifrit.Invoke(e)
		time.Sleep(300 * time.Millisecond) // a periodic check is running its process
		p.Signal(os.Interrupt)
		Eventually(p.Wait(), 10*time.Second).Should(Receive(BeNil()))
		buf := make([]byte, 1<<20)
		Expect(string(buf[:runtime.Stack(buf, true)])).NotTo(ContainSubstring("depot.(*Executor).checkHealth"))
	})

	It("adopts, when it starts again, the containers it left running", func() {
		ctx := context.Background()
		first, p := start()
		Expect(first.AllocateContainers(ctx, []executor.AllocationRequest{{Guid: "kept", Resource: executor.Resource{MemoryMB: 64}}})).To(BeEmpty())
		Expect(first.RunContainer(ctx, "kept", runInfo)).To(Succeed())
		Eventually(func() executor.State { c, _ := first.GetContainer(ctx, "kept"); return c.State }, 20*time.Second).Should(Equal(executor.StateRunning))
		Expect(first.UpdateContainer(ctx, "kept", map[string]string{"app": "updated"})).To(Succeed())
		p.Signal(os.Interrupt)
		Eventually(p.Wait(), 10*time.Second).Should(Receive(BeNil()))
		_, err := g.Client.Lookup("kept")
		Expect(err).NotTo(HaveOccurred(), "stopping the executor leaves its containers running")

		second, _ := start()
		c, err := second.GetContainer(ctx, "kept")
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Adopted).To(BeTrue())
		Expect(c.RunInfo.MetricsConfig.Tags).To(Equal(map[string]string{"app": "updated"}), "updated metric tags survive adoption")
		Eventually(func() executor.State { c, _ := second.GetContainer(ctx, "kept"); return c.State }).Should(Equal(executor.StateRunning))
		Expect(second.DeleteContainer(ctx, "kept")).To(Succeed())
	})
})
