// Command converger is the converger daemon: the holder of the Consul lock "converge_lock" asks
// the BBS for a convergence pass when it wins the lock, every convergence_interval, and at once
// when a cell's presence vanishes; standbys wait for the lock. Usage: converger -config FILE (see
// cmd/converger/config).
package main

import (
	"os"

	"github.com/diego-go/diego/cmd/converger/config"
	"github.com/diego-go/diego/internal/daemon"
)

func main() {
	cfg := daemon.LoadConfig("converger", config.Load)
	logger := daemon.NewLogger("converger", cfg.LogLevel)

	members, err := buildMembers(logger, cfg)
	if err != nil {
		logger.Error("converger: cannot start", "error", err)
		os.Exit(1)
	}

	if err := daemon.Run(logger, "converger", members, "health_address", cfg.HealthAddress, "convergence_interval", cfg.ConvergenceInterval.D().String()); err != nil {
		os.Exit(1)
	}
}
