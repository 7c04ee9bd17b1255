// Package processor keeps the BBS in line with the cell's containers: for each container it
// makes the BBS calls its state calls for, as upstream's rep does (claim a reserved instance and
// run it, start a running one with its net info, routable flag, zone and metric tags, crash or
// remove a completed one; start a task only when the BBS answers should_start, reject a task that
// failed before its process ran so it is placed again, complete it otherwise). While the cell
// evacuates, instances go through the BBS's evacuate routes instead.
//
//	p := processor.New(processor.Config{CellID: ..., AvailabilityZone: ..., Evacuating: flag.Evacuating,
//		DrainDelay: 2 * time.Second}, executorClient, bbsClient, logger)
//	p is an ifrit.Runner: it follows the executor's events until signalled.
//	p.Process(ctx, guid) handles one container now (bulk sync, evacuation) and returns when done.
//	p.Retire(ctx, guid) stops an instance's container as the BBS asks (after the drain).
//	p.Discard(ctx, guid) destroys an instance's container the BBS has no record for (bulk sync).
//
// Work on one container is never done twice at once: a container's turns run one after the
// other, and a turn asked for while one runs is merged into the next. Each turn reads the
// container afresh, so it acts on its state at that moment, not on the event's. A completed
// container is deleted only once the BBS has its outcome, so a later turn can tell it again.
//
// Retiring a running instance (p.Retire, the rep's stop route) takes it out of the routers
// before its process is signalled: the instance is started again with routable false, and its
// container is stopped Config.DrainDelay later; while the cell evacuates, an instance handed over
// already has its evacuating record removed instead. A running instance whose record went
// (evacuated, or no longer this cell's) is only left up that long before its container goes.
// While an instance drains, no turn marks it routable again.
package processor

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
)

// Reasons a task completes with when the cell could not run it, upstream's words.
const (
	TaskFailedToRunContainer = "failed to run container"
	TaskMissingContainer     = "task container does not exist"
)

// Config of a processor.
type Config struct {
	CellID           string
	AvailabilityZone string
	Convert          convert.Options
	// Evacuating reports whether the cell is leaving; nil: never.
	Evacuating func() bool
	// AppLog, when set, writes a line into an instance's app log (its container's LogConfig):
	// the processor tells the app when the cell asks for its replacement, as upstream's rep.
	AppLog func(cfg executor.LogConfig, line string)
	// DrainDelay is how long a retired running instance stays up after its route went, so the
	// routers drop it before its process is signalled; 0: it is stopped at once, as upstream's.
	DrainDelay time.Duration
}

// Processor processes the cell's containers. It is safe for concurrent use.
type Processor struct {
	cfg    Config
	exec   executor.Client
	bbs    *bbs.Client
	logger *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	turns map[string]*turn
	// replacing holds the containers whose replacement was asked for (told once in the app log)
	replacing sync.Map
	// draining holds the containers of running instances being retired (guid -> unroute: the
	// BBS still has the record, and its turns mark it unroutable), until they are deleted
	draining sync.Map
}

// turn is a container's pending work: again asks for one more pass, waiters are told when it is
// done.
type turn struct {
	again   bool
	waiters []chan struct{}
}

// New makes a processor.
func New(cfg Config, exec executor.Client, bbsClient *bbs.Client, logger *slog.Logger) *Processor {
	if cfg.Evacuating == nil {
		cfg.Evacuating = func() bool { return false }
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Processor{cfg: cfg, exec: exec, bbs: bbsClient, logger: logger, ctx: ctx, cancel: cancel, turns: map[string]*turn{}}
}

// Run follows the executor's events and processes the container of each; it is ready once
// subscribed, and stops at a signal (pending turns are abandoned).
func (p *Processor) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	defer p.cancel()
	events, err := p.exec.SubscribeToEvents(p.ctx)
	if err != nil {
		return fmt.Errorf("subscribing to the executor's events: %w", err)
	}
	close(ready)
	for {
		select {
		case <-signals:
			return nil
		case e, ok := <-events:
			if !ok {
				return errors.New("the executor's event stream ended")
			}
			p.schedule(e.Container.Guid)
		}
	}
}

// Process handles the container guid now and returns when that is done (or ctx ends).
func (p *Processor) Process(ctx context.Context, guid string) {
	select {
	case <-p.schedule(guid):
	case <-ctx.Done():
	}
}

func (p *Processor) schedule(guid string) <-chan struct{} {
	done := make(chan struct{})
	p.mu.Lock()
	defer p.mu.Unlock()
	t, busy := p.turns[guid]
	if !busy {
		t = &turn{}
		p.turns[guid] = t
		go p.loop(guid, t)
	}
	t.again = true
	t.waiters = append(t.waiters, done)
	return done
}

func (p *Processor) loop(guid string, t *turn) {
	for {
		p.mu.Lock()
		if !t.again {
			delete(p.turns, guid)
			p.mu.Unlock()
			return
		}
		t.again = false
		waiters := t.waiters
		t.waiters = nil
		p.mu.Unlock()
		p.process(guid)
		for _, w := range waiters {
			close(w)
		}
	}
}

