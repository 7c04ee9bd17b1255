package service

import (
	"context"
	"os"
	"time"
)

// Converger is the convergence loop: it runs a pass on every Trigger (a cell vanished) and every
// Interval when set (0: only on Trigger and on the converge route). It is an ifrit runner.
type Converger struct {
	Service  *Service
	Interval time.Duration
	trigger  chan struct{}
}

// NewConverger makes the loop for svc.
func NewConverger(svc *Service, interval time.Duration) *Converger {
	return &Converger{Service: svc, Interval: interval, trigger: make(chan struct{}, 1)}
}

// Trigger asks for a pass soon; triggers while one is pending coalesce.
func (c *Converger) Trigger() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Run loops until signalled.
func (c *Converger) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	var tick <-chan time.Time
	if c.Interval > 0 {
		t := time.NewTicker(c.Interval)
		defer t.Stop()
		tick = t.C
	}
	close(ready)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-signals; cancel() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		case <-c.trigger:
		}
		_ = c.Service.Converge(ctx)
	}
}
