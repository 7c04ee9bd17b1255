package proxy_test

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/diego-go/diego/internal/daemontest"

	"github.com/diego-go/diego/router/proxy"
	"github.com/diego-go/diego/router/registry"
	"github.com/diego-go/diego/router/route"
)

const appGUID = "0c0ffee0-1234-4abc-8def-0123456789ab"

// backend is a loopback app instance that answers "<name>" and remembers what it received.
type backend struct {
	name     string
	index    int
	server   *httptest.Server
	requests atomic.Int64
	// conns counts the connections the backend accepted.
	conns atomic.Int64

	mu   sync.Mutex
	last *http.Request
	body []byte
}

func startBackend(name string, index int, handler http.HandlerFunc) *backend {
	b := &backend{name: name, index: index}
	b.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.requests.Add(1)
		b.mu.Lock()
		b.last, b.body = r, body
		b.mu.Unlock()
		if handler != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			handler(w, r)
			return
		}
		_, _ = io.WriteString(w, name)
	}))
	// A port below the ephemeral range: a spec that kills the backend dials its address again.
	l, err := net.Listen("tcp", daemontest.FreeAddr())
	Expect(err).NotTo(HaveOccurred())
	b.server.Listener.Close()
	b.server.Listener = l
	b.server.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}
	b.server.Start()
	DeferCleanup(b.server.Close)
	return b
}

func (b *backend) lastRequest() *http.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

func (b *backend) endpoint() *route.Endpoint {
	return endpointAt(b.server.Listener.Addr().String(), b.name, b.index)
}

func endpointAt(addr, instanceID string, index int) *route.Endpoint {
	host, port, err := net.SplitHostPort(addr)
	Expect(err).NotTo(HaveOccurred())
	p, err := strconv.Atoi(port)
	Expect(err).NotTo(HaveOccurred())
	return &route.Endpoint{Host: host, Port: uint16(p), AppID: appGUID,
		PrivateInstanceID: instanceID, PrivateInstanceIndex: strconv.Itoa(index)}
}

// dropper accepts connections and closes each at once, after the request may have been sent.
type dropper struct {
	listener net.Listener
	accepted atomic.Int64
}

func startDropper() *dropper {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	d := &dropper{listener: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			d.accepted.Add(1)
			// Read what comes so the close is a clean EOF to the proxy, as a crashing app's.
			_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			_, _ = c.Read(make([]byte, 4096))
			_ = c.Close()
		}
	}()
	DeferCleanup(l.Close)
	return d
}

var logger = slog.New(slog.NewTextHandler(GinkgoWriter, nil))

// router is a proxy over a real registry, served on loopback.
type router struct {
	registry  *registry.Registry
	server    *httptest.Server
	accessLog *gbytes.Buffer
	metrics   *proxy.Metrics
	client    *http.Client
}

func startRouter(mutate func(*proxy.Config)) *router {
	r := &router{registry: registry.New(logger, time.Minute), accessLog: gbytes.NewBuffer(), metrics: proxy.NewMetrics(nil)}
	cfg := proxy.Config{
		Registry:              r.registry,
		Logger:                logger,
		AccessLog:             r.accessLog,
		DialTimeout:           time.Second,
		ResponseTimeout:       10 * time.Second,
		FailedEndpointBackoff: time.Minute,
		RouteServices:         proxy.RouteServicesRefuse,
		Metrics:               r.metrics,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	r.server = httptest.NewServer(proxy.New(cfg))
	DeferCleanup(r.server.Close)
	r.client = &http.Client{
		Transport: &http.Transport{},
		// The proxy's answers are what the specs look at, redirects included.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	DeferCleanup(r.client.CloseIdleConnections)
	return r
}

// request sends method to path through the router with Host host.
func (r *router) request(method, host, path string, body io.Reader, header http.Header) *http.Response {
	req, err := http.NewRequest(method, r.server.URL+path, body)
	Expect(err).NotTo(HaveOccurred())
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := r.client.Do(req)
	Expect(err).NotTo(HaveOccurred())
	return res
}

// get is a GET's status, header and body.
func (r *router) get(host, path string, header http.Header) (int, http.Header, string) {
	res := r.request("GET", host, path, nil, header)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	Expect(err).NotTo(HaveOccurred())
	return res.StatusCode, res.Header, string(body)
}
