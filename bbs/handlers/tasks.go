package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/models"
)

func (h *Handler) emitTask(before, after *models.Task) {
	switch {
	case before == nil && after != nil:
		h.TaskHub.Emit(models.NewTaskCreatedEvent(after))
	case before != nil && after == nil:
		h.TaskHub.Emit(models.NewTaskRemovedEvent(before))
	case before != nil && after != nil:
		h.TaskHub.Emit(models.NewTaskChangedEvent(before, after))
	}
}

// AuctionTasks asks the auctioneer, in the background, to place tasks.
func (h *Handler) AuctionTasks(tasks ...*models.Task) {
	if len(tasks) == 0 {
		return
	}
	reqs := make([]models.TaskStartRequest, len(tasks))
	for i, t := range tasks {
		reqs[i] = models.NewTaskStartRequest(t)
	}
	h.background(func(ctx context.Context) {
		if err := h.Auctioneer.RequestTaskAuctions(ctx, reqs); err != nil {
			h.Logger.Error("auction: task start requests failed", "count", len(reqs), "error", err)
		}
	})
}

func (h *Handler) tasks(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.TasksRequest{}, &models.TasksResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	t, err := h.DB.Tasks(ctx, db.TaskFilter{Domain: req.GetDomain(), CellID: req.GetCellId()})
	resp.Tasks, resp.Error = t, toError(err)
	return resp
}

func (h *Handler) taskByGuid(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.TaskByGuidRequest{}, &models.TaskResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	t, err := h.DB.TaskByGuid(ctx, req.GetTaskGuid())
	resp.Task, resp.Error = t, toError(err)
	return resp
}

func (h *Handler) desireTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.DesireTaskRequest{}, &models.TaskLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	t, err := h.DB.DesireTask(ctx, req.GetTaskDefinition(), req.GetTaskGuid(), req.GetDomain())
	if resp.Error = toError(err); resp.Error == nil {
		h.emitTask(nil, t)
		h.AuctionTasks(t)
	}
	return resp
}

func (h *Handler) startTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.StartTaskRequest{}, &models.StartTaskResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, after, should, err := h.DB.StartTask(ctx, req.GetTaskGuid(), req.GetCellId())
	if resp.Error = toError(err); resp.Error == nil {
		resp.ShouldStart = should
		if after != nil {
			h.emitTask(before, after)
		}
	}
	return resp
}

// completed emits the change and, for a task with a callback URL, resolves it in the background.
func (h *Handler) completed(before, after *models.Task) {
	h.emitTask(before, after)
	if after.GetTaskDefinition().GetCompletionCallbackUrl() != "" {
		h.background(func(ctx context.Context) { h.ResolveTask(ctx, after) })
	}
}

func (h *Handler) cancelTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.TaskGuidRequest{}, &models.TaskLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, after, err := h.DB.CancelTask(ctx, req.GetTaskGuid())
	if resp.Error = toError(err); resp.Error == nil && after != nil {
		h.completed(before, after)
		if before.GetState() == models.Task_Running && h.CellClient != nil {
			if cell := h.cellByID(ctx, before.GetCellId()); cell != nil {
				if err := h.CellClient.CancelTask(ctx, cell, before.GetTaskGuid()); err != nil {
					h.Logger.Error("cell could not cancel task", "task_guid", before.GetTaskGuid(), "cell", before.GetCellId(), "error", err)
				}
			}
		}
	}
	return resp
}

func (h *Handler) failTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.FailTaskRequest{}, &models.TaskLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, after, err := h.DB.FailTask(ctx, req.GetTaskGuid(), req.GetFailureReason())
	if resp.Error = toError(err); resp.Error == nil && after != nil {
		h.completed(before, after)
	}
	return resp
}

func (h *Handler) rejectTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.RejectTaskRequest{}, &models.TaskLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, after, requeued, err := h.DB.RejectTask(ctx, req.GetTaskGuid(), req.GetRejectionReason())
	if resp.Error = toError(err); resp.Error == nil && after != nil {
		if requeued {
			h.emitTask(before, after)
			h.AuctionTasks(after)
		} else {
			h.completed(before, after)
		}
	}
	return resp
}

func (h *Handler) completeTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.CompleteTaskRequest{}, &models.TaskLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, after, err := h.DB.CompleteTask(ctx, req.GetTaskGuid(), req.GetCellId(), req.GetFailed(), req.GetFailureReason(), req.GetResult())
	if resp.Error = toError(err); resp.Error == nil && after != nil {
		h.completed(before, after)
	}
	return resp
}

func (h *Handler) resolvingTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.TaskGuidRequest{}, &models.TaskLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, after, err := h.DB.ResolvingTask(ctx, req.GetTaskGuid())
	if resp.Error = toError(err); resp.Error == nil && after != nil {
		h.emitTask(before, after)
	}
	return resp
}

func (h *Handler) deleteTask(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.TaskGuidRequest{}, &models.TaskLifecycleResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	before, err := h.DB.DeleteTask(ctx, req.GetTaskGuid())
	if resp.Error = toError(err); resp.Error == nil {
		h.emitTask(before, nil)
	}
	return resp
}

// CallbackAttempts is how many times one resolution tries a callback that answers 503 or 504 or
// cannot be reached (upstream's three).
const CallbackAttempts = 3

// ResolveTask delivers a completed task's result to its callback URL: it moves the task to
// Resolving (only one resolver wins), POSTs the TaskCallbackResponse as JSON, and deletes the task
// once the callback answered anything but 503 or 504. A callback that keeps answering 503/504 or
// cannot be reached leaves the task Resolving (its result must reach Cloud Controller):
// convergence gives it back and resolves it again once it has been Resolving for the kick
// timeout, until the completed-task expiry deletes it.
func (h *Handler) ResolveTask(ctx context.Context, t *models.Task) {
	log := h.Logger.With("task_guid", t.GetTaskGuid())
	before, after, err := h.DB.ResolvingTask(ctx, t.GetTaskGuid())
	if err != nil {
		log.Info("task not resolved here", "reason", err)
		return
	}
	h.emitTask(before, after)
	body, _ := json.Marshal(models.NewTaskCallbackResponse(after))
	url := after.GetTaskDefinition().GetCompletionCallbackUrl()
	for attempt := 1; ; attempt++ {
		status, err := h.post(ctx, url, body)
		if err == nil && status != http.StatusServiceUnavailable && status != http.StatusGatewayTimeout {
			log.Info("task callback delivered", "status", status, "attempt", attempt)
			break
		}
		log.Warn("task callback failed", "status", status, "error", err, "attempt", attempt)
		if attempt == CallbackAttempts {
			log.Warn("task callback not delivered; the task stays resolving for convergence to retry", "attempts", attempt)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(h.CallbackRetryWait):
		}
	}
	deleted, err := h.DB.DeleteTask(ctx, t.GetTaskGuid())
	if err != nil {
		log.Error("cannot delete resolved task", "error", err)
		return
	}
	h.emitTask(deleted, nil)
}

func (h *Handler) post(ctx context.Context, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
