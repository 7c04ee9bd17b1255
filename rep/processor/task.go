package processor

import (
	"errors"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/convert"
)

func (p *Processor) processTask(c executor.Container) {
	log := p.logger.With("task_guid", c.Guid, "state", c.State)
	if c.State == executor.StateCompleted {
		if c.RunResult.Failed && c.RunResult.Retryable {
			p.rejectTask(c)
			return
		}
		p.completeTask(c)
		return
	}
	shouldStart, err := p.bbs.StartTask(p.ctx, c.Guid, p.cfg.CellID)
	if err != nil {
		log.Info("starting task", "error", err)
		// another cell runs it, it is done or gone: this container has nothing to do
		if errors.Is(err, &models.Error{Type: models.Error_InvalidStateTransition}) || errors.Is(err, models.ErrResourceNotFound) {
			p.deleteContainer(c.Guid)
		}
		return
	}
	if !shouldStart {
		return // already running here
	}
	t, err := p.bbs.TaskByGuid(p.ctx, c.Guid)
	if err != nil {
		log.Error("reading task", "error", err)
		p.failTask(c.Guid, TaskFailedToRunContainer)
		return
	}
	info, err := convert.TaskRunInfo(t, p.cfg.Convert)
	if err != nil {
		log.Error("converting task", "error", err)
		p.failTask(c.Guid, err.Error())
		return
	}
	if err := p.exec.RunContainer(p.ctx, c.Guid, info); err != nil {
		log.Error("running container", "error", err)
		p.failTask(c.Guid, TaskFailedToRunContainer)
	}
}

// failTask completes a task the cell could not run, and frees its container.
func (p *Processor) failTask(guid, reason string) {
	if err := p.bbs.CompleteTask(p.ctx, guid, p.cfg.CellID, true, reason, ""); err != nil {
		p.logger.Error("completing task", "task_guid", guid, "error", err)
	}
	p.deleteContainer(guid)
}

// rejectTask hands back a task whose container failed before its process ran, to be placed
// again (the BBS fails it after its retries). The container goes once the BBS decided, at once
// then: a placement on this cell meanwhile finds the guid held and is dropped, and the task,
// pending, waits for convergence to auction it again.
func (p *Processor) rejectTask(c executor.Container) {
	err := p.bbs.RejectTask(p.ctx, c.Guid, c.RunResult.FailureReason)
	if p.settled(c.Guid, "rejecting task", err, &models.Error{Type: models.Error_InvalidStateTransition}) {
		p.deleteContainer(c.Guid)
	}
}

// completeTask completes the task with its result or failure reason; the container, which holds
// them, goes once the BBS has them.
func (p *Processor) completeTask(c executor.Container) {
	r := c.RunResult
	err := p.bbs.CompleteTask(p.ctx, c.Guid, p.cfg.CellID, r.Failed, r.FailureReason, r.Result)
	if p.settled(c.Guid, "completing task", err, &models.Error{Type: models.Error_InvalidStateTransition},
		&models.Error{Type: models.Error_RunningOnDifferentCell}) {
		p.deleteContainer(c.Guid)
	}
}
