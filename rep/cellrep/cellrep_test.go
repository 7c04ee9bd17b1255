package cellrep_test

import (
	"context"
	"log/slog"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/cellrep"
	"github.com/diego-go/diego/rep/internal/fakeexec"
)

func lrp(guid string, index int32, mem int32) models.RepLRP {
	return models.RepLRP{LRPKey: models.LRPKey{ProcessGUID: guid, Index: index, Domain: "d"},
		PlacementConstraint: models.PlacementConstraint{RootFs: "preloaded:cflinuxfs4", PlacementTags: []string{"t"}},
		Resource:            models.Resource{MemoryMB: mem, DiskMB: 10}}
}

func task(guid string, mem int32) models.RepTask {
	return models.RepTask{TaskGuid: guid, Domain: "d", PlacementConstraint: models.PlacementConstraint{RootFs: "docker:///busybox"},
		Resource: models.Resource{MemoryMB: mem, DiskMB: 10}}
}

var _ = Describe("CellRep", func() {
	var (
		ctx        = context.Background()
		exec       *fakeexec.Executor
		cell       *cellrep.CellRep
		evacuating bool
		guids      int
	)

	BeforeEach(func() {
		exec = fakeexec.New(executor.Resources{MemoryMB: 256, DiskMB: 1024, Containers: 10})
		evacuating = false
		guids = 0
		cell = cellrep.New(cellrep.Config{
			CellID: "cell-1", CellIndex: 2, RepURL: "https://cell-1.rep:1801", Zone: "z1",
			RootFSProviders: models.RootFSProviders{"preloaded": models.FixedSetRootFSProvider("cflinuxfs4"), "docker": models.ArbitraryRootFSProvider()},
			PlacementTags:   []string{"t"},
			Evacuating:      func() bool { return evacuating },
			NewInstanceGuid: func() string { guids++; return "ig-" + string(rune('a'+guids-1)) },
		}, exec, slog.New(slog.DiscardHandler))
	})

	Describe("Perform", func() {
		It("allocates what fits, larger instances first, and answers the rest", func() {
			rejected, err := cell.Perform(ctx, models.Work{CellID: "cell-1",
				LRPs:  []models.RepLRP{lrp("small", 0, 64), lrp("big", 0, 128), lrp("too-big", 1, 512)},
				Tasks: []models.RepTask{task("t1", 64), task("t2", 64)}})
			Expect(err).NotTo(HaveOccurred())
			Expect(rejected.LRPs).To(Equal([]models.RepLRP{lrp("too-big", 1, 512)}))
			Expect(rejected.Tasks).To(Equal([]models.RepTask{task("t2", 64)}))

			big, err := exec.GetContainer(ctx, "ig-b")
			Expect(err).NotTo(HaveOccurred(), "the big instance got the second guid: it was allocated after too-big, before small")
			Expect(big.Tags).To(Equal(executor.Tags{"lifecycle": "lrp", "domain": "d", "process-guid": "big", "process-index": "0",
				"instance-guid": "ig-b", "placement-tags": `["t"]`, "volume-drivers": "null"}))
			t1, err := exec.GetContainer(ctx, "t1")
			Expect(err).NotTo(HaveOccurred())
			Expect(t1.Tags).To(HaveKeyWithValue("lifecycle", "task"))
			Expect(t1.Resource).To(Equal(executor.Resource{MemoryMB: 64, DiskMB: 10}))
		})

		It("does not answer back a task it already holds (sent to it again), so it is never rejected while it runs here", func() {
			rejected, err := cell.Perform(ctx, models.Work{Tasks: []models.RepTask{task("t1", 64)}})
			Expect(err).NotTo(HaveOccurred())
			Expect(rejected.Empty()).To(BeTrue())
			rejected, err = cell.Perform(ctx, models.Work{Tasks: []models.RepTask{task("t1", 64), task("t2", 512)}})
			Expect(err).NotTo(HaveOccurred())
			Expect(rejected.Tasks).To(Equal([]models.RepTask{task("t2", 512)}), "only the task that does not fit")
			Expect(exec.ListContainers(ctx, nil)).To(HaveLen(1))
		})

		It("answers work whose rootfs the cell does not offer", func() {
			bad := lrp("other-stack", 0, 1)
			bad.RootFs = "preloaded:windows"
			rejected, err := cell.Perform(ctx, models.Work{LRPs: []models.RepLRP{bad}})
			Expect(err).NotTo(HaveOccurred())
			Expect(rejected.LRPs).To(Equal([]models.RepLRP{bad}))
			Expect(exec.ListContainers(ctx, nil)).To(BeEmpty())
		})

		It("refuses work meant for another cell", func() {
			_, err := cell.Perform(ctx, models.Work{CellID: "cell-2", LRPs: []models.RepLRP{lrp("a", 0, 1)}})
			Expect(err).To(MatchError(cellrep.ErrCellIDMismatch))
			Expect(exec.ListContainers(ctx, nil)).To(BeEmpty())
		})

		It("takes nothing while evacuating", func() {
			evacuating = true
			work := models.Work{LRPs: []models.RepLRP{lrp("a", 0, 1)}, Tasks: []models.RepTask{task("t", 1)}}
			rejected, err := cell.Perform(ctx, work)
			Expect(err).NotTo(HaveOccurred())
			Expect(rejected).To(Equal(work))
			Expect(exec.ListContainers(ctx, nil)).To(BeEmpty())
		})
	})

	Describe("State", func() {
		It("reports the cell, its resources and every instance and task with its state", func() {
			_, err := cell.Perform(ctx, models.Work{LRPs: []models.RepLRP{lrp("a", 0, 64), lrp("b", 1, 64)}, Tasks: []models.RepTask{task("t", 64)}})
			Expect(err).NotTo(HaveOccurred())
			Expect(exec.RunContainer(ctx, "ig-a", executor.RunInfo{RootFSPath: "preloaded:cflinuxfs4"})).To(Succeed())
			exec.Run("ig-a")
			exec.Complete("t", executor.RunResult{Failed: true, FailureReason: "boom"})

			s, healthy, err := cell.State(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(healthy).To(BeTrue())
			Expect(s.CellID).To(Equal("cell-1"))
			Expect(s.CellIndex).To(Equal(2))
			Expect(s.RepURL).To(Equal("https://cell-1.rep:1801"))
			Expect(s.Zone).To(Equal("z1"))
			Expect(s.PlacementTags).To(Equal([]string{"t"}))
			Expect(s.TotalResources).To(Equal(models.Resources{MemoryMB: 256, DiskMB: 1024, Containers: 10}))
			Expect(s.AvailableResources).To(Equal(models.Resources{MemoryMB: 64, DiskMB: 994, Containers: 7}))
			Expect(s.StartingContainerCount).To(Equal(1))
			Expect(s.LRPs).To(ConsistOf(
				models.RepLRP{InstanceGUID: "ig-a", LRPKey: models.LRPKey{ProcessGUID: "a", Index: 0, Domain: "d"},
					PlacementConstraint: models.PlacementConstraint{RootFs: "preloaded:cflinuxfs4", PlacementTags: []string{"t"}},
					Resource:            models.Resource{MemoryMB: 64, DiskMB: 10}, State: "RUNNING"},
				models.RepLRP{InstanceGUID: "ig-b", LRPKey: models.LRPKey{ProcessGUID: "b", Index: 1, Domain: "d"},
					PlacementConstraint: models.PlacementConstraint{PlacementTags: []string{"t"}},
					Resource:            models.Resource{MemoryMB: 64, DiskMB: 10}, State: "CLAIMED"},
			))
			Expect(s.Tasks).To(Equal([]models.RepTask{{TaskGuid: "t", Domain: "d", Resource: models.Resource{MemoryMB: 64, DiskMB: 10},
				State: models.Task_Completed, Failed: true}}))
		})

		It("reports an evacuating cell as evacuating, and a failing garden health check as unhealthy", func() {
			evacuating = true
			exec.SetHealthy(false)
			s, healthy, err := cell.State(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(healthy).To(BeFalse())
			Expect(s.Evacuating).To(BeTrue())
		})
	})

	Describe("Metrics", func() {
		It("reports each container's usage, with the CPU used since the last call as a fraction", func() {
			_, err := cell.Perform(ctx, models.Work{LRPs: []models.RepLRP{lrp("a", 4, 64)}, Tasks: []models.RepTask{task("t", 64)}})
			Expect(err).NotTo(HaveOccurred())
			Expect(exec.RunContainer(ctx, "ig-a", executor.RunInfo{MetricsConfig: executor.MetricsConfig{Guid: "app"}})).To(Succeed())
			exec.SetMetrics("ig-a", executor.ContainerMetrics{MemoryUsageInBytes: 1, MemoryLimitInBytes: 2, DiskUsageInBytes: 3, DiskLimitInBytes: 4})
			exec.SetMetrics("t", executor.ContainerMetrics{})
			first, err := cell.Metrics(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(first.CellID).To(Equal("cell-1"))
			Expect(first.LRPs).To(Equal([]models.LRPMetric{{InstanceGUID: "ig-a", ProcessGUID: "a", Index: 4, CachedContainerMetrics: models.CachedContainerMetrics{
				MetricGUID: "app", MemoryUsageBytes: 1, MemoryQuotaBytes: 2, DiskUsageBytes: 3, DiskQuotaBytes: 4}}}))
			Expect(first.Tasks).To(Equal([]models.TaskMetric{{TaskGUID: "t"}}))

			time.Sleep(50 * time.Millisecond)
			exec.SetMetrics("ig-a", executor.ContainerMetrics{TimeSpentInCPU: 25 * time.Millisecond})
			second, err := cell.Metrics(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(second.LRPs[0].CPUUsageFraction).To(BeNumerically("~", 0.5, 0.25))
		})
	})
})
