package service

import (
	"context"
	"os"
	"time"
)

// Converger is the BBS's own convergence loop, for a BBS run without a converger daemon: it runs a
// pass every Interval (positive) and on every Trigger (a cell vanished). It is an ifrit runner.
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
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	close(ready)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-signals; cancel() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-c.trigger:
		}
		_ = c.Service.Converge(ctx)
	}
}
