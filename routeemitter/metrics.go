package routeemitter

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the route emitter's Prometheus metrics.
type Metrics struct {
	registered   prometheus.Counter
	unregistered prometheus.Counter
	routes       prometheus.Gauge
	entries      prometheus.Gauge
	syncDuration prometheus.Histogram
	syncs        *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		registered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "route_emitter_routes_registered_total", Help: "router.register messages published (one per hostname and instance)."}),
		unregistered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "route_emitter_routes_unregistered_total", Help: "router.unregister messages published."}),
		routes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "route_emitter_routes", Help: "(hostname, instance) pairs in the routing table: what one full registration sends."}),
		entries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "route_emitter_routing_table_entries", Help: "Entries (LRP container ports) in the routing table."}),
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "route_emitter_sync_duration_seconds", Help: "Time of a full sync with the BBS, from its start to the table replaced.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "route_emitter_syncs_total", Help: "Full syncs with the BBS, by result (ok, failed)."}, []string{"result"}),
	}
	reg.MustRegister(m.registered, m.unregistered, m.routes, m.entries, m.syncDuration, m.syncs)
	return m
}
