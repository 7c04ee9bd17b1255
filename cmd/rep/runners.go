package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"code.cloudfoundry.org/garden/client"
	"code.cloudfoundry.org/garden/client/connection"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/http_server"

	"github.com/diego-go/diego/cmd/rep/config"
	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/depot"
	"github.com/diego-go/diego/executor/logstream"
	"github.com/diego-go/diego/internal/daemon"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/bulksync"
	"github.com/diego-go/diego/rep/cellrep"
	"github.com/diego-go/diego/rep/evacuation"
	"github.com/diego-go/diego/rep/processor"
	"github.com/diego-go/diego/rep/server"
	"github.com/diego-go/diego/tlsconfig"
)

// buildMembers builds the ordered group: metrics, the executor (adopting the containers a
// previous rep left), the processor (following the executor's events), the bulk sync (its first
// pass before anything is served), the evacuator, the API, the loopback admin listener, and last
// the presence, so that auctions find the cell only once it can take work. On a signal they stop
// in reverse: the presence goes first. When an evacuation ends, the evacuator returns and the
// whole group stops: the rep exits 0. cleanup closes the NATS connection after the group.
func buildMembers(logger *slog.Logger, cfg config.Config) (grouper.Members, func(), error) {
	serverTLS, err := tlsconfig.Server(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
	if err != nil {
		return nil, nil, err
	}
	consul, err := locket.NewClient(cfg.ConsulAddress)
	if err != nil {
		return nil, nil, err
	}
	bbsClient, err := daemon.BBSClient(logger, consul, cfg.BBS)
	if err != nil {
		return nil, nil, err
	}
	// Logs are lost while NATS is away, never the cell: the connection is retried for ever.
	natsConn, err := daemon.ConnectNATS(logger, "rep "+cfg.CellID, cfg.NATSURLs)
	if err != nil {
		return nil, nil, err
	}
	cleanup := natsConn.Close

	gardenClient := client.New(connection.New(cfg.GardenNetwork, cfg.GardenAddress))
	exec, err := depot.New(cfg.Executor, logger, gardenClient, natsConn)
	if err != nil {
		cleanup()
		return nil, nil, err
	}

	flag := evacuation.NewFlag()
	logLimits := logstream.Limits{LinesPerSecond: cfg.Executor.MaxLogLinesPerSecond}
	proc := processor.New(processor.Config{
		CellID: cfg.CellID, AvailabilityZone: cfg.Zone, Convert: cfg.Convert(), Evacuating: flag.Evacuating,
		DrainDelay: cfg.RouteDrainDelay.D(),
		AppLog: func(lc executor.LogConfig, line string) {
			fmt.Fprintln(logstream.New(natsConn, lc, logLimits).Stdout(), line)
		},
	}, exec, bbsClient, logger)
	cell := cellrep.New(cellrep.Config{
		CellID:                cfg.CellID,
		CellIndex:             cfg.CellIndex,
		RepURL:                cfg.AdvertiseURL,
		Zone:                  cfg.Zone,
		RootFSProviders:       cfg.RootFSProviders(),
		PlacementTags:         cfg.PlacementTags,
		OptionalPlacementTags: cfg.OptionalPlacementTags,
		VolumeDrivers:         cfg.VolumeDrivers,
		Evacuating:            flag.Evacuating,
	}, exec, logger)
	evacuator := evacuation.New(evacuation.Config{
		CellID:       cfg.CellID,
		Timeout:      cfg.EvacuationTimeout.D(),
		PollInterval: cfg.EvacuationPollingInterval.D(),
	}, flag, exec, bbsClient, proc, logger)

	reg := daemon.NewRegistry()
	registerCapacity(reg, exec)

	var members grouper.Members
	if cfg.MetricsAddress != "" {
		members = append(members, grouper.Member{Name: "metrics", Runner: http_server.New(cfg.MetricsAddress, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))})
	}
	members = append(members,
		grouper.Member{Name: "executor", Runner: exec},
		grouper.Member{Name: "processor", Runner: proc},
		grouper.Member{Name: "bulk-sync", Runner: bulksync.New(bulksync.Config{CellID: cfg.CellID, Interval: cfg.PollingInterval.D()}, exec, bbsClient, proc, logger)},
		grouper.Member{Name: "evacuator", Runner: evacuator},
		grouper.Member{Name: "api", Runner: http_server.NewTLSServer(cfg.ListenAddress, server.New(cell, exec, proc, logger), serverTLS)},
		grouper.Member{Name: "admin", Runner: http_server.New(cfg.HealthAddress, server.NewLocal(flag, logger))},
		grouper.Member{Name: "presence", Runner: presence(logger, consul, cfg, exec)},
	)
	return members, cleanup, nil
}

// presence keeps the cell's presence, with the executor's total capacity (known once the
// executor runs), while the rep lives.
func presence(logger *slog.Logger, consul *locket.Client, cfg config.Config, exec executor.Client) ifrit.Runner {
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		total, err := exec.TotalResources(ctx)
		cancel()
		if err != nil {
			return err
		}
		r, err := locket.NewCellPresence(logger, consul, &models.CellPresence{
			CellId:     cfg.CellID,
			RepAddress: cfg.AdvertiseURL,
			RepUrl:     cfg.AdvertiseURL,
			Zone:       cfg.Zone,
			Capacity: &models.CellCapacity{
				MemoryMb: int32(total.MemoryMB), DiskMb: int32(total.DiskMB), Containers: int32(total.Containers),
			},
			RootfsProviders:       cfg.PresenceProviders(),
			PlacementTags:         cfg.PlacementTags,
			OptionalPlacementTags: cfg.OptionalPlacementTags,
		}, cfg.LockTTL.D(), cfg.LockRetryInterval.D())
		if err != nil {
			return err
		}
		return r.Run(signals, ready)
	})
}

// registerCapacity adds the cell's remaining capacity to the metrics.
func registerCapacity(reg *prometheus.Registry, exec executor.Client) {
	remaining := func(pick func(executor.Resources) int) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			r, err := exec.RemainingResources(ctx)
			if err != nil {
				return -1
			}
			return float64(pick(r))
		}
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rep_capacity_remaining_memory_mb", Help: "Memory (MB) not allocated to containers."},
			remaining(func(r executor.Resources) int { return r.MemoryMB })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rep_capacity_remaining_disk_mb", Help: "Disk (MB) not allocated to containers."},
			remaining(func(r executor.Resources) int { return r.DiskMB })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rep_capacity_remaining_containers", Help: "Containers that can still be allocated."},
			remaining(func(r executor.Resources) int { return r.Containers })),
	)
}
