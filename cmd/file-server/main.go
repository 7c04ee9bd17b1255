// Command file-server serves a static directory (lifecycle bundles, app bits) under /v1/static/
// with ranges, ETag and Last-Modified, so that the executor's download cache revalidates its
// copies. Usage: file-server -config FILE (see cmd/file-server/config).
package main

import (
	"os"

	"github.com/diego-go/diego/cmd/file-server/config"
	"github.com/diego-go/diego/internal/daemon"
)

func main() {
	cfg := daemon.LoadConfig("file-server", config.Load)
	logger := daemon.NewLogger("file-server", cfg.LogLevel)

	members, err := buildMembers(logger, cfg)
	if err != nil {
		logger.Error("file-server: cannot start", "error", err)
		os.Exit(1)
	}

	if err := daemon.Run(logger, "file-server", members, "listen_address", cfg.ListenAddress, "health_address", cfg.HealthAddress,
		"static_directory", cfg.StaticDirectory); err != nil {
		os.Exit(1)
	}
}
