package server

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the auctioneer's Prometheus metrics. All names start with "auctioneer_".
type Metrics struct {
	// AuctionDuration: seconds from taking a batch to having reported its failures.
	AuctionDuration prometheus.Histogram
	// BatchSize: LRP instances and tasks per batch, labelled kind="lrp"|"task".
	BatchSize *prometheus.HistogramVec
	// Placed: LRP instances and tasks cells took, labelled kind.
	Placed *prometheus.CounterVec
	// FailedPlacements: work that could not be placed, labelled kind.
	FailedPlacements *prometheus.CounterVec
	// CellStateFetchDuration: seconds per GET /state, skipped cells included.
	CellStateFetchDuration prometheus.Histogram
	// CellsSkipped: cells left out of an auction because their state could not be read in time.
	CellsSkipped prometheus.Counter
	// BBSReportErrors: placement failures the BBS could not be told about.
	BBSReportErrors prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		AuctionDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "auctioneer_auction_duration_seconds",
			Help:    "Time to run one auction batch: fetch cell states, place, submit work, re-plan rejections, report failures.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		BatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "auctioneer_batch_size",
			Help:    "LRP instances (kind=lrp) and tasks (kind=task) per auction batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}, []string{"kind"}),
		Placed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auctioneer_placed_total",
			Help: "LRP instances and tasks that cells took.",
		}, []string{"kind"}),
		FailedPlacements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auctioneer_failed_placements_total",
			Help: "LRP instances and tasks that could not be placed.",
		}, []string{"kind"}),
		CellStateFetchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "auctioneer_cell_state_fetch_duration_seconds",
			Help:    "Time of one cell-state request (GET /state), failed and timed-out ones included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		CellsSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auctioneer_cells_skipped_total",
			Help: "Cells left out of an auction because their state could not be read in time.",
		}),
		BBSReportErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auctioneer_bbs_report_errors_total",
			Help: "Placement failures that could not be reported to the BBS.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.AuctionDuration, m.BatchSize, m.Placed, m.FailedPlacements,
			m.CellStateFetchDuration, m.CellsSkipped, m.BBSReportErrors)
	}
	return m
}
