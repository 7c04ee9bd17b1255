package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/bbs/handlers"
	"github.com/diego-go/diego/cmd/bbs/config"
)

// Converger runs convergence passes: on Trigger (a cell vanished), every ConvergenceInterval when
// set, and when the converger calls /v1/converge (Converge). Passes never overlap.
type Converger struct {
	DB      *db.DB
	Handler *handlers.Handler
	Logger  *slog.Logger
	Metrics *metrics
	Config  config.Config

	trigger chan struct{}
	running chan struct{}
}

func (c *Converger) init() {
	if c.trigger == nil {
		c.trigger = make(chan struct{}, 1)
		c.running = make(chan struct{}, 1)
	}
}

// Trigger asks for a pass soon (coalesced).
func (c *Converger) Trigger() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Converge runs one pass now (waiting for a running one to end first).
func (c *Converger) Converge(ctx context.Context) error {
	select {
	case c.running <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.running }()
	start := time.Now()
	err := c.Handler.ConvergeOnce(ctx, handlers.ConvergenceParams{
		UnclaimedLRPThreshold:       c.Config.UnclaimedLRPThreshold.D(),
		KickTaskDuration:            c.Config.KickTaskDuration.D(),
		ExpireCompletedTaskDuration: c.Config.ExpireCompletedTaskDuration.D(),
		ExpirePendingTaskDuration:   c.Config.ExpirePendingTaskDuration.D(),
	})
	c.Metrics.convergence.Observe(time.Since(start).Seconds())
	if err != nil {
		c.Logger.Error("convergence pass failed", "error", err)
	}
	return err
}

// Run is the convergence loop runner.
func (c *Converger) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	var tick <-chan time.Time
	if d := c.Config.ConvergenceInterval.D(); d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		tick = t.C
	}
	close(ready)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for {
		select {
		case <-signals:
			return nil
		case <-tick:
		case <-c.trigger:
		}
		_ = c.Converge(ctx)
	}
}

func newConverger(c *Converger) *Converger { c.init(); return c }
