// Command auctioneer is the auctioneer daemon: it batches LRP-start and Task auction requests from
// the BBS, reads the cells' states through their reps, places the work (package auction), sends it
// to the reps and reports what could not be placed to the BBS. Only the holder of the Consul lock
// auctions and serves the API. Usage: auctioneer -config FILE (see cmd/auctioneer/config).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/sigmon"

	"github.com/diego-go/diego/cmd/auctioneer/config"
)

func main() {
	path := flag.String("config", "", "path to the JSON config file")
	flag.Parse()
	if *path == "" {
		fmt.Fprintln(os.Stderr, "auctioneer: -config FILE is required")
		os.Exit(2)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "auctioneer: %v\n", err)
		os.Exit(2)
	}
	logger := newLogger(cfg.LogLevel)

	members, err := buildMembers(logger, cfg)
	if err != nil {
		logger.Error("auctioneer: cannot start", "error", err.Error())
		os.Exit(1)
	}

	logger.Info("auctioneer starting", "listen_address", cfg.ListenAddress, "health_address", cfg.HealthAddress)
	process := ifrit.Invoke(sigmon.New(grouper.NewOrdered(os.Interrupt, members)))
	if err := <-process.Wait(); err != nil {
		logger.Error("auctioneer exited", "error", err.Error())
		os.Exit(1)
	}
	logger.Info("auctioneer exited")
}
