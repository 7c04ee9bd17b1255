package handlers

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/models"
)

// emitActual emits the event for one record going from before to after (nil: absent).
func (h *Handler) emitActual(before, after *models.ActualLRP) {
	switch {
	case before == nil && after != nil:
		h.LRPHub.Emit(models.NewActualLRPInstanceCreatedEvent(after, ""))
	case before != nil && after == nil:
		h.LRPHub.Emit(models.NewActualLRPInstanceRemovedEvent(before, ""))
	case before != nil && after != nil:
		h.LRPHub.Emit(models.NewActualLRPInstanceChangedEvent(before, after, ""))
	}
}

// emitChange emits events for a change of the given current records.
func (h *Handler) emitChange(cur []*models.ActualLRP, ch db.Change) {
	find := func(a *models.ActualLRP) *models.ActualLRP {
		for _, c := range cur {
			if c != nil && c.GetPresence() == a.GetPresence() && c.GetActualLrpKey().Equal(a.GetActualLrpKey()) {
				return c
			}
		}
		return nil
	}
	for _, d := range ch.Delete {
		h.emitActual(find(d), nil)
	}
	for _, p := range ch.Put {
		h.emitActual(find(p), p)
	}
}

// AuctionLRPs asks the auctioneer, in the background, to place the given instances.
func (h *Handler) AuctionLRPs(lrps ...*models.ActualLRP) {
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
	h.background(func(ctx context.Context) {
		infos, err := h.DB.DesiredLRPSchedulingInfos(ctx, db.DesiredFilter{ProcessGuids: order})
		if err != nil {
			h.Logger.Error("auction: cannot read scheduling infos", "error", err)
			return
		}
		reqs := make([]models.LRPStartRequest, 0, len(infos))
		for _, s := range infos {
			reqs = append(reqs, models.NewLRPStartRequest(s, byGuid[s.GetDesiredLrpKey().GetProcessGuid()]...))
		}
		h.requestLRPAuctions(ctx, reqs)
	})
}

func (h *Handler) requestLRPAuctions(ctx context.Context, reqs []models.LRPStartRequest) {
	if len(reqs) == 0 {
		return
	}
	if err := h.Auctioneer.RequestLRPAuctions(ctx, reqs); err != nil {
		h.Logger.Error("auction: LRP start requests failed", "count", len(reqs), "error", err)
	}
}

func (h *Handler) actualLRPs(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.ActualLRPsRequest{}, &models.ActualLRPsResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	lrps, err := h.DB.ActualLRPs(ctx, db.ActualFilter{Domain: req.GetDomain(), CellID: req.GetCellId(), ProcessGuid: req.GetProcessGuid(), Index: req.Index})
	resp.ActualLrps, resp.Error = lrps, toError(err)
	return resp
}

func (h *Handler) claimActualLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.ClaimActualLRPRequest{}, &models.ActualLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, after, err := h.DB.ClaimActualLRP(ctx, req.GetProcessGuid(), req.GetIndex(), req.GetActualLrpInstanceKey())
	if resp.Error = toError(err); resp.Error == nil && after != nil {
		h.emitActual(before, after)
	}
	return resp
}

func startRequest(key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey, net *models.ActualLRPNetInfo, routes []*models.ActualLRPInternalRoute, tags map[string]string, routable *bool, az string) db.StartRequest {
	return db.StartRequest{Key: key, InstanceKey: ik, NetInfo: net, InternalRoutes: routes, MetricTags: tags, Routable: routable == nil || *routable, AvailabilityZone: az}
}

func (h *Handler) startActualLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.StartActualLRPRequest{}, &models.ActualLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, after, removed, err := h.DB.StartActualLRP(ctx, startRequest(req.GetActualLrpKey(), req.GetActualLrpInstanceKey(),
		req.GetActualLrpNetInfo(), req.GetActualLrpInternalRoutes(), req.GetMetricTags(), req.Routable, req.GetAvailabilityZone()))
	if resp.Error = toError(err); resp.Error == nil {
		// the running instance first, then what it replaces, so a router never loses the route
		if after != nil {
			h.emitActual(before, after)
		}
		for _, r := range removed {
			h.emitActual(r, nil)
		}
	}
	return resp
}

func (h *Handler) crashActualLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.CrashActualLRPRequest{}, &models.ActualLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, after, restart, err := h.DB.CrashActualLRP(ctx, req.GetActualLrpKey(), req.GetActualLrpInstanceKey(), req.GetErrorMessage())
	resp.Error = toError(err)
	switch {
	case resp.Error != nil:
	case after == nil && before != nil: // a SUSPECT's container crashed: its record is gone
		h.emitActual(before, nil)
	case after != nil:
		h.LRPHub.Emit(models.NewActualLRPCrashedEvent(before, after))
		h.emitActual(before, after)
		if restart {
			h.AuctionLRPs(after)
		}
	}
	return resp
}

