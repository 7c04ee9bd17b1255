package main

import (
	"log/slog"
	"net/http"

	"github.com/tedsuo/ifrit/grouper"

	"github.com/diego-go/diego/cmd/converger/config"
	"github.com/diego-go/diego/converger"
	"github.com/diego-go/diego/internal/daemon"
	"github.com/diego-go/diego/locket"
)

// buildMembers builds the ordered group: health (and metrics), lock, convergence loop, cell
// watcher. Health comes first so a standby answers while it waits for the lock; the loop and the
// watcher start only once the lock is held (the loop's first pass is the one for winning it), and
// the whole group stops (the process exits non-zero) when the lock is lost.
func buildMembers(logger *slog.Logger, cfg config.Config) (grouper.Members, error) {
	consul, err := locket.NewClient(cfg.ConsulAddress)
	if err != nil {
		return nil, err
	}
	bbsClient, err := daemon.BBSClient(logger, consul, cfg.BBS)
	if err != nil {
		return nil, err
	}

	reg := daemon.NewRegistry()
	loop := converger.New(logger, bbsClient, cfg.ConvergenceInterval.D(), converger.NewMetrics(reg))

	lock := &daemon.LockState{}
	health := http.NewServeMux()
	health.Handle("GET /healthz", daemon.HealthHandler(lock))
	health.Handle("GET /ping", daemon.HealthHandler(lock))

	return append(daemon.StatusServers(cfg.HealthAddress, health, cfg.MetricsAddress, reg),
		// the lock holds who leads: this converger's health listener
		lock.Track(daemon.LockMember(logger, consul, "converge_lock", cfg.Lock, "http://"+cfg.HealthAddress)),
		grouper.Member{Name: "convergence", Runner: loop},
		grouper.Member{Name: "cell-watcher", Runner: locket.NewPresenceWatcher(logger, consul, locket.CellPresencePrefix, func(c locket.PresenceChange) {
			if c.Kind == locket.PresenceVanished {
				logger.Info("cell vanished: converging", "cell_id", c.Name)
				loop.Trigger()
			}
		})},
	), nil
}
