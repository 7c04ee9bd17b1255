package db

import (
	"context"
	"slices"
	"strings"

	"github.com/google/uuid"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/diego-go/diego/models"
)

func newGUID() string { return uuid.NewString() }

// light is the part of a DesiredLRP stored under /v1/desired_lrp/schedule: every field that the
// scheduling and routing infos carry (volume mounts reduced to their driver names).
func light(d *models.DesiredLRP) *models.DesiredLRP {
	l := &models.DesiredLRP{
		ProcessGuid:     d.GetProcessGuid(),
		Domain:          d.GetDomain(),
		LogGuid:         d.GetLogGuid(),
		RootFs:          d.GetRootFs(),
		Instances:       d.GetInstances(),
		Annotation:      d.GetAnnotation(),
		MemoryMb:        d.GetMemoryMb(),
		DiskMb:          d.GetDiskMb(),
		MaxPids:         d.GetMaxPids(),
		Routes:          d.GetRoutes(),
		ModificationTag: d.GetModificationTag(),
		PlacementTags:   d.GetPlacementTags(),
		MetricTags:      d.GetMetricTags(),
	}
	for _, m := range d.GetVolumeMounts() {
		l.VolumeMounts = append(l.VolumeMounts, &models.VolumeMount{Driver: m.GetDriver()})
	}
	return l
}

// DesiredFilter selects desired LRPs; empty fields match everything.
type DesiredFilter struct {
	Domain       string
	ProcessGuids []string
	// AppGuids matches process guids starting with any of them (Cloud Controller's process
	// guids are the app guid followed by the version), as upstream's filter does.
	AppGuids []string
}

func (f DesiredFilter) match(d *models.DesiredLRP) bool {
	if f.Domain != "" && d.GetDomain() != f.Domain {
		return false
	}
	if len(f.AppGuids) > 0 && !slices.ContainsFunc(f.AppGuids, func(app string) bool { return strings.HasPrefix(d.GetProcessGuid(), app) }) {
		return false
	}
	return len(f.ProcessGuids) == 0 || slices.Contains(f.ProcessGuids, d.GetProcessGuid())
}

// lights reads every schedule record.
func (db *DB) lights(ctx context.Context, f DesiredFilter) ([]*models.DesiredLRP, error) {
	if c := db.view(ctx); c != nil {
		return c.lights(f), nil
	}
	if len(f.ProcessGuids) > 0 && len(f.ProcessGuids) <= maxTxnOps {
		ops := make([]clientv3.Op, len(f.ProcessGuids))
		for i, g := range f.ProcessGuids {
			ops[i] = clientv3.OpGet(schedKey(g))
		}
		resp, err := db.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, etcdErr(err)
		}
		var kvs []*mvccpb.KeyValue
		for _, r := range resp.Responses {
			kvs = append(kvs, r.GetResponseRange().Kvs...)
		}
		return filterDesired(decodeAll(db, kvs, func() *models.DesiredLRP { return &models.DesiredLRP{} }), f), nil
	}
	resp, err := db.cli.Get(ctx, DesiredSchedPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, etcdErr(err)
	}
	return filterDesired(decodeAll(db, resp.Kvs, func() *models.DesiredLRP { return &models.DesiredLRP{} }), f), nil
}

func filterDesired(in []*models.DesiredLRP, f DesiredFilter) []*models.DesiredLRP {
	out := in[:0]
	for _, d := range in {
		if f.match(d) {
			out = append(out, d)
		}
	}
	return out
}

// DesiredLRPSchedulingInfos lists the scheduling infos (run infos are not read).
func (db *DB) DesiredLRPSchedulingInfos(ctx context.Context, f DesiredFilter) ([]*models.DesiredLRPSchedulingInfo, error) {
	ls, err := db.lights(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]*models.DesiredLRPSchedulingInfo, len(ls))
	for i, l := range ls {
		out[i] = l.SchedulingInfo()
	}
	return out, nil
}

// DesiredLRPRoutingInfos lists the routing infos (run infos are not read).
func (db *DB) DesiredLRPRoutingInfos(ctx context.Context, f DesiredFilter) ([]*models.DesiredLRPRoutingInfo, error) {
	ls, err := db.lights(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]*models.DesiredLRPRoutingInfo, len(ls))
	for i, l := range ls {
		out[i] = l.RoutingInfo()
	}
	return out, nil
}

