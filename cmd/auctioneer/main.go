// Command auctioneer is the auctioneer daemon: it batches LRP-start and Task auction requests from
// the BBS, reads the cells' states through their reps, places the work (package auction), sends it
// to the reps and reports what could not be placed to the BBS. Only the holder of the Consul lock
// auctions and serves the API. Usage: auctioneer -config FILE (see cmd/auctioneer/config).
package main

import (
	"os"

	"github.com/diego-go/diego/cmd/auctioneer/config"
	"github.com/diego-go/diego/internal/daemon"
)

func main() {
	cfg := daemon.LoadConfig("auctioneer", config.Load)
	logger := daemon.NewLogger("auctioneer", cfg.LogLevel)

	members, err := buildMembers(logger, cfg)
	if err != nil {
		logger.Error("auctioneer: cannot start", "error", err)
		os.Exit(1)
	}

	if err := daemon.Run(logger, "auctioneer", members, "listen_address", cfg.ListenAddress, "health_address", cfg.HealthAddress); err != nil {
		os.Exit(1)
	}
}
