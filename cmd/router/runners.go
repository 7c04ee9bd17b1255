package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/http_server"

	"github.com/diego-go/diego/cmd/router/config"
	"github.com/diego-go/diego/internal/daemon"
	"github.com/diego-go/diego/router"
	"github.com/diego-go/diego/router/mbus"
	"github.com/diego-go/diego/router/proxy"
	"github.com/diego-go/diego/router/registry"
)

// buildMembers builds the ordered group: health and metrics, the NATS subscriber, the pruner,
// the proxy listener. The proxy listens only once the subscriber is ready (a server has its
// subscriptions and router.start is out) and start_response_delay_interval has passed after
// that: emitters answer router.start after a jitter, and a request before their answers would
// find no route. GET /health answers 200 from then on. The returned func closes the access log
// once the group has stopped.
func buildMembers(logger *slog.Logger, cfg config.Config) (grouper.Members, func(), error) {
	accessLog, closeAccessLog, err := openAccessLog(cfg.AccessLogPath)
	if err != nil {
		return nil, nil, err
	}
	reg := daemon.NewRegistry()
	routes := registry.New(logger, cfg.PruneThreshold.D())
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "router_routes", Help: "Routes (URIs) in the routing table."},
			func() float64 { return float64(routes.NumURIs()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "router_endpoints", Help: "Endpoints in the routing table, summed over routes."},
			func() float64 { return float64(routes.NumEndpoints()) }),
	)

	subscriber, err := mbus.NewSubscriber(logger, "router", cfg.NATSURLs, routes, router.RouterStart{
		ID:                               uuid.NewString(),
		Hosts:                            []string{announcedHost(cfg.AnnounceHost, cfg.ListenAddress)},
		MinimumRegisterIntervalInSeconds: int(cfg.RegisterInterval.D() / time.Second),
		PruneThresholdInSeconds:          int(cfg.PruneThreshold.D() / time.Second),
	})
	if err != nil {
		closeAccessLog()
		return nil, nil, err
	}

	handler := proxy.New(proxy.Config{
		Registry:              routes,
		Logger:                logger,
		AccessLog:             accessLog,
		DialTimeout:           cfg.EndpointDialTimeout.D(),
		ResponseTimeout:       cfg.EndpointTimeout.D(),
		FailedEndpointBackoff: cfg.FailedEndpointBackoff.D(),
		MaxAttempts:           cfg.MaxAttempts,
		RouteServices:         cfg.RouteServices,
		RouteServiceSecret:    cfg.RouteServicesSecret,
		RouteServiceTimeout:   cfg.RouteServicesTimeout.D(),
		Metrics:               proxy.NewMetrics(reg),
	})
	var ready atomic.Bool
	listener := ifrit.RunFunc(func(signals <-chan os.Signal, listening chan<- struct{}) error {
		defer ready.Store(false)
		if d := cfg.StartResponseDelayInterval.D(); d > 0 {
			logger.Info("waiting-for-routes-before-listening", "start_response_delay_interval", d.String())
			select {
			case <-time.After(d):
			case <-signals:
				return nil
			}
		}
		inner := ifrit.Invoke(http_server.New(cfg.ListenAddress, handler))
		select {
		case err := <-inner.Wait(): // it could not listen
			return err
		default:
		}
		ready.Store(true)
		close(listening)
		select {
		case err := <-inner.Wait():
			return err
		case sig := <-signals:
			ready.Store(false)
			inner.Signal(sig)
			return <-inner.Wait()
		}
	})

	health := http.NewServeMux()
	health.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	})

	members := append(daemon.StatusServers(cfg.HealthAddress, health, cfg.MetricsAddress, reg),
		grouper.Member{Name: "nats-subscriber", Runner: subscriber},
		grouper.Member{Name: "pruner", Runner: pruner(routes, cfg.PruneInterval.D())},
		grouper.Member{Name: "proxy", Runner: listener},
	)
	return members, closeAccessLog, nil
}

// pruner removes the endpoints not renewed within their threshold, every interval.
func pruner(routes *registry.Registry, interval time.Duration) ifrit.Runner {
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		close(ready)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				routes.PruneStale(now)
			case <-signals:
				return nil
			}
		}
	})
}

// openAccessLog is where access lines go: nowhere for "", stdout for "-", else the file,
// appended to.
func openAccessLog(path string) (io.Writer, func(), error) {
	switch path {
	case "":
		return nil, func() {}, nil
	case "-":
		return os.Stdout, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("access_log_path: %w", err)
	}
	return f, func() { _ = f.Close() }, nil
}

// announcedHost is the address router.start names: announce_host when set, else the
// listener's host when it is a specific one, else this machine's first non-loopback IPv4
// address, loopback when it has none. Nothing is sent anywhere to find it.
func announcedHost(announce, listenAddress string) string {
	if announce != "" {
		return announce
	}
	host, _, _ := net.SplitHostPort(listenAddress)
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return host
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return "127.0.0.1"
}
