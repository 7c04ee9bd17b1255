// Package proxy is the router's HTTP proxy, gorouter's behaviour: it routes a request by its
// Host header and path to a registered backend, round-robin, with sticky sessions,
// X-CF-APP-INSTANCE, route services, safe retries and gorouter's headers, errors and access
// log.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/diego-go/diego/router/route"
)

// Route services settings (Config.RouteServices).
const (
	// RouteServicesRefuse answers a request for a route bound to a route service with 502
	// and X-Cf-RouterError: route_service_unsupported, as gorouter with route services off.
	RouteServicesRefuse = "refuse"
	// RouteServicesForward sends such a request to its route service first, signed as
	// gorouter signs it, and lets it through to the app when it comes back signed.
	RouteServicesForward = "forward"
)

// DefaultMaxAttempts is gorouter's default backends.max_attempts: the first try and two
// retries.
const DefaultMaxAttempts = 3

// routeServiceMaxAttempts is gorouter's default route_services max_attempts, kept apart from
// the backends' setting as upstream keeps it.
const routeServiceMaxAttempts = 3

// Registry is where the proxy finds a request's route: the pool for a Host and path, nil when
// none matches (registry.Registry).
type Registry interface {
	Lookup(host, path string) *route.Pool
}

// Config is a proxy's settings.
type Config struct {
	Registry Registry
	Logger   *slog.Logger
	// AccessLog receives one gorouter access log line per request; nil: none.
	AccessLog io.Writer
	// DialTimeout bounds connecting to a backend, ResponseTimeout waiting for its response
	// headers (0: no bound).
	DialTimeout, ResponseTimeout time.Duration
	// FailedEndpointBackoff is how long a backend that failed to dial is left out of its pools.
	FailedEndpointBackoff time.Duration
	// MaxAttempts is how many backends one request may be tried on, gorouter's
	// backends.max_attempts; 0: DefaultMaxAttempts.
	MaxAttempts int
	// RouteServices is RouteServicesRefuse ("" too) or RouteServicesForward.
	RouteServices string
	// RouteServiceSecret derives the key of route service signatures, gorouter's
	// route_services_secret; "": a random key, valid only for this process.
	RouteServiceSecret string
	// RouteServiceTimeout is how long a route service has to send a request back; 0: 60s,
	// gorouter's default.
	RouteServiceTimeout time.Duration
	// Metrics receives the proxy's metrics; nil: none are kept.
	Metrics *Metrics
}

type proxy struct {
	registry  Registry
	logger    *slog.Logger
	accessLog *accessLog
	backoff   time.Duration
	attempts  int
	metrics   *Metrics
	transport *http.Transport
	conns     *backendConns
	rproxy    *httputil.ReverseProxy
	// signer is nil when route services are refused.
	signer *signer
}

// New is the proxy as an http.Handler. It panics when cfg.RouteServices is not one of the
// two settings or cfg.MaxAttempts is negative, configuration errors the daemon's config check
// rules out.
func New(cfg Config) http.Handler {
	p := &proxy{
		registry:  cfg.Registry,
		logger:    cfg.Logger,
		accessLog: newAccessLog(cfg.AccessLog),
		backoff:   cfg.FailedEndpointBackoff,
		attempts:  cfg.MaxAttempts,
		metrics:   cfg.Metrics,
	}
	switch {
	case p.attempts == 0:
		p.attempts = DefaultMaxAttempts
	case p.attempts < 0:
		panic(fmt.Sprintf("proxy: max attempts %d: must be at least 1", p.attempts))
	}
	if p.metrics == nil {
		p.metrics = NewMetrics(nil)
	}
	switch cfg.RouteServices {
	case "", RouteServicesRefuse:
	case RouteServicesForward:
		timeout := cfg.RouteServiceTimeout
		if timeout == 0 {
			timeout = 60 * time.Second
		}
		p.signer = newSigner(cfg.RouteServiceSecret, timeout)
	default:
		panic(fmt.Sprintf("proxy: route services %q: want %q or %q", cfg.RouteServices, RouteServicesForward, RouteServicesRefuse))
	}
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	p.transport = &http.Transport{
		Proxy:       nil,
		DialContext: dialer.DialContext,
		// gorouter keeps 2 idle connections per backend; a busy route with more requests in
		// flight than that would dial for most of them, so keep as many as are used.
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: cfg.ResponseTimeout,
		ExpectContinueTimeout: time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
	}
	p.conns = newBackendConns(dialer, cfg.ResponseTimeout)
	p.rproxy = &httputil.ReverseProxy{
		Director:      p.director,
		Transport:     roundTripperFunc(p.roundTrip),
		FlushInterval: -1,
		ErrorHandler:  p.writeBackendError,
		ErrorLog:      slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelError),
		BufferPool:    newBufferPool(),
	}
	return p
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Header names as gorouter sends them: net/http canonicalizes on the wire what gorouter sets
// through Header.Set, so these are the canonical spellings.
const (
	headerRouterError   = "X-Cf-Routererror"
	headerRequestID     = "X-Vcap-Request-Id"
	headerRequestStart  = "X-Request-Start"
	headerForwardedProt = "X-Forwarded-Proto"
	headerAppInstance   = "X-Cf-App-Instance"
	headerAppID         = "X-Cf-Applicationid"
	headerInstanceID    = "X-Cf-Instanceid"
	headerInstanceIndex = "X-Cf-Instanceindex"
)

