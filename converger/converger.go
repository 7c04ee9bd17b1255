// Package converger drives the BBS's convergence from outside it: while its daemon holds the
// converger lock, Runner asks the BBS for a pass at once, every interval, and whenever a cell's
// presence vanishes (Trigger). A failed pass is logged and counted; the next trigger or tick asks
// again, so nothing is retried in a tight loop against a BBS that is down.
package converger

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BBS is the one call the converger makes (bbs.Client has it).
type BBS interface {
	Converge(ctx context.Context) error
}

// Metrics are the converger's own Prometheus metrics; the BBS reports what its passes found.
type Metrics struct {
	passes       prometheus.Counter
	failures     prometheus.Counter
	lastDuration prometheus.Gauge
}

// NewMetrics registers the converger's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		passes:       prometheus.NewCounter(prometheus.CounterOpts{Name: "converger_passes_total", Help: "Convergence passes the BBS was asked for, failed ones included."}),
		failures:     prometheus.NewCounter(prometheus.CounterOpts{Name: "converger_failures_total", Help: "Convergence passes that failed (the BBS answered an error or did not answer)."}),
		lastDuration: prometheus.NewGauge(prometheus.GaugeOpts{Name: "converger_last_pass_duration_seconds", Help: "Duration of the last convergence pass, as seen by the converger."}),
	}
	reg.MustRegister(m.passes, m.failures, m.lastDuration)
	return m
}

// Runner is the convergence loop, an ifrit runner. Its zero value is not usable: see New.
type Runner struct {
	logger   *slog.Logger
	bbs      BBS
	interval time.Duration
	metrics  *Metrics
	trigger  chan struct{}
}

// New makes the loop asking bbs for a pass every interval (which must be positive); metrics may be
// nil.
func New(logger *slog.Logger, bbs BBS, interval time.Duration, metrics *Metrics) *Runner {
	return &Runner{logger: logger, bbs: bbs, interval: interval, metrics: metrics, trigger: make(chan struct{}, 1)}
}

// Trigger asks for a pass as soon as the one running (if any) ends. Triggers that arrive while one
// is pending coalesce: one pass after a cell vanished sees every cell that vanished before it
// started.
func (r *Runner) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Run converges at once (the daemon starts it when it wins the lock), then on every tick and
// trigger until signalled. A signal cancels the pass in flight.
func (r *Runner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-signals; cancel() }()

	ticker := time.NewTicker(r.interval)
	defer ticker.Stop()
	close(ready)
	r.converge(ctx, "lock won")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			r.converge(ctx, "interval")
		case <-r.trigger:
			r.converge(ctx, "cell vanished")
		}
	}
}

func (r *Runner) converge(ctx context.Context, why string) {
	start := time.Now()
	err := r.bbs.Converge(ctx)
	took := time.Since(start)
	if ctx.Err() != nil {
		// stopped by a signal: neither a pass nor a failure of the BBS
		r.logger.Info("convergence pass stopped", "reason", why, "duration", took.String())
		return
	}
	if r.metrics != nil {
		r.metrics.passes.Inc()
		r.metrics.lastDuration.Set(took.Seconds())
		if err != nil {
			r.metrics.failures.Inc()
		}
	}
	if err != nil {
		r.logger.Error("convergence pass failed", "reason", why, "duration", took.String(), "error", err)
		return
	}
	r.logger.Info("convergence pass done", "reason", why, "duration", took.String())
}
