package steps

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/garden"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/logstream"
	"github.com/diego-go/diego/models"
)

const (
	defaultUnhealthyInterval = 2 * time.Second
	defaultHealthyInterval   = 30 * time.Second
	defaultGracePeriod       = 10 * time.Second
	// defaultCheckTimeout is a check's connect or request timeout when it names none (as upstream).
	defaultCheckTimeout = time.Second
	// checkNofile is the open files limit of a health check process (as upstream).
	checkNofile uint64 = 1024
	// HealthLogSource is the log source of health checks unless the CheckDefinition names one.
	HealthLogSource = "HEALTH"
)

// Build turns a RunInfo into its setup step (nil when there is none) and its run step: the
// action, the sidecars and the monitor or the checks, side by side. cb.OnHealthy fires when the
// run step counts as running. In adopt mode the setup is part of the run step (see the package
// doc) and the setup step returned is nil.
func Build(info executor.RunInfo, deps Deps, cb Callbacks) (setup, run Step) {
	b := &builder{info: info, deps: deps, nonce: strconv.FormatInt(time.Now().UnixNano(), 36)}
	b.defaults()
	root := logs{s: deps.Logs, source: info.LogConfig.SourceName}
	if root.source == "" {
		root.source = logstream.DefaultSourceName
	}
	var setupNode node
	if info.Setup != nil {
		setupNode = b.action(info.Setup, root, "setup")
	}
	setupIDs := b.ids
	if info.Action == nil {
		return setup, performer{n: failed{errors.New("container cannot have empty action")}}
	}
	action := b.action(info.Action, root, "action")
	nodes := []node{action}
	for i, sc := range info.Sidecars {
		nodes = append(nodes, b.action(sc.Action, root, fmt.Sprintf("sidecar-%d", i)))
	}
	runIDs := b.ids[len(setupIDs):]
	// Checks need cmd/healthcheck in the container; without it the Monitor action stands in, as
	// upstream did when declarative health checks were off.
	if cd := info.CheckDefinition; cd != nil && deps.HealthCheckPath != "" {
		checkLogs := root.with(HealthLogSource).with(cd.LogSource)
		if len(cd.Checks) > 0 {
			nodes = append(nodes, b.checks(cd.Checks, root, checkLogs))
		}
		if len(cd.ReadinessChecks) > 0 {
			nodes = append(nodes, b.readiness(cd.ReadinessChecks, checkLogs, cb.OnReadinessChanged))
		}
	} else if info.Monitor != nil {
		nodes = append(nodes, b.monitor(info.Monitor, root))
	}
	top := action
	if len(nodes) > 1 {
		top = &codependentStep{steps: nodes, stopOthersOnExit: len(info.Sidecars) > 0}
	}
	switch {
	case setupNode == nil:
	case deps.Adopt:
		top = &serialStep{steps: []node{setupNode, top}, resumeAt: func() int { return b.resumeAt([][]string{setupIDs, runIDs}) }}
	default:
		setup = performer{n: setupNode}
	}
	return setup, performer{n: top, onReady: cb.OnHealthy}
}

type builder struct {
	info  executor.RunInfo
	deps  Deps
	env   []string
	grace time.Duration
	// ids are the fixed process ids of the Run steps built so far, in build order.
	ids []string
	// nonce and seq make the ids of repeated checks unique, also across executor restarts.
	nonce string
	seq   atomic.Int64
	// found is what an earlier executor left in the container, read when an adopted tree first
	// asks: the processes garden runs and those marked started.
	foundOnce sync.Once
	found     foundProcesses
}

type foundProcesses struct {
	running, started map[string]bool
	err              error
}

func (b *builder) foundProcesses() foundProcesses {
	b.foundOnce.Do(func() {
		b.found = foundProcesses{running: map[string]bool{}, started: map[string]bool{}}
		info, err := b.deps.Container.Info()
		if err != nil {
			b.found.err = err
			return
		}
		for _, id := range info.ProcessIDs {
			b.found.running[id] = true
		}
		for name := range info.Properties {
			if id, ok := strings.CutPrefix(name, StartedPropertyPrefix); ok {
				b.found.started[id] = true
			}
		}
	})
	return b.found
}

