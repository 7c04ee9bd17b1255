package proxy_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/diego-go/diego/router/proxy"
	"github.com/diego-go/diego/router/registry"
	"github.com/diego-go/diego/router/route"
)

// The benchmarks compare a GET answered by a loopback backend directly with the same GET
// through the proxy (access log on, to io.Discard), over kept-alive connections, and report
// the median and 99th percentile latency besides ns/op:
//
//	go test -run '^$' -bench . -benchtime 20000x ./router/proxy/

var benchBody = []byte("0 0c0ffee0-1234-4abc-8def-0123456789ab\n")

func benchBackend(b *testing.B) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(benchBody)))
		_, _ = w.Write(benchBody)
	}))
	b.Cleanup(s.Close)
	return s
}

func benchProxy(b *testing.B, backends ...*httptest.Server) *httptest.Server {
	reg := registry.New(slog.New(slog.DiscardHandler), time.Minute)
	for i, s := range backends {
		host, port, _ := net.SplitHostPort(s.Listener.Addr().String())
		p, _ := strconv.Atoi(port)
		reg.Register("app.example.com", &route.Endpoint{Host: host, Port: uint16(p), AppID: appGUID,
			PrivateInstanceID: "instance-" + strconv.Itoa(i), PrivateInstanceIndex: strconv.Itoa(i)})
	}
	s := httptest.NewServer(proxy.New(proxy.Config{
		Registry: reg, Logger: slog.New(slog.DiscardHandler), AccessLog: io.Discard,
		DialTimeout: time.Second, ResponseTimeout: time.Minute, FailedEndpointBackoff: time.Minute,
		RouteServices: proxy.RouteServicesRefuse,
	}))
	b.Cleanup(s.Close)
	return s
}

// run sends b.N GETs one after the other and reports their latency percentiles.
func run(b *testing.B, url string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Host = "app.example.com"
	get := func() {
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	for range 100 {
		get()
	}
	took := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		get()
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}

// runParallel sends GETs from GOMAXPROCS*4 goroutines: ns/op is the inverse of throughput.
func runParallel(b *testing.B, url string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.Cleanup(client.CloseIdleConnections)
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Host = "app.example.com"
		for pb.Next() {
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}

func BenchmarkDirect(b *testing.B) { run(b, benchBackend(b).URL) }

func BenchmarkProxy(b *testing.B) { run(b, benchProxy(b, benchBackend(b)).URL) }

// BenchmarkBareReverseProxy is the standard library's reverse proxy alone: what one more hop
// costs, the floor under BenchmarkProxy.
func BenchmarkBareReverseProxy(b *testing.B) {
	target, _ := url.Parse(benchBackend(b).URL)
	s := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	b.Cleanup(s.Close)
	run(b, s.URL)
}

func BenchmarkDirectParallel(b *testing.B) { runParallel(b, benchBackend(b).URL) }

func BenchmarkProxyParallel(b *testing.B) {
	runParallel(b, benchProxy(b, benchBackend(b), benchBackend(b), benchBackend(b)).URL)
}
