package service_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/bbs/service"
	"github.com/diego-go/diego/models"
)

var _ = Describe("desired LRPs", func() {
	var svc *service.Service
	BeforeEach(func() {
		svc = service.New(service.Config{DB: store, Logger: logger, Auctioneer: auctioneer.Client()})
		DeferCleanup(svc.Close)
	})

	It("hands the stored desired LRP to the auction: a desire reads etcd no more than the store's own", func() {
		before := etcdRanges()
		_, _, err := store.Desire(ctx, desired("plain", 3))
		Expect(err).NotTo(HaveOccurred())
		storeReads := etcdRanges() - before

		before = etcdRanges()
		Expect(svc.DesireLRP(ctx, desired("app", 3))).To(Succeed())
		Eventually(auctioneer.LRPs).Should(HaveLen(1))
		svc.Wait()
		Expect(etcdRanges() - before).To(Equal(storeReads))

		req := auctioneer.LRPs()[0]
		Expect(req.ProcessGUID).To(Equal("app"))
		Expect(req.Indices).To(ConsistOf(int32(0), int32(1), int32(2)))
		Expect(req.RootFs).To(Equal("preloaded:cflinuxfs4"))
		Expect(req.MemoryMB).To(Equal(int32(128)))
		Expect(req.PlacementTags).To(Equal([]string{"blue"}))
	})

	It("hands the updated desired LRP to the auction of the instances an update adds", func() {
		Expect(svc.DesireLRP(ctx, desired("app", 1))).To(Succeed())
		Eventually(auctioneer.LRPs).Should(HaveLen(1))
		svc.Wait()
		three := int32(3)
		_, _, _, err := store.UpdateDesiredLRP(ctx, "app", &models.DesiredLRPUpdate{Instances: &three})
		Expect(err).NotTo(HaveOccurred())
		five := int32(5)

		before := etcdRanges()
		_, _, _, err = store.UpdateDesiredLRP(ctx, "app", &models.DesiredLRPUpdate{Instances: &five})
		Expect(err).NotTo(HaveOccurred())
		storeReads := etcdRanges() - before

		seven := int32(7)
		before = etcdRanges()
		Expect(svc.UpdateDesiredLRP(ctx, "app", &models.DesiredLRPUpdate{Instances: &seven})).To(Succeed())
		Eventually(auctioneer.LRPs).Should(HaveLen(2))
		svc.Wait()
		Expect(etcdRanges() - before).To(Equal(storeReads))
		Expect(auctioneer.LRPs()[1].Indices).To(ConsistOf(int32(5), int32(6)))
		Expect(auctioneer.LRPs()[1].MemoryMB).To(Equal(int32(128)))
	})
})