func (p *Processor) process(guid string) {
	if p.ctx.Err() != nil {
		return
	}
	c, err := p.exec.GetContainer(p.ctx, guid)
	if err != nil {
		if !errors.Is(err, executor.ErrContainerNotFound) {
			p.logger.Error("reading container", "container", guid, "error", err)
			return
		}
		p.forget(guid)
		return
	}
	switch c.Tags[convert.LifecycleTag] {
	case convert.LRPLifecycle:
		p.processLRP(c)
	case convert.TaskLifecycle:
		p.processTask(c)
	default:
		p.logger.Error("container of no known lifecycle", "container", guid, "lifecycle", c.Tags[convert.LifecycleTag])
	}
}

// settled reports whether the BBS decided what the cell told it about the container guid: it
// did it, or it answered that the record is gone or refused it as one of refusals (the record is
// another's or past that state), which telling again cannot change. A BBS that did not answer,
// or failed, decided nothing: the container is kept for the next turn to tell it again.
func (p *Processor) settled(guid, what string, err error, refusals ...*models.Error) bool {
	if err == nil {
		return true
	}
	for _, r := range append(refusals, models.ErrResourceNotFound) {
		if errors.Is(err, r) {
			p.logger.Info(what, "container", guid, "error", err)
			return true
		}
	}
	p.logger.Error(what+": keeping the container to tell the BBS again", "container", guid, "error", err)
	return false
}

// deleteContainer destroys a container and frees its resources. What the processor holds about
// it goes only once it is gone: a turn while its process stops must not hand it over, or drain
// it, again. A container that could not be deleted is no longer draining, so a later turn
// decides on it afresh.
func (p *Processor) deleteContainer(guid string) {
	if err := p.exec.DeleteContainer(p.ctx, guid); err != nil && !errors.Is(err, executor.ErrContainerNotFound) {
		p.logger.Error("deleting container", "container", guid, "error", err)
		p.draining.Delete(guid)
		return
	}
	p.forget(guid)
}

// forget drops what the processor holds about a container that is gone.
func (p *Processor) forget(guid string) {
	p.replacing.Delete(guid)
	p.draining.Delete(guid)
}

// Retire stops an instance's container as the BBS asked (the stop route): a running instance
// the BBS routes is first marked unroutable and stopped after the drain; any other is stopped at
// once. It returns before the drain; a retire asked again while the instance drains does nothing.
func (p *Processor) Retire(ctx context.Context, guid string) error {
	c, err := p.exec.GetContainer(ctx, guid)
	if err != nil {
		return err
	}
	// not ready: the BBS has it unroutable already (its turns told it the readiness)
	if p.cfg.DrainDelay <= 0 || c.State != executor.StateRunning || !c.Ready {
		return p.exec.StopContainer(ctx, guid)
	}
	p.drain(guid, true, p.stopContainer)
	return nil
}

// Discard destroys the container of an instance the BBS has no record of on this cell (bulk
// sync): a running one after the drain, since its route may have gone with its record just now.
func (p *Processor) Discard(ctx context.Context, guid string) {
	c, err := p.exec.GetContainer(ctx, guid)
	if err != nil {
		if !errors.Is(err, executor.ErrContainerNotFound) {
			p.logger.Error("reading container", "container", guid, "error", err)
		}
		return
	}
	p.afterDrain(c, p.deleteContainer)
}

// afterDrain ends (stops or deletes) the container of an instance whose record the BBS no
// longer routes (removed, or another container's): a running one after the drain, any other at
// once.
func (p *Processor) afterDrain(c executor.Container, end func(guid string)) {
	if p.cfg.DrainDelay <= 0 || c.State != executor.StateRunning {
		end(c.Guid)
		return
	}
	p.drain(c.Guid, false, end)
}

// drain marks the container draining and ends it DrainDelay after the BBS has it unroutable:
// with unroute, after a turn that marks its instance so; otherwise from now. A container already
// draining is left to its drain. When the processor stops (the rep exits), the drain is
// abandoned and the container stays, as every container does.
func (p *Processor) drain(guid string, unroute bool, end func(guid string)) {
	if _, busy := p.draining.LoadOrStore(guid, unroute); busy {
		return
	}
	p.logger.Info("draining instance", "container", guid, "delay", p.cfg.DrainDelay, "unroute", unroute)
	go func() {
		if unroute {
			// a turn under way may have read the container before it drained: the turn this
			// waits for starts after it, so it is the one that tells the BBS
			select {
			case <-p.schedule(guid):
			case <-p.ctx.Done():
				return
			}
		}
		t := time.NewTimer(p.cfg.DrainDelay)
		defer t.Stop()
		select {
		case <-t.C:
			end(guid)
		case <-p.ctx.Done():
		}
	}()
}

// stopContainer ends the container's processes gracefully (SIGTERM, SIGKILL after the grace
// period); its completion comes back as an event.
func (p *Processor) stopContainer(guid string) {
	if err := p.exec.StopContainer(p.ctx, guid); err != nil && !errors.Is(err, executor.ErrContainerNotFound) {
		p.logger.Error("stopping container", "container", guid, "error", err)
	}
}
