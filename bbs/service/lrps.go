package service

import (
	"context"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/models"
)

// emitActual emits the events of one record going from before to after (nil: absent): the
// instance event, carrying the request id of ctx as its trace id, and the legacy group events.
func (s *Service) emitActual(ctx context.Context, before, after *models.ActualLRP) {
	s.emitInstance(ctx, before, after)
	for _, e := range models.ActualLRPGroupEvents(before, after) {
		s.LRPGroupHub.Emit(e)
	}
}

func (s *Service) emitInstance(ctx context.Context, before, after *models.ActualLRP) {
	trace := requestID(ctx)
	switch {
	case before == nil && after != nil:
		s.LRPHub.Emit(models.NewActualLRPInstanceCreatedEvent(after, trace))
	case before != nil && after == nil:
		s.LRPHub.Emit(models.NewActualLRPInstanceRemovedEvent(before, trace))
	case before != nil && after != nil:
		s.LRPHub.Emit(models.NewActualLRPInstanceChangedEvent(before, after, trace))
	}
}

// emitLRP emits an event both LRP streams carry (desired LRP events, crashes).
func (s *Service) emitLRP(e models.Event) {
	s.LRPHub.Emit(e)
	s.LRPGroupHub.Emit(e)
}

// emitChange emits events for a change of the given current records; the legacy group events of
// the whole change go out in upstream's order (models.OrderGroupEvents), so a route is registered
// anew before it is dropped.
func (s *Service) emitChange(ctx context.Context, cur []*models.ActualLRP, ch db.Change) {
	find := func(a *models.ActualLRP) *models.ActualLRP {
		for _, c := range cur {
			if c != nil && c.GetPresence() == a.GetPresence() && c.GetActualLrpKey().Equal(a.GetActualLrpKey()) {
				return c
			}
		}
		return nil
	}
	var group []models.Event
	for _, d := range ch.Delete {
		before := find(d)
		s.emitInstance(ctx, before, nil)
		group = append(group, models.ActualLRPGroupEvents(before, nil)...)
	}
	for _, p := range ch.Put {
		before := find(p)
		s.emitInstance(ctx, before, p)
		group = append(group, models.ActualLRPGroupEvents(before, p)...)
	}
	models.OrderGroupEvents(group)
	for _, e := range group {
		s.LRPGroupHub.Emit(e)
	}
}

// auctionLRPs asks the auctioneer, in the background, to place the given instances, reading
// their scheduling infos from the store.
func (s *Service) auctionLRPs(lrps ...*models.ActualLRP) {
	if len(lrps) == 0 {
		return
	}
	byGuid := map[string][]int32{}
	var order []string
	for _, a := range lrps {
		g := a.GetActualLrpKey().GetProcessGuid()
		if _, ok := byGuid[g]; !ok {
			order = append(order, g)
		}
		byGuid[g] = append(byGuid[g], a.GetActualLrpKey().GetIndex())
	}
	s.background(func(ctx context.Context) {
		infos, err := s.DB.DesiredLRPSchedulingInfos(ctx, db.DesiredFilter{ProcessGuids: order})
		if err != nil {
			s.Logger.Error("auction: cannot read scheduling infos", "error", err)
			return
		}
		reqs := make([]models.LRPStartRequest, 0, len(infos))
		for _, info := range infos {
			reqs = append(reqs, models.NewLRPStartRequest(info, byGuid[info.GetDesiredLrpKey().GetProcessGuid()]...))
		}
		s.requestLRPAuctions(ctx, reqs)
	})
}

// auctionCreated asks the auctioneer, in the background, to place the instances a desire or an
// update of d created: d is the desired LRP as stored, so nothing is read back.
func (s *Service) auctionCreated(d *models.DesiredLRP, created []*models.ActualLRP) {
	if len(created) == 0 {
		return
	}
	indices := make([]int32, len(created))
	for i, a := range created {
		indices[i] = a.GetActualLrpKey().GetIndex()
	}
	req := models.NewLRPStartRequest(d.SchedulingInfo(), indices...)
	s.background(func(ctx context.Context) { s.requestLRPAuctions(ctx, []models.LRPStartRequest{req}) })
}

// requestLRPAuctions sends the start requests, retried (see retried).
func (s *Service) requestLRPAuctions(ctx context.Context, reqs []models.LRPStartRequest) {
	if len(reqs) == 0 {
		return
	}
	_ = s.retried(ctx, "auction: LRP start request", func(ctx context.Context) error {
		return s.Auctioneer.RequestLRPAuctions(ctx, reqs)
	})
}

