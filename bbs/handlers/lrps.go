package handlers

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/models"
)

func (h *Handler) actualLRPs(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.ActualLRPsRequest{}, &models.ActualLRPsResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	lrps, err := h.DB.ActualLRPs(ctx, db.ActualFilter{Domain: req.GetDomain(), CellID: req.GetCellId(), ProcessGuid: req.GetProcessGuid(), Index: req.Index})
	resp.ActualLrps, resp.Error = lrps, toError(err)
	return resp
}

func (h *Handler) actualLRPsByProcessGuids(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.ActualLRPsByProcessGuidsRequest{}, &models.ActualLRPsByProcessGuidsResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	// a guid asked for twice answers its instances once, as upstream's IN (...) query does
	seen := map[string]bool{}
	for _, guid := range req.GetProcessGuids() {
		if seen[guid] {
			continue
		}
		seen[guid] = true
		lrps, err := h.DB.ActualLRPs(ctx, db.ActualFilter{ProcessGuid: guid})
		if err != nil {
			resp.ActualLrps, resp.Error = nil, toError(err)
			return resp
		}
		resp.ActualLrps = append(resp.ActualLrps, lrps...)
	}
	return resp
}

// The legacy group routes answer one ActualLRPGroup per slot (models.ResolveActualLRPGroups).

func (h *Handler) actualLRPGroups(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.ActualLRPGroupsRequest{}, &models.ActualLRPGroupsResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	lrps, err := h.DB.ActualLRPs(ctx, db.ActualFilter{Domain: req.GetDomain(), CellID: req.GetCellId()})
	resp.ActualLrpGroups, resp.Error = models.ResolveActualLRPGroups(lrps), toError(err)
	return resp
}

func (h *Handler) actualLRPGroupsByProcessGuid(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.ActualLRPGroupsByProcessGuidRequest{}, &models.ActualLRPGroupsResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	lrps, err := h.DB.ActualLRPs(ctx, db.ActualFilter{ProcessGuid: req.GetProcessGuid()})
	resp.ActualLrpGroups, resp.Error = models.ResolveActualLRPGroups(lrps), toError(err)
	return resp
}

func (h *Handler) actualLRPGroup(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.ActualLRPGroupByProcessGuidAndIndexRequest{}, &models.ActualLRPGroupResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	index := req.GetIndex()
	lrps, err := h.DB.ActualLRPs(ctx, db.ActualFilter{ProcessGuid: req.GetProcessGuid(), Index: &index})
	switch groups := models.ResolveActualLRPGroups(lrps); {
	case err != nil:
		resp.Error = toError(err)
	case len(groups) == 0:
		resp.Error = models.ErrResourceNotFound
	default:
		resp.ActualLrpGroup = groups[0]
	}
	return resp
}

func (h *Handler) claimActualLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.ClaimActualLRPRequest{}, &models.ActualLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.ClaimActualLRP(ctx, req.GetProcessGuid(), req.GetIndex(), req.GetActualLrpInstanceKey()))
	return resp
}

// startRequest is what a start or evacuate_running request reports; routable is true when the
// request leaves it out, as upstream's default. The first revisions of both routes (withExtras
// false) drop the internal routes and metric tags, as upstream's do.
func startRequest(key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey, net *models.ActualLRPNetInfo, routes []*models.ActualLRPInternalRoute, tags map[string]string, routable *bool, az string, withExtras bool) db.StartRequest {
	r := db.StartRequest{Key: key, InstanceKey: ik, NetInfo: net, Routable: routable == nil || *routable, AvailabilityZone: az}
	if withExtras {
		r.InternalRoutes, r.MetricTags = routes, tags
	}
	return r
}

func (h *Handler) startActualLRP(ctx context.Context, body []byte) proto.Message {
	return h.start(ctx, body, false)
}

func (h *Handler) startActualLRPR1(ctx context.Context, body []byte) proto.Message {
	return h.start(ctx, body, true)
}

func (h *Handler) start(ctx context.Context, body []byte, withExtras bool) proto.Message {
	req, resp := &models.StartActualLRPRequest{}, &models.ActualLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.StartActualLRP(ctx, startRequest(req.GetActualLrpKey(), req.GetActualLrpInstanceKey(),
		req.GetActualLrpNetInfo(), req.GetActualLrpInternalRoutes(), req.GetMetricTags(), req.Routable, req.GetAvailabilityZone(), withExtras)))
	return resp
}

func (h *Handler) crashActualLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.CrashActualLRPRequest{}, &models.ActualLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.CrashActualLRP(ctx, req.GetActualLrpKey(), req.GetActualLrpInstanceKey(), req.GetErrorMessage()))
	return resp
}

func (h *Handler) failActualLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.FailActualLRPRequest{}, &models.ActualLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.FailActualLRP(ctx, req.GetActualLrpKey(), req.GetErrorMessage()))
	return resp
}

func (h *Handler) removeActualLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.RemoveActualLRPRequest{}, &models.ActualLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.RemoveActualLRP(ctx, req.GetProcessGuid(), req.GetIndex(), req.GetActualLrpInstanceKey()))
	return resp
}

func (h *Handler) retireActualLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.RetireActualLRPRequest{}, &models.ActualLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.RetireActualLRP(ctx, req.GetActualLrpKey()))
	return resp
}

// keepOnRefusal is keep_container for an evacuate_claimed or evacuate_running request that does
// not decode or validate: upstream's answer, so the cell keeps a container nothing replaced yet.
const keepOnRefusal = true