// DesiredLRPSchedulingInfo reads one scheduling info.
func (db *DB) DesiredLRPSchedulingInfo(ctx context.Context, guid string) (*models.DesiredLRPSchedulingInfo, error) {
	l := &models.DesiredLRP{}
	if _, err := db.getOne(ctx, schedKey(guid), l); err != nil {
		return nil, err
	}
	return l.SchedulingInfo(), nil
}

// unmodeledField is the field of a stored run record whose bytes are the fields of the desired
// LRP this project does not model (upstream's sidecars, volume-mounted files, ...), exactly as the
// client sent them. They cannot be kept as the run record's own unknown fields: a field number of
// the DesiredLRP means something else in a DesiredLRPRunInfo. The number is far above any field
// either message will have; only the store reads or writes it.
const unmodeledField protowire.Number = 100000

// runRecord is the run info stored for d, carrying d's unmodeled fields.
func runRecord(d *models.DesiredLRP, createdAt int64) *models.DesiredLRPRunInfo {
	r := d.RunInfo(createdAt)
	if u := d.ProtoReflect().GetUnknown(); len(u) > 0 {
		b := protowire.AppendTag(nil, unmodeledField, protowire.BytesType)
		r.ProtoReflect().SetUnknown(protowire.AppendBytes(b, u))
	}
	return r
}

// unmodeled returns the desired LRP's unmodeled fields kept in a stored run record.
func unmodeled(r *models.DesiredLRPRunInfo) []byte {
	var out []byte
	u := r.ProtoReflect().GetUnknown()
	for len(u) > 0 {
		num, typ, n := protowire.ConsumeTag(u)
		if n < 0 {
			return out
		}
		u = u[n:]
		if num == unmodeledField && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(u)
			if m < 0 {
				return out
			}
			out = append(out, v...)
			u = u[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, u)
		if m < 0 {
			return out
		}
		u = u[m:]
	}
	return out
}

// join builds the whole desired LRP from its two records, unmodeled fields included.
func join(l *models.DesiredLRP, r *models.DesiredLRPRunInfo) *models.DesiredLRP {
	d := models.NewDesiredLRP(l.SchedulingInfo(), r)
	if u := unmodeled(r); len(u) > 0 {
		d.ProtoReflect().SetUnknown(u)
	}
	return d
}