func (h *Handler) failActualLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.FailActualLRPRequest{}, &models.ActualLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, after, err := h.DB.FailActualLRP(ctx, req.GetActualLrpKey(), req.GetErrorMessage())
	if resp.Error = toError(err); resp.Error == nil && after != nil {
		h.emitActual(before, after)
	}
	return resp
}

func (h *Handler) removeActualLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.RemoveActualLRPRequest{}, &models.ActualLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, err := h.DB.RemoveActualLRP(ctx, req.GetProcessGuid(), req.GetIndex(), req.GetActualLrpInstanceKey())
	if resp.Error = toError(err); resp.Error == nil {
		h.emitActual(before, nil)
	}
	return resp
}

func (h *Handler) retireActualLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.RetireActualLRPRequest{}, &models.ActualLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	a, err := h.DB.ActualLRP(ctx, req.GetActualLrpKey().GetProcessGuid(), req.GetActualLrpKey().GetIndex(), models.ActualLRP_ORDINARY)
	if err != nil {
		resp.Error = toError(err)
		return resp
	}
	resp.Error = toError(h.Retire(ctx, a))
	return resp
}

// Retire stops an instance: an UNCLAIMED or CRASHED record (or one on a cell that is gone) is
// deleted; a CLAIMED or RUNNING one is stopped by its cell, which then removes the record.
func (h *Handler) Retire(ctx context.Context, a *models.ActualLRP) error {
	switch a.GetState() {
	case models.ActualLRPStateClaimed, models.ActualLRPStateRunning:
		if cell := h.cellByID(ctx, a.GetActualLrpInstanceKey().GetCellId()); cell != nil && h.CellClient != nil {
			err := h.CellClient.StopLRPInstance(ctx, cell, a.GetActualLrpKey(), a.GetActualLrpInstanceKey())
			if err == nil {
				return nil
			}
			h.Logger.Error("retire: cell could not stop the instance", "cell", cell.GetCellId(), "error", err)
			return models.NewError(models.Error_ActualLRPCannotBeRemoved, "cell %s: %v", cell.GetCellId(), err)
		}
	}
	removed, err := h.DB.RemoveIfUnchanged(ctx, a)
	if err != nil {
		return err
	}
	if removed {
		h.emitActual(a, nil)
	}
	return nil
}

func (h *Handler) evacuateClaimed(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.EvacuateClaimedActualLRPRequest{}, &models.EvacuationResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	cur, ch, err := h.DB.EvacuateClaimed(ctx, req.GetActualLrpKey(), req.GetActualLrpInstanceKey())
	if resp.Error = toError(err); resp.Error == nil {
		h.emitChange(cur, ch)
		h.auctionUnclaimed(ch)
	}
	return resp
}

func (h *Handler) auctionUnclaimed(ch db.Change) {
	var todo []*models.ActualLRP
	for _, p := range ch.Put {
		if p.GetPresence() == models.ActualLRP_ORDINARY && p.GetState() == models.ActualLRPStateUnclaimed {
			todo = append(todo, p)
		}
	}
	h.AuctionLRPs(todo...)
}

func (h *Handler) evacuateRunning(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.EvacuateRunningActualLRPRequest{}, &models.EvacuationResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	cur, ch, keep, err := h.DB.EvacuateRunning(ctx, startRequest(req.GetActualLrpKey(), req.GetActualLrpInstanceKey(),
		req.GetActualLrpNetInfo(), req.GetActualLrpInternalRoutes(), req.GetMetricTags(), req.Routable, req.GetAvailabilityZone()))
	if resp.Error = toError(err); resp.Error == nil {
		resp.KeepContainer = keep
		h.emitChange(cur, ch)
		h.auctionUnclaimed(ch)
	}
	return resp
}

func (h *Handler) evacuateStopped(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.EvacuateStoppedActualLRPRequest{}, &models.EvacuationResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	cur, ch, err := h.DB.EvacuateStopped(ctx, req.GetActualLrpKey(), req.GetActualLrpInstanceKey())
	if resp.Error = toError(err); resp.Error == nil {
		h.emitChange(cur, ch)
	}
	return resp
}

func (h *Handler) evacuateCrashed(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.EvacuateCrashedActualLRPRequest{}, &models.EvacuationResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	cur, ch, err := h.DB.EvacuateCrashed(ctx, req.GetActualLrpKey(), req.GetActualLrpInstanceKey(), req.GetErrorMessage())
	if resp.Error = toError(err); resp.Error == nil {
		h.emitChange(cur, ch)
		h.auctionUnclaimed(ch)
	}
	return resp
}

