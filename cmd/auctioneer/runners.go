package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/http_server"

	"github.com/diego-go/diego/auction"
	"github.com/diego-go/diego/auctioneer/server"
	"github.com/diego-go/diego/cmd/auctioneer/config"
	"github.com/diego-go/diego/internal/daemon"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/rep"
	"github.com/diego-go/diego/tlsconfig"
)

// buildMembers builds the ordered group: health (and metrics), lock, auction runner, API server,
// service registration. Health and metrics come first so a standby answers health checks while it
// waits for the lock; the runner and the API start only once the lock is held, and the whole group
// stops (the process exits non-zero) when the lock is lost.
func buildMembers(logger *slog.Logger, cfg config.Config) (grouper.Members, error) {
	serverTLS, err := tlsconfig.Server(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
	if err != nil {
		return nil, err
	}
	consul, err := locket.NewClient(cfg.ConsulAddress)
	if err != nil {
		return nil, err
	}
	bbsClient, err := daemon.BBSClient(logger, consul, cfg.BBS)
	if err != nil {
		return nil, err
	}
	repTLS, err := tlsconfig.OptionalClient(cfg.RepCertFile, cfg.RepKeyFile, cfg.RepCAFile)
	if err != nil {
		return nil, err
	}

	reg := daemon.NewRegistry()
	metrics := server.NewMetrics(reg)
	leader := prometheus.NewGauge(prometheus.GaugeOpts{Name: "auctioneer_leader", Help: "1 while this auctioneer holds the lock and serves."})
	reg.MustRegister(leader)

	inbox := server.NewInbox()
	opts := auction.DefaultOptions()
	opts.StartingContainerWeight = cfg.StartingContainerWeight
	opts.BinPackFirstFitWeight = cfg.BinPackFirstFitWeight
	opts.MaxStartsInFlight = cfg.StartingContainerCountMaximum
	runner := server.NewRunner(server.RunnerConfig{
		Inbox:   inbox,
		Cells:   server.ConsulCells{Client: consul, Logger: logger},
		Reps:    rep.NewClient(rep.Options{TLS: repTLS, StateTimeout: cfg.CellStateTimeout.D(), WorkTimeout: cfg.RepWorkTimeout.D()}),
		BBS:     bbsClient,
		Logger:  logger,
		Metrics: metrics,
		Auction: &opts,

		CellStateTimeout: cfg.CellStateTimeout.D(),
		MaxRounds:        cfg.MaxRounds,
		RequeueDelay:     cfg.RequeueDelay.D(),
	})

	var leading atomic.Bool
	api := ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		leading.Store(true)
		leader.Set(1)
		defer func() { leading.Store(false); leader.Set(0) }()
		return http_server.NewTLSServer(cfg.ListenAddress, server.NewHandler(logger, inbox), serverTLS).Run(signals, ready)
	})

	healthHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]bool{"healthy": true, "leader": leading.Load()})
	})
	healthMux := http.NewServeMux()
	healthMux.Handle("GET /healthz", healthHandler)
	healthMux.Handle("GET /ping", healthHandler)

	members := append(daemon.StatusServers(cfg.HealthAddress, healthMux, cfg.MetricsAddress, reg),
		daemon.LockMember(logger, consul, "auctioneer_lock", cfg.Lock, cfg.AdvertiseURL),
		grouper.Member{Name: "auction-runner", Runner: runner},
		grouper.Member{Name: "api", Runner: api},
	)
	if cfg.ServiceName != "" {
		reg, err := daemon.ServiceRegistration(cfg.ServiceName, cfg.ListenAddress)
		if err != nil {
			return nil, err
		}
		members = append(members, grouper.Member{Name: "service-registration",
			Runner: locket.NewServiceRegistration(logger, consul, reg, cfg.LockTTL.D())})
	}
	return members, nil
}