// ClaimActualLRP records that a cell claimed an instance.
func (s *Service) ClaimActualLRP(ctx context.Context, guid string, index int32, ik *models.ActualLRPInstanceKey) error {
	before, after, err := s.DB.ClaimActualLRP(ctx, guid, index, ik)
	if err == nil && after != nil {
		s.emitActual(ctx, before, after)
	}
	return err
}

// StartActualLRP records that an instance runs (removing the evacuating or SUSPECT copy it
// replaces, if any).
func (s *Service) StartActualLRP(ctx context.Context, r db.StartRequest) error {
	before, after, removed, err := s.DB.StartActualLRP(ctx, r)
	if err != nil {
		return err
	}
	// the running instance first, then what it replaces, so a router never loses the route
	if after != nil {
		s.emitActual(ctx, before, after)
	}
	for _, r := range removed {
		s.emitActual(ctx, r, nil)
	}
	return nil
}

// CrashActualLRP records a crash and auctions the instance again when the restart policy says so.
func (s *Service) CrashActualLRP(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey, reason string) error {
	before, after, restart, err := s.DB.CrashActualLRP(ctx, key, ik, reason)
	switch {
	case err != nil:
	case after == nil && before != nil: // a SUSPECT's container crashed: its record is gone
		s.emitActual(ctx, before, nil)
	case after != nil:
		s.emitLRP(models.NewActualLRPCrashedEvent(before, after))
		s.emitActual(ctx, before, after)
		if restart {
			s.auctionLRPs(after)
		}
	}
	return err
}

// FailActualLRP records a placement failure.
func (s *Service) FailActualLRP(ctx context.Context, key *models.ActualLRPKey, reason string) error {
	before, after, err := s.DB.FailActualLRP(ctx, key, reason)
	if err == nil && after != nil {
		s.emitActual(ctx, before, after)
	}
	return err
}

// RemoveActualLRP deletes an instance record (only if held by ik, when not nil).
func (s *Service) RemoveActualLRP(ctx context.Context, guid string, index int32, ik *models.ActualLRPInstanceKey) error {
	before, err := s.DB.RemoveActualLRP(ctx, guid, index, ik)
	if err == nil {
		s.emitActual(ctx, before, nil)
	}
	return err
}

// RetireActualLRP retires the ordinary instance at key.
func (s *Service) RetireActualLRP(ctx context.Context, key *models.ActualLRPKey) error {
	a, err := s.DB.ActualLRP(ctx, key.GetProcessGuid(), key.GetIndex(), models.ActualLRP_ORDINARY)
	if err != nil {
		return err
	}
	return s.Retire(ctx, a, s.repURLs(ctx))
}

// Retire stops an instance: an UNCLAIMED or CRASHED record (or one on a cell that repURLs, cell
// id -> rep URL of the cells present, does not hold) is deleted; a CLAIMED or RUNNING one is
// stopped by its cell, which then removes the record.
func (s *Service) Retire(ctx context.Context, a *models.ActualLRP, repURLs map[string]string) error {
	switch a.GetState() {
	case models.ActualLRPStateClaimed, models.ActualLRPStateRunning:
		cell := a.GetActualLrpInstanceKey().GetCellId()
		if url := repURLs[cell]; url != "" && s.CellClient != nil {
			err := s.CellClient.StopLRPInstance(ctx, url, a.GetActualLrpKey(), a.GetActualLrpInstanceKey())
			if err == nil {
				return nil
			}
			s.Logger.Error("retire: cell could not stop the instance", "cell", cell, "error", err)
			return models.NewError(models.Error_ActualLRPCannotBeRemoved, "cell %s: %v", cell, err)
		}
	}
	removed, err := s.DB.RemoveIfUnchanged(ctx, a)
	if err != nil {
		return err
	}
	if removed {
		s.emitActual(ctx, a, nil)
	}
	return nil
}

// EvacuateClaimed gives back a claimed instance of an evacuating cell and auctions it again.
func (s *Service) EvacuateClaimed(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey) error {
	cur, ch, err := s.DB.EvacuateClaimed(ctx, key, ik)
	if err == nil {
		s.emitChange(ctx, cur, ch)
		s.auctionUnclaimed(ch)
	}
	return err
}

func (s *Service) auctionUnclaimed(ch db.Change) {
	var todo []*models.ActualLRP
	for _, p := range ch.Put {
		if p.GetPresence() == models.ActualLRP_ORDINARY && p.GetState() == models.ActualLRPStateUnclaimed {
			todo = append(todo, p)
		}
	}
	s.auctionLRPs(todo...)
}

// EvacuateRunning keeps a running instance of an evacuating cell while a replacement is placed;
// keep says whether the cell should keep the container.
func (s *Service) EvacuateRunning(ctx context.Context, r db.StartRequest) (keep bool, err error) {
	cur, ch, keep, err := s.DB.EvacuateRunning(ctx, r)
	if err != nil {
		return false, err
	}
	s.emitChange(ctx, cur, ch)
	s.auctionUnclaimed(ch)
	return keep, nil
}

