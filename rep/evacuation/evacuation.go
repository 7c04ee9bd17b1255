// Package evacuation lets a cell leave without a moment where fewer instances answer than are
// desired: once POST /evacuate sets the Flag, the cell takes no work, and the Evacuator hands
// each instance over through the BBS's evacuate routes. A running instance keeps serving until
// the BBS says its replacement runs elsewhere; tasks run on. The Evacuator returns as soon as no
// container is left (so the rep exits 0 then, not at the timeout); at the timeout, what is left
// is handed back and destroyed.
//
//	flag := evacuation.NewFlag()             // flag.Evacuate for server.NewLocal, flag.Evacuating for
//	                                         // cellrep.Config and processor.Config
//	ev := evacuation.New(evacuation.Config{CellID: ..., Timeout: 10 * time.Minute, PollInterval: time.Second},
//		flag, executorClient, bbsClient, proc, logger)
//	ev is an ifrit.Runner: ready at once; after evacuation starts it returns nil when the cell is
//	empty or the timeout passed (cmd/rep then exits 0); a signal before that ends it at once.
package evacuation

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/rep/convert"
)

// Flag says whether the cell evacuates. It is set once and never cleared.
type Flag struct {
	once sync.Once
	ch   chan struct{}
}

// NewFlag is a flag not set.
func NewFlag() *Flag { return &Flag{ch: make(chan struct{})} }

// Evacuate sets the flag; calling it again does nothing.
func (f *Flag) Evacuate() { f.once.Do(func() { close(f.ch) }) }

// Evacuating reports whether the flag is set.
func (f *Flag) Evacuating() bool {
	select {
	case <-f.ch:
		return true
	default:
		return false
	}
}

// Notify is closed when the flag is set.
func (f *Flag) Notify() <-chan struct{} { return f.ch }

// TaskCellGone is the failure reason of a task still running when the evacuation timed out.
const TaskCellGone = "cell disappeared before completion"

// Config of an evacuator.
type Config struct {
	CellID string
	// Timeout after which what is left is destroyed (upstream's default 10 minutes).
	Timeout time.Duration
	// PollInterval between two rounds over the containers while evacuating.
	PollInterval time.Duration
}

// Processor handles one container now; processor.Processor, which evacuates instances while
// the flag is set.
type Processor interface {
	Process(ctx context.Context, guid string)
}

// Evacuator runs a cell's evacuation.
type Evacuator struct {
	cfg    Config
	flag   *Flag
	exec   executor.Client
	bbs    *bbs.Client
	proc   Processor
	logger *slog.Logger
}

// New makes an evacuator.
func New(cfg Config, flag *Flag, exec executor.Client, bbsClient *bbs.Client, proc Processor, logger *slog.Logger) *Evacuator {
	return &Evacuator{cfg: cfg, flag: flag, exec: exec, bbs: bbsClient, proc: proc, logger: logger}
}

// Run waits for the flag, then evacuates.
func (e *Evacuator) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	close(ready)
	select {
	case <-signals:
		return nil
	case <-e.flag.Notify():
	}
	start := time.Now()
	e.logger.Info("evacuating", "timeout", e.cfg.Timeout)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deadline := time.NewTimer(e.cfg.Timeout)
	defer deadline.Stop()
	poll := time.NewTicker(e.cfg.PollInterval)
	defer poll.Stop()
	for {
		if e.round(ctx) {
			e.logger.Info("evacuation complete: no container left", "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
		select {
		case <-signals:
			return nil
		case <-deadline.C:
			e.logger.Error("evacuation timed out: destroying what is left", "timeout", e.cfg.Timeout)
			e.cleanup(ctx)
			return nil
		case <-poll.C:
		}
	}
}

// round hands every container to the processor once; true when there is none left.
func (e *Evacuator) round(ctx context.Context) bool {
	containers, err := e.exec.ListContainers(ctx, nil)
	if err != nil {
		e.logger.Error("evacuation: listing containers", "error", err)
		return false
	}
	if len(containers) == 0 {
		return true
	}
	var wg sync.WaitGroup
	for _, c := range containers {
		if c.Tags[convert.LifecycleTag] == convert.TaskLifecycle && c.State != executor.StateCompleted {
			continue // tasks run on; their completion comes through the executor's events
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.proc.Process(ctx, c.Guid)
		}()
	}
	wg.Wait()
	return false
}

// cleanup hands back every instance left and fails every task left, then destroys their
// containers, so the BBS neither routes to them nor waits for them.
func (e *Evacuator) cleanup(ctx context.Context) {
	containers, err := e.exec.ListContainers(ctx, nil)
	if err != nil {
		e.logger.Error("evacuation cleanup: listing containers", "error", err)
		return
	}
	for _, c := range containers {
		log := e.logger.With("container", c.Guid)
		switch c.Tags[convert.LifecycleTag] {
		case convert.LRPLifecycle:
			key, kerr := convert.ActualLRPKeyFromTags(c.Tags)
			ik, ierr := convert.InstanceKey(c, e.cfg.CellID)
			if err := errors.Join(kerr, ierr); err != nil {
				log.Error("evacuation cleanup: container without an instance's keys", "error", err)
				break
			}
			if _, err := e.bbs.EvacuateStoppedActualLRP(ctx, key, ik); err != nil {
				log.Error("evacuation cleanup: handing back the instance", "error", err)
			}
		case convert.TaskLifecycle:
			if err := e.bbs.CompleteTask(ctx, c.Guid, e.cfg.CellID, true, TaskCellGone, ""); err != nil {
				log.Info("evacuation cleanup: failing the task", "error", err)
			}
		}
		if err := e.exec.DeleteContainer(ctx, c.Guid); err != nil && !errors.Is(err, executor.ErrContainerNotFound) {
			log.Error("evacuation cleanup: destroying container", "error", err)
		}
	}
}