func (b *builder) startedBefore(id string) (bool, error) {
	f := b.foundProcesses()
	return f.started[id], f.err
}

func (b *builder) defaults() {
	if b.deps.UnhealthyInterval <= 0 {
		b.deps.UnhealthyInterval = defaultUnhealthyInterval
	}
	if b.deps.HealthyInterval <= 0 {
		b.deps.HealthyInterval = defaultHealthyInterval
	}
	b.grace = b.info.GracePeriod
	if b.grace <= 0 {
		b.grace = b.deps.GracePeriod
	}
	if b.grace <= 0 {
		b.grace = defaultGracePeriod
	}
	for _, e := range b.info.Env {
		b.env = append(b.env, e.Name+"="+e.Value)
	}
}

// processID is the garden process id of the step at pos in the tree.
func (b *builder) processID(pos string) string {
	if b.deps.ProcessIDPrefix == "" {
		return pos
	}
	return b.deps.ProcessIDPrefix + "-" + pos
}

// action builds the step of one action at pos ("action-0-1": the second child of the first
// child of the action).
func (b *builder) action(a *models.Action, l logs, pos string) node {
	return b.node(a, l, pos, false)
}

// node builds an action's step. In a monitor (repeated checks) nothing is adopted, process ids
// are garden's, exit statuses are left out of reasons and the output of steps run side by side
// becomes their error (as upstream).
func (b *builder) node(a *models.Action, l logs, pos string, monitor bool) node {
	child := func(a *models.Action, l logs, i int) node {
		return b.node(a, l, fmt.Sprintf("%s-%d", pos, i), monitor)
	}
	switch {
	case a.GetRunAction() != nil:
		ra := a.GetRunAction()
		s := &runStep{
			container: b.deps.Container, action: ra, logs: l.with(ra.LogSource),
			env: b.env, grace: b.grace, quietExit: monitor,
		}
		if monitor {
			copied := proto.Clone(ra).(*models.RunAction)
			copied.SuppressLogOutput = false
			s.action = copied
			s.processID = func() string { return "" }
		} else {
			id := b.processID(pos)
			b.ids = append(b.ids, id)
			s.processID = func() string { return id }
			s.adopt, s.recordStart = b.deps.Adopt, true
			if b.deps.Adopt {
				s.startedBefore = b.startedBefore
			}
		}
		return s
	case a.GetDownloadAction() != nil:
		da := a.GetDownloadAction()
		return &downloadStep{container: b.deps.Container, fetcher: b.deps.Cache, action: da, logs: l.with(da.LogSource)}
	case a.GetUploadAction() != nil:
		ua := a.GetUploadAction()
		return &uploadStep{container: b.deps.Container, client: b.deps.HTTPClient, action: ua, logs: l.with(ua.LogSource)}
	case a.GetEmitProgressAction() != nil:
		ea := a.GetEmitProgressAction()
		return &emitProgressStep{
			step:  b.node(ea.Action, l, pos, monitor),
			start: ea.StartMessage, success: ea.SuccessMessage, failurePrefix: ea.FailureMessagePrefix,
			logs: l.with(ea.LogSource),
		}
	case a.GetTimeoutAction() != nil:
		ta := a.GetTimeoutAction()
		return &timeoutStep{step: b.node(ta.Action, l.with(ta.LogSource), pos, monitor), timeout: time.Duration(ta.TimeoutMs) * time.Millisecond}
	case a.GetTryAction() != nil:
		ta := a.GetTryAction()
		return &tryStep{step: b.node(ta.Action, l.with(ta.LogSource), pos, monitor)}
	case a.GetSerialAction() != nil:
		s := &serialStep{}
		var ids [][]string
		for i, ca := range a.GetSerialAction().Actions {
			mark := len(b.ids)
			s.steps = append(s.steps, child(ca, l, i))
			ids = append(ids, b.ids[mark:])
		}
		if b.deps.Adopt && !monitor {
			s.resumeAt = func() int { return b.resumeAt(ids) }
		}
		return s
	case a.GetParallelAction() != nil:
		pa := a.GetParallelAction()
		return &parallelStep{steps: b.sideBySide(pa.Actions, l.with(pa.LogSource), child, monitor)}
	case a.GetCodependentAction() != nil:
		ca := a.GetCodependentAction()
		return &codependentStep{steps: b.sideBySide(ca.Actions, l.with(ca.LogSource), child, monitor), errorOnExit: true}
	}
	return failed{fmt.Errorf("unknown action at %s", pos)}
}

