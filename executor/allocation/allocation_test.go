package allocation_test

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/allocation"
)

var _ = Describe("Pool", func() {
	var (
		pool *allocation.Pool
		t0   time.Time
	)
	total := executor.Resources{MemoryMB: 1024, DiskMB: 2048, Containers: 3}

	BeforeEach(func() {
		pool = allocation.New(total)
		t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	})

	It("takes what fits and gives it back", func() {
		Expect(pool.Allocate("a", executor.Resource{MemoryMB: 512, DiskMB: 1024}, t0)).To(Succeed())
		Expect(pool.Allocate("b", executor.Resource{MemoryMB: 512, DiskMB: 1024}, t0)).To(Succeed())
		Expect(pool.Remaining()).To(Equal(executor.Resources{MemoryMB: 0, DiskMB: 0, Containers: 1}))
		Expect(pool.Total()).To(Equal(total))
		Expect(pool.Free("a")).To(BeTrue())
		Expect(pool.Free("a")).To(BeFalse())
		Expect(pool.Remaining()).To(Equal(executor.Resources{MemoryMB: 512, DiskMB: 1024, Containers: 2}))
	})

	It("refuses a guid that holds an allocation", func() {
		Expect(pool.Allocate("a", executor.Resource{MemoryMB: 1}, t0)).To(Succeed())
		Expect(pool.Allocate("a", executor.Resource{MemoryMB: 1}, t0)).To(MatchError(executor.ErrContainerGuidNotAvailable))
	})

	It("names what ran out, in upstream's order, and allocates nothing", func() {
		err := pool.Allocate("big", executor.Resource{MemoryMB: 2000, DiskMB: 4000}, t0)
		Expect(err).To(MatchError("insufficient resources: disk, memory"))
		Expect(errors.Is(err, executor.ErrInsufficientResources)).To(BeTrue())
		Expect(pool.Remaining()).To(Equal(total))

		Expect(pool.Allocate("m", executor.Resource{MemoryMB: 1025}, t0)).To(MatchError("insufficient resources: memory"))
		Expect(pool.Allocate("d", executor.Resource{DiskMB: 2049}, t0)).To(MatchError("insufficient resources: disk"))

		for _, g := range []string{"1", "2", "3"} {
			Expect(pool.Allocate(g, executor.Resource{}, t0)).To(Succeed())
		}
		var insufficient *allocation.InsufficientError
		err = pool.Allocate("4", executor.Resource{}, t0)
		Expect(errors.As(err, &insufficient)).To(BeTrue())
		Expect(insufficient.Problems).To(Equal([]string{"containers"}))
	})

	It("fits exactly the capacity", func() {
		Expect(pool.Allocate("all", executor.Resource{MemoryMB: 1024, DiskMB: 2048}, t0)).To(Succeed())
		Expect(pool.Allocate("more", executor.Resource{MemoryMB: 1}, t0)).To(MatchError("insufficient resources: memory"))
	})

	It("refuses negative resources and an empty guid", func() {
		Expect(pool.Allocate("n", executor.Resource{MemoryMB: -1}, t0)).To(MatchError(ContainSubstring("must not be negative")))
		Expect(pool.Allocate("", executor.Resource{}, t0)).To(MatchError(ContainSubstring("guid is required")))
		Expect(pool.Remaining()).To(Equal(total))
	})

	Describe("reaping", func() {
		It("frees allocations never initialized within the timeout, and only those", func() {
			Expect(pool.Allocate("old", executor.Resource{MemoryMB: 100}, t0)).To(Succeed())
			Expect(pool.Allocate("used", executor.Resource{MemoryMB: 100}, t0)).To(Succeed())
			Expect(pool.Allocate("young", executor.Resource{MemoryMB: 100}, t0.Add(50*time.Second))).To(Succeed())
			Expect(pool.Initialize("used")).To(Succeed())

			Expect(pool.Reap(t0.Add(59*time.Second), time.Minute)).To(BeEmpty())
			Expect(pool.Reap(t0.Add(time.Minute), time.Minute)).To(Equal([]string{"old"}))
			Expect(pool.Has("old")).To(BeFalse())
			Expect(pool.Has("used")).To(BeTrue())
			Expect(pool.Has("young")).To(BeTrue())
			Expect(pool.Remaining().MemoryMB).To(Equal(824))
		})

		It("cannot initialize what was reaped or never allocated", func() {
			Expect(pool.Allocate("old", executor.Resource{}, t0)).To(Succeed())
			pool.Reap(t0.Add(time.Hour), time.Minute)
			Expect(pool.Initialize("old")).To(MatchError(executor.ErrContainerNotFound))
			Expect(pool.Initialize("never")).To(MatchError(executor.ErrContainerNotFound))
		})
	})
})
