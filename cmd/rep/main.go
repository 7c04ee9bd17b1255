// Command rep is a cell: it keeps the cell's presence in Consul, answers auctions, runs the work
// it takes in garden containers through the executor inside it, and keeps the BBS told of every
// instance's and task's life. POST /evacuate on its loopback listener hands its instances over to
// other cells; it then exits 0 as soon as nothing is left. Usage: rep -config FILE (see
// cmd/rep/config and docs/rep.md).
package main

import (
	"os"

	"github.com/diego-go/diego/cmd/rep/config"
	"github.com/diego-go/diego/internal/daemon"
)

func main() {
	cfg := daemon.LoadConfig("rep", config.Load)
	logger := daemon.NewLogger("rep", cfg.LogLevel).With("cell_id", cfg.CellID)

	members, cleanup, err := buildMembers(logger, cfg)
	if err != nil {
		logger.Error("rep: cannot start", "error", err)
		os.Exit(1)
	}
	err = daemon.Run(logger, "rep", members, "listen_address", cfg.ListenAddress, "health_address", cfg.HealthAddress, "rep_url", cfg.AdvertiseURL)
	cleanup()
	if err != nil {
		os.Exit(1)
	}
}
