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

// watchedStore is a store on a fresh etcd whose record cache is loaded (not yet watched), with the
// watcher its watches go through and a context ended before the client closes.
func watchedStore() (context.Context, *DB, *clientv3.Client, *recordCache, int64, *endableWatcher) {
	etcd, err := testservers.StartEtcd(ginkgo.GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	ginkgo.DeferCleanup(func() { _ = etcd.Stop() })
	cli, err := NewEtcdClient([]string{etcd.ClientURL()}, 5*time.Second, nil)
	Expect(err).NotTo(HaveOccurred())
	ginkgo.DeferCleanup(cli.Close)
	w := &endableWatcher{Watcher: cli.Watcher, gate: make(chan struct{})}
	close(w.gate)
	cli.Watcher = w
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
	return ctx, store, cli, c, loaded, w
}

// endableWatcher lets a spec end the watches opened so far, as a broken stream ends them, hold
// the next ones back until it lets them through, and refuse the next one (closed before etcd
// created it).
type endableWatcher struct {
	clientv3.Watcher
	mu      sync.Mutex
	cancels []context.CancelFunc
	gate    chan struct{} // closed: watches go through
	waiting int
	refuse  bool
}

func (w *endableWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	w.mu.Lock()
	gate := w.gate
	w.waiting++
	w.mu.Unlock()
	select {
	case <-gate:
	case <-ctx.Done():
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting--
	if w.refuse {
		w.refuse = false
		ch := make(chan clientv3.WatchResponse)
		close(ch)
		return ch
	}
	ctx, cancel := context.WithCancel(ctx)
	w.cancels = append(w.cancels, cancel)
	return w.Watcher.Watch(ctx, key, opts...)
}

// end ends every watch opened so far and holds the next ones back until let.
func (w *endableWatcher) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gate = make(chan struct{})
	for _, cancel := range w.cancels {
		cancel()
	}
	w.cancels = nil
}

func (w *endableWatcher) let() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.gate)
}

func (w *endableWatcher) held() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.waiting
}

// cachedCounts reads how many actual and schedule records c holds and how often it was loaded
// (-1 records while it is not ready).
func cachedCounts(c *recordCache) func() [3]int {
	return func() [3]int {
		c.mu.RLock()
		defer c.mu.RUnlock()
		if !c.ready {
			return [3]int{-1, -1, c.loads}
		}
		return [3]int{len(c.actual), len(c.sched), c.loads}
	}
}

func desire(guid string, instances int32) *models.DesiredLRP {
	return &models.DesiredLRP{ProcessGuid: guid, Domain: "cf-apps", RootFs: "preloaded:cflinuxfs4", Instances: instances,
		Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/app", User: "vcap"}}}}
}

var _ = ginkgo.Describe("the record cache's watch, ended without compaction", func() {
	ginkgo.It("resumes from the revision after the cache's last, without a load, missing no change made meanwhile", func() {
		ctx, store, cli, c, loaded, w := watchedStore()
		go store.watchCache(ctx, c, loaded)
		cached := cachedCounts(c)
		_, err := store.DesireLRP(ctx, desire("before-the-break", 2))
		Expect(err).NotTo(HaveOccurred())
		Eventually(cached).WithTimeout(5 * time.Second).Should(Equal([3]int{2, 1, 1}))

		w.end()
		Eventually(w.held).WithTimeout(5 * time.Second).Should(Equal(1))
		_, err = cli.Delete(ctx, ActualPrefix, clientv3.WithPrefix())
		Expect(err).NotTo(HaveOccurred())
		_, err = store.DesireLRP(ctx, desire("during-the-break", 3))
		Expect(err).NotTo(HaveOccurred())
		// the cache cannot have seen this process's last write: the read goes to etcd
		during, err := store.ActualLRPs(ctx, ActualFilter{})
		Expect(err).NotTo(HaveOccurred())
		Expect(during).To(HaveLen(3))
		Expect(cached()).To(Equal([3]int{2, 1, 1}))

		w.let()
		Eventually(cached).WithTimeout(5 * time.Second).Should(Equal([3]int{3, 2, 1}))
		after, err := store.ActualLRPs(ctx, ActualFilter{ProcessGuid: "during-the-break"})
		Expect(err).NotTo(HaveOccurred())
		Expect(after).To(HaveLen(3))
		Consistently(cached).WithTimeout(300 * time.Millisecond).Should(Equal([3]int{3, 2, 1}))
	})

	ginkgo.It("loads the cache again when the resumed watch cannot be established", func() {
		ctx, store, _, c, loaded, w := watchedStore()
		go store.watchCache(ctx, c, loaded)
		cached := cachedCounts(c)
		_, err := store.DesireLRP(ctx, desire("before-the-break", 1))
		Expect(err).NotTo(HaveOccurred())
		Eventually(cached).WithTimeout(5 * time.Second).Should(Equal([3]int{1, 1, 1}))

		w.end()
		Eventually(w.held).WithTimeout(5 * time.Second).Should(Equal(1))
		w.mu.Lock()
		w.refuse = true
		w.mu.Unlock()
		w.let()
		Eventually(cached).WithTimeout(5 * time.Second).Should(Equal([3]int{1, 1, 2}))
		_, err = store.DesireLRP(ctx, desire("after-the-reload", 2))
		Expect(err).NotTo(HaveOccurred())
		Eventually(cached).WithTimeout(5 * time.Second).Should(Equal([3]int{3, 2, 2}))
	})
})

var _ = ginkgo.Describe("the record cache's watch, failed", func() {
	ginkgo.It("loads the cache again and watches on from that load", func() {
		ctx, store, cli, c, loaded, _ := watchedStore()
		// changes etcd compacts away before the watch starts: it can only fail, never deliver them
		_, err := store.DesireLRP(ctx, desire("after-the-load", 2))
		Expect(err).NotTo(HaveOccurred())
		// etcd keeps the revision it compacts at: one more change, outside /v1/, moves it past
		// the LRP's
		head, err := cli.Put(ctx, "/not-the-bbs/after", "x")
		Expect(err).NotTo(HaveOccurred())
		_, err = cli.Compact(ctx, head.Header.Revision)
		Expect(err).NotTo(HaveOccurred())

		go store.watchCache(ctx, c, loaded)
		cached := cachedCounts(c)
		Eventually(cached).WithTimeout(5 * time.Second).Should(Equal([3]int{2, 1, 2}))

		_, err = cli.Delete(ctx, ActualPrefix, clientv3.WithPrefix())
		Expect(err).NotTo(HaveOccurred())
		Eventually(cached).WithTimeout(5 * time.Second).Should(Equal([3]int{0, 1, 2}))
	})
})
