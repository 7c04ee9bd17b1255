// Package bulksync reconciles the BBS and the cell's containers both ways, at start and every
// interval: the decision is Decide, a pure function from a snapshot (this cell's BBS records and
// its containers) to actions; BulkSync reads the snapshot and carries the actions out.
//
//	b := bulksync.New(bulksync.Config{CellID: ..., Interval: 30 * time.Second}, executorClient, bbsClient, proc, logger)
//	b is an ifrit.Runner: a pass at once (ready after it), then one every interval.
//	b.Sync(ctx) runs one pass.
//
// With processor.Processor as proc, a container the cell still runs after the rep restarted is
// adopted: its instance, still this cell's in the BBS, is started again with its net info (the
// BBS's record is unchanged), and one whose instance was placed elsewhere meanwhile is stopped.
package bulksync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/convert"
	"github.com/diego-go/diego/rep/processor"
)

// Snapshot is what a pass decides on: the containers, read first, then this cell's records.
type Snapshot struct {
	CellID     string
	Containers []executor.Container
	ActualLRPs []*models.ActualLRP
	Tasks      []*models.Task
}

// Kind of an action.
type Kind string

const (
	// Process hands the container to the processor, which acts on its state.
	Process Kind = "process"
	// DeleteContainer destroys a container the BBS has no record for on this cell.
	DeleteContainer Kind = "delete-container"
	// DiscardInstance hands the processor an instance's container the BBS has no record for on
	// this cell: a running one goes after the drain.
	DiscardInstance Kind = "discard-instance"
	// RemoveActualLRP removes an ORDINARY instance of this cell whose container is gone.
	RemoveActualLRP Kind = "remove-actual-lrp"
	// CrashSuspect reports the container of a SUSPECT instance gone (its replacement is placed already).
	CrashSuspect Kind = "crash-suspect"
	// RemoveEvacuating removes an EVACUATING instance of this cell whose container is gone.
	RemoveEvacuating Kind = "remove-evacuating"
	// FailTask completes a task running on this cell whose container is gone.
	FailTask Kind = "fail-task"
)

// Action is one step of a pass. Guid is the container's (for an instance, its instance guid).
type Action struct {
	Kind        Kind
	Guid        string
	Key         *models.ActualLRPKey
	InstanceKey *models.ActualLRPInstanceKey
}

// Decide is what a pass does with s.
func Decide(s Snapshot) []Action {
	instances := map[string]bool{} // instance guids with a record on this cell
	for _, a := range s.ActualLRPs {
		instances[a.GetActualLrpInstanceKey().GetInstanceGuid()] = true
	}
	running := map[string]bool{} // tasks running on this cell
	for _, t := range s.Tasks {
		if t.GetState() == models.Task_Running && t.GetCellId() == s.CellID {
			running[t.GetTaskGuid()] = true
		}
	}
	var out []Action
	containers := map[string]bool{}
	for _, c := range s.Containers {
		containers[c.Guid] = true
		starting := c.State == executor.StateReserved || c.State == executor.StateInitializing
		switch c.Tags[convert.LifecycleTag] {
		case convert.LRPLifecycle:
			switch {
			case starting, instances[c.Tags[convert.InstanceGuidTag]]:
				out = append(out, Action{Kind: Process, Guid: c.Guid})
			default:
				out = append(out, Action{Kind: DiscardInstance, Guid: c.Guid})
			}
		case convert.TaskLifecycle:
			switch {
			case starting:
				out = append(out, Action{Kind: Process, Guid: c.Guid})
			case !running[c.Guid]:
				out = append(out, Action{Kind: DeleteContainer, Guid: c.Guid})
			case c.State == executor.StateCompleted:
				out = append(out, Action{Kind: Process, Guid: c.Guid}) // its completion never reached the BBS
			}
		default:
			out = append(out, Action{Kind: DeleteContainer, Guid: c.Guid})
		}
	}
	for _, a := range s.ActualLRPs {
		ig := a.GetActualLrpInstanceKey().GetInstanceGuid()
		if containers[convert.LRPContainerGuid(a.GetActualLrpKey().GetProcessGuid(), ig)] {
			continue
		}
		kind := RemoveActualLRP
		switch a.GetPresence() {
		case models.ActualLRP_EVACUATING:
			kind = RemoveEvacuating
		case models.ActualLRP_SUSPECT:
			kind = CrashSuspect
		}
		out = append(out, Action{Kind: kind, Guid: ig, Key: a.GetActualLrpKey(), InstanceKey: a.GetActualLrpInstanceKey()})
	}
	for _, t := range s.Tasks {
		if running[t.GetTaskGuid()] && !containers[t.GetTaskGuid()] {
			out = append(out, Action{Kind: FailTask, Guid: t.GetTaskGuid()})
		}
	}
	return out
}

