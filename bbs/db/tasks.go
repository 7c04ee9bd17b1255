package db

import (
	"context"
	"errors"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-go/diego/models"
)

// TaskFilter selects tasks; empty fields match everything.
type TaskFilter struct {
	Domain string
	CellID string
}

// Tasks lists tasks (one ranged read, parallel decode).
func (db *DB) Tasks(ctx context.Context, f TaskFilter) ([]*models.Task, error) {
	resp, err := db.cli.Get(ctx, TaskPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, etcdErr(err)
	}
	all := decodeAll(db, resp.Kvs, func() *models.Task { return &models.Task{} })
	out := all[:0]
	for _, t := range all {
		if (f.Domain == "" || t.GetDomain() == f.Domain) && (f.CellID == "" || t.GetCellId() == f.CellID) {
			out = append(out, t)
		}
	}
	return out, nil
}

// TaskByGuid reads one task.
func (db *DB) TaskByGuid(ctx context.Context, guid string) (*models.Task, error) {
	t := &models.Task{}
	if _, err := db.getOne(ctx, taskKey(guid), t); err != nil {
		return nil, err
	}
	return t, nil
}

// DesireTask stores a new Pending task.
func (db *DB) DesireTask(ctx context.Context, def *models.TaskDefinition, guid, domain string) (*models.Task, error) {
	now := db.now().UnixNano()
	t := &models.Task{TaskDefinition: def, TaskGuid: guid, Domain: domain, State: models.Task_Pending, CreatedAt: now, UpdatedAt: now}
	v, err := db.encode(taskKey(guid), t)
	if err != nil {
		return nil, err
	}
	ok, err := db.commit(ctx, []clientv3.Cmp{unchanged(taskKey(guid), 0)}, []clientv3.Op{clientv3.OpPut(taskKey(guid), v)})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, models.ErrResourceExists
	}
	return t, nil
}

// MutateTask reads a task, asks fn for its next version (nil: no change, del: delete it) and
// swaps it in if the task did not change meanwhile, retrying otherwise.
func (db *DB) MutateTask(ctx context.Context, guid string, fn func(t *models.Task) (next *models.Task, del bool, err error)) (before, after *models.Task, err error) {
	err = retry(ctx, func() error {
		t := &models.Task{}
		rev, err := db.getOne(ctx, taskKey(guid), t)
		if err != nil {
			return err
		}
		before, after = t, nil
		next, del, err := fn(protoClone(t))
		if err != nil {
			return err
		}
		var op clientv3.Op
		switch {
		case del:
			op = clientv3.OpDelete(taskKey(guid))
		case next == nil:
			return nil
		default:
			next.UpdatedAt = db.now().UnixNano()
			v, err := db.encode(taskKey(guid), next)
			if err != nil {
				return err
			}
			op = clientv3.OpPut(taskKey(guid), v)
		}
		ok, err := db.commit(ctx, []clientv3.Cmp{unchanged(taskKey(guid), rev)}, []clientv3.Op{op})
		if err != nil {
			return err
		}
		if !ok {
			return errConflict
		}
		after = next
		return nil
	})
	return before, after, err
}

// StartTask moves a Pending task to Running on cell. shouldStart is true for exactly one caller;
// starting it again on the same cell answers false without error.
func (db *DB) StartTask(ctx context.Context, guid, cell string) (before, after *models.Task, shouldStart bool, err error) {
	before, after, err = db.MutateTask(ctx, guid, func(t *models.Task) (*models.Task, bool, error) {
		if t.GetState() == models.Task_Running && t.GetCellId() == cell {
			return nil, false, nil
		}
		if err := t.ValidateTransitionTo(models.Task_Running); err != nil {
			return nil, false, err
		}
		if t.GetState() != models.Task_Pending {
			return nil, false, models.NewInvalidStateTransition(t.GetState().String(), models.Task_Running.String())
		}
		t.State = models.Task_Running
		t.CellId = cell
		return t, false, nil
	})
	return before, after, after != nil, err
}

func (db *DB) complete(t *models.Task, failed bool, reason, result string) *models.Task {
	t.State = models.Task_Completed
	t.Failed = failed
	t.FailureReason = reason
	t.Result = result
	t.FirstCompletedAt = db.now().UnixNano()
	return t
}

// CancelTask completes a Pending or Running task as failed ("task was cancelled").
func (db *DB) CancelTask(ctx context.Context, guid string) (before, after *models.Task, err error) {
	return db.MutateTask(ctx, guid, func(t *models.Task) (*models.Task, bool, error) {
		if err := t.ValidateTransitionTo(models.Task_Completed); err != nil {
			return nil, false, err
		}
		return db.complete(t, true, "task was cancelled", ""), false, nil
	})
}

// FailTask completes a Pending or Running task as failed.
func (db *DB) FailTask(ctx context.Context, guid, reason string) (before, after *models.Task, err error) {
	return db.MutateTask(ctx, guid, func(t *models.Task) (*models.Task, bool, error) {
		if err := t.ValidateTransitionTo(models.Task_Completed); err != nil {
			return nil, false, err
		}
		return db.complete(t, true, reason, ""), false, nil
	})
}

