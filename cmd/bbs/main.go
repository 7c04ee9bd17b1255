// Command bbs is the BBS daemon: the API of Diego's state on etcd, served only by the holder of
// the Consul lock. Usage: bbs -config FILE (see cmd/bbs/config).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/sigmon"

	"github.com/diego-go/diego/cmd/bbs/config"
)

func main() {
	path := flag.String("config", "", "path to the JSON config file")
	flag.Parse()
	if *path == "" {
		fmt.Fprintln(os.Stderr, "bbs: -config FILE is required")
		os.Exit(2)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bbs: %v\n", err)
		os.Exit(2)
	}
	logger := newLogger(cfg.LogLevel)
	if os.Getenv("GOGC") == "" {
		// the record cache keeps every instance decoded: collect less often (GOGC overrides)
		debug.SetGCPercent(400)
	}

	members, cleanup, err := buildMembers(logger, cfg)
	if err != nil {
		logger.Error("bbs: cannot start", "error", err)
		os.Exit(1)
	}
	defer cleanup()

	logger.Info("bbs starting", "listen_address", cfg.ListenAddress, "health_address", cfg.HealthAddress)
	process := ifrit.Invoke(sigmon.New(grouper.NewOrdered(os.Interrupt, members)))
	if err := <-process.Wait(); err != nil {
		logger.Error("bbs exited", "error", err)
		cleanup()
		os.Exit(1)
	}
	logger.Info("bbs exited")
}
