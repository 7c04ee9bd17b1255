package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"code.cloudfoundry.org/garden"

	"github.com/diego-go/diego/executor/logstream"
	"github.com/diego-go/diego/models"
)

// exitTimeout is how long a process may take to be reaped after SIGKILL before the step gives up
// on it (as upstream).
const exitTimeout = time.Second

// logs is a streamer with the name of its source, which crash reasons start with.
type logs struct {
	s      logstream.Streamer
	source string
}

// with is the streamer for an action's log_source; "" keeps the enclosing one.
func (l logs) with(source string) logs {
	if source == "" || source == l.source {
		return l
	}
	return logs{s: l.s.WithSource(source), source: source}
}

func (l logs) stdout() io.Writer { return l.s.Stdout() }
func (l logs) stderr() io.Writer { return l.s.Stderr() }

// line writes one line to stdout and flushes it, so that it is not held back behind later output.
func (l logs) line(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format+"\n", args...)
	l.s.Flush()
}

// failure logs a check's failure on stderr; a monitor's has no text of its own.
func (l logs) failure(err error) {
	if msg := err.Error(); msg != "" {
		l.line(l.stderr(), "%s", msg)
	}
}

// runStep runs one process in the container.
type runStep struct {
	container garden.Container
	action    *models.RunAction
	logs      logs
	env       []string
	grace     time.Duration
	// processID names each attempt's garden process; "" lets garden choose.
	processID func() string
	// adopt: attach to a process of that id first; start one only when there is none and
	// startedBefore says no earlier executor started it.
	adopt bool
	// recordStart marks the process started in the container's properties before it starts
	// (the action's, the setup's and the sidecars' processes, which must never run twice).
	recordStart bool
	// startedBefore says whether an earlier executor started the process of this id.
	startedBefore func(id string) (bool, error)
	// quietExit leaves "Exit status N" out of the log and the error (monitor checks, as upstream).
	quietExit bool
	// oomsBefore is how many out-of-memory events the container had when the process started.
	oomsBefore int
}

func (s *runStep) run(ctx context.Context, ready func()) error {
	if ctx.Err() != nil {
		return cancelled()
	}
	pio := garden.ProcessIO{Stdout: io.Discard, Stderr: io.Discard}
	if !s.action.SuppressLogOutput {
		pio = garden.ProcessIO{Stdout: s.logs.stdout(), Stderr: s.logs.stderr()}
	}
	id := s.processID()
	// an earlier process's out-of-memory kill must not be this one's. Reading the count is a
	// garden round trip: it overlaps the start mark's, which the process waits for as well.
	oomsBefore := make(chan int, 1)
	go func() { oomsBefore <- s.oomEvents() }()
	var proc garden.Process
	if s.adopt && id != "" {
		p, err := s.container.Attach(id, pio)
		var notFound garden.ProcessNotFoundError
		switch {
		case err == nil:
			proc = p
			s.oomsBefore = <-oomsBefore
		case !errors.As(err, &notFound):
			return fmt.Errorf("attaching to process %s: %w", id, err)
		}
		if proc == nil && s.startedBefore != nil {
			// garden forgets an exited process after a while: its outcome is lost, and running
			// it again could do its work twice
			started, err := s.startedBefore(id)
			if err != nil {
				return fmt.Errorf("whether process %s was started: %w", id, err)
			}
			if started {
				s.exitLine(ReasonExitedWhileAway)
				return fmt.Errorf("%s: %s", s.logs.source, ReasonExitedWhileAway)
			}
		}
	}
	if proc == nil {
		if s.recordStart {
			if err := s.container.SetProperty(StartedProperty(id), "true"); err != nil {
				return fmt.Errorf("recording the start of process %s: %w", id, err)
			}
		}
		spec := garden.ProcessSpec{
			ID:   id,
			Path: s.action.Path,
			Args: s.action.Args,
			Dir:  s.action.Dir,
			User: s.action.User,
			Env:  append(append([]string{}, s.env...), envStrings(s.action.Env)...),
		}
		if rl := s.action.ResourceLimits; rl != nil && rl.Nofile != nil {
			n := *rl.Nofile
			spec.Limits.Nofile = &n
		}
		s.oomsBefore = <-oomsBefore
		p, err := s.container.Run(spec, pio)
		if err != nil {
			s.exitLine(fmt.Sprintf("failed-creating-process: %s", err))
			return fmt.Errorf("creating process %s: %w", s.action.Path, err)
		}
		proc = p
	}
	ready()
	return s.wait(ctx, proc)
}