func (b *builder) sideBySide(actions []*models.Action, l logs, child func(*models.Action, logs, int) node, monitor bool) []node {
	var out []node
	for i, a := range actions {
		if !monitor {
			out = append(out, child(a, l, i))
			continue
		}
		buf := &syncBuffer{}
		out = append(out, &outputStep{step: child(a, logs{s: bufferStreamer{buf}, source: l.source}, i), output: buf})
	}
	return out
}

// resumeAt is where an adopted serial step goes on: at its last child with a process started
// (running or not), since a serial step only starts a child once the ones before it succeeded.
func (b *builder) resumeAt(childIDs [][]string) int {
	f := b.foundProcesses()
	for i := len(childIDs) - 1; i >= 0; i-- {
		for _, id := range childIDs[i] {
			if f.running[id] || f.started[id] {
				return i
			}
		}
	}
	return 0
}

func (b *builder) monitor(a *models.Action, root logs) node {
	check := b.node(a, root, "", true)
	return &healthStep{
		startup:  &eventuallyStep{check: check, interval: b.deps.UnhealthyInterval, timeout: b.startTimeout()},
		liveness: &consistentlyStep{check: check, interval: b.deps.HealthyInterval},
		logs:     root, checkLogs: root,
	}
}

func (b *builder) startTimeout() time.Duration {
	return time.Duration(b.info.StartTimeoutMs) * time.Millisecond
}

// checks: one startup and one liveness process of cmd/healthcheck per check, each looping inside
// the container (as upstream).
func (b *builder) checks(checks []*models.Check, root, checkLogs logs) node {
	startup, liveness := &parallelStep{}, &codependentStep{}
	for i, c := range checks {
		startupID, livenessID := b.processID(fmt.Sprintf("startup-healthcheck-%d", i)), b.processID(fmt.Sprintf("liveness-healthcheck-%d", i))
		s := b.check(c, checkLogs, fmt.Sprintf("-startup-interval=%s", b.deps.UnhealthyInterval), fmt.Sprintf("-startup-timeout=%s", b.startTimeout()))
		l := b.check(c, checkLogs, fmt.Sprintf("-liveness-interval=%s", b.checkInterval(c)))
		if s == nil {
			continue
		}
		s.proc.processID, s.proc.adopt = func() string { return startupID }, b.deps.Adopt
		l.proc.processID, l.proc.adopt = func() string { return livenessID }, b.deps.Adopt
		startup.steps = append(startup.steps, s)
		liveness.steps = append(liveness.steps, l)
	}
	return &healthStep{startup: startup, liveness: liveness, logs: root, checkLogs: checkLogs}
}

