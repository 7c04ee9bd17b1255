package evacuation_test

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
	"github.com/diego-go/diego/rep/evacuation"
	"github.com/diego-go/diego/rep/internal/fakeexec"
	"github.com/diego-go/diego/rep/processor"
)

var specN atomic.Int32

var _ = Describe("Flag", func() {
	It("is set once and for all", func() {
		f := evacuation.NewFlag()
		Expect(f.Evacuating()).To(BeFalse())
		Expect(f.Notify()).NotTo(BeClosed())
		f.Evacuate()
		f.Evacuate()
		Expect(f.Evacuating()).To(BeTrue())
		Expect(f.Notify()).To(BeClosed())
	})
})

var _ = Describe("Evacuator against a real BBS", func() {
	var (
		ctx     = context.Background()
		client  *bbs.Client
		exec    *fakeexec.Executor
		flag    *evacuation.Flag
		guid    string
		timeout time.Duration
		drain   time.Duration // the processor's drain delay
		process ifrit.Process
	)

	key := func() *models.ActualLRPKey { return &models.ActualLRPKey{ProcessGuid: guid, Index: 0, Domain: "d"} }
	ours := func() *models.ActualLRPInstanceKey {
		return &models.ActualLRPInstanceKey{InstanceGuid: guid + "-ig", CellId: "cell-1"}
	}
	run := &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/app", User: "vcap"}}}
	records := func() []*models.ActualLRP {
		lrps, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: guid})
		Expect(err).NotTo(HaveOccurred())
		return lrps
	}

	BeforeEach(func() {
		client = realBBS.Client
		guid = fmt.Sprintf("evac-%d", specN.Add(1))
		timeout = 10 * time.Second
		drain = 0
		exec = fakeexec.New(executor.Resources{MemoryMB: 1024, DiskMB: 1024, Containers: 10})
		flag = evacuation.NewFlag()

		Expect(client.DesireLRP(ctx, &models.DesiredLRP{ProcessGuid: guid, Domain: "d", RootFs: "preloaded:stack", Instances: 1, Action: run})).To(Succeed())
		Expect(client.ClaimActualLRP(ctx, guid, 0, ours())).To(Succeed())
		Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key(), ActualLrpInstanceKey: ours(),
			ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1"}})).To(Succeed())
		exec.Put(executor.Container{Guid: guid + "-ig", State: executor.StateRunning, ExternalIP: "10.0.0.1", Ready: true,
			Tags: executor.Tags{"lifecycle": "lrp", "process-guid": guid, "process-index": "0", "domain": "d", "instance-guid": guid + "-ig"}})
	})

	start := func() {
		logger := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
		proc := processor.New(processor.Config{CellID: "cell-1", Evacuating: flag.Evacuating, DrainDelay: drain}, exec, client, logger)
		pp := ifrit.Invoke(proc)
		DeferCleanup(func() { pp.Signal(os.Interrupt); Eventually(pp.Wait()).Should(Receive()) })
		ev := evacuation.New(evacuation.Config{CellID: "cell-1", Timeout: timeout, PollInterval: 50 * time.Millisecond}, flag, exec, client, proc, logger)
		process = ifrit.Invoke(ev)
		DeferCleanup(func() { process.Signal(os.Interrupt); Eventually(process.Wait()).Should(Receive()) })
	}

	It("does nothing until evacuation is asked for, and ends at a signal", func() {
		start()
		Consistently(process.Wait(), 200*time.Millisecond).ShouldNot(Receive())
		Expect(exec.GetContainer(ctx, guid+"-ig")).To(HaveField("State", executor.StateRunning))
		process.Signal(os.Interrupt)
		Eventually(process.Wait()).Should(Receive(BeNil()))
	})

	It("keeps the instance serving until its replacement runs, then ends at once", func() {
		start()
		flag.Evacuate()
		Eventually(records).Should(ContainElement(HaveField("Presence", models.ActualLRP_EVACUATING)))
		Consistently(process.Wait(), 300*time.Millisecond).ShouldNot(Receive(), "the replacement does not run yet")
		Expect(exec.GetContainer(ctx, guid+"-ig")).To(HaveField("State", executor.StateRunning))

		other := &models.ActualLRPInstanceKey{InstanceGuid: guid + "-replacement", CellId: "cell-2"}
		Expect(client.ClaimActualLRP(ctx, guid, 0, other)).To(Succeed())
		Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key(), ActualLrpInstanceKey: other,
			ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.2"}})).To(Succeed())
		Eventually(process.Wait(), 2*time.Second).Should(Receive(BeNil()))
		Expect(exec.Deleted()).To(Equal([]string{guid + "-ig"}))
		Expect(records()).To(HaveLen(1))
		Expect(records()[0].GetActualLrpInstanceKey().GetInstanceGuid()).To(Equal(guid + "-replacement"))
	})

	It("keeps an evacuated instance draining no longer than the timeout", func() {
		timeout, drain = 1500*time.Millisecond, time.Minute
		start()
		flag.Evacuate()
		Eventually(records).Should(ContainElement(HaveField("Presence", models.ActualLRP_EVACUATING)))
		other := &models.ActualLRPInstanceKey{InstanceGuid: guid + "-replacement", CellId: "cell-2"}
		Expect(client.ClaimActualLRP(ctx, guid, 0, other)).To(Succeed())
		Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key(), ActualLrpInstanceKey: other,
			ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.2"}})).To(Succeed())
		Eventually(records).Should(HaveLen(1), "the evacuating record is removed")

		Consistently(process.Wait(), 500*time.Millisecond).ShouldNot(Receive(), "the container drains")
		Expect(exec.GetContainer(ctx, guid+"-ig")).To(HaveField("State", executor.StateRunning))
		Eventually(process.Wait(), 3*time.Second).Should(Receive(BeNil()))
		Expect(exec.Deleted()).To(Equal([]string{guid + "-ig"}), "destroyed at the timeout")
	})

	It("lets a task run on, and ends when it completes", func() {
		Expect(client.RemoveActualLRP(ctx, guid, 0, ours())).To(Succeed())
		Expect(exec.DeleteContainer(ctx, guid+"-ig")).To(Succeed())
		Expect(client.DesireTask(ctx, guid+"-task", "d", &models.TaskDefinition{RootFs: "preloaded:stack", Action: run})).To(Succeed())
		_, err := client.StartTask(ctx, guid+"-task", "cell-1")
		Expect(err).NotTo(HaveOccurred())
		exec.Put(executor.Container{Guid: guid + "-task", State: executor.StateRunning, Tags: executor.Tags{"lifecycle": "task", "domain": "d"}})
		start()
		flag.Evacuate()
		Consistently(process.Wait(), 300*time.Millisecond).ShouldNot(Receive())
		exec.Complete(guid+"-task", executor.RunResult{Result: "ok"})
		Eventually(process.Wait(), 2*time.Second).Should(Receive(BeNil()))
		t, err := client.TaskByGuid(ctx, guid+"-task")
		Expect(err).NotTo(HaveOccurred())
		Expect(t.GetState()).To(Equal(models.Task_Completed))
		Expect(t.GetResult()).To(Equal("ok"))
	})

	It("at the timeout hands back what is left, destroys it and ends", func() {
		timeout = 500 * time.Millisecond
		Expect(client.DesireTask(ctx, guid+"-task", "d", &models.TaskDefinition{RootFs: "preloaded:stack", Action: run})).To(Succeed())
		_, err := client.StartTask(ctx, guid+"-task", "cell-1")
		Expect(err).NotTo(HaveOccurred())
		exec.Put(executor.Container{Guid: guid + "-task", State: executor.StateRunning, Tags: executor.Tags{"lifecycle": "task", "domain": "d"}})
		start()
		flag.Evacuate()
		Eventually(process.Wait(), 3*time.Second).Should(Receive(BeNil()))
		Expect(exec.Deleted()).To(ConsistOf(guid+"-ig", guid+"-task"))
		for _, a := range records() {
			Expect(a.GetPresence()).NotTo(Equal(models.ActualLRP_EVACUATING))
			Expect(a.GetActualLrpInstanceKey().GetInstanceGuid()).NotTo(Equal(guid + "-ig"))
		}
		t, err := client.TaskByGuid(ctx, guid+"-task")
		Expect(err).NotTo(HaveOccurred())
		Expect(t.GetFailureReason()).To(Equal("cell disappeared before completion"))
	})
})