// DesiredLRPs lists whole desired LRPs (both records, read in one snapshot).
func (db *DB) DesiredLRPs(ctx context.Context, f DesiredFilter) ([]*models.DesiredLRP, error) {
	resp, err := db.cli.Txn(ctx).Then(
		clientv3.OpGet(DesiredSchedPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(DesiredRunPrefix, clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, etcdErr(err)
	}
	lv, rv := resp.Responses[0].GetResponseRange().Kvs, resp.Responses[1].GetResponseRange().Kvs
	ls := filterDesired(decodeAll(db, lv, func() *models.DesiredLRP { return &models.DesiredLRP{} }), f)
	runs := map[string]*models.DesiredLRPRunInfo{}
	for _, r := range decodeAll(db, rv, func() *models.DesiredLRPRunInfo { return &models.DesiredLRPRunInfo{} }) {
		runs[r.GetDesiredLrpKey().GetProcessGuid()] = r
	}
	out := make([]*models.DesiredLRP, 0, len(ls))
	for _, l := range ls {
		if r, ok := runs[l.GetProcessGuid()]; ok {
			out = append(out, join(l, r))
		}
	}
	return out, nil
}

// DesiredLRPByProcessGuid reads one desired LRP.
func (db *DB) DesiredLRPByProcessGuid(ctx context.Context, guid string) (*models.DesiredLRP, error) {
	d, _, _, err := db.desired(ctx, guid)
	return d, err
}

func (db *DB) desired(ctx context.Context, guid string) (*models.DesiredLRP, int64, int64, error) {
	resp, err := db.cli.Txn(ctx).Then(clientv3.OpGet(schedKey(guid)), clientv3.OpGet(runKey(guid))).Commit()
	if err != nil {
		return nil, 0, 0, etcdErr(err)
	}
	lk, rk := resp.Responses[0].GetResponseRange().Kvs, resp.Responses[1].GetResponseRange().Kvs
	if len(lk) == 0 || len(rk) == 0 {
		return nil, 0, 0, models.ErrResourceNotFound
	}
	l, r := &models.DesiredLRP{}, &models.DesiredLRPRunInfo{}
	if err := db.keys.decode(schedKey(guid), lk[0].Value, l); err != nil {
		return nil, 0, 0, err
	}
	if err := db.keys.decode(runKey(guid), rk[0].Value, r); err != nil {
		return nil, 0, 0, err
	}
	return join(l, r), lk[0].ModRevision, rk[0].ModRevision, nil
}

// DesireLRP stores a new desired LRP and an UNCLAIMED ActualLRP for each index that has none. It
// returns the instances it created (see Desire).
func (db *DB) DesireLRP(ctx context.Context, d *models.DesiredLRP) ([]*models.ActualLRP, error) {
	_, created, err := db.Desire(ctx, d)
	return created, err
}

// Desire stores a new desired LRP and an UNCLAIMED ActualLRP for each index that has none, and
// returns the desired LRP as stored (with its modification tag) and the instances it created.
// stored is non-nil exactly when the desired LRP was written: the first transaction writes it
// with as many instances as fit; should a follow-up transaction for the rest fail, err says so,
// created lists only the instances written, and convergence creates the others.
func (db *DB) Desire(ctx context.Context, d *models.DesiredLRP) (stored *models.DesiredLRP, created []*models.ActualLRP, err error) {
	guid := d.GetProcessGuid()
	now := db.now()
	// no clone of the request: the light record and the run info only reference its fields
	l := light(d)
	l.ModificationTag = &models.ModificationTag{Epoch: newGUID(), Index: 0}
	run := runRecord(d, now.UnixNano())
	lv, err := db.encode(schedKey(guid), l)
	if err != nil {
		return nil, nil, err
	}
	rv, err := db.encode(runKey(guid), run)
	if err != nil {
		return nil, nil, err
	}
	first := 0
	for attempt := 0; ; attempt++ {
		var existing []*models.ActualLRP
		var revs []int64
		if attempt == 0 {
			existing, revs, err = db.peekInstances(ctx, guid, d.GetInstances())
		} else {
			existing, revs, err = db.instancesDirect(ctx, guid)
		}
		if err != nil {
			return nil, nil, err
		}
		created = db.newUnclaimed(d, 0, d.GetInstances(), existing, now)
		ops := []clientv3.Op{clientv3.OpPut(schedKey(guid), lv), clientv3.OpPut(runKey(guid), rv)}
		cmps := []clientv3.Cmp{unchanged(schedKey(guid), 0)}
		// the instances left out because they exist must still exist unchanged when this commits
		for i, a := range existing {
			if a.GetPresence() == models.ActualLRP_ORDINARY && a.GetActualLrpKey().GetIndex() < d.GetInstances() && len(cmps) < maxTxnOps/2 {
				cmps = append(cmps, unchanged(actualKeyOf(a), revs[i]))
			}
		}
		first = min(len(created), maxTxnOps-len(ops), maxTxnOps-len(cmps))
		more, err := db.putOps(created[:first])
		if err != nil {
			return nil, nil, err
		}
		for _, a := range created[:first] {
			cmps = append(cmps, unchanged(actualKeyOf(a), 0))
		}
		ok, err := db.commit(ctx, cmps, append(ops, more...))
		if err != nil {
			return nil, nil, err
		}
		if ok {
			break
		}
		exists, err := db.cli.Get(ctx, schedKey(guid), clientv3.WithCountOnly())
		if err != nil {
			return nil, nil, etcdErr(err)
		}
		if exists.Count > 0 {
			return nil, nil, models.ErrResourceExists
		}
		if attempt >= casAttempts {
			return nil, nil, models.NewError(models.Error_ResourceConflict, "too many concurrent changes")
		}
	}
	stored = join(l, run)
	rest, err := db.createRest(ctx, created[first:])
	return stored, append(created[:first:first], rest...), err
}

// createRest creates instances beyond the first transaction's room, each only if absent, and
// returns those it wrote. A chunk that fails its compare (an instance appeared meanwhile) is
// written one instance at a time, so every instance reported was really written.
func (db *DB) createRest(ctx context.Context, rest []*models.ActualLRP) ([]*models.ActualLRP, error) {
	var written []*models.ActualLRP
	createChunk := func(chunk []*models.ActualLRP) (bool, error) {
		ops, err := db.putOps(chunk)
		if err != nil {
			return false, err
		}
		cmps := make([]clientv3.Cmp, len(chunk))
		for i, a := range chunk {
			cmps[i] = unchanged(actualKeyOf(a), 0)
		}
		return db.commit(ctx, cmps, ops)
	}
	for len(rest) > 0 {
		n := min(len(rest), maxTxnOps)
		ok, err := createChunk(rest[:n])
		if err != nil {
			return written, err
		}
		if ok {
			written = append(written, rest[:n]...)
		} else {
			for _, a := range rest[:n] {
				ok, err := createChunk([]*models.ActualLRP{a})
				if err != nil {
					return written, err
				}
				if ok {
					written = append(written, a)
				}
			}
		}
		rest = rest[n:]
	}
	return written, nil
}

func (db *DB) putOps(lrps []*models.ActualLRP) ([]clientv3.Op, error) {
	ops := make([]clientv3.Op, 0, len(lrps))
	for _, a := range lrps {
		k := actualKeyOf(a)
		v, err := db.encode(k, a)
		if err != nil {
			return nil, err
		}
		ops = append(ops, clientv3.OpPut(k, v))
	}
	return ops, nil
}

func (db *DB) newUnclaimed(d *models.DesiredLRP, from, to int32, existing []*models.ActualLRP, now interface{ UnixNano() int64 }) []*models.ActualLRP {
	have := map[int32]bool{}
	for _, a := range existing {
		if a.GetPresence() == models.ActualLRP_ORDINARY {
			have[a.GetActualLrpKey().GetIndex()] = true
		}
	}
	var out []*models.ActualLRP
	for i := from; i < to; i++ {
		if !have[i] {
			out = append(out, NewUnclaimed(d.GetProcessGuid(), i, d.GetDomain(), now.UnixNano()))
		}
	}
	return out
}

// NewUnclaimed builds an UNCLAIMED instance.
func NewUnclaimed(guid string, index int32, domain string, since int64) *models.ActualLRP {
	return &models.ActualLRP{
		ActualLrpKey:         &models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: domain},
		ActualLrpInstanceKey: &models.ActualLRPInstanceKey{},
		State:                models.ActualLRPStateUnclaimed,
		// explicit, as upstream answers every record: not routable until a cell says so
		Routable:        new(false),
		Since:           since,
		ModificationTag: &models.ModificationTag{Epoch: newGUID(), Index: 0},
	}
}

// UpdateDesiredLRP applies an update; when the instance count grows it creates the new UNCLAIMED
// instances in the same transaction (as far as they fit, the rest in follow-up transactions). It
// returns the LRP before and after and the created instances. after is non-nil exactly when the
// update was written; should a follow-up transaction fail, err says so, created lists only the
// instances written, and convergence creates the others.
func (db *DB) UpdateDesiredLRP(ctx context.Context, guid string, u *models.DesiredLRPUpdate) (before, after *models.DesiredLRP, created []*models.ActualLRP, err error) {
	var first int
	var committed *models.DesiredLRP
	err = retry(ctx, func() error {
		committed = nil
		d, lrev, rrev, err := db.desired(ctx, guid)
		if err != nil {
			return err
		}
		before = d
		next := cloneDesired(d)
		after := next
		if u.Instances != nil {
			after.Instances = u.GetInstances()
		}
		if u.GetRoutes() != nil {
			after.Routes = u.GetRoutes()
		}
		if u.Annotation != nil {
			after.Annotation = u.GetAnnotation()
		}
		if u.GetMetricTags() != nil {
			after.MetricTags = u.GetMetricTags()
		}
		after.ModificationTag = nextTag(d.GetModificationTag())
		lv, err := db.encode(schedKey(guid), light(after))
		if err != nil {
			return err
		}
		ops := []clientv3.Op{clientv3.OpPut(schedKey(guid), lv)}
		cmps := []clientv3.Cmp{unchanged(schedKey(guid), lrev), unchanged(runKey(guid), rrev)}
		if u.GetMetricTags() != nil {
			r := &models.DesiredLRPRunInfo{}
			if _, err := db.getOne(ctx, runKey(guid), r); err != nil {
				return err
			}
			r.MetricTags = after.GetMetricTags()
			rv, err := db.encode(runKey(guid), r)
			if err != nil {
				return err
			}
			ops = append(ops, clientv3.OpPut(runKey(guid), rv))
		}
		created = nil
		if after.GetInstances() > before.GetInstances() {
			existing, err := db.actualsOf(ctx, guid)
			if err != nil {
				return err
			}
			created = db.newUnclaimed(after, before.GetInstances(), after.GetInstances(), existing, db.now())
		}
		first = min(len(created), maxTxnOps-len(ops), maxTxnOps-len(cmps))
		more, err := db.putOps(created[:first])
		if err != nil {
			return err
		}
		for _, a := range created[:first] {
			cmps = append(cmps, unchanged(actualKeyOf(a), 0))
		}
		ok, err := db.commit(ctx, cmps, append(ops, more...))
		if err != nil {
			return err
		}
		if !ok {
			return errConflict
		}
		committed = next
		return nil
	})
	if err != nil {
		return before, nil, nil, err
	}
	after = committed
	rest, err := db.createRest(ctx, created[first:])
	return before, after, append(created[:first:first], rest...), err
}

// RemoveDesiredLRP deletes both records of a desired LRP and returns it.
func (db *DB) RemoveDesiredLRP(ctx context.Context, guid string) (*models.DesiredLRP, error) {
	var before *models.DesiredLRP
	err := retry(ctx, func() error {
		d, lrev, rrev, err := db.desired(ctx, guid)
		if err != nil {
			return err
		}
		before = d
		ok, err := db.commit(ctx,
			[]clientv3.Cmp{unchanged(schedKey(guid), lrev), unchanged(runKey(guid), rrev)},
			[]clientv3.Op{clientv3.OpDelete(schedKey(guid)), clientv3.OpDelete(runKey(guid))})
		if err != nil {
			return err
		}
		if !ok {
			return errConflict
		}
		return nil
	})
	return before, err
}

func cloneDesired(d *models.DesiredLRP) *models.DesiredLRP {
	return protoClone(d)
}

// peekInstances returns the cached instances of the process (with their mod revisions) without
// waiting for the cache, or reads etcd when the cache cannot answer for every index in [0,n).
// The desire transaction compares every key it creates and every existing instance it leaves out,
// so a stale answer only costs a retry on etcd's records.
func (db *DB) peekInstances(ctx context.Context, guid string, n int32) ([]*models.ActualLRP, []int64, error) {
	var out []*models.ActualLRP
	var revs []int64
	for i := int32(0); i < n; i++ {
		a, rev, ok := db.peek(actualKey(guid, i, models.ActualLRP_ORDINARY))
		if !ok {
			return db.instancesDirect(ctx, guid)
		}
		if a != nil {
			out, revs = append(out, a), append(revs, rev)
		}
	}
	return out, revs, nil
}

// instancesDirect reads a process's instances and their mod revisions from etcd.
func (db *DB) instancesDirect(ctx context.Context, guid string) ([]*models.ActualLRP, []int64, error) {
	resp, err := db.cli.Get(ctx, ActualPrefix+guid+"/", clientv3.WithPrefix())
	if err != nil {
		return nil, nil, etcdErr(err)
	}
	out := make([]*models.ActualLRP, 0, len(resp.Kvs))
	revs := make([]int64, 0, len(resp.Kvs))
	var skipped undecodable
	for _, kv := range resp.Kvs {
		a := &models.ActualLRP{}
		if err := db.keys.decode(string(kv.Key), kv.Value, a); err != nil {
			skipped.add(string(kv.Key), err)
			continue
		}
		out, revs = append(out, a), append(revs, kv.ModRevision)
	}
	skipped.log(db, "skipping records that do not open")
	return out, revs, nil
}

// ProcessLRPs lists every desired LRP's scheduling info with its actual LRPs (actuals[i] are
// infos[i]'s) and the actual LRPs of process guids that are not desired (orphans), from one
// consistent read: the record cache's when it runs, which holds them grouped so that no record
// is looked up (a convergence pass reads 250,000 instances this way), else etcd's.
func (db *DB) ProcessLRPs(ctx context.Context) (infos []*models.DesiredLRPSchedulingInfo, actuals [][]*models.ActualLRP, orphans []*models.ActualLRP, err error) {
	if c := db.view(ctx); c != nil {
		c.mu.RLock()
		defer c.mu.RUnlock()
		infos, actuals, orphans = c.byGuid.grouped(len(c.actual))
		return infos, actuals, orphans, nil
	}
	resp, err := db.cli.Txn(ctx).Then(
		clientv3.OpGet(ActualPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(DesiredSchedPrefix, clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, nil, nil, etcdErr(err)
	}
	ls := decodeAll(db, resp.Responses[1].GetResponseRange().Kvs, func() *models.DesiredLRP { return &models.DesiredLRP{} })
	as := decodeAll(db, resp.Responses[0].GetResponseRange().Kvs, newActual)
	ps := make(processes, len(ls))
	for _, l := range ls {
		ps.get(l.GetProcessGuid()).info = l.SchedulingInfo()
	}
	for _, a := range as {
		ps.get(a.GetActualLrpKey().GetProcessGuid()).put(actualKeyOf(a), a)
	}
	infos, actuals, orphans = ps.grouped(len(as))
	return infos, actuals, orphans, nil
}
