package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/router/proxy"
)

var _ = Describe("Proxy", func() {
	var r *router

	BeforeEach(func() {
		r = startRouter(nil)
	})

	Describe("routing", func() {
		It("proxies by Host, case-insensitive and without the port", func() {
			b := startBackend("b0", 0, nil)
			r.registry.Register("app.example.com", b.endpoint())
			code, _, body := r.get("APP.Example.com:8081", "/", nil)
			Expect(code).To(Equal(http.StatusOK))
			Expect(body).To(Equal("b0"))
		})

		It("answers an unknown host 404 with gorouter's error", func() {
			code, h, body := r.get("nope.example.com", "/x", nil)
			Expect(code).To(Equal(http.StatusNotFound))
			Expect(h.Get("X-Cf-RouterError")).To(Equal("unknown_route"))
			Expect(h.Get("Cache-Control")).To(Equal("no-cache, no-store"))
			Expect(body).To(Equal("404 Not Found: Requested route ('nope.example.com') does not exist.\n"))
		})

		It("matches path routes by the longest segment prefix and wildcards by domain", func() {
			host, api, wild := startBackend("host", 0, nil), startBackend("api", 1, nil), startBackend("wild", 2, nil)
			r.registry.Register("app.example.com", host.endpoint())
			r.registry.Register("app.example.com/api", api.endpoint())
			r.registry.Register("*.example.com", wild.endpoint())
			for path, want := range map[string]string{"/": "host", "/apis": "host", "/api": "api", "/API/v1?q=1": "api"} {
				_, _, body := r.get("app.example.com", path, nil)
				Expect(body).To(Equal(want), path)
			}
			_, _, body := r.get("other.deep.example.com", "/api", nil)
			Expect(body).To(Equal("wild"))
		})

		It("answers a load balancer's health check itself, whatever the Host", func() {
			code, h, body := r.get("anything.example.com", "/", http.Header{"User-Agent": {"HTTP-Monitor/1.1"}})
			Expect(code).To(Equal(http.StatusOK))
			Expect(body).To(Equal("ok\n"))
			Expect(h.Get("Cache-Control")).To(Equal("private, max-age=0"))
		})

		It("answers a request without a Host 400 empty_host", func() {
			conn, err := net.Dial("tcp", r.server.Listener.Addr().String())
			Expect(err).NotTo(HaveOccurred())
			defer conn.Close()
			_, err = io.WriteString(conn, "GET / HTTP/1.0\r\n\r\n")
			Expect(err).NotTo(HaveOccurred())
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.StatusCode).To(Equal(http.StatusBadRequest))
			Expect(res.Header.Get("X-Cf-RouterError")).To(Equal("empty_host"))
			body, _ := io.ReadAll(res.Body)
			Expect(string(body)).To(Equal("400 Bad Request: Request had empty Host header\n"))
		})

		It("goes round-robin over the backends", func() {
			for i := range 3 {
				r.registry.Register("app.example.com", startBackend(fmt.Sprint("b", i), i, nil).endpoint())
			}
			seen := map[string]int{}
			for range 9 {
				_, _, body := r.get("app.example.com", "/", nil)
				seen[body]++
			}
			Expect(seen).To(Equal(map[string]int{"b0": 3, "b1": 3, "b2": 3}))
		})
	})

	Describe("headers", func() {
		var b *backend

		BeforeEach(func() {
			b = startBackend("instance-guid-0", 4, nil)
			r.registry.Register("app.example.com", b.endpoint())
		})

		It("sends gorouter's headers to the backend and the request as the client wrote it", func() {
			before := time.Now().UnixMilli()
			code, h, _ := r.get("app.example.com", "/a%2Fb/c?x=1&y=%20", http.Header{
				"X-Forwarded-For":   {"1.2.3.4"},
				"X-Vcap-Request-Id": {"client-chosen"},
			})
			Expect(code).To(Equal(http.StatusOK))
			got := b.lastRequest()
			Expect(got.Host).To(Equal("app.example.com"))
			Expect(got.RequestURI).To(Equal("/a%2Fb/c?x=1&y=%20"))
			Expect(got.Header.Get("X-Forwarded-For")).To(Equal("1.2.3.4, 127.0.0.1"))
			Expect(got.Header.Get("X-Forwarded-Proto")).To(Equal("http"))
			start, err := strconv.ParseInt(got.Header.Get("X-Request-Start"), 10, 64)
			Expect(err).NotTo(HaveOccurred())
			Expect(start).To(BeNumerically("~", before, 1000))
			id, err := uuid.Parse(got.Header.Get("X-Vcap-Request-Id"))
			Expect(err).NotTo(HaveOccurred())
			Expect(id.Version()).To(Equal(uuid.Version(4)))
			Expect(h.Get("X-Vcap-Request-Id")).To(Equal(id.String()))
			Expect(got.Header.Get("X-CF-ApplicationID")).To(Equal(appGUID))
			Expect(got.Header.Get("X-CF-InstanceID")).To(Equal("instance-guid-0"))
			Expect(got.Header.Get("X-CF-InstanceIndex")).To(Equal("4"))
		})

		It("keeps the client's X-Forwarded-Proto and X-Request-Start", func() {
			r.get("app.example.com", "/", http.Header{"X-Forwarded-Proto": {"https"}, "X-Request-Start": {"42"}})
			Expect(b.lastRequest().Header.Get("X-Forwarded-Proto")).To(Equal("https"))
			Expect(b.lastRequest().Header.Get("X-Request-Start")).To(Equal("42"))
		})

		It("never shows a client a route service signature a backend answered with", func() {
			signer := startBackend("signer", 0, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("X-CF-Proxy-Signature", "leaked")
			})
			r.registry.Register("signer.example.com", signer.endpoint())
			code, h, _ := r.get("signer.example.com", "/", nil)
			Expect(code).To(Equal(http.StatusOK))
			Expect(h).NotTo(HaveKey("X-Cf-Proxy-Signature"))
		})

		It("names the backend by its address when it has no instance id", func() {
			e := b.endpoint()
			e.PrivateInstanceID = ""
			r.registry.Unregister("app.example.com", e)
			r.registry.Register("app.example.com", e)
			r.get("app.example.com", "/", nil)
			Expect(b.lastRequest().Header.Get("X-CF-InstanceID")).To(Equal(e.Addr()))
		})
	})

	Describe("X-CF-APP-INSTANCE", func() {
		var backends []*backend

		BeforeEach(func() {
			backends = nil
			for i := range 3 {
				b := startBackend(fmt.Sprint("b", i), i, nil)
				backends = append(backends, b)
				r.registry.Register("app.example.com", b.endpoint())
			}
		})

		It("sends the request to that instance, without the header", func() {
			for range 5 {
				_, _, body := r.get("app.example.com", "/", http.Header{"X-Cf-App-Instance": {appGUID + ":2"}})
				Expect(body).To(Equal("b2"))
			}
			Expect(backends[2].lastRequest().Header).NotTo(HaveKey("X-Cf-App-Instance"))
		})

		It("refuses a malformed header with 400", func() {
			for _, v := range []string{"nope", appGUID, appGUID + ":x", strings.ToUpper(appGUID) + ":1"} {
				code, h, body := r.get("app.example.com", "/", http.Header{"X-Cf-App-Instance": {v}})
				Expect(code).To(Equal(http.StatusBadRequest), v)
				Expect(h.Get("X-Cf-RouterError")).To(Equal("invalid_cf_app_instance_header"))
				Expect(body).To(Equal("400 Bad Request: Invalid X-CF-App-Instance Header\n"))
			}
		})

		It("answers 400 unknown_route when there is no such instance, as gorouter", func() {
			code, h, body := r.get("app.example.com", "/", http.Header{"X-Cf-App-Instance": {appGUID + ":7"}})
			Expect(code).To(Equal(http.StatusBadRequest))
			Expect(h.Get("X-Cf-RouterError")).To(Equal("unknown_route"))
			Expect(body).To(Equal(fmt.Sprintf(
				"400 Bad Request: Requested instance ('7') with guid ('%s') does not exist for route ('app.example.com')\n", appGUID)))
		})
	})

	Describe("sticky sessions", func() {
		var backends []*backend

		BeforeEach(func() {
			backends = nil
			for i := range 3 {
				b := startBackend(fmt.Sprint("guid-", i), i, func(w http.ResponseWriter, req *http.Request) {
					if strings.HasSuffix(req.URL.Path, "/login") {
						http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "s", Secure: true, SameSite: http.SameSiteLaxMode})
					}
					_, _ = io.WriteString(w, fmt.Sprint("guid-", i))
				})
				backends = append(backends, b)
				r.registry.Register("app.example.com", b.endpoint())
			}
		})

		vcapCookie := func(h http.Header) *http.Cookie {
			for _, c := range (&http.Response{Header: h}).Cookies() {
				if c.Name == "__VCAP_ID__" {
					return c
				}
			}
			return nil
		}

		It("adds __VCAP_ID__ naming the instance when the app sets JSESSIONID, and keeps the client there", func() {
			_, h, instance := r.get("app.example.com", "/login", nil)
			c := vcapCookie(h)
			Expect(c).NotTo(BeNil())
			Expect(c.Value).To(Equal(instance))
			Expect(c.Path).To(Equal("/"))
			Expect(c.HttpOnly).To(BeTrue())
			Expect(c.Secure).To(BeTrue())
			Expect(c.SameSite).To(Equal(http.SameSiteLaxMode))
			Expect(c.MaxAge).To(Equal(0))

			cookies := http.Header{"Cookie": {"JSESSIONID=s; __VCAP_ID__=" + instance}}
			for range 6 {
				_, h, body := r.get("app.example.com", "/", cookies)
				Expect(body).To(Equal(instance))
				Expect(vcapCookie(h)).To(BeNil())
			}
		})

		It("does not stick without JSESSIONID, like gorouter", func() {
			seen := map[string]bool{}
			for range 3 {
				_, _, body := r.get("app.example.com", "/", http.Header{"Cookie": {"__VCAP_ID__=guid-1"}})
				seen[body] = true
			}
			Expect(seen).To(HaveLen(3))
		})

		It("sends a client whose instance is gone to another and resets the cookie", func() {
			r.registry.Unregister("app.example.com", backends[1].endpoint())
			_, h, body := r.get("app.example.com", "/", http.Header{"Cookie": {"JSESSIONID=s; __VCAP_ID__=guid-1"}})
			Expect(body).To(BeElementOf("guid-0", "guid-2"))
			Expect(vcapCookie(h).Value).To(Equal(body))
		})

		It("sets the cookie's path to a path route's", func() {
			r.registry.Register("app.example.com/shop", backends[0].endpoint())
			_, h, _ := r.get("app.example.com", "/shop/login", nil)
			Expect(vcapCookie(h).Path).To(Equal("/shop"))
		})
	})

	Describe("retries", func() {
		var good *backend

		BeforeEach(func() {
			good = startBackend("good", 0, nil)
			r.registry.Register("app.example.com", good.endpoint())
		})

		It("never sends a POST again after a backend dropped it, and retries a GET", func() {
			d := startDropper()
			r.registry.Register("app.example.com", endpointAt(d.listener.Addr().String(), "dropper", 1))

			failures := 0
			for range 10 {
				res := r.request("POST", "app.example.com", "/", strings.NewReader("pay once"), nil)
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusBadGateway {
					failures++
					Expect(res.Header.Get("X-Cf-RouterError")).To(HavePrefix("endpoint_failure ("))
					Expect(string(body)).To(Equal("502 Bad Gateway: Registered endpoint failed to handle the request.\n"))
				} else {
					Expect(res.StatusCode).To(Equal(http.StatusOK))
				}
			}
			Expect(failures).To(BeNumerically(">", 0))
			Expect(int64(failures)).To(Equal(d.accepted.Load()))
			Expect(good.requests.Load()).To(Equal(int64(10 - failures)))

			good.requests.Store(0)
			for range 10 {
				code, _, body := r.get("app.example.com", "/", nil)
				Expect(code).To(Equal(http.StatusOK))
				Expect(body).To(Equal("good"))
			}
			Expect(good.requests.Load()).To(Equal(int64(10)))
		})

		It("retries a dead address, even a POST, and leaves it out after", func() {
			r.registry.Register("app.example.com", endpointAt(daemontest.FreeAddr(), "dead", 1))
			for range 10 {
				res := r.request("POST", "app.example.com", "/", strings.NewReader("x"), nil)
				Expect(res.StatusCode).To(Equal(http.StatusOK))
				res.Body.Close()
			}
			Expect(testutil.ToFloat64(r.metrics.EndpointFailures)).To(Equal(1.0))
			Expect(testutil.ToFloat64(r.metrics.Retries)).To(Equal(1.0))
		})

		It("answers 502 endpoint_failure only when every try failed, after at most 3", func() {
			r.registry.Unregister("app.example.com", good.endpoint())
			for i := range 4 {
				r.registry.Register("app.example.com", endpointAt(daemontest.FreeAddr(), fmt.Sprint("dead", i), i))
			}
			code, h, body := r.get("app.example.com", "/", nil)
			Expect(code).To(Equal(http.StatusBadGateway))
			Expect(h.Get("X-Cf-RouterError")).To(MatchRegexp(`^endpoint_failure \(dial tcp 127\.0\.0\.1:\d+: connect: connection refused\)$`))
			Expect(body).To(Equal("502 Bad Gateway: Registered endpoint failed to handle the request.\n"))
			Expect(testutil.ToFloat64(r.metrics.EndpointFailures)).To(Equal(3.0))
			Expect(testutil.ToFloat64(r.metrics.BadGateways)).To(Equal(1.0))
		})

		Describe("max attempts", func() {
			// good and four dead backends; without a backoff every request starts one further
			// round the pool, so five requests start once at each: the one starting at the
			// first dead backend reaches good on its fifth try, the next on its fourth.
			codes := func(maxAttempts int) []int {
				r = startRouter(func(c *proxy.Config) { c.MaxAttempts = maxAttempts; c.FailedEndpointBackoff = 0 })
				r.registry.Register("app.example.com", good.endpoint())
				for i := range 4 {
					r.registry.Register("app.example.com", endpointAt(daemontest.FreeAddr(), fmt.Sprint("dead", i), i+1))
				}
				var got []int
				for range 5 {
					code, _, _ := r.get("app.example.com", "/", nil)
					got = append(got, code)
				}
				return got
			}

			It("reaches the fifth backend with 5", func() {
				Expect(codes(5)).To(HaveEach(http.StatusOK))
				Expect(testutil.ToFloat64(r.metrics.EndpointFailures)).To(Equal(float64(4 + 3 + 2 + 1)))
			})

			It("gives up after 3 by default", func() {
				Expect(codes(0)).To(ConsistOf(http.StatusOK, http.StatusOK, http.StatusOK, http.StatusBadGateway, http.StatusBadGateway))
				Expect(testutil.ToFloat64(r.metrics.EndpointFailures)).To(Equal(float64(3 + 3 + 2 + 1)))
			})
		})

		It("tries a single dead backend once", func() {
			r.registry.Unregister("app.example.com", good.endpoint())
			r.registry.Register("app.example.com", endpointAt(daemontest.FreeAddr(), "dead", 0))
			code, _, _ := r.get("app.example.com", "/", nil)
			Expect(code).To(Equal(http.StatusBadGateway))
			Expect(testutil.ToFloat64(r.metrics.EndpointFailures)).To(Equal(1.0))
		})

		It("does not retry a GET whose backend was too slow to answer", func() {
			r = startRouter(func(c *proxy.Config) { c.ResponseTimeout = 100 * time.Millisecond })
			release := make(chan struct{})
			slow := startBackend("slow", 0, func(w http.ResponseWriter, _ *http.Request) { <-release })
			// After the backend's own cleanup is registered, so it runs first: closing the
			// server waits for this handler.
			DeferCleanup(func() { close(release) })
			r.registry.Register("app.example.com", slow.endpoint())
			r.registry.Register("app.example.com", good.endpoint())
			for range 4 {
				code, _, _ := r.get("app.example.com", "/", nil)
				if code != http.StatusOK {
					Expect(code).To(Equal(http.StatusBadGateway))
				}
			}
			Expect(slow.requests.Load()).To(Equal(int64(2)))
			Expect(testutil.ToFloat64(r.metrics.Retries)).To(Equal(0.0))
		})
	})

	It("passes a websocket upgrade through and copies both ways", func() {
		b := startBackend("ws", 0, func(w http.ResponseWriter, req *http.Request) {
			Expect(req.Header.Get("Upgrade")).To(Equal("websocket"))
			conn, rw, err := http.NewResponseController(w).Hijack()
			Expect(err).NotTo(HaveOccurred())
			defer conn.Close()
			_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			_ = rw.Flush()
			line, _ := rw.ReadString('\n')
			_, _ = rw.WriteString("echo: " + line)
			_ = rw.Flush()
		})
		r.registry.Register("ws.example.com", b.endpoint())

		conn, err := net.Dial("tcp", r.server.Listener.Addr().String())
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		_, err = io.WriteString(conn, "GET /chat HTTP/1.1\r\nHost: ws.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		Expect(err).NotTo(HaveOccurred())
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(http.StatusSwitchingProtocols))
		_, err = io.WriteString(conn, "hello\n")
		Expect(err).NotTo(HaveOccurred())
		Expect(br.ReadString('\n')).To(Equal("echo: hello\n"))
	})

	It("streams a response: its first part arrives before the backend has finished", func() {
		proceed := make(chan struct{})
		b := startBackend("stream", 0, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "first\n")
			w.(http.Flusher).Flush()
			select {
			case <-proceed:
			case <-time.After(5 * time.Second):
				return
			}
			_, _ = io.WriteString(w, "second\n")
		})
		r.registry.Register("stream.example.com", b.endpoint())
		res := r.request("GET", "stream.example.com", "/", nil, nil)
		defer res.Body.Close()
		br := bufio.NewReader(res.Body)
		Expect(br.ReadString('\n')).To(Equal("first\n"))
		close(proceed)
		Expect(br.ReadString('\n')).To(Equal("second\n"))
	})

	It("writes a gorouter access log line per request", func() {
		b := startBackend("guid-3", 3, nil)
		r.registry.Register("app.example.com", b.endpoint())
		_, h, _ := r.get("app.example.com", "/path?q=1", http.Header{"User-Agent": {"spec"}, "X-Forwarded-For": {"9.9.9.9"}})
		r.get("missing.example.com", "/", nil)
		lines := strings.Split(strings.TrimSuffix(string(r.accessLog.Contents()), "\n"), "\n")
		Expect(lines).To(HaveLen(2))
		Expect(lines[0]).To(MatchRegexp(`^app\.example\.com - \[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z\] "GET /path\?q=1 HTTP/1\.1" 200 0 6 "-" "spec" "127\.0\.0\.1:\d+" "` +
			regexp.QuoteMeta(b.endpoint().Addr()) + `" x_forwarded_for:"9\.9\.9\.9, 127\.0\.0\.1" x_forwarded_proto:"http" vcap_request_id:"` +
			h.Get("X-Vcap-Request-Id") + `" response_time:\d+\.\d{6} gorouter_time:\d+\.\d{6} app_id:"` + appGUID +
			`" app_index:"3" instance_id:"guid-3" x_cf_routererror:"-"$`))
		Expect(lines[1]).To(MatchRegexp(`^missing\.example\.com - \[.*\] "GET / HTTP/1\.1" 404 0 \d+ .* "-" x_forwarded_for:"-" .* app_id:"-" app_index:"-" instance_id:"-" x_cf_routererror:"unknown_route"$`))
	})

	It("counts requests by status class", func() {
		b := startBackend("b", 0, nil)
		r.registry.Register("app.example.com", b.endpoint())
		r.get("app.example.com", "/", nil)
		r.get("app.example.com", "/", nil)
		r.get("missing.example.com", "/", nil)
		Expect(testutil.ToFloat64(r.metrics.Requests.WithLabelValues("2xx"))).To(Equal(2.0))
		Expect(testutil.ToFloat64(r.metrics.Requests.WithLabelValues("4xx"))).To(Equal(1.0))
		Expect(testutil.CollectAndCount(r.metrics.BackendLatency)).To(Equal(1))
	})
})