// ReasonExitedWhileAway ends an adopted Run step whose process was started by an earlier
// executor and is no longer known to garden.
const ReasonExitedWhileAway = "process exited while the cell's executor was away; its exit status is unknown"

// StartedPropertyPrefix starts the garden property that marks a process (by its id) started.
const StartedPropertyPrefix = "executor:started:"

// StartedProperty is the garden property marking the process of id started.
func StartedProperty(id string) string { return StartedPropertyPrefix + id }

type exit struct {
	status int
	err    error
}

// wait follows the process to its end; ctx ending sends SIGTERM, and SIGKILL after the grace period.
func (s *runStep) wait(ctx context.Context, proc garden.Process) error {
	exited := make(chan exit, 1)
	go func() {
		status, err := proc.Wait()
		exited <- exit{status, err}
	}()
	stop := ctx.Done()
	stopped, killed := false, false
	var killTimer, giveUpTimer *time.Timer
	var kill, giveUp <-chan time.Time
	defer func() {
		for _, t := range []*time.Timer{killTimer, giveUpTimer} {
			if t != nil {
				t.Stop()
			}
		}
	}()
	for {
		select {
		case e := <-exited:
			if e.err != nil {
				return fmt.Errorf("waiting for process %s: %w", proc.ID(), e.err)
			}
			return s.exited(e.status, stopped, killed)
		case <-stop:
			stop, stopped = nil, true
			proc.Signal(garden.SignalTerminate)
			killTimer = time.NewTimer(s.grace)
			kill = killTimer.C
		case <-kill:
			kill, killed = nil, true
			proc.Signal(garden.SignalKill)
			giveUpTimer = time.NewTimer(exitTimeout)
			giveUp = giveUpTimer.C
		case <-giveUp:
			return &cancelledError{msg: "process did not exit"}
		}
	}
}

// exited turns an exit status into the log line and the step's result, in upstream's words.
func (s *runStep) exited(status int, stopped, killed bool) error {
	var line, reason string
	if !s.quietExit {
		line = fmt.Sprintf("Exit status %d", status)
		reason = fmt.Sprintf("%s: Exited with status %d", s.logs.source, status)
	}
	if killed {
		line = fmt.Sprintf("%s (exceeded %s graceful shutdown interval)", line, s.grace)
	}
	if status != 0 && s.outOfMemory() {
		line += " (out of memory)"
		reason += " (out of memory)"
	}
	s.exitLine(line)
	switch {
	case killed:
		return &cancelledError{msg: "exceeded graceful shutdown interval"}
	case stopped:
		return cancelled()
	case status != 0:
		return errors.New(reason)
	}
	return nil
}

func (s *runStep) exitLine(line string) {
	if line != "" && !s.action.SuppressLogOutput {
		s.logs.line(s.logs.stdout(), "%s", line)
	}
}

// outOfMemory: the container had an OOM kill since the process started.
func (s *runStep) outOfMemory() bool {
	return s.oomEvents() > s.oomsBefore
}

// oomEvents counts the OOM kills garden names in the container's events (0 when garden cannot
// tell): upstream's garden says "out of memory", this project's gardenrunc "oom".
func (s *runStep) oomEvents() int {
	info, err := s.container.Info()
	if err != nil {
		return 0
	}
	n := 0
	for _, ev := range info.Events {
		switch ev {
		case "oom", "out of memory", "Out of memory":
			n++
		}
	}
	return n
}

func envStrings(env []*models.EnvironmentVariable) []string {
	out := make([]string, 0, len(env))
	for _, e := range env {
		out = append(out, e.Name+"="+e.Value)
	}
	return out
}
