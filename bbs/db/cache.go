package db

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-go/diego/models"
)

// The record cache keeps every ActualLRP and every desired LRP's schedule record decoded in
// memory, loaded with one ranged read and kept current by an etcd watch of /v1/ from the load's
// revision. List reads of actual LRPs and scheduling/routing infos (and so convergence snapshots)
// are served from it; every read first waits until the cache has seen this process's own last
// write (read-your-writes). Writes never trust it blindly: a mutation may take its first read from
// the cache, but the compare-and-swap on the mod revision is against etcd, and a failed swap
// re-reads etcd. A watch that ends is resumed where the cache left off; only when etcd compacted
// past that point, or the watch cannot be re-established, is the cache dropped and reloaded,
// reads going to etcd meanwhile.

type cachedActual struct {
	lrp *models.ActualLRP
	rev int64
}

type recordCache struct {
	mu     sync.RWMutex
	cond   *sync.Cond
	ready  bool
	rev    int64
	loads  int // loads so far, the first included: each one costs seconds at Diego's scale
	actual map[string]cachedActual
	sched  map[string]*models.DesiredLRP
	// the actual records by cell id (key -> record), so a cell's instances are read without a
	// pass over every record (a cell syncs every 30 s)
	byCell map[string]map[string]*models.ActualLRP
	// every process guid with a schedule record or an actual record, so a process's instances,
	// and a convergence snapshot, are read without a lookup per record
	byGuid processes
}

// process is what the cache holds of one process guid: its desired LRP's scheduling info (nil
// when none is desired), computed once when the schedule record is stored, and its actual
// records, in a slice (a pass over a quarter of a million processes walks slices, not maps) with
// each key's position in it.
type process struct {
	info    *models.DesiredLRPSchedulingInfo
	records []*models.ActualLRP
	keys    []string
	at      map[string]int
}

func (p *process) put(key string, a *models.ActualLRP) {
	if i, ok := p.at[key]; ok {
		p.records[i] = a
		return
	}
	p.at[key] = len(p.records)
	p.records = append(p.records, a)
	p.keys = append(p.keys, key)
}

// del removes key's record, moving the last record into its place.
func (p *process) del(key string) {
	i, ok := p.at[key]
	if !ok {
		return
	}
	last := len(p.records) - 1
	p.records[i], p.keys[i] = p.records[last], p.keys[last]
	p.at[p.keys[i]] = i
	delete(p.at, key)
	p.records[last] = nil
	p.records, p.keys = p.records[:last], p.keys[:last]
}

// processes is the cache's index by process guid.
type processes map[string]*process

// get returns the guid's entry, adding an empty one.
func (ps processes) get(guid string) *process {
	p := ps[guid]
	if p == nil {
		p = &process{at: map[string]int{}}
		ps[guid] = p
	}
	return p
}

// grouped lists the desired processes' scheduling infos with their actual records (actuals[i]
// are infos[i]'s, slices of one backing array of room n) and the actual records of process guids
// that are not desired.
func (ps processes) grouped(n int) (infos []*models.DesiredLRPSchedulingInfo, actuals [][]*models.ActualLRP, orphans []*models.ActualLRP) {
	infos = make([]*models.DesiredLRPSchedulingInfo, 0, len(ps))
	actuals = make([][]*models.ActualLRP, 0, len(ps))
	flat := make([]*models.ActualLRP, 0, n)
	for _, p := range ps {
		if p.info == nil {
			orphans = append(orphans, p.records...)
			continue
		}
		from := len(flat)
		flat = append(flat, p.records...)
		infos = append(infos, p.info)
		actuals = append(actuals, flat[from:len(flat):len(flat)])
	}
	return infos, actuals, orphans
}

// dropIfEmpty forgets a process guid with neither a schedule record nor actual records.
func (c *recordCache) dropIfEmpty(guid string, p *process) {
	if p.info == nil && len(p.records) == 0 {
		delete(c.byGuid, guid)
	}
}

// putSched stores a schedule record and its scheduling info (mu held).
func (c *recordCache) putSched(key string, l *models.DesiredLRP, info *models.DesiredLRPSchedulingInfo) {
	c.sched[key] = l
	c.byGuid.get(l.GetProcessGuid()).info = info
}

