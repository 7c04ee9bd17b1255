// Command route-emitter is the route-emitter daemon: while it holds its Consul lock it keeps the
// routing table of the LRPs' HTTP routes from the BBS and publishes it to the routers over NATS
// (router.register / router.unregister, gorouter's protocol). A standby only answers its health
// check. Usage: route-emitter -config FILE (see cmd/route-emitter/config).
package main

import (
	"os"

	"github.com/diego-go/diego/cmd/route-emitter/config"
	"github.com/diego-go/diego/internal/daemon"
)

func main() {
	cfg := daemon.LoadConfig("route-emitter", config.Load)
	logger := daemon.NewLogger("route-emitter", cfg.LogLevel)

	members, err := buildMembers(logger, cfg)
	if err != nil {
		logger.Error("route-emitter: cannot start", "error", err)
		os.Exit(1)
	}

	if err := daemon.Run(logger, "route-emitter", members, "health_address", cfg.HealthAddress, "nats_urls", cfg.NATSURLs); err != nil {
		os.Exit(1)
	}
}
