package service

import (
	"context"
	"sync"
	"time"

	"github.com/diego-go/diego/bbs/convergence"
	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/models"
)

// Converge runs one convergence pass, after any pass already running (passes never overlap).
func (s *Service) Converge(ctx context.Context) error {
	select {
	case s.converging <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.converging }()
	start := time.Now()
	stats, err := s.convergeOnce(ctx)
	if s.ObserveConvergence != nil {
		s.ObserveConvergence(time.Since(start), stats, err)
	}
	if err != nil {
		s.Logger.Error("convergence pass failed", "error", err)
	}
	return err
}

// snapshot reads everything one convergence pass decides on, concurrently, with the etcd mod
// revision of each task read (by guid): the task actions compare-and-swap against it; and the cells
// present, whose reps the pass's retirements call.
func (s *Service) snapshot(ctx context.Context) (convergence.Snapshot, map[string]int64, []*models.CellPresence, error) {
	snap := convergence.Snapshot{Now: s.DB.Now()}
	var taskRevs map[string]int64
	var wg sync.WaitGroup
	errs := make([]error, 4)
	var domains []string
	var cells []*models.CellPresence
	wg.Add(4)
	go func() {
		defer wg.Done()
		snap.DesiredLRPs, snap.ActualLRPs, snap.Orphans, errs[0] = s.DB.ProcessLRPs(ctx)
	}()
	go func() { defer wg.Done(); snap.Tasks, taskRevs, errs[1] = s.DB.TasksWithRevisions(ctx, db.TaskFilter{}) }()
	go func() { defer wg.Done(); domains, errs[2] = s.DB.Domains(ctx) }()
	go func() { defer wg.Done(); cells, errs[3] = s.Cells(ctx) }()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return snap, nil, nil, err
		}
	}
	snap.FreshDomains = convergence.Set(domains...)
	snap.Cells = make(map[string]struct{}, len(cells))
	for _, c := range cells {
		snap.Cells[c.GetCellId()] = struct{}{}
	}
	return snap, taskRevs, cells, nil
}

