package service

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/diego-go/diego/models"
)

func (s *Service) emitTask(before, after *models.Task) {
	switch {
	case before == nil && after != nil:
		s.TaskHub.Emit(models.NewTaskCreatedEvent(after))
	case before != nil && after == nil:
		s.TaskHub.Emit(models.NewTaskRemovedEvent(before))
	case before != nil && after != nil:
		s.TaskHub.Emit(models.NewTaskChangedEvent(before, after))
	}
}

// auctionTasks asks the auctioneer, in the background, to place tasks.
func (s *Service) auctionTasks(tasks ...*models.Task) {
	if len(tasks) == 0 {
		return
	}
	s.background(func(ctx context.Context) { s.requestTaskAuctions(ctx, tasks) })
}

func (s *Service) requestTaskAuctions(ctx context.Context, tasks []*models.Task) {
	if len(tasks) == 0 {
		return
	}
	reqs := make([]models.TaskStartRequest, len(tasks))
	for i, t := range tasks {
		reqs[i] = models.NewTaskStartRequest(t)
	}
	_ = s.retried(ctx, "auction: task start request", func(ctx context.Context) error {
		return s.Auctioneer.RequestTaskAuctions(ctx, reqs)
	})
}

// DesireTask stores a new task and auctions it.
func (s *Service) DesireTask(ctx context.Context, guid, domain string, def *models.TaskDefinition) error {
	t, err := s.DB.DesireTask(ctx, def, guid, domain)
	if err == nil {
		s.emitTask(nil, t)
		s.auctionTasks(t)
	}
	return err
}

// StartTask claims a pending task for a cell; shouldStart is true for exactly one caller.
func (s *Service) StartTask(ctx context.Context, guid, cellID string) (shouldStart bool, err error) {
	before, after, should, err := s.DB.StartTask(ctx, guid, cellID)
	if err != nil {
		return false, err
	}
	if after != nil {
		s.emitTask(before, after)
	}
	return should, nil
}

// completed emits the change and, for a task with a callback URL, resolves it in the background.
func (s *Service) completed(before, after *models.Task) {
	s.emitTask(before, after)
	if after.GetTaskDefinition().GetCompletionCallbackUrl() != "" {
		s.background(func(ctx context.Context) { s.ResolveTask(ctx, after) })
	}
}

// CancelTask cancels a task; a running one is cancelled on its cell too.
func (s *Service) CancelTask(ctx context.Context, guid string) error {
	before, after, err := s.DB.CancelTask(ctx, guid)
	if err != nil || after == nil {
		return err
	}
	s.completed(before, after)
	if before.GetState() == models.Task_Running && s.CellClient != nil {
		if url := s.repURLs(ctx)[before.GetCellId()]; url != "" {
			if err := s.CellClient.CancelTask(ctx, url, before.GetTaskGuid()); err != nil {
				s.Logger.Error("cell could not cancel task", "task_guid", before.GetTaskGuid(), "cell", before.GetCellId(), "error", err)
			}
		}
	}
	return nil
}

// FailTask fails a task (e.g. it could not be placed).
func (s *Service) FailTask(ctx context.Context, guid, reason string) error {
	before, after, err := s.DB.FailTask(ctx, guid, reason)
	if err == nil && after != nil {
		s.completed(before, after)
	}
	return err
}

// RejectTask hands a task back: it is auctioned again, or failed once rejected too often.
func (s *Service) RejectTask(ctx context.Context, guid, reason string) error {
	before, after, requeued, err := s.DB.RejectTask(ctx, guid, reason)
	if err != nil || after == nil {
		return err
	}
	if requeued {
		s.emitTask(before, after)
		s.auctionTasks(after)
	} else {
		s.completed(before, after)
	}
	return nil
}

// CompleteTask records a task's result.
func (s *Service) CompleteTask(ctx context.Context, guid, cellID string, failed bool, reason, result string) error {
	before, after, err := s.DB.CompleteTask(ctx, guid, cellID, failed, reason, result)
	if err == nil && after != nil {
		s.completed(before, after)
	}
	return err
}

// ResolvingTask marks a completed task as being resolved.
func (s *Service) ResolvingTask(ctx context.Context, guid string) error {
	before, after, err := s.DB.ResolvingTask(ctx, guid)
	if err == nil && after != nil {
		s.emitTask(before, after)
	}
	return err
}

// DeleteTask deletes a resolving task.
func (s *Service) DeleteTask(ctx context.Context, guid string) error {
	before, err := s.DB.DeleteTask(ctx, guid)
	if err == nil {
		s.emitTask(before, nil)
	}
	return err
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
func (s *Service) ResolveTask(ctx context.Context, t *models.Task) {
	log := s.Logger.With("task_guid", t.GetTaskGuid())
	before, after, err := s.DB.ResolvingTask(ctx, t.GetTaskGuid())
	if err != nil {
		log.Info("task not resolved here", "reason", err)
		return
	}
	s.emitTask(before, after)
	body, _ := json.Marshal(models.NewTaskCallbackResponse(after))
	url := after.GetTaskDefinition().GetCompletionCallbackUrl()
	for attempt := 1; ; attempt++ {
		status, err := s.post(ctx, url, body)
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
		case <-time.After(s.CallbackRetryWait):
		}
	}
	deleted, err := s.DB.DeleteTask(ctx, t.GetTaskGuid())
	if err != nil {
		log.Error("cannot delete resolved task", "error", err)
		return
	}
	s.emitTask(deleted, nil)
}

func (s *Service) post(ctx context.Context, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
