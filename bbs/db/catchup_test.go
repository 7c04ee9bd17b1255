package db_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/bbs/db"
)

var _ = Describe("a record cache kept while another process writes", func() {
	It("catches up with every change etcd applied, even when the newest is outside /v1/", func() {
		cctx, cancel := context.WithCancel(ctx)
		DeferCleanup(cancel)
		Expect(store.StartCache(cctx)).To(Succeed())

		other := db.New(etcdCli, keys)
		for i := 0; i < 30; i++ {
			_, err := other.DesireLRP(ctx, newDesired(fmt.Sprintf("by-the-last-leader-%d", i), 2))
			Expect(err).NotTo(HaveOccurred())
		}
		_, err := etcdCli.Put(ctx, "/not-the-bbs/key", "x")
		Expect(err).NotTo(HaveOccurred())

		tctx, tcancel := context.WithTimeout(ctx, 5*time.Second)
		defer tcancel()
		Expect(store.CatchUpCache(tctx)).To(Succeed())
		start := time.Now()
		Expect(store.ActualLRPs(ctx, db.ActualFilter{})).To(HaveLen(60))
		Expect(store.DesiredLRPSchedulingInfos(ctx, db.DesiredFilter{})).To(HaveLen(30))
		Expect(time.Since(start)).To(BeNumerically("<", time.Second)) // served by the cache, not after its 2 s wait
	})
})
