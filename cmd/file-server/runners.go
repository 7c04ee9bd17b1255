package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/http_server"

	"github.com/diego-go/diego/cmd/file-server/config"
	"github.com/diego-go/diego/fileserver"
	"github.com/diego-go/diego/internal/daemon"
)

// buildMembers builds the ordered group: health, then the file server. Health answers 503 when
// the static directory can no longer be read.
func buildMembers(logger *slog.Logger, cfg config.Config) (grouper.Members, error) {
	files, err := fileserver.New(logger, cfg.StaticDirectory)
	if err != nil {
		return nil, err
	}
	check := daemon.HealthCheck{Name: "static_directory", Check: func(context.Context) error { return files.Check() }}
	health := http.NewServeMux()
	health.Handle("GET /ping", daemon.HealthHandler(nil, check))
	health.Handle("GET /healthz", daemon.HealthHandler(nil, check))
	return append(daemon.StatusServers(cfg.HealthAddress, health, "", nil),
		grouper.Member{Name: "file-server", Runner: http_server.New(cfg.ListenAddress, files)}), nil
}