// delSched removes a schedule record (mu held).
func (c *recordCache) delSched(key string) {
	old, ok := c.sched[key]
	if !ok {
		return
	}
	delete(c.sched, key)
	if p := c.byGuid[old.GetProcessGuid()]; p != nil {
		p.info = nil
		c.dropIfEmpty(old.GetProcessGuid(), p)
	}
}

func indexAdd(ix map[string]map[string]*models.ActualLRP, by, key string, a *models.ActualLRP) {
	m := ix[by]
	if m == nil {
		m = map[string]*models.ActualLRP{}
		ix[by] = m
	}
	m[key] = a
}

func indexDel(ix map[string]map[string]*models.ActualLRP, by, key string) {
	if m := ix[by]; m != nil {
		delete(m, key)
		if len(m) == 0 {
			delete(ix, by)
		}
	}
}

// putActual stores a record and keeps the indexes in step (mu held).
func (c *recordCache) putActual(key string, ca cachedActual) {
	c.delActual(key)
	c.addActual(key, ca)
}

// addActual stores a record not in the cache yet, with its index entries.
func (c *recordCache) addActual(key string, ca cachedActual) {
	c.actual[key] = ca
	if cell := ca.lrp.GetActualLrpInstanceKey().GetCellId(); cell != "" {
		indexAdd(c.byCell, cell, key, ca.lrp)
	}
	c.byGuid.get(ca.lrp.GetActualLrpKey().GetProcessGuid()).put(key, ca.lrp)
}

// delActual removes a record and its index entries (mu held).
func (c *recordCache) delActual(key string) {
	old, ok := c.actual[key]
	if !ok {
		return
	}
	delete(c.actual, key)
	if cell := old.lrp.GetActualLrpInstanceKey().GetCellId(); cell != "" {
		indexDel(c.byCell, cell, key)
	}
	guid := old.lrp.GetActualLrpKey().GetProcessGuid()
	if p := c.byGuid[guid]; p != nil {
		p.del(key)
		c.dropIfEmpty(guid, p)
	}
}

// StartCache loads the cache and keeps it current until ctx ends. It returns once the first load
// is done.
func (db *DB) StartCache(ctx context.Context) error {
	c := &recordCache{}
	c.cond = sync.NewCond(&c.mu)
	rev, err := db.loadCache(ctx, c)
	if err != nil {
		return err
	}
	db.cache.Store(c)
	go db.watchCache(ctx, c, rev)
	go func() {
		<-ctx.Done()
		c.mu.Lock()
		c.ready = false
		c.cond.Broadcast()
		c.mu.Unlock()
	}()
	return nil
}

// loadSplits cut each prefix's key range into chunks read from etcd at once, each decoded as soon
// as it arrives: the client decodes one chunk while etcd still reads and sends the others (on
// evenly spread, UUID-like guids the chunks are alike; any other guids only make them uneven).
var loadSplits = []string{"4", "8", "c"}

// loadChunk is one key range of a prefix as read at the load's revision, decoded.
type loadChunk struct {
	kvs    []*mvccpb.KeyValue
	actual []*models.ActualLRP
	sched  []*models.DesiredLRP
	err    error
}

