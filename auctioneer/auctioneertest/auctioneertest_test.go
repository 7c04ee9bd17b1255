package auctioneertest_test

import (
	"context"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/auctioneer/auctioneertest"
	"github.com/diego-go/diego/models"
)

var _ = Describe("the test auctioneer", func() {
	var a *auctioneertest.Auctioneer

	BeforeEach(func() {
		a = auctioneertest.New()
		DeferCleanup(a.Close)
	})

	It("keeps the start requests its client sends", func() {
		ctx := context.Background()
		Expect(a.Client().RequestLRPAuctions(ctx, []models.LRPStartRequest{{ProcessGUID: "pg", Domain: "d", Indices: []int32{0, 1}}})).To(Succeed())
		Expect(a.Client().RequestTaskAuctions(ctx, []models.TaskStartRequest{{RepTask: models.RepTask{TaskGuid: "tg"}}})).To(Succeed())
		Expect(a.LRPs()).To(HaveLen(1))
		Expect(a.LRPs()[0].ProcessGUID).To(Equal("pg"))
		Expect(a.Tasks()).To(HaveLen(1))
		Expect(a.Tasks()[0].TaskGuid).To(Equal("tg"))
	})

	It("answers FailNext's status to the next requests only, keeping nothing of them", func() {
		ctx := context.Background()
		a.FailNext(2, http.StatusServiceUnavailable)
		lrps := []models.LRPStartRequest{{ProcessGUID: "pg", Domain: "d", Indices: []int32{0}}}
		Expect(a.Client().RequestLRPAuctions(ctx, lrps)).To(MatchError(ContainSubstring("HTTP 503")))
		Expect(a.Client().RequestTaskAuctions(ctx, nil)).To(MatchError(ContainSubstring("HTTP 503")))
		Expect(a.Client().RequestLRPAuctions(ctx, lrps)).To(Succeed())
		Expect(a.Refused()).To(Equal(2))
		Expect(a.LRPs()).To(HaveLen(1))
	})

	It("answers 400 to a body that does not decode", func() {
		resp, err := http.Post(a.URL()+"/v1/lrps", "application/json", strings.NewReader(`{"not":"an array"}`))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		Expect(a.LRPs()).To(BeEmpty())
	})
})