// healthCheckUserAgent marks a request as a health check of the router, gorouter's default
// (healthcheck_user_agent).
const healthCheckUserAgent = "HTTP-Monitor/1.1"

// appInstance is X-CF-APP-INSTANCE's format, gorouter's: an app guid (lower-case hex) and an
// instance index.
var appInstance = regexp.MustCompile(`^([\da-f]{8}-(?:[\da-f]{4}-){3}[\da-f]{12}):(\d+)$`)

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := &request{Context: r.Context(), w: w, started: time.Now()}
	defer p.finish(s, r)

	if r.Header.Get("User-Agent") == healthCheckUserAgent {
		// A load balancer's probe of the proxy itself, answered as gorouter answers it.
		h := s.Header()
		h.Set("Cache-Control", "private, max-age=0")
		h.Set("Expires", "0")
		s.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(s, "ok\n")
		r.Close = true
		return
	}
	if r.Host == "" {
		writeError(s, http.StatusBadRequest, "empty_host", "Request had empty Host header", "public,max-age=2")
		return
	}
	// Like gorouter, every request gets a new id: a client cannot choose the id that the
	// backend and the access log see.
	s.headerValues[0] = uuid.NewString()
	r.Header[headerRequestID] = s.headerValues[0:1:1]

	var guid, index string
	if v := r.Header.Get(headerAppInstance); v != "" {
		m := appInstance.FindStringSubmatch(v)
		if m == nil {
			writeError(s, http.StatusBadRequest, "invalid_cf_app_instance_header", "Invalid X-CF-App-Instance Header", noCache)
			return
		}
		guid, index = m[1], m[2]
	}

	s.routePool = p.registry.Lookup(r.Host, r.URL.EscapedPath())
	if s.routePool == nil || s.routePool.IsEmpty() {
		writeError(s, http.StatusNotFound, "unknown_route", fmt.Sprintf("Requested route ('%s') does not exist.", r.Host), noCache)
		return
	}
	s.pool = s.routePool
	if guid != "" {
		e := s.routePool.FindAppInstance(guid, index)
		if e == nil {
			writeError(s, http.StatusBadRequest, "unknown_route",
				fmt.Sprintf("Requested instance ('%s') with guid ('%s') does not exist for route ('%s')", index, guid, r.Host), noCache)
			return
		}
		s.pool = route.NewPathPool("", s.routePool.ContextPath())
		s.pool.Put(e)
	}

	if rs := s.routePool.RouteServiceURL(); rs != "" {
		if !p.routeService(s, r, rs) {
			return
		}
	}

	if len(r.Header["Cookie"]) > 0 {
		if _, err := r.Cookie("JSESSIONID"); err == nil {
			if c, err := r.Cookie(vcapCookie); err == nil {
				s.sticky = c.Value
			}
		}
	}
	if r.Header.Get(headerForwardedProt) == "" {
		proto := "http"
		if r.TLS != nil {
			proto = "https"
		}
		s.headerValues[1] = proto
		r.Header[headerForwardedProt] = s.headerValues[1:2:2]
	}
	if _, ok := r.Header[headerRequestStart]; !ok {
		s.headerValues[2] = strconv.FormatInt(time.Now().UnixMilli(), 10)
		r.Header[headerRequestStart] = s.headerValues[2:3:3]
	}
	p.rproxy.ServeHTTP(s, r.WithContext(s))
}

// director shapes the request to the backend; the round trip picks the backend itself.
func (p *proxy) director(out *http.Request) {
	s := stateOf(out)
	s.outHeader = out.Header
	out.URL.Scheme = "http"
	// The request line goes to the backend exactly as the client wrote it, as with gorouter; a
	// request URI starting with // would read as a host, so it keeps the parsed form.
	if !strings.HasPrefix(out.RequestURI, "//") {
		out.URL.Opaque = out.RequestURI
		out.URL.RawQuery = ""
		out.URL.ForceQuery = false
	}
	delete(out.Header, headerAppInstance)
}

