package service_test

import (
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/bbs/service"
	"github.com/diego-go/diego/models"
)

var _ = Describe("the bound on instances", func() {
	invalid := func(err error) bool { return errors.Is(err, &models.Error{Type: models.Error_InvalidRequest}) }

	It("refuses a desire or an update over it, before anything is written, by default at 100,000", func() {
		svc := service.New(service.Config{DB: store, Logger: logger, Auctioneer: auctioneer.Client()})
		DeferCleanup(svc.Close)
		err := svc.DesireLRP(ctx, desired("over", service.DefaultMaxInstances+1))
		Expect(invalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("max_instances"))
		Expect(store.DesiredLRPs(ctx, db.DesiredFilter{})).To(BeEmpty())
		Expect(store.ActualLRPs(ctx, db.ActualFilter{})).To(BeEmpty())

		Expect(svc.DesireLRP(ctx, desired("app", 1))).To(Succeed())
		over := int32(service.DefaultMaxInstances + 1)
		err = svc.UpdateDesiredLRP(ctx, "app", &models.DesiredLRPUpdate{Instances: &over})
		Expect(invalid(err)).To(BeTrue(), "%v", err)
		d, err := store.DesiredLRPByProcessGuid(ctx, "app")
		Expect(err).NotTo(HaveOccurred())
		Expect(d.GetInstances()).To(Equal(int32(1)))
		Expect(store.ActualLRPs(ctx, db.ActualFilter{ProcessGuid: "app"})).To(HaveLen(1))
	})

	It("is configurable", func() {
		svc := service.New(service.Config{DB: store, Logger: logger, Auctioneer: auctioneer.Client(), MaxInstances: 3})
		DeferCleanup(svc.Close)
		Expect(invalid(svc.DesireLRP(ctx, desired("four", 4)))).To(BeTrue())
		Expect(svc.DesireLRP(ctx, desired("three", 3))).To(Succeed())
		four, three := int32(4), int32(3)
		Expect(invalid(svc.UpdateDesiredLRP(ctx, "three", &models.DesiredLRPUpdate{Instances: &four}))).To(BeTrue())
		Expect(svc.UpdateDesiredLRP(ctx, "three", &models.DesiredLRPUpdate{Instances: &three, Annotation: new(string)})).To(Succeed())
	})
})