func (b *builder) readiness(checks []*models.Check, checkLogs logs, changed func(bool)) node {
	if changed == nil {
		changed = func(bool) {}
	}
	build := func(kind string, arg func(c *models.Check) string) []*checkStep {
		var out []*checkStep
		for i, c := range checks {
			s := b.check(c, checkLogs, arg(c))
			if s == nil {
				continue
			}
			prefix := b.processID(fmt.Sprintf("%s-healthcheck-%d-%s-", kind, i, b.nonce))
			s.proc.processID = func() string { return prefix + strconv.FormatInt(b.seq.Add(1), 10) }
			out = append(out, s)
		}
		return out
	}
	untilReady := build("until-ready", func(*models.Check) string {
		return fmt.Sprintf("-until-ready-interval=%s", b.deps.UnhealthyInterval)
	})
	untilFailure := build("readiness", func(c *models.Check) string {
		return fmt.Sprintf("-readiness-interval=%s", b.checkInterval(c))
	})
	return &readinessStep{
		untilReady:   &parallelStep{steps: nodes(untilReady)},
		untilFailure: &codependentStep{steps: nodes(untilFailure), errorOnExit: true, stopOthersOnExit: true},
		logs:         checkLogs, changed: changed,
		stale: func() {
			if b.deps.Adopt {
				b.killStale(b.processID("until-ready-healthcheck-"), b.processID("readiness-healthcheck-"))
			}
		},
	}
}

// checkStep is one run of cmd/healthcheck whose output is its error.
type checkStep struct {
	outputStep
	proc *runStep
}

// check is the healthcheck process for one check, or nil for a check of no known kind.
func (b *builder) check(c *models.Check, checkLogs logs, modeArgs ...string) *checkStep {
	var args []string
	switch {
	case c.GetTcpCheck() != nil:
		t := c.GetTcpCheck()
		args = []string{fmt.Sprintf("-port=%d", t.Port), fmt.Sprintf("-timeout=%dms", checkTimeoutMs(t.ConnectTimeoutMs))}
	case c.GetHttpCheck() != nil:
		h := c.GetHttpCheck()
		path := h.Path
		if path == "" {
			path = "/"
		}
		args = []string{fmt.Sprintf("-port=%d", h.Port), fmt.Sprintf("-timeout=%dms", checkTimeoutMs(h.RequestTimeoutMs)), "-uri=" + path}
	default:
		return nil
	}
	nofile := checkNofile
	buf := &syncBuffer{}
	run := &runStep{
		container: b.deps.Container,
		action: &models.RunAction{
			Path: b.deps.HealthCheckPath, Args: append(args, modeArgs...),
			ResourceLimits: &models.ResourceLimits{Nofile: &nofile}, LogSource: checkLogs.source,
		},
		logs:      logs{s: bufferStreamer{buf}, source: checkLogs.source},
		grace:     b.grace,
		quietExit: true,
	}
	return &checkStep{outputStep: outputStep{step: run, output: buf}, proc: run}
}

func checkTimeoutMs(ms uint64) uint64 {
	if ms == 0 {
		return uint64(defaultCheckTimeout / time.Millisecond)
	}
	return ms
}

// checkInterval is the check's own interval, else the cell's healthy one.
func (b *builder) checkInterval(c *models.Check) time.Duration {
	var ms uint64
	if t := c.GetTcpCheck(); t != nil {
		ms = t.IntervalMs
	} else if h := c.GetHttpCheck(); h != nil {
		ms = h.IntervalMs
	}
	if ms == 0 {
		return b.deps.HealthyInterval
	}
	return time.Duration(ms) * time.Millisecond
}

// killStale kills the processes an earlier executor left running whose ids start with one of
// prefixes: repeated checks it started that nothing will wait for any more.
func (b *builder) killStale(prefixes ...string) {
	info, err := b.deps.Container.Info()
	if err != nil {
		return
	}
	for _, id := range info.ProcessIDs {
		for _, p := range prefixes {
			if !strings.HasPrefix(id, p) {
				continue
			}
			if proc, err := b.deps.Container.Attach(id, garden.ProcessIO{}); err == nil {
				proc.Signal(garden.SignalKill)
				go proc.Wait()
			}
		}
	}
}

func nodes(cs []*checkStep) []node {
	out := make([]node, len(cs))
	for i, c := range cs {
		out[i] = c
	}
	return out
}

// failed is a step that cannot run: it fails with err at once.
type failed struct{ err error }

func (f failed) run(context.Context, func()) error { return f.err }
