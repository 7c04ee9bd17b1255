// Command garden is the cell's container server: garden's own server package over a unix socket
// or TCP in front of the gardenrunc backend. Containers' init and the exec helper
// come from the small static garden-init binary (cmd/garden/garden-init), found next to
// this one or at init_bin; this binary can stand in for it when built with CGO_ENABLED=0.
package main

import (
	"log/slog"
	"net"
	"net/http"
	"os"

	"code.cloudfoundry.org/garden/server"
	"code.cloudfoundry.org/lager/v3"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"

	"github.com/diego-go/diego/cmd/garden/config"
	"github.com/diego-go/diego/gardenrunc"
	"github.com/diego-go/diego/gardenrunc/initproc"
	"github.com/diego-go/diego/internal/daemon"
)

func main() {
	// the garden binary can stand in for garden-init
	if code, ok := initproc.Run(os.Args[1:]); ok {
		os.Exit(code)
	}
	cfg := daemon.LoadConfig("garden", config.Load) // -config FILE; exit 2 when refused
	logger := daemon.NewLogger("garden", cfg.LogLevel)
	listen, err := prepareListener(cfg)
	if err != nil {
		logger.Error("garden: cannot listen", "error", err)
		os.Exit(2)
	}

	backend, err := gardenrunc.New(gardenrunc.Config{
		DepotDir: cfg.DepotDir, RuncBin: cfg.RuncBin, RuncRoot: cfg.RuncRoot, InitBin: cfg.InitBin,
		PreloadedRootFS: cfg.PreloadedRootFS, DefaultRootFS: cfg.DefaultRootFS,
		CgroupParent: cfg.CgroupParent, BridgeName: cfg.BridgeName, ChainPrefix: cfg.ChainPrefix, NetworkPool: cfg.NetworkPool,
		ExternalIP: cfg.ExternalIP, MTU: cfg.MTU, PortRangeStart: cfg.PortRangeStart,
		PortRangeEnd: cfg.PortRangeEnd, IPForward: cfg.IPForward, MaxContainers: cfg.MaxContainers,
		DefaultGraceTime: cfg.DefaultGraceTime.D(), ImageCacheDir: cfg.ImageCacheDir,
		InsecureRegistries: cfg.InsecureRegistries, UserNSHostID: cfg.UserNSHostID,
		AllowHostAccess: cfg.AllowHostAccess, Logger: logger,
	})
	if err != nil {
		logger.Error("garden: cannot start", "error", err)
		os.Exit(2)
	}

	lagerLogger := lager.NewLogger("garden")
	lagerLogger.RegisterSink(lager.NewSlogSink(logger))
	srv := server.New(cfg.ListenNetwork, cfg.ListenAddress, cfg.DefaultGraceTime.D(), backend, lagerLogger)

	var members grouper.Members
	if cfg.HealthAddress != "" {
		members = daemon.StatusServers(cfg.HealthAddress, healthHandler(), cfg.MetricsAddress, daemon.NewRegistry())
	}
	members = append(members,
		grouper.Member{Name: "backend", Runner: backendRunner(backend, logger)},
		grouper.Member{Name: "garden-server", Runner: serverRunner(srv, listen, cfg.ListenNetwork, cfg.ListenAddress, logger)},
	)
	if err := daemon.Run(logger, "garden", members, "listen_network", cfg.ListenNetwork, "listen_address", cfg.ListenAddress); err != nil {
		os.Exit(1)
	}
}

// healthHandler answers GET /ping with 200 while the process runs.
func healthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux
}

// backendRunner prepares the host and reloads containers; on a signal it leaves them running.
func backendRunner(b *gardenrunc.Backend, logger *slog.Logger) ifrit.Runner {
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		if err := b.Start(); err != nil {
			return err
		}
		close(ready)
		<-signals
		return b.Stop()
	})
}

// serverRunner serves garden's API on what listen opens; it is ready once that is listening.
func serverRunner(s *server.GardenServer, listen func() (net.Listener, error), network, addr string, logger *slog.Logger) ifrit.Runner {
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		if err := s.SetupBomberman(); err != nil {
			return err
		}
		l, err := listen()
		if err != nil {
			return err
		}
		errCh := make(chan error, 1)
		go func() { errCh <- s.Serve(l) }()
		close(ready)
		logger.Info("listening", "network", network, "address", addr)
		select {
		case <-signals:
			return s.Stop()
		case err := <-errCh:
			return err
		}
	})
}
