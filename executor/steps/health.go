package steps

import (
	"context"
	"fmt"
	"time"
)

// healthStep waits for the startup check to pass (the instance is then healthy and the step
// ready), then runs the liveness check until it fails.
type healthStep struct {
	startup, liveness node
	// logs gets the cell's lines about the container; checkLogs the checks' failures.
	logs, checkLogs logs
}

func (s *healthStep) run(ctx context.Context, ready func()) error {
	s.logs.line(s.logs.stdout(), "Starting health monitoring of container")
	began := time.Now()
	if err := s.startup.run(ctx, noReady); err != nil {
		if ctx.Err() != nil {
			return cancelled()
		}
		after := time.Since(began).Round(time.Millisecond)
		s.checkLogs.failure(err)
		s.logs.line(s.logs.stderr(), "Failed after %s: startup health check never passed.", after)
		return &stepError{msg: fmt.Sprintf("Instance never healthy after %s: %s", after, err), causes: []error{err}}
	}
	s.logs.line(s.logs.stdout(), "Container became healthy")
	ready()
	err := s.liveness.run(ctx, noReady)
	if ctx.Err() != nil {
		return cancelled()
	}
	if err == nil {
		// No liveness check: the instance stays healthy until it is stopped.
		<-ctx.Done()
		return cancelled()
	}
	s.checkLogs.failure(err)
	s.logs.line(s.logs.stderr(), "Container became unhealthy")
	return &stepError{msg: fmt.Sprintf("Instance became unhealthy: %s", err), causes: []error{err}}
}

// eventuallyStep runs its check every interval until it passes; with a timeout (> 0) it fails
// with the check's last error once that long has passed.
type eventuallyStep struct {
	check             node
	interval, timeout time.Duration
}

func (s *eventuallyStep) run(ctx context.Context, ready func()) error {
	ready()
	began := time.Now()
	timer := time.NewTimer(s.interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return cancelled()
		case <-timer.C:
		}
		err := s.check.run(ctx, noReady)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return cancelled()
		}
		if s.timeout > 0 && time.Since(began) > s.timeout {
			return err
		}
		timer.Reset(s.interval)
	}
}

// consistentlyStep runs its check every interval until it fails.
type consistentlyStep struct {
	check    node
	interval time.Duration
}

func (s *consistentlyStep) run(ctx context.Context, ready func()) error {
	ready()
	timer := time.NewTimer(s.interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return cancelled()
		case <-timer.C:
		}
		if err := s.check.run(ctx, noReady); err != nil {
			if ctx.Err() != nil {
				return cancelled()
			}
			return err
		}
		timer.Reset(s.interval)
	}
}

// readinessStep flips the instance's readiness: until-ready checks pass -> ready, a readiness
// check fails -> not ready, and again. It never fails the instance.
type readinessStep struct {
	untilReady, untilFailure node
	logs                     logs
	changed                  func(ready bool)
	// stale ends the checks an earlier executor left running (adopt mode).
	stale func()
}

func (s *readinessStep) run(ctx context.Context, ready func()) error {
	s.logs.line(s.logs.stdout(), "Starting readiness health monitoring of container")
	s.stale()
	ready()
	for {
		if err := s.untilReady.run(ctx, noReady); err != nil {
			if ctx.Err() == nil {
				// The check could not run at all; the instance stays not ready, and alive.
				s.logs.line(s.logs.stdout(), "Failed to run the readiness check")
				<-ctx.Done()
			}
			return cancelled()
		}
		s.changed(true)
		s.logs.line(s.logs.stdout(), "Container passed the readiness health check. Container marked ready and added to route pool.")
		err := s.untilFailure.run(ctx, noReady)
		if ctx.Err() != nil {
			return cancelled()
		}
		if err != nil {
			s.changed(false)
			s.logs.line(s.logs.stdout(), "Container failed the readiness health check. Container marked not ready and removed from route pool.")
		}
	}
}
