package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/router"
)

var _ = Describe("the router", func() {
	It("routes a registered backend, forgets it on unregister, and answers 404 unknown_route for a host it does not know", func() {
		r := startRouter(nil, true)
		b := startBackend(0)
		publish(router.RegisterSubject, b.message("app.example.com"))
		answers(r, "app.example.com", "/", b.answer())

		res := r.get("unknown.example.com", "/")
		Expect(res.status).To(Equal(http.StatusNotFound))
		Expect(res.header.Get("X-Cf-Routererror")).To(Equal("unknown_route"))

		publish(router.UnregisterSubject, b.message("app.example.com"))
		Eventually(func() int { return r.get("app.example.com", "/").status }, 5*time.Second, 20*time.Millisecond).Should(Equal(http.StatusNotFound))
		Expect(r.get("app.example.com", "/").header.Get("X-Cf-Routererror")).To(Equal("unknown_route"))
	})

	It("counts its routes and endpoints in its metrics and writes an access log line per request", func() {
		r := startRouter(nil, true)
		b0, b1 := startBackend(0), startBackend(1)
		publish(router.RegisterSubject, b0.message("m.example.com", "m2.example.com"))
		publish(router.RegisterSubject, b1.message("m.example.com"))
		Eventually(func() float64 { return r.metric("router_routes") }, 5*time.Second).Should(Equal(2.0))
		Eventually(func() float64 { return r.metric("router_endpoints") }, 5*time.Second).Should(Equal(3.0))

		answers(r, "m2.example.com", "/", b0.answer())
		Eventually(func() string {
			b, _ := os.ReadFile(r.accessLog)
			return string(b)
		}, 5*time.Second).Should(ContainSubstring("m2.example.com"))
	})

	It("prunes an endpoint not registered again within the threshold, and keeps one that is", func() {
		r := startRouter(map[string]any{"register_interval": "1s", "prune_threshold": "2s", "prune_interval": "200ms"}, true)
		renewed, dropped := startBackend(0), startBackend(1)
		publish(router.RegisterSubject, renewed.message("kept.example.com"))
		publish(router.RegisterSubject, dropped.message("dropped.example.com"))
		answers(r, "dropped.example.com", "/", dropped.answer())

		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					publish(router.RegisterSubject, renewed.message("kept.example.com"))
				case <-stop:
					return
				}
			}
		}()
		DeferCleanup(func() { close(stop); <-done })

		Eventually(func() int { return r.get("dropped.example.com", "/").status }, 5*time.Second, 50*time.Millisecond).Should(Equal(http.StatusNotFound))
		Consistently(func() string { return r.get("kept.example.com", "/").body }, 3*time.Second, 100*time.Millisecond).Should(Equal(renewed.answer()))
	})

	It("announces itself with router.start at start and after NATS comes back, and answers router.greet the same", func() {
		starts := make(chan router.RouterStart, 10)
		_, err := emitter.Subscribe(router.StartSubject, func(m *nats.Msg) {
			var s router.RouterStart
			if json.Unmarshal(m.Data, &s) == nil {
				starts <- s
			}
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(emitter.Flush()).To(Succeed())

		startRouter(map[string]any{"register_interval": "3s", "prune_threshold": "45s", "announce_host": "10.1.2.3"}, true)
		var first router.RouterStart
		Eventually(starts, 5*time.Second).Should(Receive(&first))
		Expect(first.ID).NotTo(BeEmpty())
		Expect(first.Hosts).To(Equal([]string{"10.1.2.3"}))
		Expect(first.MinimumRegisterIntervalInSeconds).To(Equal(3))
		Expect(first.PruneThresholdInSeconds).To(Equal(45))

		greeting, err := emitter.Request(router.GreetSubject, nil, 5*time.Second)
		Expect(err).NotTo(HaveOccurred())
		var answer router.RouterStart
		Expect(json.Unmarshal(greeting.Data, &answer)).To(Succeed())
		Expect(answer).To(Equal(first))

		Expect(natsServer.Restart()).To(Succeed())
		Eventually(starts, 15*time.Second).Should(Receive(Equal(first)))
	})

	It("learns, when started after the emitter, every route the emitter sends again on router.start, before its first request", func() {
		backends := []*backend{startBackend(0), startBackend(1), startBackend(2)}
		registrations := []router.RegistryMessage{
			backends[0].message("one.example.com"), backends[1].message("two.example.com"),
			backends[2].message("three.example.com", "one.example.com/three"),
		}
		// The emitter registers everything again when a router starts, as the route emitter
		// does: after a jitter (up to a second), so that emitters do not all answer at once.
		_, err := emitter.Subscribe(router.StartSubject, func(*nats.Msg) {
			time.AfterFunc(500*time.Millisecond, func() {
				for _, m := range registrations {
					body, _ := json.Marshal(m)
					_ = emitter.Publish(router.RegisterSubject, body)
				}
			})
		})
		Expect(err).NotTo(HaveOccurred())
		for _, m := range registrations {
			publish(router.RegisterSubject, m) // no router hears these
		}

		// Its first request, once it reports healthy, already finds the routes.
		r := startRouter(map[string]any{"start_response_delay_interval": "1500ms"}, true)
		Expect(r.get("one.example.com", "/").body).To(Equal(backends[0].answer()))
		Expect(r.get("two.example.com", "/").body).To(Equal(backends[1].answer()))
		Expect(r.get("three.example.com", "/").body).To(Equal(backends[2].answer()))
		Expect(r.get("one.example.com", "/three/x").instance()).To(Equal(backends[2].answer()))
	})

	It("matches path routes and wildcard hosts as gorouter does, host case-insensitively and without its port", func() {
		r := startRouter(nil, true)
		root, api, wild, deeper := startBackend(0), startBackend(1), startBackend(2), startBackend(3)
		publish(router.RegisterSubject, root.message("app.example.com"))
		publish(router.RegisterSubject, api.message("app.example.com/api"))
		publish(router.RegisterSubject, wild.message("*.wild.example.com"))
		publish(router.RegisterSubject, deeper.message("*.deep.wild.example.com"))
		answers(r, "app.example.com", "/", root.answer())
		answers(r, "x.deep.wild.example.com", "/", deeper.answer())

		for _, c := range []struct{ host, path, want string }{
			{"app.example.com", "/api", api.answer()},
			{"app.example.com", "/api/v1/x?y=z", api.answer()},
			{"app.example.com", "/apix", root.answer()},
			{"app.example.com", "/other", root.answer()},
			{"APP.Example.COM:8081", "/", root.answer()},
			{"a.wild.example.com", "/", wild.answer()},
			{"a.b.wild.example.com", "/", wild.answer()},
			{"x.deep.wild.example.com", "/", deeper.answer()},
		} {
			Expect(r.get(c.host, c.path).instance()).To(Equal(c.want), "%s%s", c.host, c.path)
		}
		res := r.get("wild.example.com", "/")
		Expect(res.status).To(Equal(http.StatusNotFound), "a wildcard does not match its own domain")
	})

	It("keeps a client with a session on its instance while it lives", func() {
		r := startRouter(nil, true)
		backends := []*backend{startBackend(0), startBackend(1), startBackend(2)}
		for _, b := range backends {
			publish(router.RegisterSubject, b.message("sticky.example.com"))
		}
		Eventually(func() float64 { return r.metric("router_endpoints") }, 5*time.Second).Should(Equal(3.0))

		res := r.get("sticky.example.com", "/session")
		var vcapID string
		for _, c := range res.cookie {
			if c.Name == "__VCAP_ID__" {
				vcapID = c.Value
			}
		}
		Expect(vcapID).NotTo(BeEmpty(), "a response setting JSESSIONID gets __VCAP_ID__")
		Expect(vcapID).To(Equal(strings.Fields(res.body)[1]), "__VCAP_ID__ names the instance that answered")

		c := newClient()
		seen := map[string]bool{}
		for range 12 {
			req, err := http.NewRequest(http.MethodGet, "/", nil)
			Expect(err).NotTo(HaveOccurred())
			req.AddCookie(&http.Cookie{Name: "JSESSIONID", Value: vcapID})
			req.AddCookie(&http.Cookie{Name: "__VCAP_ID__", Value: vcapID})
			res, err := r.do(c, req, "sticky.example.com")
			Expect(err).NotTo(HaveOccurred())
			seen[res.body] = true
		}
		Expect(seen).To(HaveLen(1))
		Expect(seen).To(HaveKey(HaveSuffix(" " + vcapID)))

		others := map[string]bool{}
		for range 12 {
			others[r.get("sticky.example.com", "/").body] = true
		}
		Expect(others).To(HaveLen(3), "without the cookie requests go round the pool")
	})

	It("answers 502 endpoint_failure when every backend of a route is dead", func() {
		r := startRouter(nil, true)
		dead := startBackend(0)
		publish(router.RegisterSubject, dead.message("dead.example.com"))
		answers(r, "dead.example.com", "/", dead.answer())
		dead.session.Signal(syscall.SIGKILL)
		Eventually(dead.session.Exited, 5*time.Second).Should(BeClosed())

		res := r.get("dead.example.com", "/")
		Expect(res.status).To(Equal(http.StatusBadGateway))
		Expect(res.header.Get("X-Cf-Routererror")).To(HavePrefix("endpoint_failure"))
	})

	It("finishes the requests in flight when stopped, and exits 0", func() {
		r := startRouter(nil, true)
		b := startBackend(0)
		publish(router.RegisterSubject, b.message("slow.example.com"))
		answers(r, "slow.example.com", "/", b.answer())

		done := make(chan response, 1)
		go func() {
			defer GinkgoRecover()
			done <- r.get("slow.example.com", "/sleep?ms=1500")
		}()
		time.Sleep(500 * time.Millisecond)
		r.session.Terminate()
		Eventually(func() bool { return daemontest.Listening(r.addr) }, 2*time.Second, 20*time.Millisecond).Should(BeFalse(), "it stops accepting")
		var res response
		Eventually(done, 5*time.Second).Should(Receive(&res))
		Expect(res.status).To(Equal(http.StatusOK))
		Expect(res.body).To(Equal("slept 1500 ms"))
		Eventually(r.session, 5*time.Second).Should(gexec.Exit(0))
	})

	It("is not ready, and does not listen, while no NATS server has its subscriptions", func() {
		port, err := testservers.FreePort()
		Expect(err).NotTo(HaveOccurred())
		r := startRouter(map[string]any{"nats_urls": []string{fmt.Sprintf("nats://127.0.0.1:%d", port)}}, false)
		Eventually(r.healthStatus, 10*time.Second).Should(Equal(http.StatusServiceUnavailable))
		Consistently(func() bool { return daemontest.Listening(r.addr) }, time.Second).Should(BeFalse())
		Expect(r.session.ExitCode()).To(Equal(-1), "it waits for NATS")
	})

	It("with 3 backends and one killed mid-load: GETs see no error and no POST reaches a backend twice", func() {
		r := startRouter(map[string]any{"endpoint_dial_timeout": "500ms"}, true)
		backends := []*backend{startBackend(0), startBackend(1), startBackend(2)}
		for _, b := range backends {
			publish(router.RegisterSubject, b.message("load.example.com"))
		}
		Eventually(func() float64 { return r.metric("router_endpoints") }, 5*time.Second).Should(Equal(3.0))
		victim := backends[1]

		var (
			stop      atomic.Bool
			wg        sync.WaitGroup
			gets      atomic.Int64
			mu        sync.Mutex
			getErrors []string
			posted    = map[string]int{} // body -> status (0: transport error)
		)
		for range 3 {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				c := newClient()
				for !stop.Load() {
					req, _ := http.NewRequest(http.MethodGet, "/", nil)
					res, err := r.do(c, req, "load.example.com")
					gets.Add(1)
					if err != nil || res.status != http.StatusOK {
						mu.Lock()
						getErrors = append(getErrors, fmt.Sprintf("%v %d %s %s", err, res.status, res.header.Get("X-Cf-Routererror"), res.body))
						mu.Unlock()
					}
				}
			}()
		}
		post := func(c *http.Client, body, query string, instance string) {
			req, _ := http.NewRequest(http.MethodPost, "/record"+query, strings.NewReader(body))
			if instance != "" {
				req.Header.Set("X-CF-APP-INSTANCE", instance)
			}
			res, err := r.do(c, req, "load.example.com")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				posted[body] = 0
			} else {
				posted[body] = res.status
			}
		}
		wg.Add(1)
		go func() {
			defer GinkgoRecover()
			defer wg.Done()
			c := newClient()
			for i := 0; !stop.Load(); i++ {
				post(c, fmt.Sprintf("post-%d", i), "?ms=20", "")
			}
		}()

		time.Sleep(time.Second)
		// A POST the victim has received, and not answered, when it is killed.
		inflight := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(inflight)
			post(newClient(), "post-inflight", "?ms=5000", appGUID+":1")
		}()
		Eventually(victim.session.Out, 5*time.Second).Should(gbytes.Say("record: post-inflight\n"))
		victim.session.Signal(syscall.SIGKILL)
		Eventually(inflight, 10*time.Second).Should(BeClosed())
		time.Sleep(2 * time.Second)
		stop.Store(true)
		wg.Wait()

		Expect(getErrors).To(BeEmpty(), "of %d GETs", gets.Load())
		Expect(gets.Load()).To(BeNumerically(">", 50))

		received := map[string]int{}
		record := regexp.MustCompile(`(?m)^record: (\S+)$`)
		for _, b := range backends {
			for _, m := range record.FindAllStringSubmatch(string(b.session.Out.Contents()), -1) {
				received[m[1]]++
			}
		}
		Expect(posted).To(HaveKeyWithValue("post-inflight", Not(Equal(http.StatusOK))))
		Expect(received).To(HaveKeyWithValue("post-inflight", 1), "the POST the victim received was not sent again elsewhere")
		failed := 0
		for body, status := range posted {
			Expect(received[body]).To(BeNumerically("<=", 1), "%s was delivered %d times", body, received[body])
			if status == http.StatusOK {
				Expect(received[body]).To(Equal(1), body)
			} else {
				failed++
			}
		}
		Expect(len(posted)).To(BeNumerically(">", 20))
		GinkgoWriter.Printf("%d GETs, %d POSTs of which %d not answered 200\n", gets.Load(), len(posted), failed)
	})
})
