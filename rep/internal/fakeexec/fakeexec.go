// Package fakeexec is an in-memory executor.Client for the rep's unit specs: it allocates
// against a real allocation.Pool and keeps containers as snapshots that a spec moves through
// their states (Run, Complete), delivering the events a real executor would.
package fakeexec

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/allocation"
)

// Executor is the fake. It is safe for concurrent use.
type Executor struct {
	mu         sync.Mutex
	pool       *allocation.Pool
	containers map[string]*executor.Container
	subs       []chan executor.Event
	healthy    bool
	metrics    map[string]executor.ContainerMetrics
	// runError, when set, is returned by every RunContainer.
	runError error
	deleted  []string
	stopped  []string
	// onStop and onDelete, when set, are called as StopContainer and DeleteContainer begin
	onStop, onDelete func(guid string)
}

// New makes an executor with the given capacity, healthy.
func New(total executor.Resources) *Executor {
	return &Executor{pool: allocation.New(total), containers: map[string]*executor.Container{}, healthy: true, metrics: map[string]executor.ContainerMetrics{}}
}

// SetHealthy sets what Healthy answers.
func (e *Executor) SetHealthy(h bool) { e.mu.Lock(); e.healthy = h; e.mu.Unlock() }

// SetRunError makes RunContainer fail with err (nil: succeed).
func (e *Executor) SetRunError(err error) { e.mu.Lock(); e.runError = err; e.mu.Unlock() }

// SetMetrics sets a container's metrics.
func (e *Executor) SetMetrics(guid string, m executor.ContainerMetrics) {
	e.mu.Lock()
	e.metrics[guid] = m
	e.mu.Unlock()
}

// Deleted lists the guids DeleteContainer removed, in order.
func (e *Executor) Deleted() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.deleted...)
}

// Stopped lists the guids StopContainer was called for, in order.
func (e *Executor) Stopped() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.stopped...)
}

// OnStop makes every later StopContainer call f(guid) first, before the container is stopped:
// a spec sees what the world looks like at the moment its process would be signalled.
func (e *Executor) OnStop(f func(guid string)) { e.mu.Lock(); e.onStop = f; e.mu.Unlock() }

// OnDelete makes every later DeleteContainer call f(guid) first, while the container still is
// as it was: what happens while a real executor stops a container it deletes.
func (e *Executor) OnDelete(f func(guid string)) { e.mu.Lock(); e.onDelete = f; e.mu.Unlock() }

// Put adds a container as it is given (a container found at start, in any state), without an event.
func (e *Executor) Put(c executor.Container) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_ = e.pool.Allocate(c.Guid, c.Resource, time.Now())
	cp := c
	e.containers[c.Guid] = &cp
}

// Run moves a container to running with the given host ports (one per container port, in order)
// and addresses, and delivers container_running.
func (e *Executor) Run(guid string, hostPorts ...uint32) {
	e.change(guid, executor.EventTypeContainerRunning, func(c *executor.Container) {
		c.State = executor.StateRunning
		c.ExternalIP, c.InternalIP = "10.0.0.1", "172.16.0.2"
		c.Ports = nil
		for i, p := range c.RunInfo.Ports {
			hp := uint32(0)
			if i < len(hostPorts) {
				hp = hostPorts[i]
			}
			c.Ports = append(c.Ports, executor.PortMapping{ContainerPort: p.ContainerPort, HostPort: hp})
		}
	})
}

// SetReady flips a running container's readiness and delivers container_readiness_changed.
func (e *Executor) SetReady(guid string, ready bool) {
	e.change(guid, executor.EventTypeContainerReadinessChanged, func(c *executor.Container) { c.Ready = ready })
}

// Complete moves a container to completed with r and delivers container_complete.
func (e *Executor) Complete(guid string, r executor.RunResult) {
	e.change(guid, executor.EventTypeContainerComplete, func(c *executor.Container) {
		c.State = executor.StateCompleted
		c.RunResult = r
	})
}

func (e *Executor) change(guid string, t executor.EventType, f func(*executor.Container)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[guid]
	if !ok {
		panic("fakeexec: no container " + guid)
	}
	f(c)
	e.emitLocked(t, c)
}

func (e *Executor) emitLocked(t executor.EventType, c *executor.Container) {
	snap := clone(c)
	for _, s := range e.subs {
		select {
		case s <- executor.Event{Type: t, Container: snap}:
		default:
			panic("fakeexec: a subscriber does not read its events")
		}
	}
}

func clone(c *executor.Container) executor.Container {
	cp := *c
	cp.Tags = maps.Clone(c.Tags)
	return cp
}

