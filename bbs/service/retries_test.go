package service_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/bbs/service"
	"github.com/diego-go/diego/models"
)

// slowCell is a cell whose rep takes stopDelay to answer a stop.
type slowCell struct {
	stopDelay time.Duration
	mu        sync.Mutex
	stopped   []string
}

func (c *slowCell) StopLRPInstance(_ context.Context, _ string, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey) error {
	time.Sleep(c.stopDelay)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = append(c.stopped, ik.GetInstanceGuid())
	return nil
}

func (c *slowCell) CancelTask(context.Context, string, string) error { return nil }

func (c *slowCell) Stopped() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.stopped...)
}

var _ = Describe("auction requests", func() {
	var svc *service.Service
	BeforeEach(func() {
		svc = service.New(service.Config{DB: store, Logger: logger, Auctioneer: auctioneer.Client(), AuctionRetryWait: 20 * time.Millisecond})
		DeferCleanup(svc.Close)
	})

	It("retries an LRP auction request the auctioneer failed until it recovers", func() {
		auctioneer.FailNext(2, http.StatusServiceUnavailable)
		Expect(svc.DesireLRP(ctx, desired("app", 2))).To(Succeed())
		Eventually(auctioneer.LRPs).Should(HaveLen(1))
		Expect(auctioneer.Refused()).To(Equal(2))
		Expect(auctioneer.LRPs()[0].Indices).To(ConsistOf(int32(0), int32(1)))
	})

	It("retries a task auction request the auctioneer failed until it recovers", func() {
		auctioneer.FailNext(3, http.StatusInternalServerError)
		Expect(svc.DesireTask(ctx, "t", "d", &models.TaskDefinition{RootFs: "docker:///busybox",
			Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/true", User: "root"}}}})).To(Succeed())
		Eventually(auctioneer.Tasks).Should(HaveLen(1))
		Expect(auctioneer.Refused()).To(Equal(3))
	})

	It("gives up after a bounded number of attempts, backing off between them", func() {
		auctioneer.FailNext(100, http.StatusServiceUnavailable)
		start := time.Now()
		Expect(svc.DesireLRP(ctx, desired("app", 1))).To(Succeed())
		svc.Wait()
		Expect(auctioneer.Refused()).To(Equal(service.AuctionAttempts))
		// 20 + 40 + 80 + 160 ms between the five attempts
		Expect(time.Since(start)).To(BeNumerically(">=", 300*time.Millisecond))
		Consistently(auctioneer.Refused, "200ms").Should(Equal(service.AuctionAttempts))
		Expect(auctioneer.LRPs()).To(BeEmpty())
	})
})

var _ = Describe("retiring on scale-down and removal", func() {
	const n = 8
	var (
		svc       *service.Service
		cell      *slowCell
		cellReads atomic.Int32
	)
	BeforeEach(func() {
		cell = &slowCell{stopDelay: 400 * time.Millisecond}
		cellReads.Store(0)
		svc = service.New(service.Config{DB: store, Logger: logger, CellClient: cell,
			Cells: func(context.Context) ([]*models.CellPresence, error) {
				cellReads.Add(1)
				return []*models.CellPresence{{CellId: "cell-1", RepUrl: "http://127.0.0.1:1"}}, nil
			}})
		DeferCleanup(svc.Close)
		Expect(svc.DesireLRP(ctx, desired("app", n))).To(Succeed())
		for i := range int32(n) {
			Expect(svc.ClaimActualLRP(ctx, "app", i, &models.ActualLRPInstanceKey{InstanceGuid: "ig-" + string(rune('a'+i)), CellId: "cell-1"})).To(Succeed())
		}
	})

	It("answers a removal before the cells stopped the instances, and stops them concurrently", func() {
		start := time.Now()
		Expect(svc.RemoveDesiredLRP(ctx, "app")).To(Succeed())
		Expect(time.Since(start)).To(BeNumerically("<", cell.stopDelay))
		Expect(cell.Stopped()).To(BeEmpty())
		// one by one would take n x 400 ms
		Eventually(cell.Stopped, 2*cell.stopDelay).Should(HaveLen(n))
	})

	It("reads the cells present once for all the instances it retires", func() {
		cellReads.Store(0)
		Expect(svc.RemoveDesiredLRP(ctx, "app")).To(Succeed())
		svc.Wait()
		Expect(cell.Stopped()).To(HaveLen(n))
		Expect(cellReads.Load()).To(Equal(int32(1)))
	})

	It("reads the cells present once in a convergence pass that retires instances", func() {
		two := int32(2)
		_, _, _, err := store.UpdateDesiredLRP(ctx, "app", &models.DesiredLRPUpdate{Instances: &two})
		Expect(err).NotTo(HaveOccurred())
		Expect(store.UpsertDomain(ctx, "cf-apps", 0)).To(Succeed())
		cellReads.Store(0)
		Expect(svc.Converge(ctx)).To(Succeed())
		Expect(cell.Stopped()).To(HaveLen(n - 2))
		Expect(cellReads.Load()).To(Equal(int32(1)))
	})

	Describe("of a process with a SUSPECT instance", func() {
		// index 1 of "lost" runs on a cell that is gone: a convergence pass makes it SUSPECT
		BeforeEach(func() {
			Expect(svc.DesireLRP(ctx, desired("lost", 2))).To(Succeed())
			ik := &models.ActualLRPInstanceKey{InstanceGuid: "ig-lost", CellId: "cell-gone"}
			Expect(svc.ClaimActualLRP(ctx, "lost", 1, ik)).To(Succeed())
			Expect(svc.StartActualLRP(ctx, db.StartRequest{Key: &models.ActualLRPKey{ProcessGuid: "lost", Index: 1, Domain: "cf-apps"},
				InstanceKey: ik, NetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.9"}, Routable: true})).To(Succeed())
			Expect(svc.Converge(ctx)).To(Succeed())
			_, err := store.ActualLRP(ctx, "lost", 1, models.ActualLRP_SUSPECT)
			Expect(err).NotTo(HaveOccurred())
		})

		instances := func() []*models.ActualLRP {
			svc.Wait()
			as, err := store.ActualLRPs(ctx, db.ActualFilter{ProcessGuid: "lost"})
			Expect(err).NotTo(HaveOccurred())
			return as
		}

		It("retires the SUSPECT beyond a lowered count", func() {
			one := int32(1)
			Expect(svc.UpdateDesiredLRP(ctx, "lost", &models.DesiredLRPUpdate{Instances: &one})).To(Succeed())
			as := instances()
			Expect(as).To(HaveLen(1))
			Expect(as[0].GetActualLrpKey().GetIndex()).To(BeZero())
		})

		It("retires the SUSPECT of a removed LRP", func() {
			Expect(svc.RemoveDesiredLRP(ctx, "lost")).To(Succeed())
			Expect(instances()).To(BeEmpty())
		})
	})

	It("answers a scale-down before the cells stopped the instances beyond the new count", func() {
		two := int32(2)
		start := time.Now()
		Expect(svc.UpdateDesiredLRP(ctx, "app", &models.DesiredLRPUpdate{Instances: &two})).To(Succeed())
		Expect(time.Since(start)).To(BeNumerically("<", cell.stopDelay))
		Eventually(cell.Stopped, 2*cell.stopDelay).Should(HaveLen(n - 2))
		Expect(cell.Stopped()).NotTo(ContainElements("ig-a", "ig-b"))
	})
})
