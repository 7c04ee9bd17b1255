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

func (h *Handler) claimActualLRP(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.ClaimActualLRPRequest{}, &models.ActualLRPLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.ClaimActualLRP(ctx, req.GetProcessGuid(), req.GetIndex(), req.GetActualLrpInstanceKey()))
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
	resp.Error = toError(h.Service.StartActualLRP(ctx, startRequest(req.GetActualLrpKey(), req.GetActualLrpInstanceKey(),
		req.GetActualLrpNetInfo(), req.GetActualLrpInternalRoutes(), req.GetMetricTags(), req.Routable, req.GetAvailabilityZone())))
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

func (h *Handler) evacuateClaimed(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.EvacuateClaimedActualLRPRequest{}, &models.EvacuationResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.EvacuateClaimed(ctx, req.GetActualLrpKey(), req.GetActualLrpInstanceKey()))
	return resp
}

func (h *Handler) evacuateRunning(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.EvacuateRunningActualLRPRequest{}, &models.EvacuationResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	keep, err := h.Service.EvacuateRunning(ctx, startRequest(req.GetActualLrpKey(), req.GetActualLrpInstanceKey(),
		req.GetActualLrpNetInfo(), req.GetActualLrpInternalRoutes(), req.GetMetricTags(), req.Routable, req.GetAvailabilityZone()))
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