// Error texts and statuses, gorouter's.
const (
	noCache           = "no-cache, no-store"
	badGatewayMessage = "502 Bad Gateway: Registered endpoint failed to handle the request."
	cancelledMessage  = "499 Request Cancelled"
)

// writeError answers with gorouter's plain-text error: "<code> <status text>: <message>".
func writeError(s *request, code int, routerError, message, cacheControl string) {
	h := s.Header()
	if routerError != "" {
		h.Set(headerRouterError, routerError)
	}
	if cacheControl != "" {
		h.Set("Cache-Control", cacheControl)
	}
	h.Del("Connection")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	s.routerError = routerError
	s.WriteHeader(code)
	fmt.Fprintf(s, "%d %s: %s\n", code, http.StatusText(code), message)
}

// writeBackendError answers a request no backend answered: 502, or 499 when the client went
// away first, with X-Cf-RouterError: endpoint_failure (<last error>).
func (p *proxy) writeBackendError(w http.ResponseWriter, r *http.Request, err error) {
	s := w.(*request)
	s.routerError = "endpoint_failure (" + err.Error() + ")"
	w.Header().Set(headerRouterError, s.routerError)
	w.Header().Del("Connection")
	if errors.Is(err, context.Canceled) {
		http.Error(w, cancelledMessage, 499)
		return
	}
	p.metrics.BadGateways.Inc()
	http.Error(w, badGatewayMessage, http.StatusBadGateway)
}

// finish writes the access log line and counts the request.
func (p *proxy) finish(s *request, r *http.Request) {
	s.finished = time.Now()
	p.metrics.countRequest(s.status, s.finished.Sub(s.started))
	if p.accessLog != nil {
		p.accessLog.write(s, r)
	}
}

// forwardedURL is the URL a route service is asked to send the request back to, gorouter's.
func forwardedURL(r *http.Request) string {
	host := r.Host
	if i := strings.IndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return "http://" + host + r.RequestURI
}

// routeService handles a request for a route bound to rs; false when it has answered.
func (p *proxy) routeService(s *request, r *http.Request, rs string) bool {
	if p.signer == nil {
		p.logger.Info("route-service-unsupported", "route_service_url", rs)
		writeError(s, http.StatusBadGateway, "route_service_unsupported", "Support for route services is disabled.", "")
		return false
	}
	if isWebSocket(r) {
		writeError(s, http.StatusServiceUnavailable, "route_service_unsupported",
			"Websocket requests are not supported for routes bound to Route Services.", "")
		return false
	}
	if sig := r.Header.Get(headerSignature); sig != "" {
		// Back from the route service: let it through when the signature is ours, fresh and
		// for this route.
		err := p.signer.validate(sig, r.Header.Get(headerMetadata), func(forwarded *url.URL) error {
			if p.registry.Lookup(forwarded.Host, forwarded.EscapedPath()) != s.routePool {
				return fmt.Errorf("route service forwarded URL %s does not match the original request URL %s%s",
					forwarded.Host+forwarded.EscapedPath(), r.Host, r.URL.EscapedPath())
			}
			return nil
		})
		if err != nil {
			p.logger.Error("signature-validation-failed", "error", err)
			code := http.StatusBadGateway
			if errors.Is(err, errExpired) {
				code = http.StatusGatewayTimeout
			}
			writeError(s, code, "", "Failed to validate Route Service Signature: "+err.Error(), "")
			return false
		}
		r.Header.Del(headerSignature)
		r.Header.Del(headerMetadata)
		r.Header.Del(headerForwardedURL)
		return true
	}
	target, err := url.Parse(rs)
	if err != nil {
		p.logger.Error("route-service-failed", "route_service_url", rs, "error", err)
		writeError(s, http.StatusInternalServerError, "", "Route service request failed.", "")
		return false
	}
	fwd := forwardedURL(r)
	sig, meta, err := p.signer.sign(fwd, time.Now())
	if err != nil {
		p.logger.Error("route-service-failed", "error", err)
		writeError(s, http.StatusInternalServerError, "", "Route service request failed.", "")
		return false
	}
	r.Header.Set(headerSignature, sig)
	r.Header.Set(headerMetadata, meta)
	r.Header.Set(headerForwardedURL, fwd)
	s.routeService = target
	return true
}

// isWebSocket is gorouter's test: a Connection header naming upgrade and Upgrade: websocket,
// both case-insensitive.
func isWebSocket(r *http.Request) bool {
	for _, v := range r.Header["Connection"] {
		if strings.Contains(strings.ToLower(v), "upgrade") {
			return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		}
	}
	return false
}
