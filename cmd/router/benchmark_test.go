package main_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/router"
)

// The benchmark of docs/performance.md: the same requests sent to a test app directly, through
// the router, and through the standard library's reverse proxy alone (cmd/router/internal/
// bareproxy: what one more hop costs on this machine), alternated in rounds of one run, at one client and at 16 concurrent
// clients (keep-alive connections, as a load balancer holds them); then the time from a
// router.register to the first request the router answers for it. Ratios are reported, not
// asserted: on a shared machine they move with the load. It fails only when a request does.
var _ = Describe("the router against the backend alone", Serial, Label("benchmark"), func() {
	It("measures latency and throughput through the router and the time for a registration to route", func() {
		if os.Getenv("DIEGO_ROUTER_BENCHMARK") == "" {
			Skip("set DIEGO_ROUTER_BENCHMARK=1 to run the benchmark")
		}
		// registered once: nothing is pruned during the run
		r := startRouter(map[string]any{"access_log_path": "", "log_level": "info", "register_interval": "20s", "prune_threshold": "600s"}, true)
		b := startBackend(0)
		publish(router.RegisterSubject, b.message("bench.example.com"))
		answers(r, "bench.example.com", "/", b.answer())
		bare := daemontest.FreeAddr()
		daemontest.Start(bareProxyPath, bare, b.addr())
		Eventually(func() bool { return daemontest.Listening(bare) }, 10*time.Second).Should(BeTrue())

		const rounds, phase = 3, 2 * time.Second
		for _, path := range []string{"/", "/sleep?ms=1"} {
			for _, clients := range []int{1, 16} {
				var direct, routed, bared result
				for range rounds {
					direct.add(load("http://"+b.addr()+path, "", clients, phase))
					routed.add(load("http://"+r.addr+path, "bench.example.com", clients, phase))
					bared.add(load("http://"+bare+path, "", clients, phase))
				}
				d, rt, bp := direct.summary(), routed.summary(), bared.summary()
				fmt.Fprintf(GinkgoWriter, "benchmark: GET %s, %d client(s), %d rounds of %s each: direct p50 %s p99 %s %.0f req/s; "+
					"router p50 %s p99 %s %.0f req/s, ratio p50 %.2f p99 %.2f throughput %.2f; "+
					"bare reverse proxy p50 %s p99 %s %.0f req/s, ratio p50 %.2f p99 %.2f throughput %.2f\n",
					path, clients, rounds, phase, d.p50, d.p99, d.rate,
					rt.p50, rt.p99, rt.rate, ratio(rt.p50, d.p50), ratio(rt.p99, d.p99), rt.rate/d.rate,
					bp.p50, bp.p99, bp.rate, ratio(bp.p50, d.p50), ratio(bp.p99, d.p99), bp.rate/d.rate)
			}
		}

		// From router.register to the first answer through the router, for new routes.
		const routes = 100
		var took []time.Duration
		c := newClient()
		for i := range routes {
			host := fmt.Sprintf("new-%d.example.com", i)
			start := time.Now()
			publish(router.RegisterSubject, b.message(host))
			for {
				req, _ := http.NewRequest(http.MethodGet, "/", nil)
				res, err := r.do(c, req, host)
				Expect(err).NotTo(HaveOccurred())
				if res.status == http.StatusOK {
					break
				}
				Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
			}
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		fmt.Fprintf(GinkgoWriter, "benchmark: router.register to first answer through the router, %d new routes: p50 %s p99 %s max %s\n",
			routes, took[routes/2], took[routes*99/100-1], took[routes-1])
	})
})

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// result is one side's requests over the rounds.
type result struct {
	latencies []time.Duration
	elapsed   time.Duration
}

func (r *result) add(o result) {
	r.latencies = append(r.latencies, o.latencies...)
	r.elapsed += o.elapsed
}

type summary struct {
	p50, p99 time.Duration
	rate     float64
}

func (r *result) summary() summary {
	slices.Sort(r.latencies)
	n := len(r.latencies)
	return summary{p50: r.latencies[n/2], p99: r.latencies[n*99/100], rate: float64(n) / r.elapsed.Seconds()}
}

// load sends GET url (with Host host when set) from clients goroutines, each on its own
// keep-alive connection, for d, and returns every request's latency.
func load(url, host string, clients int, d time.Duration) result {
	GinkgoHelper()
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	c := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	var (
		mu  sync.Mutex
		all []time.Duration
		wg  sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range clients {
		wg.Add(1)
		go func() {
			defer GinkgoRecover()
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				req, err := http.NewRequest(http.MethodGet, url, nil)
				Expect(err).NotTo(HaveOccurred())
				if host != "" {
					req.Host = host
				}
				t := time.Now()
				resp, err := c.Do(req)
				Expect(err).NotTo(HaveOccurred())
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				Expect(err).NotTo(HaveOccurred())
				Expect(resp.StatusCode).To(Equal(http.StatusOK))
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return result{latencies: all, elapsed: time.Since(start)}
}
