package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/diego-go/diego/executor/logstream"
)

// noReady is given to a step whose readiness no one waits for.
func noReady() {}

// serialStep runs its steps one after the other, stopping at the first failure. It is ready when
// its last step is.
type serialStep struct {
	steps []node
	// resumeAt, in adopt mode, says where the earlier executor had got to (see the package doc).
	resumeAt func() int
}

func (s *serialStep) run(ctx context.Context, ready func()) error {
	if len(s.steps) == 0 {
		ready()
		return nil
	}
	start := 0
	if s.resumeAt != nil {
		start = s.resumeAt()
	}
	for i := start; i < len(s.steps); i++ {
		r := noReady
		if i == len(s.steps)-1 {
			r = ready
		}
		if err := s.steps[i].run(ctx, r); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return cancelled()
		}
	}
	return nil
}

// together runs steps side by side and calls ready once all of them are ready. onExit sees each
// step's result as it ends (in the order they end).
func together(ctx context.Context, steps []node, ready func(), onExit func(error)) []error {
	if len(steps) == 0 {
		ready()
		return nil
	}
	var readyCount atomic.Int32
	errs := make([]error, len(steps))
	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(steps))
	for i, st := range steps {
		var once sync.Once
		go func() {
			results <- result{i, st.run(ctx, func() {
				once.Do(func() {
					if int(readyCount.Add(1)) == len(steps) {
						ready()
					}
				})
			})}
		}()
	}
	for range steps {
		r := <-results
		errs[r.i] = r.err
		onExit(r.err)
	}
	return errs
}

// parallelStep runs its steps side by side to their ends; its error joins theirs.
type parallelStep struct{ steps []node }

func (s *parallelStep) run(ctx context.Context, ready func()) error {
	return joinErrors(together(ctx, s.steps, ready, func(error) {}))
}

// errCodependentExited is a codependent step's error for a sibling that ended without failing.
var errCodependentExited = errors.New("Codependent step exited")

// codependentStep runs its steps side by side; the first failure stops the others.
type codependentStep struct {
	steps []node
	// errorOnExit: a step ending without error counts as a failure (CodependentAction).
	errorOnExit bool
	// stopOthersOnExit: a step ending at all stops the others (an instance with sidecars).
	stopOthersOnExit bool
}

func (s *codependentStep) run(ctx context.Context, ready func()) error {
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	errs := together(cctx, s.steps, ready, func(err error) {
		if err != nil || s.errorOnExit || s.stopOthersOnExit {
			stop()
		}
	})
	for i, err := range errs {
		if err == nil && s.errorOnExit && ctx.Err() == nil {
			errs[i] = errCodependentExited
		}
		// Siblings this step stopped itself were not cancelled by the caller.
		if ctx.Err() == nil && errors.Is(err, ErrCancelled) {
			errs[i] = nil
		}
	}
	return joinErrors(errs)
}

// timeoutStep fails its step when it runs longer than timeout.
type timeoutStep struct {
	step    node
	timeout time.Duration
}

func (s *timeoutStep) run(ctx context.Context, ready func()) error {
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- s.step.run(cctx, ready) }()
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
	}
	stop()
	err := <-done
	if ctx.Err() != nil {
		return err
	}
	msg := "exceeded " + s.timeout.String() + " timeout"
	if err != nil && !errors.Is(err, ErrCancelled) {
		msg += "; " + err.Error()
	}
	return errors.New(msg)
}

// tryStep ignores its step's failure; a stop is still reported as one.
type tryStep struct{ step node }

func (s *tryStep) run(ctx context.Context, ready func()) error {
	err := s.step.run(ctx, ready)
	if err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// emitProgressStep logs messages around its step.
type emitProgressStep struct {
	step                          node
	start, success, failurePrefix string
	logs                          logs
}

func (s *emitProgressStep) run(ctx context.Context, ready func()) error {
	if s.start != "" {
		s.logs.line(s.logs.stdout(), "%s", s.start)
	}
	err := s.step.run(ctx, ready)
	switch {
	case err != nil && s.failurePrefix != "":
		if errors.Is(err, ErrCancelled) {
			s.logs.line(s.logs.stderr(), "%s", s.failurePrefix)
		} else {
			s.logs.line(s.logs.stderr(), "%s: %s", s.failurePrefix, err)
		}
	case err == nil && s.success != "":
		s.logs.line(s.logs.stdout(), "%s", s.success)
	}
	return err
}

// outputStep makes its step's output the error when it fails: a health check's own message is
// the useful reason, not its exit status (as upstream).
type outputStep struct {
	step   node
	output *syncBuffer
}

func (s *outputStep) run(ctx context.Context, ready func()) error {
	s.output.Reset()
	err := s.step.run(ctx, ready)
	if err == nil || errors.Is(err, ErrCancelled) {
		return err
	}
	msg := strings.TrimSpace(s.output.String())
	if msg == "" {
		msg = fmt.Sprintf("Failed to invoke process: %s", err)
	}
	return errors.New(msg)
}

// syncBuffer collects a process's stdout and stderr, which garden writes from two goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// bufferStreamer is a log streamer writing into a syncBuffer, whatever the source.
type bufferStreamer struct{ b *syncBuffer }

func (s bufferStreamer) Stdout() io.Writer                    { return s.b }
func (s bufferStreamer) Stderr() io.Writer                    { return s.b }
func (s bufferStreamer) WithSource(string) logstream.Streamer { return s }
func (s bufferStreamer) Flush()                               {}
