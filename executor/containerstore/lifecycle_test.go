package containerstore_test

import (
	"context"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/containerstore"
)

// These specs never reach garden: they cover the store's state machine.
var _ = Describe("the container state machine", func() {
	var (
		h   *harness
		now time.Time
	)

	BeforeEach(func() {
		now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		h = newHarness(nil, nil, func(c *containerstore.Config) { c.Now = func() time.Time { return now } })
	})

	reserve := func(guid string, memoryMB int) {
		GinkgoHelper()
		Expect(h.store.Reserve(executor.AllocationRequest{Guid: guid, Resource: executor.Resource{MemoryMB: memoryMB},
			Tags: executor.Tags{"lifecycle": "lrp", "domain": "d"}})).To(Succeed())
	}

	It("reserves, emitting an event, and refuses a guid it holds and what does not fit", func() {
		reserve("a", 512)
		c, err := h.store.Get("a")
		Expect(err).NotTo(HaveOccurred())
		Expect(c.State).To(Equal(executor.StateReserved))
		Expect(c.AllocatedAt).To(Equal(now))
		Expect(h.events.Types("a")).To(Equal([]executor.EventType{executor.EventTypeContainerReserved}))

		Expect(h.store.Reserve(executor.AllocationRequest{Guid: "a"})).To(MatchError(executor.ErrContainerGuidNotAvailable))
		err = h.store.Reserve(executor.AllocationRequest{Guid: "b", Resource: executor.Resource{MemoryMB: 600}})
		Expect(err).To(MatchError("insufficient resources: memory"))
		Expect(errors.Is(err, executor.ErrInsufficientResources)).To(BeTrue())
		_, err = h.store.Get("b")
		Expect(err).To(MatchError(executor.ErrContainerNotFound))
	})

	It("lists by tags", func() {
		reserve("a", 1)
		Expect(h.store.Reserve(executor.AllocationRequest{Guid: "b", Tags: executor.Tags{"lifecycle": "task"}})).To(Succeed())
		Expect(h.store.List(nil)).To(HaveLen(2))
		list := h.store.List(executor.Tags{"lifecycle": "lrp"})
		Expect(list).To(HaveLen(1))
		Expect(list[0].Guid).To(Equal("a"))
		Expect(h.store.List(executor.Tags{"lifecycle": "lrp", "domain": "other"})).To(BeEmpty())
	})

	It("runs only a reserved container", func() {
		Expect(h.store.Run("nope", executor.RunInfo{})).To(MatchError(executor.ErrContainerNotFound))
		reserve("a", 1)
		Expect(h.store.Stop("a")).To(Succeed())
		Expect(h.store.Run("a", executor.RunInfo{})).To(MatchError(executor.ErrInvalidTransition))
	})

	It("completes a container stopped before it ran", func() {
		reserve("a", 1)
		Expect(h.store.Stop("a")).To(Succeed())
		c, _ := h.store.Get("a")
		Expect(c.State).To(Equal(executor.StateCompleted))
		Expect(c.RunResult).To(Equal(executor.RunResult{Failed: true, FailureReason: "stopped-before-running", Stopped: true}))
		Expect(h.events.Types("a")).To(Equal([]executor.EventType{executor.EventTypeContainerReserved, executor.EventTypeContainerComplete}))
		Expect(h.store.Delete(context.Background(), "a")).To(Succeed())
		Expect(h.pool.Remaining().Containers).To(Equal(10))
		_, err := h.store.Get("a")
		Expect(err).To(MatchError(executor.ErrContainerNotFound))
	})

	It("reaps reservations never run within the timeout, and frees them", func() {
		reserve("old", 100)
		reserve("running", 100)
		Expect(h.store.Run("running", executor.RunInfo{RootFSPath: "bogus"})).To(Succeed())
		now = now.Add(59 * time.Second)
		Expect(h.store.ReapExpired(time.Minute)).To(BeEmpty())
		now = now.Add(time.Second)
		Expect(h.store.ReapExpired(time.Minute)).To(Equal([]string{"old"}))
		c, _ := h.store.Get("old")
		Expect(c.State).To(Equal(executor.StateCompleted))
		Expect(c.RunResult.FailureReason).To(Equal("expired container"))
		Expect(h.pool.Has("old")).To(BeFalse())
		Expect(h.pool.Has("running")).To(BeTrue())
		Expect(h.store.Run("old", executor.RunInfo{})).To(MatchError(executor.ErrInvalidTransition))
	})

	It("fails a container whose rootfs is not valid before garden is asked, as a retryable failure", func() {
		reserve("a", 1)
		Expect(h.store.Run("a", executor.RunInfo{RootFSPath: "bogus", LogConfig: executor.LogConfig{Guid: "lg"}})).To(Succeed())
		Eventually(h.state("a")).Should(Equal(executor.StateCompleted))
		c, _ := h.store.Get("a")
		Expect(c.RunResult.Failed).To(BeTrue())
		Expect(c.RunResult.Retryable).To(BeTrue())
		Expect(c.RunResult.FailureReason).To(Equal(`failed to create container: rootfs "bogus" has no scheme (preloaded:, preloaded+layer: or docker://)`))
		Eventually(h.logs.Lines).Should(Equal([]string{"Cell cell-z1-0 creating container for instance a",
			`Cell cell-z1-0 failed to create container for instance a: rootfs "bogus" has no scheme (preloaded:, preloaded+layer: or docker://)`}))
	})

	It("fails, retryably, a container whose cached dependency cannot be fetched", func() {
		reserve("a", 1)
		Expect(h.store.Run("a", executor.RunInfo{RootFSPath: "preloaded:busybox", LogConfig: executor.LogConfig{Guid: "lg"},
			CachedDependencies: []executor.CachedDependency{{Name: "x", From: "http://nowhere/x.tgz", To: "/x"}}})).To(Succeed())
		Eventually(h.state("a")).Should(Equal(executor.StateCompleted))
		c, _ := h.store.Get("a")
		Expect(c.RunResult).To(Equal(executor.RunResult{Failed: true, FailureReason: "failed to download cached artifacts", Retryable: true}))
		Expect(h.logs.Lines()).To(Equal([]string{"Downloading x...", "Downloading x failed"}))
	})
})
