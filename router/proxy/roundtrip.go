package proxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/diego-go/diego/router/route"
)

// roundTrip sends the request to the route service or to the route's backends, retrying as
// gorouter does: up to the configured attempts, each on another backend, and only when the request cannot
// have reached a backend (the dial failed) or is safe to repeat.
func (p *proxy) roundTrip(out *http.Request) (*http.Response, error) {
	s := stateOf(out)
	if out.Body != nil && out.Body != http.NoBody {
		// The transport closes a request's body when a try fails; a retry needs it open (it
		// is retried only when unread), and the server closes it in the end.
		out.Body = io.NopCloser(out.Body)
	}
	if s.routeService != nil {
		return p.roundTripRouteService(s, out)
	}

	it := s.pool.Iterator(s.sticky, p.backoff)
	// On the stack for any usual max_attempts: a request does not allocate for it.
	var buf [8]string
	tried := buf[:0]
	var err error
	for attempt := range p.attempts {
		e := it.Next(time.Now())
		if e == nil {
			break
		}
		addr := it.Addr()
		if attempt > 0 {
			// Like gorouter: once every backend has had its try, the request is not sent to
			// one of them twice.
			if attempt >= s.pool.Len() && contains(tried, addr) {
				break
			}
			// A copy, so that nothing of the failed try can still be reading these headers.
			out = out.Clone(out.Context())
			p.metrics.Retries.Inc()
		}
		tried = append(tried, addr)
		s.endpoint, s.endpointAddr = e, addr
		setBackendHeaders(out.Header, e, addr)
		out.URL.Host = addr

		var res *http.Response
		start := time.Now()
		if handles(out) {
			res, err = p.conns.roundTrip(out)
		} else {
			res, err = p.transport.RoundTrip(out)
		}
		took := time.Since(start)
		s.backendTime += took
		if err == nil {
			p.metrics.BackendLatency.Observe(took.Seconds())
			p.answered(s, res, e)
			return res, nil
		}
		p.metrics.EndpointFailures.Inc()
		failed := isDialError(err) || isResetOnRead(err)
		if failed {
			s.routePool.EndpointFailed(addr, time.Now())
		}
		retry := retriable(out, err)
		p.logger.Error("backend-endpoint-failed", "backend", addr, "attempt", attempt+1,
			"vcap_request_id", out.Header.Get(headerRequestID), "error", err,
			"retriable", retry, "marked_failed", failed)
		if !retry {
			break
		}
	}
	if err == nil {
		err = errNoEndpoints
	}
	return nil, err
}

var errNoEndpoints = errors.New("No endpoints available")

func contains(addrs []string, addr string) bool {
	for _, a := range addrs {
		if a == addr {
			return true
		}
	}
	return false
}

// setBackendHeaders names the instance to the backend, as gorouter does; X-CF-InstanceID is
// the backend's address when it has no instance id.
func setBackendHeaders(h map[string][]string, e *route.Endpoint, addr string) {
	id := e.PrivateInstanceID
	if id == "" {
		id = addr
	}
	// One backing array for the three values: a request allocates once for them.
	v := []string{e.AppID, e.PrivateInstanceIndex, id}
	h[headerAppID] = v[0:1:1]
	h[headerInstanceIndex] = v[1:2:2]
	h[headerInstanceID] = v[2:3:3]
}

// roundTripRouteService sends the request to its route service, retrying as to a backend
// that failed to dial or with a request safe to repeat.
func (p *proxy) roundTripRouteService(s *request, out *http.Request) (*http.Response, error) {
	out.URL = s.routeService
	out.Host = s.routeService.Host
	var err error
	for attempt := range routeServiceMaxAttempts {
		if attempt > 0 {
			out = out.Clone(out.Context())
			p.metrics.Retries.Inc()
		}
		var res *http.Response
		start := time.Now()
		res, err = p.transport.RoundTrip(out)
		s.backendTime += time.Since(start)
		if err == nil {
			p.answered(s, res, nil)
			return res, nil
		}
		retry := retriable(out, err)
		p.logger.Error("route-service-connection-failed", "route_service_url", s.routeService.String(),
			"attempt", attempt+1, "error", err, "retriable", retry)
		if !retry {
			break
		}
	}
	return nil, err
}

// answered completes a backend's (e) or the route service's (nil) response.
func (p *proxy) answered(s *request, res *http.Response, e *route.Endpoint) {
	s.status = res.StatusCode
	if len(res.Header[headerRequestID]) == 0 {
		res.Header[headerRequestID] = s.outHeader[headerRequestID]
	}
	delete(res.Header, headerSignature)
	if e != nil && e.PrivateInstanceID != "" {
		setStickyCookie(res, e, s.sticky, s.routePool.ContextPath())
	}
}

// retriable: a try whose dial failed never reached a backend; any other failure may have,
// and then only a request that is safe to repeat is sent again (as net/http's own retry
// rule: a GET, HEAD, OPTIONS or TRACE without a body, or one with an Idempotency-Key), and
// not when the backend was too slow to answer: it may be working on it.
func retriable(r *http.Request, err error) bool {
	if r.Context().Err() != nil {
		return false
	}
	if isDialError(err) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return idempotent(r)
}

func idempotent(r *http.Request) bool {
	if r.Body != nil && r.Body != http.NoBody && r.GetBody == nil {
		return false
	}
	switch r.Method {
	case "GET", "HEAD", "OPTIONS", "TRACE", "":
		return true
	}
	return r.Header.Get("Idempotency-Key") != "" || r.Header.Get("X-Idempotency-Key") != ""
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// isResetOnRead is gorouter's other reason to leave a backend out for a while.
func isResetOnRead(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "read" && errors.Is(op.Err, syscall.ECONNRESET)
}
