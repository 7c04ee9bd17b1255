package db

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2" // not dot-imported: its Label would clash with the package's
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/models"
)

// filledCache is a record cache holding n RUNNING instances spread over cells cells.
func filledCache(n, cells int) *recordCache {
	c := &recordCache{
		actual: make(map[string]cachedActual, n),
		byCell: map[string]map[string]*models.ActualLRP{},
		sched:  map[string]*models.DesiredLRP{},
		byGuid: processes{},
	}
	for i := 0; i < n; i++ {
		a := NewUnclaimed(fmt.Sprintf("process-%08d", i), 0, "cf-apps", 1)
		a.State = models.ActualLRPStateRunning
		a.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("i-%d", i), CellId: fmt.Sprintf("cell-%04d", i%cells)}
		c.putActual(actualKeyOf(a), cachedActual{lrp: a, rev: int64(i + 1)})
	}
	return c
}

var _ = ginkgo.Describe("the record cache's indexes", func() {
	ginkgo.It("read one cell's instances of Diego's 250,000 within 2 ms", func() {
		c := filledCache(250_000, 1_000)
		var ds []time.Duration
		for i := 0; i < 21; i++ {
			t := time.Now()
			Expect(c.actuals(ActualFilter{CellID: "cell-0007"})).To(HaveLen(250))
			ds = append(ds, time.Since(t))
		}
		slices.Sort(ds)
		Expect(ds[len(ds)/2]).To(BeNumerically("<=", 2*time.Millisecond))
	})

	ginkgo.It("follow an instance from cell to cell and out of the cache", func() {
		c := filledCache(10, 2)
		key := actualKey("process-00000000", 0, models.ActualLRP_ORDINARY)
		moved := protoClone(c.actual[key].lrp)
		moved.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{InstanceGuid: "j", CellId: "cell-0001"}
		c.putActual(key, cachedActual{lrp: moved, rev: 100})
		Expect(c.actuals(ActualFilter{CellID: "cell-0000"})).To(HaveLen(4))
		Expect(c.actuals(ActualFilter{CellID: "cell-0001"})).To(HaveLen(6))
		unclaimed := NewUnclaimed("process-00000000", 0, "cf-apps", 2)
		c.putActual(key, cachedActual{lrp: unclaimed, rev: 101})
		Expect(c.actuals(ActualFilter{CellID: "cell-0001"})).To(HaveLen(5))
		Expect(c.actuals(ActualFilter{ProcessGuid: "process-00000000"})).To(ConsistOf(unclaimed))
		c.delActual(key)
		Expect(c.actuals(ActualFilter{ProcessGuid: "process-00000000"})).To(BeEmpty())
		Expect(c.byGuid).NotTo(HaveKey("process-00000000"))
		Expect(c.actuals(ActualFilter{})).To(HaveLen(9))
	})

	ginkgo.It("group the instances under their desired LRPs' scheduling infos, the others as orphans", func() {
		c := filledCache(4, 2)
		for _, guid := range []string{"process-00000001", "process-00000003", "process-00000009"} {
			l := &models.DesiredLRP{ProcessGuid: guid, Domain: "cf-apps", Instances: 1}
			c.putSched(schedKey(guid), l, l.SchedulingInfo())
		}
		c.delSched(schedKey("process-00000003"))
		infos, actuals, orphans := c.byGuid.grouped(len(c.actual))
		byGuid := map[string][]*models.ActualLRP{}
		for i, info := range infos {
			byGuid[info.GetDesiredLrpKey().GetProcessGuid()] = actuals[i]
		}
		Expect(byGuid).To(HaveLen(2))
		Expect(byGuid["process-00000001"]).To(ConsistOf(c.actual[actualKey("process-00000001", 0, models.ActualLRP_ORDINARY)].lrp))
		Expect(byGuid["process-00000009"]).To(BeEmpty())
		Expect(orphans).To(HaveLen(3))
		c.delSched(schedKey("process-00000009"))
		Expect(c.byGuid).NotTo(HaveKey("process-00000009"))
	})
})

var _ = ginkgo.Describe("the record cache's watch, failed", func() {
	ginkgo.It("loads the cache again and watches on from that load", func() {
		etcd, err := testservers.StartEtcd(ginkgo.GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		ginkgo.DeferCleanup(func() { _ = etcd.Stop() })
		cli, err := NewEtcdClient([]string{etcd.ClientURL()}, 5*time.Second, nil)
		Expect(err).NotTo(HaveOccurred())
		ginkgo.DeferCleanup(cli.Close)
		keys, err := NewKeyring(map[string]string{"k": "passphrase"}, "k")
		Expect(err).NotTo(HaveOccurred())
		store := New(cli, keys, WithLogger(slog.New(slog.NewTextHandler(ginkgo.GinkgoWriter, nil))))
		ctx, cancel := context.WithCancel(context.Background())
		ginkgo.DeferCleanup(cancel)

		c := &recordCache{}
		c.cond = sync.NewCond(&c.mu)
		loaded, err := store.loadCache(ctx, c)
		Expect(err).NotTo(HaveOccurred())
		store.cache.Store(c)
		// changes etcd compacts away before the watch starts: it can only fail, never deliver them
		_, err = store.DesireLRP(ctx, &models.DesiredLRP{ProcessGuid: "after-the-load", Domain: "cf-apps", RootFs: "preloaded:cflinuxfs4", Instances: 2,
			Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/app", User: "vcap"}}}})
		Expect(err).NotTo(HaveOccurred())
		// etcd keeps the revision it compacts at: one more change, outside /v1/, moves it past
		// the LRP's
		head, err := cli.Put(ctx, "/not-the-bbs/after", "x")
		Expect(err).NotTo(HaveOccurred())
		_, err = cli.Compact(ctx, head.Header.Revision)
		Expect(err).NotTo(HaveOccurred())

		go store.watchCache(ctx, c, loaded)
		// how many actual and schedule records the cache holds, once ready
		cached := func() [2]int {
			c.mu.RLock()
			defer c.mu.RUnlock()
			if !c.ready {
				return [2]int{-1, -1}
			}
			return [2]int{len(c.actual), len(c.sched)}
		}
		Eventually(cached).WithTimeout(5 * time.Second).Should(Equal([2]int{2, 1}))

		_, err = cli.Delete(ctx, ActualPrefix, clientv3.WithPrefix())
		Expect(err).NotTo(HaveOccurred())
		Eventually(cached).WithTimeout(5 * time.Second).Should(Equal([2]int{0, 1}))
	})
})
