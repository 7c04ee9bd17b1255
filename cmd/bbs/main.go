// Command bbs is the BBS daemon: the API of Diego's state on etcd, served only by the holder of
// the Consul lock. Usage: bbs -config FILE (see cmd/bbs/config).
package main

import (
	"os"
	"runtime/debug"

	"github.com/diego-go/diego/cmd/bbs/config"
	"github.com/diego-go/diego/internal/daemon"
)

func main() {
	cfg := daemon.LoadConfig("bbs", config.Load)
	logger := daemon.NewLogger("bbs", cfg.LogLevel)
	if os.Getenv("GOGC") == "" {
		// the record cache keeps every instance decoded: collect less often (GOGC overrides)
		debug.SetGCPercent(400)
	}

	members, cleanup, err := buildMembers(logger, cfg)
	if err != nil {
		logger.Error("bbs: cannot start", "error", err)
		os.Exit(1)
	}

	err = daemon.Run(logger, "bbs", members, "listen_address", cfg.ListenAddress, "health_address", cfg.HealthAddress)
	cleanup() // closes the etcd client
	if err != nil {
		os.Exit(1)
	}
}