func (e *Executor) Ping(ctx context.Context) error { return nil }

func (e *Executor) AllocateContainers(ctx context.Context, reqs []executor.AllocationRequest) []executor.AllocationFailure {
	e.mu.Lock()
	defer e.mu.Unlock()
	var failed []executor.AllocationFailure
	for _, r := range reqs {
		if err := e.pool.Allocate(r.Guid, r.Resource, time.Now()); err != nil {
			failed = append(failed, executor.AllocationFailure{AllocationRequest: r, Reason: err.Error(), Err: err})
			continue
		}
		c := &executor.Container{Guid: r.Guid, Resource: r.Resource, Tags: maps.Clone(r.Tags), State: executor.StateReserved, AllocatedAt: time.Now(), Ready: true}
		e.containers[r.Guid] = c
		e.emitLocked(executor.EventTypeContainerReserved, c)
	}
	return failed
}

func (e *Executor) RunContainer(ctx context.Context, guid string, info executor.RunInfo) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.runError != nil {
		return e.runError
	}
	c, ok := e.containers[guid]
	if !ok {
		return executor.ErrContainerNotFound
	}
	if c.State != executor.StateReserved {
		return executor.ErrInvalidTransition
	}
	c.State = executor.StateInitializing
	c.RunInfo = info
	return nil
}

func (e *Executor) GetContainer(ctx context.Context, guid string) (executor.Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[guid]
	if !ok {
		return executor.Container{}, executor.ErrContainerNotFound
	}
	return clone(c), nil
}

func (e *Executor) ListContainers(ctx context.Context, filter executor.Tags) ([]executor.Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []executor.Container
	for _, c := range e.containers {
		match := true
		for k, v := range filter {
			if c.Tags[k] != v {
				match = false
			}
		}
		if match {
			out = append(out, clone(c))
		}
	}
	return out, nil
}

// StopContainer completes the container as stopped, as a real executor does once its processes end.
func (e *Executor) StopContainer(ctx context.Context, guid string) error {
	e.mu.Lock()
	onStop := e.onStop
	e.mu.Unlock()
	if onStop != nil {
		onStop(guid)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[guid]
	if !ok {
		return executor.ErrContainerNotFound
	}
	e.stopped = append(e.stopped, guid)
	if c.State == executor.StateCompleted {
		return nil
	}
	c.State = executor.StateCompleted
	c.RunResult = executor.RunResult{Stopped: true}
	e.emitLocked(executor.EventTypeContainerComplete, c)
	return nil
}

// UpdateContainer replaces the container's metric tags, as a real executor does.
func (e *Executor) UpdateContainer(ctx context.Context, guid string, metricTags map[string]string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[guid]
	if !ok {
		return executor.ErrContainerNotFound
	}
	c.RunInfo.MetricsConfig.Tags = maps.Clone(metricTags)
	return nil
}

func (e *Executor) DeleteContainer(ctx context.Context, guid string) error {
	e.mu.Lock()
	onDelete := e.onDelete
	e.mu.Unlock()
	if onDelete != nil {
		onDelete(guid)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.containers[guid]; !ok {
		return executor.ErrContainerNotFound
	}
	delete(e.containers, guid)
	e.pool.Free(guid)
	e.deleted = append(e.deleted, guid)
	return nil
}

func (e *Executor) RemainingResources(ctx context.Context) (executor.Resources, error) {
	return e.pool.Remaining(), nil
}

func (e *Executor) TotalResources(ctx context.Context) (executor.Resources, error) {
	return e.pool.Total(), nil
}

func (e *Executor) GetBulkMetrics(ctx context.Context) (map[string]executor.ContainerMetrics, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.metrics), nil
}

// SubscribeToEvents delivers events until ctx ends (buffered; a spec that never reads panics).
func (e *Executor) SubscribeToEvents(ctx context.Context) (<-chan executor.Event, error) {
	if ctx.Err() != nil {
		return nil, errors.New("fakeexec: context done")
	}
	ch := make(chan executor.Event, 4096)
	e.mu.Lock()
	e.subs = append(e.subs, ch)
	e.mu.Unlock()
	go func() {
		<-ctx.Done()
		e.mu.Lock()
		defer e.mu.Unlock()
		for i, s := range e.subs {
			if s == ch {
				e.subs = append(e.subs[:i], e.subs[i+1:]...)
				close(ch)
				return
			}
		}
	}()
	return ch, nil
}

func (e *Executor) Healthy(ctx context.Context) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.healthy
}

var _ executor.Client = (*Executor)(nil)