func (h *Handler) removeEvacuating(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.RemoveEvacuatingActualLRPRequest{}, &models.RemoveEvacuatingActualLRPResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, err := h.DB.RemoveEvacuating(ctx, req.GetActualLrpKey(), req.GetActualLrpInstanceKey())
	if resp.Error = toError(err); resp.Error == nil {
		h.emitActual(before, nil)
	}
	return resp
}

func (h *Handler) desiredLRPs(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.DesiredLRPsRequest{}, &models.DesiredLRPsResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	d, err := h.DB.DesiredLRPs(ctx, db.DesiredFilter{Domain: req.GetDomain(), ProcessGuids: req.GetProcessGuids()})
	resp.DesiredLrps, resp.Error = d, toError(err)
	return resp
}

func (h *Handler) desiredLRPByProcessGuid(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.DesiredLRPByProcessGuidRequest{}, &models.DesiredLRPResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	d, err := h.DB.DesiredLRPByProcessGuid(ctx, req.GetProcessGuid())
	resp.DesiredLrp, resp.Error = d, toError(err)
	return resp
}

func (h *Handler) schedulingInfos(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.DesiredLRPsRequest{}, &models.DesiredLRPSchedulingInfosResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	s, err := h.DB.DesiredLRPSchedulingInfos(ctx, db.DesiredFilter{Domain: req.GetDomain(), ProcessGuids: req.GetProcessGuids()})
	resp.DesiredLrpSchedulingInfos, resp.Error = s, toError(err)
	return resp
}

// routingInfos answers as upstream does: DesiredLRPs carrying only their routing fields.
func (h *Handler) routingInfos(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.DesiredLRPsRequest{}, &models.DesiredLRPsResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	infos, err := h.DB.DesiredLRPRoutingInfos(ctx, db.DesiredFilter{Domain: req.GetDomain(), ProcessGuids: req.GetProcessGuids()})
	resp.DesiredLrps = make([]*models.DesiredLRP, len(infos))
	for i, info := range infos {
		resp.DesiredLrps[i] = info.DesiredLRP()
	}
	resp.Error = toError(err)
	return resp
}

func (h *Handler) desireLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.DesireLRPRequest{}, &models.DesiredLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	stored, created, err := h.DB.Desire(ctx, req.GetDesiredLrp())
	resp.Error = toError(err)
	if stored == nil {
		return resp
	}
	// the desired LRP is written (even when creating some of its instances failed: convergence
	// creates those), so its events go out and what was created is auctioned
	if err != nil {
		h.Logger.Error("desire: some instances were not created; convergence will", "process_guid", stored.GetProcessGuid(), "error", err)
	}
	h.LRPHub.Emit(models.NewDesiredLRPCreatedEvent(stored, ""))
	for _, a := range created {
		h.emitActual(nil, a)
	}
	h.AuctionLRPs(created...)
	return resp
}

func (h *Handler) updateDesiredLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.UpdateDesiredLRPRequest{}, &models.DesiredLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, after, created, err := h.DB.UpdateDesiredLRP(ctx, req.GetProcessGuid(), req.GetUpdate())
	resp.Error = toError(err)
	if after == nil {
		return resp
	}
	if err != nil {
		h.Logger.Error("update: some instances were not created; convergence will", "process_guid", after.GetProcessGuid(), "error", err)
	}
	h.LRPHub.Emit(models.NewDesiredLRPChangedEvent(before, after, ""))
	for _, a := range created {
		h.emitActual(nil, a)
	}
	h.AuctionLRPs(created...)
	if after.GetInstances() < before.GetInstances() {
		h.retireFrom(ctx, after.GetProcessGuid(), after.GetInstances())
	}
	return resp
}

// retireFrom retires every ordinary instance of the process at index >= from.
func (h *Handler) retireFrom(ctx context.Context, guid string, from int32) {
	lrps, err := h.DB.ActualLRPs(ctx, db.ActualFilter{ProcessGuid: guid})
	if err != nil {
		h.Logger.Error("cannot list instances to retire", "process_guid", guid, "error", err)
		return
	}
	for _, a := range lrps {
		if a.GetPresence() == models.ActualLRP_ORDINARY && a.GetActualLrpKey().GetIndex() >= from {
			if err := h.Retire(ctx, a); err != nil {
				h.Logger.Error("cannot retire instance", "process_guid", guid, "index", a.GetActualLrpKey().GetIndex(), "error", err)
			}
		}
	}
}

func (h *Handler) removeDesiredLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.RemoveDesiredLRPRequest{}, &models.DesiredLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, err := h.DB.RemoveDesiredLRP(ctx, req.GetProcessGuid())
	if resp.Error = toError(err); resp.Error != nil {
		return resp
	}
	h.LRPHub.Emit(models.NewDesiredLRPRemovedEvent(before, ""))
	h.retireFrom(ctx, req.GetProcessGuid(), 0)
	return resp
}
