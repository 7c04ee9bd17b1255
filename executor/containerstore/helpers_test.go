package containerstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/allocation"
	"github.com/diego-go/diego/executor/containerstore"
	"github.com/diego-go/diego/executor/logstream"
)

// published keeps what the log streams publish.
type published struct {
	mu    sync.Mutex
	lines []string
}

func (p *published) Publish(_ string, data []byte) error {
	var m logstream.Message
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, m.Message)
	return nil
}

func (p *published) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// events keeps what the store emits.
type events struct {
	mu  sync.Mutex
	all []executor.Event
}

func (e *events) emit(ev executor.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) Types(guid string) []executor.EventType {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []executor.EventType
	for _, ev := range e.all {
		if ev.Container.Guid == guid {
			out = append(out, ev.Type)
		}
	}
	return out
}

// processStep stands in for executor/steps in this package's specs: it runs (or, adopting,
// attaches to) one garden process, reports the instance healthy once the process started and
// stops it with SIGTERM when cancelled.
type processStep struct {
	in   containerstore.StepInput
	spec garden.ProcessSpec
	// abandon: after starting the process, wait only for cancellation, as an executor that was
	// killed would never see the process end
	abandon bool
}

func (p *processStep) Perform(ctx context.Context) error {
	spec := p.spec
	spec.ID = p.in.Container.Handle() + "-run"
	spec.Env = append(envStrings(p.in.Info.Env), spec.Env...)
	pio := garden.ProcessIO{Stdout: io.MultiWriter(p.in.Logs.Stdout(), GinkgoWriter), Stderr: io.MultiWriter(p.in.Logs.Stderr(), GinkgoWriter)}
	var proc garden.Process
	var err error
	if p.in.Adopt {
		proc, err = p.in.Container.Attach(spec.ID, pio)
	} else {
		proc, err = p.in.Container.Run(spec, pio)
	}
	if err != nil {
		return err
	}
	p.in.Callbacks.OnHealthy()
	if p.abandon {
		<-ctx.Done()
		return errors.New("cancelled")
	}
	exited := make(chan int, 1)
	go func() {
		status, _ := proc.Wait()
		exited <- status
	}()
	select {
	case status := <-exited:
		if status != 0 {
			return fmt.Errorf("Exited with status %d", status)
		}
		return nil
	case <-ctx.Done():
		_ = proc.Signal(garden.SignalTerminate)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = proc.Signal(garden.SignalKill)
			<-exited
		}
		return errors.New("cancelled")
	}
}

func envStrings(env []executor.EnvironmentVariable) []string {
	var out []string
	for _, e := range env {
		out = append(out, e.Name+"="+e.Value)
	}
	return out
}

// builder runs spec as the container's run step; a non-empty setupFails fails the setup step.
func builder(spec garden.ProcessSpec, setupFails string) containerstore.BuildFunc {
	return func(in containerstore.StepInput) (containerstore.Step, containerstore.Step) {
		var setup containerstore.Step
		if setupFails != "" {
			setup = failing(setupFails)
		}
		return setup, &processStep{in: in, spec: spec}
	}
}

// abandoning starts spec and never looks at it again.
func abandoning(spec garden.ProcessSpec) containerstore.BuildFunc {
	return func(in containerstore.StepInput) (containerstore.Step, containerstore.Step) {
		return nil, &processStep{in: in, spec: spec, abandon: true}
	}
}

// waiting is healthy at once and ends only when cancelled: a container whose garden process
// is not what ends it.
func waiting(in containerstore.StepInput) (containerstore.Step, containerstore.Step) {
	return nil, waitingStep(in.Callbacks.OnHealthy)
}

type waitingStep func()

func (w waitingStep) Perform(ctx context.Context) error {
	w()
	<-ctx.Done()
	return errors.New("cancelled")
}

type failing string

func (f failing) Perform(context.Context) error { return errors.New(string(f)) }

type harness struct {
	store  *containerstore.Store
	pool   *allocation.Pool
	events *events
	logs   *published
	cfg    containerstore.Config
}

func newHarness(gc garden.Client, build containerstore.BuildFunc, modify ...func(*containerstore.Config)) *harness {
	h := &harness{
		pool:   allocation.New(executor.Resources{MemoryMB: 1024, DiskMB: 4096, Containers: 10}),
		events: &events{},
		logs:   &published{},
	}
	h.cfg = containerstore.Config{
		CellID: "cell-z1-0",
		Garden: gc,
		Pool:   h.pool,
		Logger: slog.New(slog.NewTextHandler(GinkgoWriter, nil)),
		Build:  build,
		NewLogs: func(c executor.LogConfig) logstream.Streamer {
			return logstream.New(h.logs, c, logstream.Limits{})
		},
		Emit: h.events.emit,
		FetchDir: func(ctx context.Context, dep executor.CachedDependency) (string, func(), error) {
			return "", nil, fmt.Errorf("no cache in this spec: %s", dep.From)
		},
		Hold:         func(executor.CachedDependency) (func(), bool) { return nil, false },
		MaxCPUShares: 1024,
		InodeLimit:   200000,
	}
	for _, m := range modify {
		m(&h.cfg)
	}
	h.store = containerstore.New(h.cfg)
	return h
}

func (h *harness) state(guid string) func() executor.State {
	return func() executor.State {
		c, err := h.store.Get(guid)
		if err != nil {
			return ""
		}
		return c.State
	}
}

// flakyGarden is a garden client whose containers' Info fails while failures is above 0 (each
// failed call takes one): a garden that does not answer for a moment.
type flakyGarden struct {
	garden.Client
	failures atomic.Int32
}

func (f *flakyGarden) Containers(p garden.Properties) ([]garden.Container, error) {
	list, err := f.Client.Containers(p)
	for i, c := range list {
		list[i] = flakyContainer{Container: c, f: f}
	}
	return list, err
}

type flakyContainer struct {
	garden.Container
	f *flakyGarden
}

func (c flakyContainer) Info() (garden.ContainerInfo, error) {
	if c.f.failures.Add(-1) >= 0 {
		return garden.ContainerInfo{}, errors.New("garden did not answer")
	}
	c.f.failures.Store(0)
	return c.Container.Info()
}
