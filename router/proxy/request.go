package proxy

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/diego-go/diego/router/route"
)

// request is one request's state. It is at once the request's context (so the round trip
// finds it) and the writer the reverse proxy answers through (so the access log sees the
// status and the bytes): one allocation for both on the hot path.
type request struct {
	context.Context
	w http.ResponseWriter

	started, finished time.Time
	status            int
	bytes             int64
	routerError       string

	// routePool is the registry's pool for the request; pool the one it is served from (a
	// pool of one instance for X-CF-APP-INSTANCE).
	routePool, pool *route.Pool
	// sticky is the __VCAP_ID__ of a request that also carries JSESSIONID.
	sticky string
	// routeService is set when the request goes to its route's route service.
	routeService *url.URL
	// endpoint is the backend that answered, or the last one tried, at endpointAddr.
	endpoint     *route.Endpoint
	endpointAddr string
	// outHeader is the header sent to the backend (the access log's X-Forwarded-For).
	outHeader http.Header
	// headerValues back the values of the headers the router sets on the request
	// (X-Vcap-Request-Id, X-Forwarded-Proto, X-Request-Start), allocated with it.
	headerValues [3]string
	// backendTime is the time spent in round trips to backends, failed ones included.
	backendTime time.Duration
}

type stateKey struct{}

func (s *request) Value(key any) any {
	if key == (stateKey{}) {
		return s
	}
	return s.Context.Value(key)
}

func stateOf(r *http.Request) *request {
	return r.Context().Value(stateKey{}).(*request)
}

func (s *request) Header() http.Header { return s.w.Header() }

func (s *request) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.w.WriteHeader(code)
}

func (s *request) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.w.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the server's writer to flush a streamed
// response and to hijack the connection of a websocket.
func (s *request) Unwrap() http.ResponseWriter { return s.w }