// RejectTask puts a task back to Pending (to be auctioned again) or fails it once it was rejected
// MaxTaskRejections times. requeued tells whether it should be auctioned.
func (db *DB) RejectTask(ctx context.Context, guid, reason string) (before, after *models.Task, requeued bool, err error) {
	before, after, err = db.MutateTask(ctx, guid, func(t *models.Task) (*models.Task, bool, error) {
		requeued = false
		if t.GetState() != models.Task_Pending && t.GetState() != models.Task_Running {
			return nil, false, models.NewInvalidStateTransition(t.GetState().String(), models.Task_Pending.String())
		}
		t.RejectionCount++
		t.RejectionReason = reason
		t.CellId = ""
		if t.RejectionCount >= db.MaxTaskRejections {
			return db.complete(t, true, "task was rejected: "+reason, ""), false, nil
		}
		t.State = models.Task_Pending
		requeued = true
		return t, false, nil
	})
	return before, after, requeued, err
}

// CompleteTask records the result reported by the cell running the task.
func (db *DB) CompleteTask(ctx context.Context, guid, cell string, failed bool, reason, result string) (before, after *models.Task, err error) {
	return db.MutateTask(ctx, guid, func(t *models.Task) (*models.Task, bool, error) {
		if t.GetState() == models.Task_Running && t.GetCellId() != cell {
			return nil, false, models.NewRunningOnDifferentCell(cell, t.GetCellId())
		}
		if t.GetState() != models.Task_Running {
			return nil, false, models.NewInvalidStateTransition(t.GetState().String(), models.Task_Completed.String())
		}
		return db.complete(t, failed, reason, result), false, nil
	})
}

// ResolvingTask marks a Completed task as being resolved (its result is being delivered).
func (db *DB) ResolvingTask(ctx context.Context, guid string) (before, after *models.Task, err error) {
	return db.MutateTask(ctx, guid, func(t *models.Task) (*models.Task, bool, error) {
		if err := t.ValidateTransitionTo(models.Task_Resolving); err != nil {
			return nil, false, err
		}
		t.State = models.Task_Resolving
		return t, false, nil
	})
}

// DeleteTask deletes a Resolving task.
func (db *DB) DeleteTask(ctx context.Context, guid string) (before *models.Task, err error) {
	before, _, err = db.MutateTask(ctx, guid, func(t *models.Task) (*models.Task, bool, error) {
		if t.GetState() != models.Task_Resolving {
			return nil, false, models.NewInvalidStateTransition(t.GetState().String(), "Deleted")
		}
		return nil, true, nil
	})
	return before, err
}

// TasksWithRevisions lists tasks as Tasks does, with each one's etcd mod revision by task guid
// (what a later MutateTaskAt compares against).
func (db *DB) TasksWithRevisions(ctx context.Context, f TaskFilter) ([]*models.Task, map[string]int64, error) {
	resp, err := db.cli.Get(ctx, TaskPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, nil, etcdErr(err)
	}
	revs := make(map[string]int64, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		revs[strings.TrimPrefix(string(kv.Key), TaskPrefix)] = kv.ModRevision
	}
	all := decodeAll(db, resp.Kvs, func() *models.Task { return &models.Task{} })
	out := all[:0]
	for _, t := range all {
		if (f.Domain == "" || t.GetDomain() == f.Domain) && (f.CellID == "" || t.GetCellId() == f.CellID) {
			out = append(out, t)
		}
	}
	return out, revs, nil
}

// MutateTaskAt changes a task only if it is still the record read at mod revision rev (one
// compare-and-swap, no retry): fn gets that record and answers its next version (nil: no change,
// del: delete it). changed is false, without error, when the task is gone or changed since rev.
func (db *DB) MutateTaskAt(ctx context.Context, guid string, rev int64, fn func(t *models.Task) (next *models.Task, del bool, err error)) (before, after *models.Task, changed bool, err error) {
	t := &models.Task{}
	cur, err := db.getOne(ctx, taskKey(guid), t)
	if errors.Is(err, models.ErrResourceNotFound) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	if rev == 0 || cur != rev {
		return nil, nil, false, nil
	}
	next, del, err := fn(protoClone(t))
	if err != nil || (next == nil && !del) {
		return t, nil, false, err
	}
	var op clientv3.Op
	if del {
		op = clientv3.OpDelete(taskKey(guid))
		next = nil
	} else {
		next.UpdatedAt = db.now().UnixNano()
		v, err := db.encode(taskKey(guid), next)
		if err != nil {
			return t, nil, false, err
		}
		op = clientv3.OpPut(taskKey(guid), v)
	}
	ok, err := db.commit(ctx, []clientv3.Cmp{unchanged(taskKey(guid), rev)}, []clientv3.Op{op})
	if err != nil || !ok {
		return t, nil, false, err
	}
	return t, next, true, nil
}

// DemoteToCompletedAt moves a Resolving task back to Completed (its callback was not delivered),
// only if it is still the record read at mod revision rev: a task resolved, demoted or re-resolved
// since then is left alone, so a resolver at work on it is never doubled.
func (db *DB) DemoteToCompletedAt(ctx context.Context, guid string, rev int64) (before, after *models.Task, err error) {
	before, after, _, err = db.MutateTaskAt(ctx, guid, rev, func(t *models.Task) (*models.Task, bool, error) {
		if t.GetState() != models.Task_Resolving {
			return nil, false, nil
		}
		t.State = models.Task_Completed
		return t, false, nil
	})
	return before, after, err
}

// RemoveTaskAt deletes a task if it is still the record read at mod revision rev.
func (db *DB) RemoveTaskAt(ctx context.Context, guid string, rev int64) (bool, error) {
	_, _, changed, err := db.MutateTaskAt(ctx, guid, rev, func(*models.Task) (*models.Task, bool, error) { return nil, true, nil })
	return changed, err
}
