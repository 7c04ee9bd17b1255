package handlers

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/models"
)

func (h *Handler) tasks(ctx context.Context, body []byte) proto.Message {
	return h.listTasks(ctx, body, nil)
}

func (h *Handler) tasksR2(ctx context.Context, body []byte) proto.Message {
	return h.listTasks(ctx, body, (*models.Task).WithoutImageLayers)
}

// listTasks answers the tasks, each through view when not nil (the .r2 routes').
func (h *Handler) listTasks(ctx context.Context, body []byte, view func(*models.Task) *models.Task) proto.Message {
	req, resp := &models.TasksRequest{}, &models.TasksResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	t, err := h.DB.Tasks(ctx, db.TaskFilter{Domain: req.GetDomain(), CellID: req.GetCellId()})
	if view != nil {
		for i := range t {
			t[i] = view(t[i])
		}
	}
	resp.Tasks, resp.Error = t, toError(err)
	return resp
}

func (h *Handler) taskByGuid(ctx context.Context, body []byte) proto.Message {
	return h.getTask(ctx, body, nil)
}

func (h *Handler) taskByGuidR2(ctx context.Context, body []byte) proto.Message {
	return h.getTask(ctx, body, (*models.Task).WithoutImageLayers)
}

func (h *Handler) getTask(ctx context.Context, body []byte, view func(*models.Task) *models.Task) proto.Message {
	req, resp := &models.TaskByGuidRequest{}, &models.TaskResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	t, err := h.DB.TaskByGuid(ctx, req.GetTaskGuid())
	if resp.Error = toError(err); resp.Error == nil && view != nil {
		t = view(t)
	}
	resp.Task = t
	return resp
}

func (h *Handler) desireTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.DesireTaskRequest{}, &models.TaskLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.DesireTask(ctx, req.GetTaskGuid(), req.GetDomain(), req.GetTaskDefinition()))
	return resp
}

func (h *Handler) startTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.StartTaskRequest{}, &models.StartTaskResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	should, err := h.Service.StartTask(ctx, req.GetTaskGuid(), req.GetCellId())
	resp.ShouldStart, resp.Error = should, toError(err)
	return resp
}

func (h *Handler) cancelTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.TaskGuidRequest{}, &models.TaskLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.CancelTask(ctx, req.GetTaskGuid()))
	return resp
}

func (h *Handler) failTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.FailTaskRequest{}, &models.TaskLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.FailTask(ctx, req.GetTaskGuid(), req.GetFailureReason()))
	return resp
}

func (h *Handler) rejectTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.RejectTaskRequest{}, &models.TaskLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.RejectTask(ctx, req.GetTaskGuid(), req.GetRejectionReason()))
	return resp
}

func (h *Handler) completeTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.CompleteTaskRequest{}, &models.TaskLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.CompleteTask(ctx, req.GetTaskGuid(), req.GetCellId(), req.GetFailed(), req.GetFailureReason(), req.GetResult()))
	return resp
}

func (h *Handler) resolvingTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.TaskGuidRequest{}, &models.TaskLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.ResolvingTask(ctx, req.GetTaskGuid()))
	return resp
}

func (h *Handler) deleteTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.TaskGuidRequest{}, &models.TaskLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.Service.DeleteTask(ctx, req.GetTaskGuid()))
	return resp
}
