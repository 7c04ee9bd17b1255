// Command router is a gorouter-compatible HTTP router: it learns routes from router.register and
// router.unregister on NATS (package router/mbus), keeps them in its routing table
// (router/registry), prunes those not renewed, and proxies each request by its Host header to
// the route's backends (router/proxy). Usage: router -config FILE (see cmd/router/config).
package main

import (
	"os"

	"github.com/diego-go/diego/cmd/router/config"
	"github.com/diego-go/diego/internal/daemon"
)

func main() {
	cfg := daemon.LoadConfig("router", config.Load)
	logger := daemon.NewLogger("router", cfg.LogLevel)

	members, closeAccessLog, err := buildMembers(logger, cfg)
	if err != nil {
		logger.Error("router: cannot start", "error", err)
		os.Exit(1)
	}
	err = daemon.Run(logger, "router", members, "listen_address", cfg.ListenAddress, "health_address", cfg.HealthAddress)
	closeAccessLog()
	if err != nil {
		os.Exit(1)
	}
}
