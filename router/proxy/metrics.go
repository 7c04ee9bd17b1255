package proxy

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the proxy's Prometheus metrics. All names start with "router_".
type Metrics struct {
	// Requests: requests answered, labelled class="1xx".."5xx" (or "none" when the client
	// left before any answer).
	Requests *prometheus.CounterVec
	// RequestLatency: seconds from a request's arrival to the end of its answer.
	RequestLatency prometheus.Histogram
	// BackendLatency: seconds from sending a request to a backend to its response headers,
	// successful tries only.
	BackendLatency prometheus.Histogram
	// Retries: tries beyond the first (another backend, or the route service again).
	Retries prometheus.Counter
	// EndpointFailures: tries to a backend that failed (no response).
	EndpointFailures prometheus.Counter
	// BadGateways: requests answered 502 because every try failed.
	BadGateways prometheus.Counter

	byClass [6]prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "router_requests_total",
			Help: "Requests answered by the router, by status class (1xx..5xx, none: no answer).",
		}, []string{"class"}),
		RequestLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "router_request_duration_seconds",
			Help:    "Time from a request's arrival at the router to the end of its answer.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 20),
		}),
		BackendLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "router_backend_latency_seconds",
			Help:    "Time from sending a request to a backend to receiving its response headers (successful tries).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 20),
		}),
		Retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "router_backend_retries_total",
			Help: "Tries beyond a request's first, on another backend or the route service again.",
		}),
		EndpointFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "router_backend_endpoint_failures_total",
			Help: "Tries to a backend that failed without a response.",
		}),
		BadGateways: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "router_bad_gateways_total",
			Help: "Requests answered 502 because every try failed.",
		}),
	}
	m.byClass[0] = m.Requests.WithLabelValues("none")
	for c := 1; c <= 5; c++ {
		m.byClass[c] = m.Requests.WithLabelValues(string(rune('0'+c)) + "xx")
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.RequestLatency, m.BackendLatency, m.Retries, m.EndpointFailures, m.BadGateways)
	}
	return m
}

func (m *Metrics) countRequest(status int, took time.Duration) {
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	m.byClass[class].Inc()
	m.RequestLatency.Observe(took.Seconds())
}