func (db *DB) loadCache(ctx context.Context, c *recordCache) (int64, error) {
	start := time.Now()
	// one revision for every chunk, so the load is a snapshot the watch continues from
	head, err := db.cli.Get(ctx, SchemaVersionKey)
	if err != nil {
		return 0, etcdErr(err)
	}
	rev := head.Header.Revision
	var chunks []*loadChunk
	var skipped undecodable
	var wg sync.WaitGroup
	for _, prefix := range []string{ActualPrefix, DesiredSchedPrefix} {
		bounds := []string{prefix}
		for _, s := range loadSplits {
			bounds = append(bounds, prefix+s)
		}
		bounds = append(bounds, clientv3.GetPrefixRangeEnd(prefix))
		for i := 0; i+1 < len(bounds); i++ {
			ch := &loadChunk{}
			chunks = append(chunks, ch)
			wg.Add(1)
			go func(prefix, from, to string) {
				defer wg.Done()
				resp, err := db.cli.Get(ctx, from, clientv3.WithRange(to), clientv3.WithRev(rev))
				if err != nil {
					ch.err = etcdErr(err)
					return
				}
				ch.kvs = resp.Kvs
				if prefix == ActualPrefix {
					ch.actual = decodeKeyed(db, resp.Kvs, newActual, &skipped)
				} else {
					ch.sched = decodeKeyed(db, resp.Kvs, func() *models.DesiredLRP { return &models.DesiredLRP{} }, &skipped)
				}
			}(prefix, bounds[i], bounds[i+1])
		}
	}
	wg.Wait()
	skipped.log(db, "record cache: records that do not open are left out")
	na, ns := 0, 0
	for _, ch := range chunks {
		if ch.err != nil {
			return 0, ch.err
		}
		na, ns = na+len(ch.actual), ns+len(ch.sched)
	}
	fresh := &recordCache{
		actual: make(map[string]cachedActual, na),
		sched:  make(map[string]*models.DesiredLRP, ns),
		byCell: map[string]map[string]*models.ActualLRP{},
		byGuid: make(processes, ns),
	}
	// the schedule map and the scheduling infos are built beside the actual records' indexes;
	// then each process gets its scheduling info
	infos := make([][]*models.DesiredLRPSchedulingInfo, len(chunks))
	var built sync.WaitGroup
	built.Add(1)
	go func() {
		defer built.Done()
		for n, ch := range chunks {
			infos[n] = make([]*models.DesiredLRPSchedulingInfo, len(ch.sched))
			for i, l := range ch.sched {
				if l != nil {
					fresh.sched[string(ch.kvs[i].Key)] = l
					infos[n][i] = l.SchedulingInfo()
				}
			}
		}
	}()
	for _, ch := range chunks {
		for i, a := range ch.actual {
			if a != nil {
				fresh.addActual(string(ch.kvs[i].Key), cachedActual{lrp: a, rev: ch.kvs[i].ModRevision})
			}
		}
	}
	built.Wait()
	for n, ch := range chunks {
		for i, l := range ch.sched {
			if l != nil {
				fresh.byGuid.get(l.GetProcessGuid()).info = infos[n][i]
			}
		}
	}
	c.mu.Lock()
	c.actual, c.byCell, c.byGuid = fresh.actual, fresh.byCell, fresh.byGuid
	c.sched, c.rev, c.ready = fresh.sched, rev, true
	c.loads++
	loads := c.loads
	c.cond.Broadcast()
	c.mu.Unlock()
	db.logger.Info("record cache: loaded", "revision", rev, "actual", na, "schedule", ns, "load", loads, "took", time.Since(start).String())
	return rev, nil
}

// decodeKeyed decodes records one after another keeping positions (nil where a record does not
// open, counted in skipped).
func decodeKeyed[T interface {
	comparable
	protoMessage
}](db *DB, kvs []*mvccpb.KeyValue, newT func() T, skipped *undecodable) []T {
	out := make([]T, len(kvs))
	decodeInto(db, kvs, newT, out, skipped)
	return out
}

func decodeInto[T protoMessage](db *DB, kvs []*mvccpb.KeyValue, newT func() T, out []T, skipped *undecodable) {
	for i, kv := range kvs {
		v := newT()
		if err := db.keys.decode(string(kv.Key), kv.Value, v); err != nil {
			skipped.add(string(kv.Key), err)
			continue
		}
		out[i] = v
	}
}

// undecodable counts the records a read skips because they do not open, with the first one's key
// and error: the read logs one line, not one per record (a store not yet migrated, read before
// its migration, has every record so).
type undecodable struct {
	mu  sync.Mutex
	n   int
	key string
	err error
}

func (u *undecodable) add(key string, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n == 0 {
		u.key, u.err = key, err
	}
	u.n++
}

func (u *undecodable) log(db *DB, msg string) {
	if u.n > 0 {
		db.logger.Error(msg, "skipped", u.n, "first_key", u.key, "first_error", u.err)
	}
}