func (h *Handler) evacuateClaimed(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.EvacuateClaimedActualLRPRequest{}, &models.EvacuationResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		resp.KeepContainer = keepOnRefusal
		return resp
	}
	resp.Error = toError(h.Service.EvacuateClaimed(ctx, req.GetActualLrpKey(), req.GetActualLrpInstanceKey()))
	return resp
}

func (h *Handler) evacuateRunning(ctx context.Context, body []byte) proto.Message {
	return h.evacuate(ctx, body, false)
}

func (h *Handler) evacuateRunningR1(ctx context.Context, body []byte) proto.Message {
	return h.evacuate(ctx, body, true)
}

func (h *Handler) evacuate(ctx context.Context, body []byte, withExtras bool) proto.Message {
	req, resp := &models.EvacuateRunningActualLRPRequest{}, &models.EvacuationResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		resp.KeepContainer = keepOnRefusal
		return resp
	}
	keep, err := h.Service.EvacuateRunning(ctx, startRequest(req.GetActualLrpKey(), req.GetActualLrpInstanceKey(),
		req.GetActualLrpNetInfo(), req.GetActualLrpInternalRoutes(), req.GetMetricTags(), req.Routable, req.GetAvailabilityZone(), withExtras))
	resp.KeepContainer, resp.Error = keep, toError(err)
	return resp
}

func (h *Handler) evacuateStopped(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.EvacuateStoppedActualLRPRequest{}, &models.EvacuationResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.EvacuateStopped(ctx, req.GetActualLrpKey(), req.GetActualLrpInstanceKey()))
	return resp
}

func (h *Handler) evacuateCrashed(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.EvacuateCrashedActualLRPRequest{}, &models.EvacuationResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.EvacuateCrashed(ctx, req.GetActualLrpKey(), req.GetActualLrpInstanceKey(), req.GetErrorMessage()))
	return resp
}

func (h *Handler) removeEvacuating(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.RemoveEvacuatingActualLRPRequest{}, &models.RemoveEvacuatingActualLRPResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.RemoveEvacuating(ctx, req.GetActualLrpKey(), req.GetActualLrpInstanceKey()))
	return resp
}

func desiredFilter(req *models.DesiredLRPsRequest) db.DesiredFilter {
	return db.DesiredFilter{Domain: req.GetDomain(), ProcessGuids: req.GetProcessGuids(), AppGuids: req.GetAppGuids()}
}

func (h *Handler) desiredLRPs(ctx context.Context, body []byte) proto.Message {
	return h.listDesired(ctx, body, (*models.DesiredLRP).WithMetricsGuid)
}

func (h *Handler) desiredLRPsR2(ctx context.Context, body []byte) proto.Message {
	return h.listDesired(ctx, body, asR2)
}

// asR2 is the LRP as the .r2 routes answer it (models.DesiredLRP.WithoutImageLayers).
func asR2(d *models.DesiredLRP) *models.DesiredLRP { return d.WithoutImageLayers().WithMetricsGuid() }

func (h *Handler) listDesired(ctx context.Context, body []byte, view func(*models.DesiredLRP) *models.DesiredLRP) proto.Message {
	req, resp := &models.DesiredLRPsRequest{}, &models.DesiredLRPsResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	d, err := h.DB.DesiredLRPs(ctx, desiredFilter(req))
	for i := range d {
		d[i] = view(d[i])
	}
	resp.DesiredLrps, resp.Error = d, toError(err)
	return resp
}

func (h *Handler) desiredLRPByProcessGuid(ctx context.Context, body []byte) proto.Message {
	return h.getDesired(ctx, body, (*models.DesiredLRP).WithMetricsGuid)
}

func (h *Handler) desiredLRPByProcessGuidR2(ctx context.Context, body []byte) proto.Message {
	return h.getDesired(ctx, body, asR2)
}

func (h *Handler) getDesired(ctx context.Context, body []byte, view func(*models.DesiredLRP) *models.DesiredLRP) proto.Message {
	req, resp := &models.DesiredLRPByProcessGuidRequest{}, &models.DesiredLRPResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	d, err := h.DB.DesiredLRPByProcessGuid(ctx, req.GetProcessGuid())
	if resp.Error = toError(err); resp.Error == nil {
		resp.DesiredLrp = view(d)
	}
	return resp
}

func (h *Handler) schedulingInfos(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.DesiredLRPsRequest{}, &models.DesiredLRPSchedulingInfosResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	s, err := h.DB.DesiredLRPSchedulingInfos(ctx, desiredFilter(req))
	resp.DesiredLrpSchedulingInfos, resp.Error = s, toError(err)
	return resp
}

func (h *Handler) schedulingInfo(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.DesiredLRPByProcessGuidRequest{}, &models.DesiredLRPSchedulingInfoByProcessGuidResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	s, err := h.DB.DesiredLRPSchedulingInfo(ctx, req.GetProcessGuid())
	resp.DesiredLrpSchedulingInfo, resp.Error = s, toError(err)
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
	resp.Error = toError(h.Service.DesireLRP(ctx, req.GetDesiredLrp()))
	return resp
}

func (h *Handler) updateDesiredLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.UpdateDesiredLRPRequest{}, &models.DesiredLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.UpdateDesiredLRP(ctx, req.GetProcessGuid(), req.GetUpdate()))
	return resp
}

func (h *Handler) removeDesiredLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.RemoveDesiredLRPRequest{}, &models.DesiredLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.RemoveDesiredLRP(ctx, req.GetProcessGuid()))
	return resp
}
