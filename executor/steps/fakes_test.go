package steps_test

import (
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	"code.cloudfoundry.org/garden"
	"code.cloudfoundry.org/garden/gardenfakes"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor/logstream"
	"github.com/diego-go/diego/executor/steps"
)

// logLine is one line a step wrote to the log stream.
type logLine struct{ Source, Stream, Text string }

// recorder is a log streamer keeping every line with its source.
type recorder struct {
	root   *recorderLines
	source string
}

type recorderLines struct {
	mu    sync.Mutex
	lines []logLine
}

func newRecorder(source string) *recorder { return &recorder{root: &recorderLines{}, source: source} }

func (r *recorder) Stdout() io.Writer { return lineWriter{r, "stdout"} }
func (r *recorder) Stderr() io.Writer { return lineWriter{r, "stderr"} }
func (r *recorder) Flush()            {}
func (r *recorder) WithSource(s string) logstream.Streamer {
	return &recorder{root: r.root, source: s}
}

// Lines are "SOURCE stream: text".
func (r *recorder) Lines() []string {
	r.root.mu.Lock()
	defer r.root.mu.Unlock()
	var out []string
	for _, l := range r.root.lines {
		out = append(out, fmt.Sprintf("%s %s: %s", l.Source, l.Stream, l.Text))
	}
	return out
}

type lineWriter struct {
	r      *recorder
	stream string
}

func (w lineWriter) Write(p []byte) (int, error) {
	w.r.root.mu.Lock()
	defer w.r.root.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.r.root.lines = append(w.r.root.lines, logLine{w.r.source, w.stream, l})
	}
	return len(p), nil
}

// fakeProc is a process in the fake container: it runs until Exit is called or it is signalled
// (SIGTERM ends it with 143 unless IgnoreTerm, SIGKILL with 137).
type fakeProc struct {
	*gardenfakes.FakeProcess
	Spec       garden.ProcessSpec
	IgnoreTerm bool

	mu      sync.Mutex
	io      garden.ProcessIO
	signals []garden.Signal
	once    sync.Once
	done    chan struct{}
	code    int
}

func (p *fakeProc) Exit(code int) {
	p.once.Do(func() {
		p.code = code
		close(p.done)
	})
}

// Stdout and Stderr are where the step that ran or last attached to the process reads them.
func (p *fakeProc) Stdout() io.Writer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.io.Stdout
}

func (p *fakeProc) Stderr() io.Writer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.io.Stderr
}

func (p *fakeProc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *fakeProc) Signals() []garden.Signal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]garden.Signal{}, p.signals...)
}

// fakeGarden is a garden.Container whose processes are fakeProcs. OnRun, when set, is told of
// each new process (in its own goroutine) to script it.
type fakeGarden struct {
	*gardenfakes.FakeContainer
	mu     sync.Mutex
	procs  []*fakeProc
	byID   map[string]*fakeProc
	OnRun  func(p *fakeProc)
	Events []string
	gates  map[string]chan struct{}
	props  garden.Properties
}

// AddEvent adds a container event as garden reports it.
func (g *fakeGarden) AddEvent(ev string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.Events = append(g.Events, ev)
}

// Gate holds Run of path until gate is closed.
func (g *fakeGarden) Gate(path string, gate chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gates[path] = gate
}

func newFakeGarden() *fakeGarden {
	g := &fakeGarden{FakeContainer: &gardenfakes.FakeContainer{}, byID: map[string]*fakeProc{}, gates: map[string]chan struct{}{},
		props: garden.Properties{}}
	g.SetPropertyStub = func(name, value string) error {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.props[name] = value
		return nil
	}
	g.RunStub = func(spec garden.ProcessSpec, pio garden.ProcessIO) (garden.Process, error) {
		g.mu.Lock()
		gate := g.gates[spec.Path]
		g.mu.Unlock()
		if gate != nil {
			<-gate
		}
		p := g.newProc(spec, pio)
		if g.OnRun != nil {
			go g.OnRun(p)
		}
		return p, nil
	}
	g.AttachStub = func(id string, pio garden.ProcessIO) (garden.Process, error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		p, ok := g.byID[id]
		if !ok {
			return nil, garden.ProcessNotFoundError{ProcessID: id}
		}
		p.mu.Lock()
		p.io = pio
		p.mu.Unlock()
		return p, nil
	}
	g.InfoStub = func() (garden.ContainerInfo, error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		info := garden.ContainerInfo{Events: append([]string(nil), g.Events...), Properties: maps.Clone(g.props)}
		for id, p := range g.byID {
			if !p.Exited() {
				info.ProcessIDs = append(info.ProcessIDs, id)
			}
		}
		return info, nil
	}
	return g
}

func (g *fakeGarden) newProc(spec garden.ProcessSpec, pio garden.ProcessIO) *fakeProc {
	p := &fakeProc{FakeProcess: &gardenfakes.FakeProcess{}, Spec: spec, io: pio, done: make(chan struct{})}
	p.IDReturns(spec.ID)
	p.WaitStub = func() (int, error) {
		<-p.done
		return p.code, nil
	}
	p.SignalStub = func(s garden.Signal) error {
		p.mu.Lock()
		p.signals = append(p.signals, s)
		ignore := p.IgnoreTerm
		p.mu.Unlock()
		switch {
		case s == garden.SignalKill:
			p.Exit(137)
		case !ignore:
			p.Exit(143)
		}
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.procs = append(g.procs, p)
	if spec.ID != "" {
		g.byID[spec.ID] = p
	}
	return p
}

// Forgotten is a process an earlier executor started (and marked so) that garden no longer knows.
func (g *fakeGarden) Forgotten(id string) {
	g.SetProperty(steps.StartedProperty(id), "true")
}

// Adopted puts a process that an earlier executor started into the container.
func (g *fakeGarden) Adopted(id string) *fakeProc {
	return g.newProc(garden.ProcessSpec{ID: id}, garden.ProcessIO{})
}

func (g *fakeGarden) Procs() []*fakeProc {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*fakeProc{}, g.procs...)
}

// Proc waits for the process started with path (and, when given, an argument containing arg).
func (g *fakeGarden) Proc(path string, arg ...string) *fakeProc {
	var found *fakeProc
	EventuallyWithOffset(1, func() bool {
		for _, p := range g.Procs() {
			if p.Spec.Path == path && (len(arg) == 0 || strings.Contains(strings.Join(p.Spec.Args, " "), arg[0])) {
				found = p
				return true
			}
		}
		return false
	}, 5*time.Second, 5*time.Millisecond).Should(BeTrue(), "process %s %v never started", path, arg)
	return found
}