// watchCache keeps c current from the revision after rev, its load's. A watch that ends is
// resumed from the revision after the last one the cache has seen (an event's or a progress
// notification's), so a brief break costs the changes made meanwhile, not a load of every record.
// The cache is loaded again only when etcd has compacted past that revision or the resumed watch
// cannot be established; meanwhile reads go to etcd.
func (db *DB) watchCache(ctx context.Context, c *recordCache, rev int64) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := db.cli.Watch(wctx, "/v1/", clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithPrevKV(), clientv3.WithCreatedNotify())
		created, compacted := false, false
		var failure error
		for resp := range wch {
			if resp.CompactRevision != 0 {
				compacted = true
				break
			}
			if err := resp.Err(); err != nil {
				failure = err
				break
			}
			switch {
			case resp.Created:
				created = true
			case resp.IsProgressNotify():
				// every change under /v1/ up to this revision was delivered (CatchUpCache asks)
				c.progress(resp.Header.Revision)
			default:
				c.apply(db, resp.Events)
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		c.mu.RLock()
		rev = c.rev
		c.mu.RUnlock()
		if created && !compacted {
			// the cache holds every change up to rev: it keeps serving while the watch resumes
			db.logger.Warn("record cache: watch ended; resuming", "from_revision", rev+1, "error", failure)
			continue
		}
		if compacted {
			db.logger.Warn("record cache: etcd compacted past the watch; reloading", "from_revision", rev+1)
		} else {
			db.logger.Warn("record cache: watch could not be established; reloading", "from_revision", rev+1, "error", failure)
		}
		c.mu.Lock()
		c.ready = false
		c.mu.Unlock()
		for ctx.Err() == nil {
			r, err := db.loadCache(ctx, c)
			if err == nil {
				rev = r
				break
			}
			db.logger.Error("record cache: reload failed", "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

func (c *recordCache) progress(rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev > c.rev {
		c.rev = rev
		c.cond.Broadcast()
	}
}

// CatchUpCache waits until the running record cache (StartCache) has seen every change etcd had
// applied when it was called, and makes every later read wait for them too. A BBS keeps its cache
// loaded and watched while it waits for the lock, so taking the lock costs this catch-up (the
// last leader's last writes), not a load of every record.
func (db *DB) CatchUpCache(ctx context.Context) error {
	head, err := db.cli.Get(ctx, SchemaVersionKey)
	if err != nil {
		return etcdErr(err)
	}
	rev := head.Header.Revision
	db.wrote(rev)
	for {
		if c := db.cache.Load(); c != nil {
			c.mu.RLock()
			done := c.ready && c.rev >= rev
			c.mu.RUnlock()
			if done {
				return nil
			}
			// the newest change may be outside /v1/: a progress notification moves the cache on
			_ = db.cli.RequestProgress(clientv3.WithRequireLeader(ctx))
		}
		select {
		case <-ctx.Done():
			return etcdErr(ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *recordCache) apply(db *DB, evs []*clientv3.Event) {
	type decoded struct {
		a    *models.ActualLRP
		l    *models.DesiredLRP
		info *models.DesiredLRPSchedulingInfo
	}
	dec := make([]decoded, len(evs))
	for i, ev := range evs {
		if ev.Type != clientv3.EventTypePut {
			continue
		}
		k := string(ev.Kv.Key)
		switch {
		case strings.HasPrefix(k, ActualPrefix):
			a := &models.ActualLRP{}
			if db.keys.decode(k, ev.Kv.Value, a) == nil {
				dec[i].a = a
			}
		case strings.HasPrefix(k, DesiredSchedPrefix):
			l := &models.DesiredLRP{}
			if db.keys.decode(k, ev.Kv.Value, l) == nil {
				dec[i].l, dec[i].info = l, l.SchedulingInfo()
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, ev := range evs {
		k := string(ev.Kv.Key)
		isActual, isSched := strings.HasPrefix(k, ActualPrefix), strings.HasPrefix(k, DesiredSchedPrefix)
		switch {
		case ev.Type == clientv3.EventTypeDelete && isActual:
			c.delActual(k)
		case ev.Type == clientv3.EventTypeDelete && isSched:
			c.delSched(k)
		case isActual && dec[i].a != nil:
			c.putActual(k, cachedActual{lrp: dec[i].a, rev: ev.Kv.ModRevision})
		case isSched && dec[i].l != nil:
			c.delSched(k)
			c.putSched(k, dec[i].l, dec[i].info)
		case isActual:
			// a record that does not open is skipped, as a read from etcd skips it; the cache must
			// not keep serving the version it replaced
			db.logger.Error("record cache: skipping undecodable record", "key", k)
			c.delActual(k)
		case isSched:
			db.logger.Error("record cache: skipping undecodable record", "key", k)
			c.delSched(k)
		}
		if ev.Kv.ModRevision > c.rev {
			c.rev = ev.Kv.ModRevision
		}
	}
	c.cond.Broadcast()
}

// view returns the cache once it has seen this process's last write, or nil (read etcd instead).
func (db *DB) view(ctx context.Context) *recordCache {
	c := db.cache.Load()
	if c == nil {
		return nil
	}
	target := db.lastWrite.Load()
	deadline := time.Now().Add(2 * time.Second)
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.ready && c.rev < target {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil
		}
		// wake up periodically to check the deadline
		t := time.AfterFunc(50*time.Millisecond, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
		c.cond.Wait()
		t.Stop()
	}
	if !c.ready {
		return nil
	}
	return c
}

// wrote records the revision of a successful write.
func (db *DB) wrote(rev int64) {
	for {
		cur := db.lastWrite.Load()
		if rev <= cur || db.lastWrite.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// actuals lists the cached instances matching f (caller must hold no lock): through the index
// by cell or by process guid when f names one.
func (c *recordCache) actuals(f ActualFilter) []*models.ActualLRP {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var subset map[string]*models.ActualLRP
	switch {
	case f.CellID != "":
		subset = c.byCell[f.CellID]
	case f.ProcessGuid != "":
		var out []*models.ActualLRP
		if p := c.byGuid[f.ProcessGuid]; p != nil {
			for _, a := range p.records {
				if f.match(a) {
					out = append(out, a)
				}
			}
		}
		return out
	default:
		out := make([]*models.ActualLRP, 0, len(c.actual))
		for _, ca := range c.actual {
			if f.match(ca.lrp) {
				out = append(out, ca.lrp)
			}
		}
		return out
	}
	out := make([]*models.ActualLRP, 0, len(subset))
	for _, a := range subset {
		if f.match(a) {
			out = append(out, a)
		}
	}
	return out
}

func (c *recordCache) lights(f DesiredFilter) []*models.DesiredLRP {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(f.ProcessGuids) > 0 {
		out := make([]*models.DesiredLRP, 0, len(f.ProcessGuids))
		seen := make(map[string]bool, len(f.ProcessGuids))
		// each record is looked up by its guid: the other filters (domain, app guids) remain
		rest := f
		rest.ProcessGuids = nil
		for _, g := range f.ProcessGuids {
			if l, ok := c.sched[schedKey(g)]; ok && !seen[g] && rest.match(l) {
				seen[g] = true
				out = append(out, l)
			}
		}
		return out
	}
	out := make([]*models.DesiredLRP, 0, len(c.sched))
	for _, l := range c.sched {
		if f.match(l) {
			out = append(out, l)
		}
	}
	return out
}

// peek returns a cached record and its mod revision without waiting (for a first CAS attempt).
func (db *DB) peek(key string) (a *models.ActualLRP, rev int64, ok bool) {
	c := db.cache.Load()
	if c == nil {
		return nil, 0, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.ready {
		return nil, 0, false
	}
	ca, found := c.actual[key]
	if !found {
		return nil, 0, true
	}
	return ca.lrp, ca.rev, true
}

// decodeIndexed decodes records in parallel keeping positions (nil where a record does not open).
func decodeIndexed[T interface {
	comparable
	protoMessage
}](db *DB, kvs []*mvccpb.KeyValue, newT func() T) []T {
	out := make([]T, len(kvs))
	var skipped undecodable
	parallelRange(len(kvs), func(lo, hi int) { decodeInto(db, kvs[lo:hi], newT, out[lo:hi], &skipped) })
	skipped.log(db, "skipping records that do not open")
	return out
}