// Config of a bulk sync.
type Config struct {
	CellID   string
	Interval time.Duration // between passes (upstream's default 30 s)
}

// Processor handles one container now, and discards an instance's container (processor.Processor).
type Processor interface {
	Process(ctx context.Context, guid string)
	Discard(ctx context.Context, guid string)
}

// BulkSync runs passes.
type BulkSync struct {
	cfg    Config
	exec   executor.Client
	bbs    *bbs.Client
	proc   Processor
	logger *slog.Logger
}

// New makes a bulk sync.
func New(cfg Config, exec executor.Client, bbsClient *bbs.Client, proc Processor, logger *slog.Logger) *BulkSync {
	return &BulkSync{cfg: cfg, exec: exec, bbs: bbsClient, proc: proc, logger: logger}
}

// Run makes a pass at once, is ready, and makes one every interval until signalled.
func (b *BulkSync) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-signals
		cancel()
	}()
	b.pass(ctx)
	close(ready)
	t := time.NewTicker(b.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			b.pass(ctx)
		}
	}
}

func (b *BulkSync) pass(ctx context.Context) {
	if err := b.Sync(ctx); err != nil && ctx.Err() == nil {
		b.logger.Error("bulk sync", "error", err)
	}
}

// parallel is how many actions of a pass run at once.
const parallel = 16

// Sync makes one pass.
func (b *BulkSync) Sync(ctx context.Context) error {
	start := time.Now()
	s := Snapshot{CellID: b.cfg.CellID}
	var err error
	// containers first: a record then read for a container allocated meanwhile is checked again
	// before anything is removed (see do)
	if s.Containers, err = b.exec.ListContainers(ctx, nil); err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	if s.ActualLRPs, err = b.bbs.ActualLRPs(ctx, bbs.ActualLRPFilter{CellID: b.cfg.CellID}); err != nil {
		return fmt.Errorf("listing this cell's actual LRPs: %w", err)
	}
	if s.Tasks, err = b.bbs.Tasks(ctx, bbs.TaskFilter{CellID: b.cfg.CellID}); err != nil {
		return fmt.Errorf("listing this cell's tasks: %w", err)
	}
	actions := Decide(s)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, a := range actions {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			b.do(ctx, a)
		}()
	}
	wg.Wait()
	b.logger.Debug("bulk sync pass", "containers", len(s.Containers), "actual_lrps", len(s.ActualLRPs), "tasks", len(s.Tasks),
		"actions", len(actions), "took", time.Since(start))
	return nil
}

func (b *BulkSync) do(ctx context.Context, a Action) {
	log := b.logger.With("action", a.Kind, "guid", a.Guid)
	if a.Kind != Process && a.Kind != DeleteContainer && a.Kind != DiscardInstance {
		// a record without a container: unless one was allocated since the snapshot
		if _, err := b.exec.GetContainer(ctx, a.Guid); !errors.Is(err, executor.ErrContainerNotFound) {
			return
		}
	}
	var err error
	switch a.Kind {
	case Process:
		b.proc.Process(ctx, a.Guid)
	case DiscardInstance:
		log.Info("discarding an instance's container the BBS does not know on this cell")
		b.proc.Discard(ctx, a.Guid)
	case DeleteContainer:
		log.Info("destroying a container the BBS does not know on this cell")
		err = b.exec.DeleteContainer(ctx, a.Guid)
		if errors.Is(err, executor.ErrContainerNotFound) {
			err = nil
		}
	case RemoveActualLRP:
		log.Info("removing an instance whose container is gone")
		err = b.bbs.RemoveActualLRP(ctx, a.Key.GetProcessGuid(), a.Key.GetIndex(), a.InstanceKey)
	case CrashSuspect:
		log.Info("crashing a suspect instance whose container is gone")
		err = b.bbs.CrashActualLRP(ctx, a.Key, a.InstanceKey, "container is gone")
	case RemoveEvacuating:
		log.Info("removing an evacuating instance whose container is gone")
		err = b.bbs.RemoveEvacuatingActualLRP(ctx, a.Key, a.InstanceKey)
	case FailTask:
		log.Info("failing a task whose container is gone")
		err = b.bbs.CompleteTask(ctx, a.Guid, b.cfg.CellID, true, processor.TaskMissingContainer, "")
	}
	if err != nil {
		log.Error("bulk sync action failed", "error", err)
	}
}
