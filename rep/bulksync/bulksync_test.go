package bulksync_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/bulksync"
	"github.com/diego-go/diego/rep/internal/fakeexec"
	"github.com/diego-go/diego/rep/processor"
)

var specN atomic.Int32

var _ = Describe("BulkSync against a real BBS", func() {
	var (
		ctx    = context.Background()
		client *bbs.Client
		exec   *fakeexec.Executor
		sync   *bulksync.BulkSync
		guid   string
	)

	BeforeEach(func() {
		client = realBBS.Client
		guid = fmt.Sprintf("bulk-%d", specN.Add(1))
		exec = fakeexec.New(executor.Resources{MemoryMB: 1024, DiskMB: 1024, Containers: 10})
		logger := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
		proc := processor.New(processor.Config{CellID: "cell-1"}, exec, client, logger)
		p := ifrit.Invoke(proc)
		DeferCleanup(func() { p.Signal(os.Interrupt); Eventually(p.Wait()).Should(Receive()) })
		sync = bulksync.New(bulksync.Config{CellID: "cell-1", Interval: 100 * time.Millisecond}, exec, client, proc, logger)
		Expect(client.DesireLRP(ctx, &models.DesiredLRP{ProcessGuid: guid, Domain: "d", RootFs: "preloaded:stack", Instances: 2,
			Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/app", User: "vcap"}}}})).To(Succeed())
	})

	key := func(i int32) *models.ActualLRPKey {
		return &models.ActualLRPKey{ProcessGuid: guid, Index: i, Domain: "d"}
	}
	ik := func(ig string) *models.ActualLRPInstanceKey {
		return &models.ActualLRPInstanceKey{InstanceGuid: ig, CellId: "cell-1"}
	}
	running := func(i int32, ig string) {
		Expect(client.ClaimActualLRP(ctx, guid, i, ik(ig))).To(Succeed())
		Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key(i), ActualLrpInstanceKey: ik(ig),
			ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1"}})).To(Succeed())
	}
	container := func(i int32, ig string) executor.Container {
		return executor.Container{Guid: ig, State: executor.StateRunning, ExternalIP: "10.0.0.1", Ready: true,
			Tags: executor.Tags{"lifecycle": "lrp", "process-guid": guid, "process-index": fmt.Sprint(i), "domain": "d", "instance-guid": ig}}
	}

	It("at start and every interval: adopts what it still runs, destroys what the BBS does not know, removes what it lost", func() {
		running(0, guid+"-kept")
		running(1, guid+"-lost")
		exec.Put(container(0, guid+"-kept"))
		exec.Put(container(5, guid+"-unknown"))

		p := ifrit.Invoke(sync)
		DeferCleanup(func() { p.Signal(os.Interrupt); Eventually(p.Wait()).Should(Receive()) })

		Expect(exec.Deleted()).To(Equal([]string{guid + "-unknown"}), "the first pass is done once ready")
		Expect(exec.GetContainer(ctx, guid+"-kept")).To(HaveField("State", executor.StateRunning))
		lrps, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: guid})
		Expect(err).NotTo(HaveOccurred())
		byIndex := map[int32]*models.ActualLRP{}
		for _, a := range lrps {
			byIndex[a.GetActualLrpKey().GetIndex()] = a
		}
		Expect(byIndex[0].GetState()).To(Equal(models.ActualLRPStateRunning))
		Expect(byIndex[0].GetActualLrpInstanceKey().GetInstanceGuid()).To(Equal(guid + "-kept"))
		Expect(byIndex).NotTo(HaveKey(int32(1)), "the instance whose container is gone is removed, to be placed again")

		By("a later pass: a task this cell runs whose container is gone fails")
		Expect(client.DesireTask(ctx, guid+"-task", "d", &models.TaskDefinition{RootFs: "preloaded:stack",
			Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/t", User: "vcap"}}}})).To(Succeed())
		_, err = client.StartTask(ctx, guid+"-task", "cell-1")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() string {
			t, err := client.TaskByGuid(ctx, guid+"-task")
			Expect(err).NotTo(HaveOccurred())
			return t.GetFailureReason()
		}, 5*time.Second).Should(Equal("task container does not exist"))
	})

	It("with a drain delay, destroys a running container the BBS does not know only after the delay", func() {
		logger := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
		proc := processor.New(processor.Config{CellID: "cell-1", DrainDelay: 500 * time.Millisecond}, exec, client, logger)
		p := ifrit.Invoke(proc)
		DeferCleanup(func() { p.Signal(os.Interrupt); Eventually(p.Wait()).Should(Receive()) })
		exec.Put(container(5, guid+"-unknown"))
		done := executor.Container{Guid: guid + "-done", State: executor.StateCompleted, RunResult: executor.RunResult{Stopped: true},
			Tags: executor.Tags{"lifecycle": "lrp", "process-guid": guid, "process-index": "6", "domain": "d", "instance-guid": guid + "-done"}}
		exec.Put(done)

		start := time.Now()
		Expect(bulksync.New(bulksync.Config{CellID: "cell-1", Interval: time.Hour}, exec, client, proc, logger).Sync(ctx)).To(Succeed())
		Expect(exec.Deleted()).To(Equal([]string{guid + "-done"}), "a container not running goes at once")
		Eventually(exec.Deleted, 3*time.Second).Should(ConsistOf(guid+"-done", guid+"-unknown"))
		Expect(time.Since(start)).To(BeNumerically(">=", 500*time.Millisecond))
	})

	It("leaves a record alone whose container was allocated after the containers were listed", func() {
		running(0, guid+"-new")
		exec.Put(container(0, guid+"-new"))
		late := bulksync.New(bulksync.Config{CellID: "cell-1", Interval: time.Hour}, listsNothing{exec}, client,
			processor.New(processor.Config{CellID: "cell-1"}, exec, client, slog.New(slog.DiscardHandler)), slog.New(slog.DiscardHandler))
		Expect(late.Sync(ctx)).To(Succeed())
		lrps, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: guid})
		Expect(err).NotTo(HaveOccurred())
		Expect(lrps).To(ContainElement(HaveField("ActualLrpInstanceKey.InstanceGuid", guid+"-new")))
	})

	It("reports a task's completion the BBS never heard of", func() {
		Expect(client.DesireTask(ctx, guid, "d", &models.TaskDefinition{RootFs: "preloaded:stack",
			Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/t", User: "vcap"}}}})).To(Succeed())
		_, err := client.StartTask(ctx, guid, "cell-1")
		Expect(err).NotTo(HaveOccurred())
		exec.Put(executor.Container{Guid: guid, State: executor.StateCompleted, RunResult: executor.RunResult{Result: "done"},
			Tags: executor.Tags{"lifecycle": "task", "domain": "d"}})
		Expect(sync.Sync(ctx)).To(Succeed())
		t, err := client.TaskByGuid(ctx, guid)
		Expect(err).NotTo(HaveOccurred())
		Expect(t.GetState()).To(Equal(models.Task_Completed))
		Expect(t.GetResult()).To(Equal("done"))
		Expect(exec.Deleted()).To(Equal([]string{guid}))
	})
})

// listsNothing lists no container, as a list made just before the container was allocated.
type listsNothing struct{ *fakeexec.Executor }

func (listsNothing) ListContainers(context.Context, executor.Tags) ([]executor.Container, error) {
	return nil, nil
}
