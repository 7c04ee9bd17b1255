package main

import (
	"context"
	"log/slog"
	"os"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/http_server"

	"github.com/diego-go/diego/auctioneer"
	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/bbs/eventhub"
	"github.com/diego-go/diego/bbs/handlers"
	"github.com/diego-go/diego/bbs/service"
	"github.com/diego-go/diego/cmd/bbs/config"
	"github.com/diego-go/diego/internal/daemon"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep"
	"github.com/diego-go/diego/tlsconfig"
)

// buildMembers builds the ordered group: health, metrics, the record cache (kept before the
// lock), lock, migration (and key rotation, then the cache's catch-up), API, cell watcher and
// convergence loop (unless convergence_interval is 0: a converger daemon drives convergence), and
// the Consul service registration (while the lock is held).
func buildMembers(logger *slog.Logger, cfg config.Config) (grouper.Members, func(), error) {
	serverTLS, err := tlsconfig.Server(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
	if err != nil {
		return nil, nil, err
	}
	keys, err := db.NewKeyring(cfg.EncryptionKeys, cfg.ActiveKeyLabel)
	if err != nil {
		return nil, nil, err
	}
	etcdTLS, err := tlsconfig.OptionalClient(cfg.EtcdCertFile, cfg.EtcdKeyFile, cfg.EtcdCAFile)
	if err != nil {
		return nil, nil, err
	}
	etcd, err := db.NewEtcdClient(cfg.EtcdEndpoints, cfg.EtcdDialTimeout.D(), etcdTLS)
	if err != nil {
		return nil, nil, err
	}
	var once sync.Once
	var store *db.DB
	cleanup := func() {
		once.Do(func() {
			if store != nil {
				store.Close() // its group commit goroutines, before the client they use
			}
			_ = etcd.Close()
		})
	}

	consul, err := locket.NewClient(cfg.ConsulAddress)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	store = db.New(etcd, keys, db.WithLogger(logger), db.WithGroupCommit(), db.WithRestartPolicy(cfg.CrashRestartPolicy.Policy()))

	reg := daemon.NewRegistry()
	m := newMetrics(reg)

	var auctions service.Auctioneer
	if cfg.AuctioneerURL != "" || cfg.AuctioneerServiceName != "" {
		t, err := tlsconfig.OptionalClient(cfg.AuctioneerCertFile, cfg.AuctioneerKeyFile, cfg.AuctioneerCAFile)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		var opts []auctioneer.Option
		if cfg.AuctioneerServiceName != "" {
			scheme := "http"
			if t != nil {
				scheme = "https"
			}
			opts = append(opts, auctioneer.WithResolver(daemon.ServiceURLs(consul, cfg.AuctioneerServiceName, scheme)))
		}
		auctions = auctioneer.NewClient(cfg.AuctioneerURL, t, opts...)
	}
	repTLS, err := tlsconfig.OptionalClient(cfg.RepCertFile, cfg.RepKeyFile, cfg.RepCAFile)
	if err != nil {
		cleanup()
		return nil, nil, err
	}

	lrpHub := eventhub.NewHub(logger.With("hub", "lrp_instances"), 0)
	taskHub := eventhub.NewHub(logger.With("hub", "tasks"), 0)
	lrpGroupHub := eventhub.NewHub(logger.With("hub", "lrp_groups"), 0)
	svc := service.New(service.Config{
		DB:                 store,
		Logger:             logger,
		Auctioneer:         auctions,
		CellClient:         rep.NewClient(rep.Options{TLS: repTLS}),
		Cells:              cellLister(logger, consul),
		LRPHub:             lrpHub,
		LRPGroupHub:        lrpGroupHub,
		TaskHub:            taskHub,
		CallbackRetryWait:  cfg.CallbackRetryWait.D(),
		Convergence:        cfg.Convergence(),
		ObserveConvergence: m.convergence.observe,
		MaxInstances:       cfg.MaxInstances,
	})
	h := handlers.New(handlers.Config{
		DB:              store,
		Service:         svc,
		Logger:          logger,
		Streams:         eventhub.Streams(logger, eventhub.HandlerOptions{MaxRequestBytes: cfg.MaxRequestBytes}, lrpHub, lrpGroupHub, taskHub),
		MaxRequestBytes: cfg.MaxRequestBytes,
	})

	api := ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		defer svc.Close()
		m.leader.Set(1)
		defer m.leader.Set(0)
		// the hubs close before the server drains, or an open event stream would hold the
		// drain (and the exit of a BBS that lost its lock) for a minute
		stop := make(chan os.Signal, 1)
		served := make(chan struct{})
		defer close(served)
		go func() {
			select {
			case sig := <-signals:
				lrpHub.Close()
				lrpGroupHub.Close()
				taskHub.Close()
				stop <- sig
			case <-served:
				lrpHub.Close()
				lrpGroupHub.Close()
				taskHub.Close()
			}
		}()
		return http_server.NewTLSServer(cfg.ListenAddress, m.requests.Instrument(h), serverTLS).Run(stop, ready)
	})

	lock := &daemon.LockState{}
	health := daemon.HealthHandler(lock, daemon.HealthCheck{Name: "etcd", Check: func(ctx context.Context) error {
		_, _, err := store.SchemaVersion(ctx)
		return err
	}})

	members := append(daemon.StatusServers(cfg.HealthAddress, health, cfg.MetricsAddress, reg),
		grouper.Member{Name: "cache", Runner: service.StoreCache(logger, store)},
		lock.Track(daemon.LockMember(logger, consul, "bbs_lock", cfg.Lock, cfg.AdvertiseURL)),
		grouper.Member{Name: "migration", Runner: service.StoreStartup(logger, store)},
		grouper.Member{Name: "api", Runner: api},
	)
	if interval := cfg.ConvergenceInterval.D(); interval > 0 {
		conv := service.NewConverger(svc, interval)
		members = append(members,
			grouper.Member{Name: "cell-watcher", Runner: locket.NewPresenceWatcher(logger, consul, locket.CellPresencePrefix, func(c locket.PresenceChange) {
				if c.Kind == locket.PresenceVanished {
					logger.Info("cell vanished: converging", "cell_id", c.Name)
					conv.Trigger()
				}
			})},
			grouper.Member{Name: "convergence", Runner: conv},
		)
	}
	if cfg.ServiceName != "" {
		reg, err := daemon.ServiceRegistration(cfg.ServiceName, cfg.ListenAddress)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		members = append(members, grouper.Member{Name: "service-registration",
			Runner: locket.NewServiceRegistration(logger, consul, reg, cfg.LockTTL.D())})
	}
	return members, cleanup, nil
}

// cellLister reads the cell presences from Consul; one that cannot be decoded is logged and left
// out.
func cellLister(logger *slog.Logger, consul *locket.Client) service.Cells {
	return func(ctx context.Context) ([]*models.CellPresence, error) {
		cells, invalid, err := consul.CellPresences(ctx)
		if err != nil {
			return nil, models.NewError(models.Error_UnknownError, "%v", err)
		}
		for _, e := range invalid {
			logger.Warn("cell presence left out", "error", e.Error())
		}
		return cells, nil
	}
}

type metrics struct {
	requests    *handlers.RequestMetrics
	leader      prometheus.Gauge
	convergence *convergenceMetrics
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests:    handlers.NewRequestMetrics(reg),
		leader:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "bbs_leader", Help: "1 while this BBS holds the lock and serves."}),
		convergence: newConvergenceMetrics(reg),
	}
	reg.MustRegister(m.leader)
	return m
}
