package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/router/proxy"
	"github.com/diego-go/diego/router/route"
)

var _ = Describe("Route services", func() {
	var app *backend

	// boundEndpoint is app's endpoint bound to the route service at rs.
	boundEndpoint := func(rs string) *route.Endpoint {
		e := app.endpoint()
		e.RouteServiceURL = rs
		return e
	}

	BeforeEach(func() {
		app = startBackend("app", 0, nil)
	})

	It("refuses a request for a route bound to a route service when they are off", func() {
		r := startRouter(nil)
		r.registry.Register("app.example.com", boundEndpoint("https://rs.example.com"))
		code, h, body := r.get("app.example.com", "/", nil)
		Expect(code).To(Equal(http.StatusBadGateway))
		Expect(h.Get("X-Cf-RouterError")).To(Equal("route_service_unsupported"))
		Expect(body).To(Equal("502 Bad Gateway: Support for route services is disabled.\n"))
		Expect(app.requests.Load()).To(BeZero())
	})

	Describe("forwarded", func() {
		var (
			r        *router
			rs       *httptest.Server
			received chan http.Header
			// sendBack, when set, changes what the route service sends back to the router.
			sendBack func(h http.Header, forwarded *url.URL)
		)

		BeforeEach(func() {
			received = make(chan http.Header, 10)
			sendBack = nil
		})

		JustBeforeEach(func() {
			// A route service that passes every request on to its X-CF-Forwarded-Url through
			// the router, as route services do.
			rs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, in *http.Request) {
				received <- in.Header.Clone()
				forwarded, err := url.Parse(in.Header.Get("X-Cf-Forwarded-Url"))
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				h := http.Header{}
				for _, k := range []string{"X-Cf-Forwarded-Url", "X-Cf-Proxy-Signature", "X-Cf-Proxy-Metadata"} {
					h.Set(k, in.Header.Get(k))
				}
				if sendBack != nil {
					sendBack(h, forwarded)
				}
				out, _ := http.NewRequest(in.Method, r.server.URL+forwarded.RequestURI(), nil)
				out.Host = forwarded.Host
				out.Header = h
				res, err := http.DefaultTransport.RoundTrip(out)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				defer res.Body.Close()
				for k, v := range res.Header {
					if k != "Content-Length" {
						w.Header()[k] = v
					}
				}
				w.WriteHeader(res.StatusCode)
				_, _ = io.WriteString(w, "via route service: ")
				_, _ = io.Copy(w, res.Body)
			}))
			DeferCleanup(rs.Close)
			r.registry.Register("app.example.com", boundEndpoint(rs.URL+"/filter"))
		})

		BeforeEach(func() {
			r = startRouter(func(c *proxy.Config) {
				c.RouteServices = proxy.RouteServicesForward
				c.RouteServiceSecret = "shh"
			})
		})

		It("sends the request to the route service, signed, and lets it through to the app when it comes back", func() {
			code, _, body := r.get("app.example.com", "/path?q=1", nil)
			Expect(code).To(Equal(http.StatusOK))
			Expect(body).To(Equal("via route service: app"))

			var h http.Header
			Eventually(received).Should(Receive(&h))
			Expect(h.Get("X-Cf-Forwarded-Url")).To(Equal("http://app.example.com/path?q=1"))
			Expect(h.Get("X-Cf-Proxy-Signature")).NotTo(BeEmpty())
			Expect(h.Get("X-Cf-Proxy-Metadata")).NotTo(BeEmpty())

			got := app.lastRequest()
			Expect(got.RequestURI).To(Equal("/path?q=1"))
			Expect(got.Header).NotTo(HaveKey("X-Cf-Proxy-Signature"))
			Expect(got.Header).NotTo(HaveKey("X-Cf-Proxy-Metadata"))
			Expect(got.Header).NotTo(HaveKey("X-Cf-Forwarded-Url"))
			Expect(app.requests.Load()).To(Equal(int64(1)))
		})

		Context("when the signature was tampered with", func() {
			BeforeEach(func() {
				sendBack = func(h http.Header, _ *url.URL) {
					sig := []byte(h.Get("X-Cf-Proxy-Signature"))
					sig[3] ^= 1
					h.Set("X-Cf-Proxy-Signature", string(sig))
				}
			})

			It("refuses it", func() {
				code, _, body := r.get("app.example.com", "/", nil)
				Expect(code).To(Equal(http.StatusBadGateway))
				Expect(body).To(HavePrefix("via route service: 502 Bad Gateway: Failed to validate Route Service Signature: "))
				Expect(app.requests.Load()).To(BeZero())
			})
		})

		Context("when the signature is for another route", func() {
			var other *backend

			BeforeEach(func() {
				other = startBackend("other", 1, nil)
				sendBack = func(_ http.Header, forwarded *url.URL) { forwarded.Host = "other.example.com" }
			})

			JustBeforeEach(func() {
				e := other.endpoint()
				e.RouteServiceURL = rs.URL + "/filter"
				r.registry.Register("other.example.com", e)
			})

			It("refuses it", func() {
				code, _, body := r.get("app.example.com", "/", nil)
				Expect(code).To(Equal(http.StatusBadGateway))
				Expect(body).To(Equal("via route service: 502 Bad Gateway: Failed to validate Route Service Signature: " +
					"route service forwarded URL app.example.com/ does not match the original request URL other.example.com/\n"))
				Expect(other.requests.Load()).To(BeZero())
			})
		})
	})

	It("refuses a signature older than the route service timeout with 504", func() {
		var r *router
		r = startRouter(func(c *proxy.Config) {
			c.RouteServices = proxy.RouteServicesForward
			c.RouteServiceTimeout = time.Nanosecond
		})
		rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, in *http.Request) {
			forwarded, _ := url.Parse(in.Header.Get("X-Cf-Forwarded-Url"))
			out, _ := http.NewRequest("GET", r.server.URL+forwarded.RequestURI(), nil)
			out.Host = forwarded.Host
			out.Header = in.Header.Clone()
			res, err := http.DefaultTransport.RoundTrip(out)
			Expect(err).NotTo(HaveOccurred())
			defer res.Body.Close()
			w.WriteHeader(res.StatusCode)
			_, _ = io.Copy(w, res.Body)
		}))
		DeferCleanup(rs.Close)
		r.registry.Register("app.example.com", boundEndpoint(rs.URL))
		code, _, body := r.get("app.example.com", "/", nil)
		Expect(code).To(Equal(http.StatusGatewayTimeout))
		Expect(body).To(Equal("504 Gateway Timeout: Failed to validate Route Service Signature: route service request expired\n"))
	})

	It("refuses a websocket upgrade on a route bound to a route service with 503", func() {
		r := startRouter(func(c *proxy.Config) { c.RouteServices = proxy.RouteServicesForward })
		r.registry.Register("app.example.com", boundEndpoint("http://127.0.0.1:1"))
		code, h, body := r.get("app.example.com", "/", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}})
		Expect(code).To(Equal(http.StatusServiceUnavailable))
		Expect(h.Get("X-Cf-RouterError")).To(Equal("route_service_unsupported"))
		Expect(body).To(Equal("503 Service Unavailable: Websocket requests are not supported for routes bound to Route Services.\n"))
	})
})
