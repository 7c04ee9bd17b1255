package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RequestMetrics count and time the API's requests by route: bbs_requests_total{route,status}
// and bbs_request_duration_seconds{route}; an unknown path counts as route "unknown".
type RequestMetrics struct {
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
}

// NewRequestMetrics registers the request metrics with reg.
func NewRequestMetrics(reg prometheus.Registerer) *RequestMetrics {
	m := &RequestMetrics{
		requests:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bbs_requests_total", Help: "API requests by route and HTTP status."}, []string{"route", "status"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bbs_request_duration_seconds", Help: "API request durations by route."}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.durations)
	return m
}

// Instrument counts and times every request h serves.
func (m *RequestMetrics) Instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		route := r.URL.Path
		if sw.status == http.StatusNotFound {
			route = "unknown"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		m.durations.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }

// Unwrap lets http.ResponseController reach the connection (write deadlines of event streams).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
