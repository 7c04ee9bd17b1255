package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/diego-go/diego/bbs/convergence"
)

// convergenceGauges are upstream's convergence metrics (LRPsDesired, LRPsRunning, ...,
// TasksResolving, PresentCells, SuspectCells) as Prometheus gauges, each set from the snapshot of
// the last pass that succeeded.
var convergenceGauges = []struct {
	name, help string
	value      func(convergence.Stats) int
}{
	{"bbs_lrps_desired", "Desired instances, summed over the desired LRPs (upstream's LRPsDesired).", func(s convergence.Stats) int { return s.LRPsDesired }},
	{"bbs_lrps_unclaimed", "ORDINARY instances UNCLAIMED (LRPsUnclaimed).", func(s convergence.Stats) int { return s.LRPsUnclaimed }},
	{"bbs_lrps_claimed", "ORDINARY instances CLAIMED (LRPsClaimed).", func(s convergence.Stats) int { return s.LRPsClaimed }},
	{"bbs_lrps_running", "ORDINARY instances RUNNING (LRPsRunning).", func(s convergence.Stats) int { return s.LRPsRunning }},
	{"bbs_crashed_actual_lrps", "ORDINARY instances CRASHED (CrashedActualLRPs).", func(s convergence.Stats) int { return s.LRPsCrashed }},
	{"bbs_crashing_desired_lrps", "Process guids with a CRASHED instance (CrashingDesiredLRPs).", func(s convergence.Stats) int { return s.CrashingDesiredLRPs }},
	{"bbs_lrps_missing", "Desired instances without an ORDINARY record, created by the pass (LRPsMissing).", func(s convergence.Stats) int { return s.LRPsMissing }},
	{"bbs_lrps_extra", "Instances retired by the pass: extra indices and orphans in fresh domains (LRPsExtra).", func(s convergence.Stats) int { return s.LRPsExtra }},
	{"bbs_suspect_running_actual_lrps", "SUSPECT instances RUNNING (SuspectRunningActualLRPs).", func(s convergence.Stats) int { return s.SuspectRunningLRPs }},
	{"bbs_suspect_claimed_actual_lrps", "SUSPECT instances CLAIMED (SuspectClaimedActualLRPs).", func(s convergence.Stats) int { return s.SuspectClaimedLRPs }},
	{"bbs_tasks_pending", "Tasks pending (TasksPending).", func(s convergence.Stats) int { return s.TasksPending }},
	{"bbs_tasks_running", "Tasks running (TasksRunning).", func(s convergence.Stats) int { return s.TasksRunning }},
	{"bbs_tasks_completed", "Tasks completed (TasksCompleted).", func(s convergence.Stats) int { return s.TasksCompleted }},
	{"bbs_tasks_resolving", "Tasks resolving (TasksResolving).", func(s convergence.Stats) int { return s.TasksResolving }},
	{"bbs_present_cells", "Cells present (PresentCells).", func(s convergence.Stats) int { return s.PresentCells }},
	{"bbs_suspect_cells", "Cells named by an instance or a running task but not present (SuspectCells).", func(s convergence.Stats) int { return s.SuspectCells }},
}

type convergenceMetrics struct {
	duration prometheus.Histogram
	runs     prometheus.Counter
	gauges   []prometheus.Gauge
}

func newConvergenceMetrics(reg *prometheus.Registry) *convergenceMetrics {
	m := &convergenceMetrics{
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bbs_convergence_duration_seconds", Help: "Duration of convergence passes (ConvergenceLRPDuration)."}),
		runs:     prometheus.NewCounter(prometheus.CounterOpts{Name: "bbs_convergence_runs_total", Help: "Convergence passes run, failed ones included (ConvergenceLRPRuns)."}),
	}
	reg.MustRegister(m.duration, m.runs)
	for _, g := range convergenceGauges {
		gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: g.name, Help: g.help})
		reg.MustRegister(gauge)
		m.gauges = append(m.gauges, gauge)
	}
	return m
}

func (m *convergenceMetrics) observe(took time.Duration, stats convergence.Stats, err error) {
	m.duration.Observe(took.Seconds())
	m.runs.Inc()
	if err != nil {
		return // the gauges keep the last pass that could count
	}
	for i, g := range convergenceGauges {
		m.gauges[i].Set(float64(g.value(stats)))
	}
}
