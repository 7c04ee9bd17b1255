// Command garden is the cell's container server: garden's own server package over a unix socket
// or TCP in front of the gardenrunc backend. Containers' init, per-process shims and the exec
// helper come from the small static garden-init binary (cmd/garden/garden-init), found next to
// this one or at init_bin; this binary can stand in for it when built with CGO_ENABLED=0.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"code.cloudfoundry.org/garden/server"
	"code.cloudfoundry.org/lager/v3"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/sigmon"

	"github.com/diego-go/diego/cmd/garden/config"
	"github.com/diego-go/diego/gardenrunc"
	"github.com/diego-go/diego/gardenrunc/initproc"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		// the garden binary can stand in for garden-init
		case "init":
			os.Exit(initproc.RunInit())
		case "exec":
			os.Exit(initproc.RunExecHelper())
		case "shim":
			os.Exit(initproc.RunShim(os.Args[2:]))
		case "tar-in":
			os.Exit(initproc.RunTarIn(os.Args[2:]))
		case "tar-out":
			os.Exit(initproc.RunTarOut(os.Args[2:]))
		}
	}
	configPath := flag.String("config", "", "path to the JSON config file")
	flag.Parse()
	if *configPath == "" {
		fmt.Fprintln(os.Stderr, "garden: -config is required")
		os.Exit(2)
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "garden: invalid config: %v\n", err)
		os.Exit(2)
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.LogLevel]
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("component", "garden")

	backend, err := gardenrunc.New(gardenrunc.Config{
		DepotDir: cfg.DepotDir, RuncBin: cfg.RuncBin, RuncRoot: cfg.RuncRoot, InitBin: cfg.InitBin, ExecMode: cfg.ExecMode,
		PreloadedRootFS: cfg.PreloadedRootFS, DefaultRootFS: cfg.DefaultRootFS,
		CgroupParent: cfg.CgroupParent, BridgeName: cfg.BridgeName, ChainPrefix: cfg.ChainPrefix, NetworkPool: cfg.NetworkPool,
		ExternalIP: cfg.ExternalIP, MTU: cfg.MTU, PortRangeStart: cfg.PortRangeStart,
		PortRangeEnd: cfg.PortRangeEnd, IPForward: cfg.IPForward, MaxContainers: cfg.MaxContainers,
		DefaultGraceTime: time.Duration(cfg.DefaultGraceTime), ImageCacheDir: cfg.ImageCacheDir,
		InsecureRegistries: cfg.InsecureRegistries, Logger: logger,
	})
	if err != nil {
		logger.Error("backend-config-invalid", "error", err)
		os.Exit(2)
	}

	lagerLogger := lager.NewLogger("garden")
	lagerLogger.RegisterSink(lager.NewSlogSink(logger))
	srv := server.New(cfg.ListenNetwork, cfg.ListenAddress, time.Duration(cfg.DefaultGraceTime), backend, lagerLogger)

	members := grouper.Members{
		{Name: "backend", Runner: backendRunner(backend, logger)},
		{Name: "garden-server", Runner: serverRunner(srv, cfg.ListenNetwork, cfg.ListenAddress, logger)},
	}
	process := ifrit.Invoke(sigmon.New(grouper.NewOrdered(os.Interrupt, members)))
	logger.Info("started", "listen_network", cfg.ListenNetwork, "listen_address", cfg.ListenAddress)
	if err := <-process.Wait(); err != nil {
		logger.Error("exited-with-failure", "error", err)
		os.Exit(1)
	}
	logger.Info("exited")
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

// serverRunner serves garden's API; it is ready once the socket is listening.
func serverRunner(s *server.GardenServer, network, addr string, logger *slog.Logger) ifrit.Runner {
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		if err := s.SetupBomberman(); err != nil {
			return err
		}
		l, err := s.Listen()
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