// convergeOnce reads a snapshot, asks bbs/convergence what to do and applies each action with
// compare-and-swap against the record the action carries (a record changed since the snapshot
// is left for the next pass). Auctions go out in one request.
func (s *Service) convergeOnce(ctx context.Context) (convergence.Stats, error) {
	start := time.Now()
	snap, taskRevs, cells, err := s.snapshot(ctx)
	if err != nil {
		return convergence.Stats{}, err
	}
	read := time.Since(start)
	cfg := s.Convergence
	cfg.RestartPolicy = s.DB.RestartPolicy()
	acts := convergence.Decide(snap, cfg)
	decided := time.Since(start)
	if len(acts.VanishedCells) > 0 {
		s.Logger.Info("convergence: cells vanished", "cells", acts.VanishedCells)
	}

	var mu sync.Mutex
	var auction []models.LRPStartRequest
	addAuction := func(a convergence.LRPAction) {
		if a.SchedulingInfo == nil {
			return
		}
		mu.Lock()
		auction = append(auction, models.NewLRPStartRequest(a.SchedulingInfo, a.Key.GetIndex()))
		mu.Unlock()
	}

	var jobs []func()
	for _, a := range acts.CreateAndAuction {
		jobs = append(jobs, func() {
			_, ch, err := s.DB.MutateActual(ctx, []db.Slot{db.OrdinarySlot(a.Key)}, func(cur []*models.ActualLRP) (db.Change, error) {
				if cur[0] != nil {
					return db.Change{}, nil
				}
				return db.Change{Put: []*models.ActualLRP{db.NewUnclaimed(a.Key.GetProcessGuid(), a.Key.GetIndex(), a.Key.GetDomain(), s.DB.Now().UnixNano())}}, nil
			})
			if err != nil {
				s.Logger.Error("convergence: cannot create instance", "process_guid", a.Key.GetProcessGuid(), "index", a.Key.GetIndex(), "error", err)
				return
			}
			if len(ch.Put) > 0 {
				s.emitActual(ctx, nil, ch.Put[0])
				addAuction(a)
			}
		})
	}
	for _, a := range acts.Reauction {
		jobs = append(jobs, func() { addAuction(a) })
	}
	for _, a := range acts.SuspectAndReplace {
		jobs = append(jobs, func() {
			before, suspected, replacement, ok, err := s.DB.SuspectAndReplace(ctx, a.Actual)
			if err != nil {
				s.Logger.Error("convergence: cannot make instance SUSPECT", "process_guid", a.Key.GetProcessGuid(), "index", a.Key.GetIndex(), "error", err)
			}
			if ok {
				// instance events only, as upstream's: the legacy group of the slot still
				// resolves to the same RUNNING instance (a SUSPECT outranks an UNCLAIMED one)
				s.emitInstance(ctx, before, suspected)
				s.emitInstance(ctx, nil, replacement)
				addAuction(a)
			}
		})
	}
	unclaim := func(a convergence.LRPAction) {
		before, after, ok, err := s.DB.SwapIfUnchanged(ctx, a.Actual, func(n *models.ActualLRP) {
			n.State = models.ActualLRPStateUnclaimed
			n.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{}
			n.ActualLrpNetInfo = nil
			n.ActualLrpInternalRoutes = nil
			n.AvailabilityZone = ""
			n.PlacementError = ""
		})
		if err != nil {
			s.Logger.Error("convergence: cannot unclaim instance", "process_guid", a.Key.GetProcessGuid(), "index", a.Key.GetIndex(), "error", err)
		}
		if ok {
			// the slot gets a new instance (as upstream's events say): created, then the old one removed
			s.emitActual(ctx, nil, after)
			s.emitActual(ctx, before, nil)
			addAuction(a)
		}
	}
	for _, a := range acts.UnclaimAndAuction {
		jobs = append(jobs, func() { unclaim(a) })
	}
	for _, a := range acts.RestartCrashed {
		jobs = append(jobs, func() { unclaim(a) })
	}
	var repURLs map[string]string
	if len(acts.Retire) > 0 {
		repURLs = s.repURLsOf(cells)
	}
	for _, a := range acts.Retire {
		jobs = append(jobs, func() {
			if err := s.Retire(ctx, a.Actual, repURLs); err != nil {
				s.Logger.Error("convergence: cannot retire", "process_guid", a.Key.GetProcessGuid(), "index", a.Key.GetIndex(), "error", err)
			}
		})
	}
	remove := func(a convergence.LRPAction) {
		if ok, err := s.DB.RemoveIfUnchanged(ctx, a.Actual); err != nil {
			s.Logger.Error("convergence: cannot remove", "process_guid", a.Key.GetProcessGuid(), "error", err)
		} else if ok {
			s.emitActual(ctx, a.Actual, nil)
		}
	}
	for _, a := range acts.RemoveEvacuating {
		jobs = append(jobs, func() { remove(a) })
	}
	for _, a := range acts.RemoveSuspect {
		jobs = append(jobs, func() { remove(a) })
	}
	for _, a := range acts.PromoteSuspect {
		jobs = append(jobs, func() {
			before, after, removed, ok, err := s.DB.PromoteSuspect(ctx, a.Actual, a.Replacement)
			if err != nil {
				s.Logger.Error("convergence: cannot promote SUSPECT instance", "process_guid", a.Key.GetProcessGuid(), "index", a.Key.GetIndex(), "error", err)
			}
			if ok {
				// the group keeps its RUNNING instance: only the replacement's removal is a
				// legacy event (as upstream's)
				s.emitInstance(ctx, before, after)
				if removed != nil {
					s.emitActual(ctx, removed, nil)
				}
			}
		})
	}

	var kick []*models.Task
	for _, t := range acts.FailTasks {
		jobs = append(jobs, func() {
			before, after, _, err := s.DB.MutateTaskAt(ctx, t.Task.GetTaskGuid(), taskRevs[t.Task.GetTaskGuid()], func(cur *models.Task) (*models.Task, bool, error) {
				cur.State = models.Task_Completed
				cur.Failed = true
				cur.FailureReason = t.Reason
				cur.Result = ""
				cur.FirstCompletedAt = s.DB.Now().UnixNano()
				return cur, false, nil
			})
			if err != nil {
				s.Logger.Error("convergence: cannot fail task", "task_guid", t.Task.GetTaskGuid(), "error", err)
			} else if after != nil {
				s.completed(before, after)
			}
		})
	}
	for _, t := range acts.AuctionTasks {
		kick = append(kick, t.Task)
	}
	for _, t := range acts.ResendCallbacks {
		jobs = append(jobs, func() {
			if t.Task.GetState() == models.Task_Resolving {
				// only the Resolving record of the snapshot: one resolved, demoted or taken by
				// another resolver since has a resolver at work, whose callback must not be doubled
				if _, after, err := s.DB.DemoteToCompletedAt(ctx, t.Task.GetTaskGuid(), taskRevs[t.Task.GetTaskGuid()]); err != nil || after == nil {
					return
				}
			}
			s.background(func(ctx context.Context) { s.ResolveTask(ctx, t.Task) })
		})
	}
	for _, t := range acts.DeleteTasks {
		jobs = append(jobs, func() {
			if ok, err := s.DB.RemoveTaskAt(ctx, t.Task.GetTaskGuid(), taskRevs[t.Task.GetTaskGuid()]); err != nil {
				s.Logger.Error("convergence: cannot delete task", "task_guid", t.Task.GetTaskGuid(), "error", err)
			} else if ok {
				s.emitTask(t.Task, nil)
			}
		})
	}

	runParallel(jobs, 32)
	// in the background, as every auction request: a retried one must not hold up the next pass
	s.background(func(ctx context.Context) {
		s.requestLRPAuctions(ctx, auction)
		s.requestTaskAuctions(ctx, kick)
	})
	s.Logger.Info("convergence pass done", "actions", acts.Counts(), "auctions", len(auction),
		"desired", len(snap.DesiredLRPs), "orphans", len(snap.Orphans), "tasks", len(snap.Tasks),
		"read", read.String(), "decide", (decided - read).String(), "total", time.Since(start).String())
	return acts.Stats, nil
}

func runParallel(jobs []func(), workers int) {
	if len(jobs) == 0 {
		return
	}
	ch := make(chan func())
	var wg sync.WaitGroup
	for i := 0; i < min(workers, len(jobs)); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				j()
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
}