// EvacuateStopped records that an evacuating container stopped.
func (s *Service) EvacuateStopped(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey) error {
	cur, ch, err := s.DB.EvacuateStopped(ctx, key, ik)
	if err == nil {
		s.emitChange(ctx, cur, ch)
	}
	return err
}

// EvacuateCrashed records that an evacuating container crashed.
func (s *Service) EvacuateCrashed(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey, reason string) error {
	cur, ch, err := s.DB.EvacuateCrashed(ctx, key, ik, reason)
	if err == nil {
		s.emitChange(ctx, cur, ch)
		s.auctionUnclaimed(ch)
	}
	return err
}

// RemoveEvacuating deletes an evacuating record.
func (s *Service) RemoveEvacuating(ctx context.Context, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey) error {
	before, err := s.DB.RemoveEvacuating(ctx, key, ik)
	if err == nil {
		s.emitActual(ctx, before, nil)
	}
	return err
}

// DesireLRP stores a new desired LRP with its instances and auctions them.
func (s *Service) DesireLRP(ctx context.Context, d *models.DesiredLRP) error {
	if err := s.checkInstances(d.GetInstances()); err != nil {
		return err
	}
	stored, created, err := s.DB.Desire(ctx, d)
	if stored == nil {
		return err
	}
	// the desired LRP is written (even when creating some of its instances failed: convergence
	// creates those), so its events go out and what was created is auctioned
	if err != nil {
		s.Logger.Error("desire: some instances were not created; convergence will", "process_guid", stored.GetProcessGuid(), "error", err)
	}
	s.emitLRP(models.NewDesiredLRPCreatedEvent(stored, requestID(ctx)))
	for _, a := range created {
		s.emitActual(ctx, nil, a)
	}
	s.auctionCreated(stored, created)
	return err
}

// UpdateDesiredLRP applies an update: new instances are auctioned, those beyond a lowered
// instance count retired.
func (s *Service) UpdateDesiredLRP(ctx context.Context, guid string, u *models.DesiredLRPUpdate) error {
	if u.Instances != nil {
		if err := s.checkInstances(u.GetInstances()); err != nil {
			return err
		}
	}
	before, after, created, err := s.DB.UpdateDesiredLRP(ctx, guid, u)
	if after == nil {
		return err
	}
	if err != nil {
		s.Logger.Error("update: some instances were not created; convergence will", "process_guid", after.GetProcessGuid(), "error", err)
	}
	s.emitLRP(models.NewDesiredLRPChangedEvent(before, after, requestID(ctx)))
	for _, a := range created {
		s.emitActual(ctx, nil, a)
	}
	s.auctionCreated(after, created)
	if after.GetInstances() < before.GetInstances() {
		s.retireFrom(after.GetProcessGuid(), after.GetInstances())
	}
	return err
}

// RemoveDesiredLRP deletes a desired LRP and retires its instances.
func (s *Service) RemoveDesiredLRP(ctx context.Context, guid string) error {
	before, err := s.DB.RemoveDesiredLRP(ctx, guid)
	if err != nil {
		return err
	}
	s.emitLRP(models.NewDesiredLRPRemovedEvent(before, requestID(ctx)))
	s.retireFrom(guid, 0)
	return nil
}

// retireFrom retires, in the background and concurrently, every instance of the process at index
// >= from, SUSPECT ones included (as upstream's): the request that lowered the count does not wait
// for the cells. An EVACUATING record is left to its cell, which is leaving anyway.
func (s *Service) retireFrom(guid string, from int32) {
	s.background(func(ctx context.Context) {
		lrps, err := s.DB.ActualLRPs(ctx, db.ActualFilter{ProcessGuid: guid})
		if err != nil {
			s.Logger.Error("cannot list instances to retire", "process_guid", guid, "error", err)
			return
		}
		var urls map[string]string // read once the jobs are known, before any runs
		var jobs []func()
		for _, a := range lrps {
			if a.GetPresence() != models.ActualLRP_EVACUATING && a.GetActualLrpKey().GetIndex() >= from {
				jobs = append(jobs, func() {
					if err := s.Retire(ctx, a, urls); err != nil {
						s.Logger.Error("cannot retire instance", "process_guid", guid, "index", a.GetActualLrpKey().GetIndex(), "error", err)
					}
				})
			}
		}
		if len(jobs) > 0 {
			urls = s.repURLs(ctx)
		}
		runParallel(jobs, retireWorkers)
	})
}

// retireWorkers bounds the cells called at once for one scale-down or removal.
const retireWorkers = 32
