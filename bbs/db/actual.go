package db

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-go/diego/models"
)

// ActualFilter selects actual LRPs; empty fields match everything.
type ActualFilter struct {
	Domain      string
	CellID      string
	ProcessGuid string
	Index       *int32
}

func (f ActualFilter) match(a *models.ActualLRP) bool {
	k := a.GetActualLrpKey()
	return (f.Domain == "" || k.GetDomain() == f.Domain) &&
		(f.CellID == "" || a.GetActualLrpInstanceKey().GetCellId() == f.CellID) &&
		(f.ProcessGuid == "" || k.GetProcessGuid() == f.ProcessGuid) &&
		(f.Index == nil || k.GetIndex() == *f.Index)
}

func newActual() *models.ActualLRP { return &models.ActualLRP{} }

// ActualLRPs lists instances: from the record cache when it runs, else with one ranged read of
// everything (or of one process) and a parallel decode.
func (db *DB) ActualLRPs(ctx context.Context, f ActualFilter) ([]*models.ActualLRP, error) {
	if c := db.view(ctx); c != nil {
		return c.actuals(f), nil
	}
	prefix := ActualPrefix
	if f.ProcessGuid != "" {
		prefix += f.ProcessGuid + "/"
	}
	resp, err := db.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, etcdErr(err)
	}
	all := decodeAll(db, resp.Kvs, newActual)
	out := all[:0]
	for _, a := range all {
		if f.match(a) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (db *DB) actualsOf(ctx context.Context, guid string) ([]*models.ActualLRP, error) {
	return db.ActualLRPs(ctx, ActualFilter{ProcessGuid: guid})
}

// ActualLRP reads one instance record.
func (db *DB) ActualLRP(ctx context.Context, guid string, index int32, p models.ActualLRP_Presence) (*models.ActualLRP, error) {
	a := &models.ActualLRP{}
	if _, err := db.getOne(ctx, actualKey(guid, index, p), a); err != nil {
		return nil, err
	}
	return a, nil
}

// Change is what a mutation of actual LRPs writes: records to put and records to delete.
type Change struct {
	Put    []*models.ActualLRP
	Delete []*models.ActualLRP
}

// Empty reports whether the change writes nothing.
func (c Change) Empty() bool { return len(c.Put) == 0 && len(c.Delete) == 0 }

// Slot names one record: an index of a process in one presence.
type Slot struct {
	ProcessGuid string
	Index       int32
	Presence    models.ActualLRP_Presence
}

func (s Slot) key() string { return actualKey(s.ProcessGuid, s.Index, s.Presence) }

// MutateActual reads the slots (nil for an absent one), asks fn what to change and commits the
// change if none of the slots changed meanwhile, retrying otherwise. fn must only change records of
// the slots it was given.
func (db *DB) MutateActual(ctx context.Context, slots []Slot, fn func(cur []*models.ActualLRP) (Change, error)) (cur []*models.ActualLRP, ch Change, err error) {
	first := true
	err = retry(ctx, func() error {
		cur = make([]*models.ActualLRP, len(slots))
		revs := make([]int64, len(slots))
		fromCache := false
		if first {
			first = false
			fromCache = true
			for i, s := range slots {
				a, rev, ok := db.peek(s.key())
				if !ok {
					fromCache = false
					break
				}
				cur[i], revs[i] = a, rev
			}
		}
		if !fromCache {
			ops := make([]clientv3.Op, len(slots))
			for i, s := range slots {
				ops[i] = clientv3.OpGet(s.key())
			}
			resp, err := db.cli.Txn(ctx).Then(ops...).Commit()
			if err != nil {
				return etcdErr(err)
			}
			for i, r := range resp.Responses {
				kvs := r.GetResponseRange().Kvs
				if len(kvs) == 0 {
					cur[i], revs[i] = nil, 0
					continue
				}
				a := &models.ActualLRP{}
				if err := db.keys.decode(string(kvs[0].Key), kvs[0].Value, a); err != nil {
					return err
				}
				cur[i], revs[i] = a, kvs[0].ModRevision
			}
		}
		ch, err = fn(cur)
		if fromCache && (err != nil || ch.Empty()) {
			return errConflict // decide refusals and no-ops on etcd's word, not the cache's
		}
		if err != nil || ch.Empty() {
			return err
		}
		cmps := make([]clientv3.Cmp, len(slots))
		for i, s := range slots {
			cmps[i] = unchanged(s.key(), revs[i])
		}
		txOps, err := db.changeOps(cur, ch)
		if err != nil {
			return err
		}
		ok, err := db.commit(ctx, cmps, txOps)
		if err != nil {
			return err
		}
		if !ok {
			return errConflict
		}
		return nil
	})
	return cur, ch, err
}

// changeOps turns a change into etcd operations.
func (db *DB) changeOps(_ []*models.ActualLRP, ch Change) ([]clientv3.Op, error) {
	var ops []clientv3.Op
	for _, a := range ch.Delete {
		ops = append(ops, clientv3.OpDelete(actualKeyOf(a)))
	}
	for _, a := range ch.Put {
		k := actualKeyOf(a)
		v, err := db.encode(k, a)
		if err != nil {
			return nil, err
		}
		ops = append(ops, clientv3.OpPut(k, v))
	}
	return ops, nil
}

// changed returns a copy of a with the next modification tag and since = now.
func (db *DB) changed(a *models.ActualLRP) *models.ActualLRP {
	n := protoClone(a)
	n.ModificationTag = nextTag(a.GetModificationTag())
	n.Since = db.now().UnixNano()
	return n
}

// OrdinarySlot is the slot of k's ORDINARY record.
func OrdinarySlot(k *models.ActualLRPKey) Slot {
	return Slot{ProcessGuid: k.GetProcessGuid(), Index: k.GetIndex()}
}

func evacuating(k *models.ActualLRPKey) Slot {
	return Slot{ProcessGuid: k.GetProcessGuid(), Index: k.GetIndex(), Presence: models.ActualLRP_EVACUATING}
}

// ClaimActualLRP moves an instance to CLAIMED by instanceKey. Claiming it again with the same key
// changes nothing.
func (db *DB) ClaimActualLRP(ctx context.Context, guid string, index int32, ik *models.ActualLRPInstanceKey) (before, after *models.ActualLRP, err error) {
	k := &models.ActualLRPKey{ProcessGuid: guid, Index: index}
	_, ch, err := db.MutateActual(ctx, []Slot{OrdinarySlot(k), suspect(k)}, func(cur []*models.ActualLRP) (Change, error) {
		a := cur[0]
		before, after = a, nil
		if suspectOf(cur[1], ik) != nil {
			// the SUSPECT's cell is back: its claim must not take the replacement's slot
			// (upstream ignores it too); convergence promotes the SUSPECT
			before = nil
			return Change{}, nil
		}
		if a == nil {
			return Change{}, models.ErrResourceNotFound
		}
		if a.GetState() == models.ActualLRPStateClaimed && a.GetActualLrpInstanceKey().Equal(ik) {
			return Change{}, nil
		}
		// a CRASHED slot holds no instance: only the BBS restarts it (unclaim, then auction),
		// whatever instance key a claim carries (an empty one is the CRASHED record's own)
		if a.GetState() == models.ActualLRPStateCrashed ||
			!a.AllowsTransitionTo(a.GetActualLrpKey(), ik, models.ActualLRPStateClaimed) {
			return Change{}, models.ErrActualLRPCannotBeClaimed
		}
		n := db.changed(a)
		n.State = models.ActualLRPStateClaimed
		n.ActualLrpInstanceKey = protoClone(ik)
		// a RUNNING instance its cell claims again (its container restarting) has no address
		// until it starts again
		n.ActualLrpNetInfo = nil
		n.PlacementError = ""
		return Change{Put: []*models.ActualLRP{n}}, nil
	})
	if len(ch.Put) > 0 {
		after = ch.Put[0]
	}
	return before, after, err
}

// StartRequest carries what a cell reports when an instance runs.
type StartRequest struct {
	Key            *models.ActualLRPKey
	InstanceKey    *models.ActualLRPInstanceKey
	NetInfo        *models.ActualLRPNetInfo
	InternalRoutes []*models.ActualLRPInternalRoute
	MetricTags     map[string]string
	// Routable is stored as given: the route answers upstream's default (true) when a request
	// leaves it out.
	Routable         bool
	AvailabilityZone string
}

// apply sets on a the fields a cell reports for a running container.
func (r StartRequest) apply(a *models.ActualLRP) {
	a.ActualLrpNetInfo = protoClone(r.NetInfo)
	a.ActualLrpInternalRoutes = r.InternalRoutes
	a.MetricTags = r.MetricTags
	a.Routable = new(r.Routable)
	a.AvailabilityZone = r.AvailabilityZone
}

// unchanged reports whether a RUNNING record of this container already says what r says.
func (r StartRequest) unchanged(a *models.ActualLRP) bool {
	if a.GetState() != models.ActualLRPStateRunning || !a.GetActualLrpInstanceKey().Equal(r.InstanceKey) ||
		!proto_equal(a.GetActualLrpNetInfo(), r.NetInfo) || a.GetAvailabilityZone() != r.AvailabilityZone ||
		a.Routable == nil || a.GetRoutable() != r.Routable || len(a.GetMetricTags()) != len(r.MetricTags) ||
		len(a.GetActualLrpInternalRoutes()) != len(r.InternalRoutes) {
		return false
	}
	for k, v := range r.MetricTags {
		if got, ok := a.GetMetricTags()[k]; !ok || got != v {
			return false
		}
	}
	for i, route := range r.InternalRoutes {
		if !proto_equal(a.GetActualLrpInternalRoutes()[i], route) {
			return false
		}
	}
	return true
}

// StartActualLRP moves an instance to RUNNING (creating it when absent) and drops an evacuating
// record of the same container and the slot's SUSPECT record (the replacement runs now); it
// returns the records it dropped. A start from the SUSPECT's own container changes nothing (as
// upstream's): convergence promotes the SUSPECT once its cell is present again.
func (db *DB) StartActualLRP(ctx context.Context, r StartRequest) (before, after *models.ActualLRP, removed []*models.ActualLRP, err error) {
	_, ch, err := db.MutateActual(ctx, []Slot{OrdinarySlot(r.Key), evacuating(r.Key), suspect(r.Key)}, func(cur []*models.ActualLRP) (Change, error) {
		a, evac, susp := cur[0], cur[1], cur[2]
		before, after, removed = a, nil, nil
		if suspectOf(susp, r.InstanceKey) != nil {
			before = nil
			return Change{}, nil
		}
		var ch Change
		if evac != nil && evac.GetActualLrpInstanceKey().Equal(r.InstanceKey) {
			ch.Delete = append(ch.Delete, evac)
		}
		if susp != nil {
			ch.Delete = append(ch.Delete, susp)
		}
		var n *models.ActualLRP
		if a == nil {
			n = &models.ActualLRP{ActualLrpKey: protoClone(r.Key), ModificationTag: &models.ModificationTag{Epoch: newGUID()}, Since: db.now().UnixNano()}
		} else {
			if r.unchanged(a) {
				removed = ch.Delete
				return ch, nil
			}
			if a.GetState() == models.ActualLRPStateCrashed || !a.AllowsTransitionTo(r.Key, r.InstanceKey, models.ActualLRPStateRunning) {
				return Change{}, models.ErrActualLRPCannotBeStarted
			}
			n = db.changed(a)
		}
		removed = ch.Delete
		n.State = models.ActualLRPStateRunning
		n.ActualLrpInstanceKey = protoClone(r.InstanceKey)
		r.apply(n)
		n.PlacementError = ""
		ch.Put = append(ch.Put, n)
		return ch, nil
	})
	if len(ch.Put) > 0 {
		after = ch.Put[0]
	}
	return before, after, removed, err
}

// CrashActualLRP records a crash of the container holding the instance. The instance becomes
// UNCLAIMED (restart now: shouldRestart) or CRASHED (restart later, or never). A crash of a
// SUSPECT's container removes the SUSPECT record (after is nil then), as upstream's does: its
// replacement is already being placed.
func (db *DB) CrashActualLRP(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey, reason string) (before, after *models.ActualLRP, shouldRestart bool, err error) {
	_, ch, err := db.MutateActual(ctx, []Slot{OrdinarySlot(key), suspect(key)}, func(cur []*models.ActualLRP) (Change, error) {
		a := cur[0]
		before, shouldRestart = a, false
		if s := suspectOf(cur[1], ik); s != nil {
			before = s
			return Change{Delete: []*models.ActualLRP{s}}, nil
		}
		if a == nil {
			return Change{}, models.ErrResourceNotFound
		}
		if a.GetState() == models.ActualLRPStateUnclaimed || a.GetState() == models.ActualLRPStateCrashed ||
			!a.AllowsTransitionTo(key, ik, models.ActualLRPStateCrashed) {
			return Change{}, models.ErrActualLRPCannotBeCrashed
		}
		now := db.now()
		n := db.changed(a)
		n.CrashCount = db.policy.CrashCountAfterCrash(a, now)
		n.CrashReason = reason
		n.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{}
		n.ActualLrpNetInfo = nil
		n.ActualLrpInternalRoutes = nil
		n.AvailabilityZone = ""
		if wait, ok := db.policy.Backoff(n.CrashCount); ok && wait == 0 {
			n.State = models.ActualLRPStateUnclaimed
			shouldRestart = true
		} else {
			n.State = models.ActualLRPStateCrashed
		}
		return Change{Put: []*models.ActualLRP{n}}, nil
	})
	if len(ch.Put) > 0 {
		after = ch.Put[0]
	}
	return before, after, shouldRestart, err
}

// FailActualLRP records that an UNCLAIMED instance could not be placed.
func (db *DB) FailActualLRP(ctx context.Context, key *models.ActualLRPKey, reason string) (before, after *models.ActualLRP, err error) {
	_, ch, err := db.MutateActual(ctx, []Slot{OrdinarySlot(key)}, func(cur []*models.ActualLRP) (Change, error) {
		a := cur[0]
		before = a
		if a == nil {
			return Change{}, models.ErrResourceNotFound
		}
		if a.GetState() != models.ActualLRPStateUnclaimed {
			return Change{}, models.ErrActualLRPCannotBeFailed
		}
		n := protoClone(a)
		n.ModificationTag = nextTag(a.GetModificationTag())
		n.PlacementError = reason
		return Change{Put: []*models.ActualLRP{n}}, nil
	})
	if len(ch.Put) > 0 {
		after = ch.Put[0]
	}
	return before, after, err
}

// UnclaimActualLRP gives the slot back (UNCLAIMED, no instance key), e.g. for a lost cell.
func (db *DB) UnclaimActualLRP(ctx context.Context, key *models.ActualLRPKey, expect *models.ActualLRPInstanceKey) (before, after *models.ActualLRP, err error) {
	_, ch, err := db.MutateActual(ctx, []Slot{OrdinarySlot(key)}, func(cur []*models.ActualLRP) (Change, error) {
		a := cur[0]
		before = a
		if a == nil {
			return Change{}, models.ErrResourceNotFound
		}
		if expect != nil && !a.GetActualLrpInstanceKey().Equal(expect) {
			return Change{}, models.ErrActualLRPCannotBeUnclaimed
		}
		if a.GetState() == models.ActualLRPStateUnclaimed {
			return Change{}, nil
		}
		n := db.changed(a)
		n.State = models.ActualLRPStateUnclaimed
		n.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{}
		n.ActualLrpNetInfo = nil
		n.ActualLrpInternalRoutes = nil
		n.AvailabilityZone = ""
		return Change{Put: []*models.ActualLRP{n}}, nil
	})
	if len(ch.Put) > 0 {
		after = ch.Put[0]
	}
	return before, after, err
}

// RemoveActualLRP deletes an ORDINARY instance record (only if held by ik, when given). The
// SUSPECT's container asking answers ResourceNotFound and leaves the SUSPECT (upstream removes
// only ORDINARY records here).
func (db *DB) RemoveActualLRP(ctx context.Context, guid string, index int32, ik *models.ActualLRPInstanceKey) (*models.ActualLRP, error) {
	k := &models.ActualLRPKey{ProcessGuid: guid, Index: index}
	cur, _, err := db.MutateActual(ctx, []Slot{OrdinarySlot(k), suspect(k)}, func(cur []*models.ActualLRP) (Change, error) {
		a := cur[0]
		if a == nil || ik != nil && suspectOf(cur[1], ik) != nil {
			return Change{}, models.ErrResourceNotFound
		}
		if ik != nil && !a.GetActualLrpInstanceKey().Equal(ik) {
			return Change{}, models.ErrActualLRPCannotBeRemoved
		}
		return Change{Delete: []*models.ActualLRP{a}}, nil
	})
	if err != nil {
		return nil, err
	}
	return cur[0], nil
}

func slotOf(a *models.ActualLRP) Slot {
	return Slot{ProcessGuid: a.GetActualLrpKey().GetProcessGuid(), Index: a.GetActualLrpKey().GetIndex(), Presence: a.GetPresence()}
}

// RemoveIfUnchanged deletes a record if it is still exactly a (same modification tag).
func (db *DB) RemoveIfUnchanged(ctx context.Context, a *models.ActualLRP) (bool, error) {
	_, ch, err := db.MutateActual(ctx, []Slot{slotOf(a)}, func(cur []*models.ActualLRP) (Change, error) {
		if cur[0] == nil || !sameRecord(cur[0], a) {
			return Change{}, nil
		}
		return Change{Delete: []*models.ActualLRP{cur[0]}}, nil
	})
	return len(ch.Delete) > 0, err
}

// SwapIfUnchanged applies change to a copy of the record if it is still exactly a (same
// modification tag), as a change of the record (next modification tag, since now), and stores it.
// It does nothing (ok false) if the record changed or went since.
func (db *DB) SwapIfUnchanged(ctx context.Context, a *models.ActualLRP, change func(n *models.ActualLRP)) (before, after *models.ActualLRP, ok bool, err error) {
	cur, ch, err := db.MutateActual(ctx, []Slot{slotOf(a)}, func(cur []*models.ActualLRP) (Change, error) {
		if cur[0] == nil || !sameRecord(cur[0], a) {
			return Change{}, nil
		}
		n := db.changed(cur[0])
		change(n)
		return Change{Put: []*models.ActualLRP{n}}, nil
	})
	if err != nil || len(ch.Put) == 0 {
		return nil, nil, false, err
	}
	return cur[0], ch.Put[0], true, nil
}

// Evacuation outcomes.

// EvacuateClaimed: the cell gives back a CLAIMED instance it is leaving; the slot becomes
// UNCLAIMED (to be auctioned) and any evacuating record of that container goes.
func (db *DB) EvacuateClaimed(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey) (cur []*models.ActualLRP, ch Change, err error) {
	return db.MutateActual(ctx, []Slot{OrdinarySlot(key), evacuating(key), suspect(key)}, func(cur []*models.ActualLRP) (Change, error) {
		if s := suspectOf(cur[2], ik); s != nil {
			return Change{Delete: []*models.ActualLRP{s}}, nil
		}
		var ch Change
		if e := cur[1]; e != nil && e.GetActualLrpInstanceKey().Equal(ik) {
			ch.Delete = append(ch.Delete, e)
		}
		if a := cur[0]; a != nil && a.GetState() == models.ActualLRPStateClaimed && a.GetActualLrpInstanceKey().Equal(ik) {
			n := db.changed(a)
			n.State = models.ActualLRPStateUnclaimed
			n.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{}
			ch.Put = append(ch.Put, n)
		}
		return ch, nil
	})
}

// EvacuateRunning: the cell is leaving but keeps running the container until a replacement runs: an
// EVACUATING copy is kept and the slot becomes UNCLAIMED. keep tells the cell to keep its container.
func (db *DB) EvacuateRunning(ctx context.Context, r StartRequest) (cur []*models.ActualLRP, ch Change, keep bool, err error) {
	cur, ch, err = db.MutateActual(ctx, []Slot{OrdinarySlot(r.Key), evacuating(r.Key), suspect(r.Key)}, func(cur []*models.ActualLRP) (Change, error) {
		a, e := cur[0], cur[1]
		keep = false
		if s := suspectOf(cur[2], r.InstanceKey); s != nil {
			// the SUSPECT's container, on a cell that came back and now leaves: it goes on
			// evacuating unless its replacement runs or another container evacuates (upstream's)
			ch := Change{Delete: []*models.ActualLRP{s}}
			if e != nil || a.GetState() == models.ActualLRPStateRunning {
				return ch, nil
			}
			ev := protoClone(s)
			ev.Presence = models.ActualLRP_EVACUATING
			ev.State = models.ActualLRPStateRunning
			r.apply(ev)
			ev.ModificationTag = nextTag(s.GetModificationTag())
			ch.Put = append(ch.Put, ev)
			keep = true
			return ch, nil
		}
		var ch Change
		if e != nil && e.GetActualLrpInstanceKey().Equal(r.InstanceKey) {
			keep = true
			if a == nil || a.GetState() == models.ActualLRPStateRunning && !a.GetActualLrpInstanceKey().Equal(r.InstanceKey) {
				// a replacement runs (or the process is gone): stop evacuating
				ch.Delete = append(ch.Delete, e)
				keep = false
			}
			return ch, nil
		}
		if a == nil || !a.GetActualLrpInstanceKey().Equal(r.InstanceKey) {
			return ch, nil // not ours: nothing to keep
		}
		ev := protoClone(a)
		ev.Presence = models.ActualLRP_EVACUATING
		ev.State = models.ActualLRPStateRunning
		r.apply(ev)
		ev.ModificationTag = nextTag(a.GetModificationTag())
		n := db.changed(a)
		n.State = models.ActualLRPStateUnclaimed
		n.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{}
		n.ActualLrpNetInfo = nil
		// the EVACUATING copy first (upstream's order): a route emitter sees it take over the
		// address before the slot is unclaimed, so the route is never dropped
		ch.Put = append(ch.Put, ev, n)
		keep = true
		return ch, nil
	})
	return cur, ch, keep, err
}

// EvacuateStopped: the container stopped on an evacuating cell; its records go.
func (db *DB) EvacuateStopped(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey) (cur []*models.ActualLRP, ch Change, err error) {
	return db.MutateActual(ctx, []Slot{OrdinarySlot(key), evacuating(key), suspect(key)}, func(cur []*models.ActualLRP) (Change, error) {
		if s := suspectOf(cur[2], ik); s != nil {
			return Change{Delete: []*models.ActualLRP{s}}, nil
		}
		var ch Change
		if e := cur[1]; e != nil && e.GetActualLrpInstanceKey().Equal(ik) {
			ch.Delete = append(ch.Delete, e)
		}
		if a := cur[0]; a != nil && a.GetActualLrpInstanceKey().Equal(ik) {
			ch.Delete = append(ch.Delete, a)
		}
		if ch.Empty() {
			return ch, models.ErrResourceNotFound
		}
		return ch, nil
	})
}

// EvacuateCrashed: the container crashed on an evacuating cell: its evacuating record goes and an
// ordinary record it held becomes UNCLAIMED with the crash recorded.
func (db *DB) EvacuateCrashed(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey, reason string) (cur []*models.ActualLRP, ch Change, err error) {
	return db.MutateActual(ctx, []Slot{OrdinarySlot(key), evacuating(key), suspect(key)}, func(cur []*models.ActualLRP) (Change, error) {
		if s := suspectOf(cur[2], ik); s != nil {
			return Change{Delete: []*models.ActualLRP{s}}, nil
		}
		var ch Change
		if e := cur[1]; e != nil && e.GetActualLrpInstanceKey().Equal(ik) {
			ch.Delete = append(ch.Delete, e)
		}
		if a := cur[0]; a != nil && a.GetActualLrpInstanceKey().Equal(ik) && a.GetState() != models.ActualLRPStateUnclaimed {
			n := db.changed(a)
			n.CrashCount = db.policy.CrashCountAfterCrash(a, db.now())
			n.CrashReason = reason
			n.State = models.ActualLRPStateUnclaimed
			n.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{}
			n.ActualLrpNetInfo = nil
			ch.Put = append(ch.Put, n)
		}
		if ch.Empty() {
			return ch, models.ErrResourceNotFound
		}
		return ch, nil
	})
}

// RemoveEvacuating deletes the evacuating record held by ik.
func (db *DB) RemoveEvacuating(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey) (*models.ActualLRP, error) {
	cur, _, err := db.MutateActual(ctx, []Slot{evacuating(key)}, func(cur []*models.ActualLRP) (Change, error) {
		e := cur[0]
		if e == nil {
			return Change{}, models.ErrResourceNotFound
		}
		if !e.GetActualLrpInstanceKey().Equal(ik) {
			return Change{}, models.ErrActualLRPCannotBeRemoved
		}
		return Change{Delete: []*models.ActualLRP{e}}, nil
	})
	if err != nil {
		return nil, err
	}
	return cur[0], nil
}
