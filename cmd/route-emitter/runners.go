package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/tedsuo/ifrit/grouper"

	"github.com/diego-go/diego/cmd/route-emitter/config"
	"github.com/diego-go/diego/internal/daemon"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/routeemitter"
)

// lockName is upstream's: Consul key v1/locks/route_emitter_lock.
const lockName = "route_emitter_lock"

// buildMembers builds the ordered group: health (and metrics), lock, emitter. Health and metrics
// come first so a standby answers while it waits for the lock; the emitter runs only while the
// lock is held, and the whole group stops (the process exits non-zero) when it is lost. NATS is
// connected from the start (reconnecting for ever), so a standby that takes over publishes at
// once.
func buildMembers(logger *slog.Logger, cfg config.Config) (grouper.Members, error) {
	consul, err := locket.NewClient(cfg.ConsulAddress)
	if err != nil {
		return nil, err
	}
	bbsClient, err := daemon.BBSClient(logger, consul, cfg.BBS)
	if err != nil {
		return nil, err
	}
	natsConn, err := daemon.ConnectNATS(logger, "route-emitter", cfg.NATSURLs)
	if err != nil {
		return nil, err
	}

	reg := daemon.NewRegistry()
	emitter := routeemitter.New(routeemitter.Config{
		BBS:              bbsClient,
		NATS:             natsConn,
		Logger:           logger,
		Metrics:          routeemitter.NewMetrics(reg),
		SyncInterval:     cfg.SyncInterval.D(),
		RegisterInterval: cfg.RegisterInterval.D(),
	})

	var lock daemon.LockState
	natsUp := daemon.HealthCheck{Name: "nats", Check: func(context.Context) error {
		if !natsConn.IsConnected() {
			return errors.New("not connected to any of nats_urls")
		}
		return nil
	}}
	health := daemon.HealthHandler(&lock, natsUp)
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", health)
	mux.Handle("GET /ping", health)

	members := append(daemon.StatusServers(cfg.HealthAddress, mux, cfg.MetricsAddress, reg),
		lock.Track(daemon.LockMember(logger, consul, lockName, cfg.Lock, "http://"+cfg.HealthAddress)),
		grouper.Member{Name: "emitter", Runner: emitter},
	)
	return members, nil
}
