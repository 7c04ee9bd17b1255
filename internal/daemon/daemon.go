// Package daemon is the skeleton every daemon's main.go (cmd/<binary>) is built on, so that each
// main reads as its table of contents:
//
//	func main() {
//		cfg := daemon.LoadConfig("auctioneer", config.Load) // -config FILE; exit 2 when refused
//		logger := daemon.NewLogger("auctioneer", cfg.LogLevel)
//		members, err := buildMembers(logger, cfg)           // the daemon's own parts, in order
//		if err != nil {
//			logger.Error("auctioneer: cannot start", "error", err)
//			os.Exit(1)
//		}
//		if daemon.Run(logger, "auctioneer", members) != nil { // one ordered group under sigmon
//			os.Exit(1)
//		}
//	}
//
// and on the runners they share: the plain-HTTP health listener and the Prometheus metrics
// listener (StatusServers, NewRegistry), and the leader lock (LockMember).
package daemon

import (
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/http_server"
	"github.com/tedsuo/ifrit/sigmon"

	"github.com/diego-go/diego/internal/daemonconfig"
	"github.com/diego-go/diego/locket"
)

// LoadConfig parses the command line (-config FILE) and returns what load makes of the file. When
// the flag is missing or load refuses the file it prints "<name>: ..." on stderr and exits 2.
func LoadConfig[C any](name string, load func(path string) (C, error)) C {
	path := flag.String("config", "", "path to the JSON config file")
	flag.Parse()
	if *path == "" {
		fmt.Fprintf(os.Stderr, "%s: -config FILE is required\n", name)
		os.Exit(2)
	}
	cfg, err := load(*path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	}
	return cfg
}

// NewLogger logs JSON lines on stderr from level on (debug, info, warn or error; anything else is
// info), each with component=name.
func NewLogger(name, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})).With("component", name)
}

// Run runs members as one ordered group under sigmon (SIGINT and SIGTERM stop it in reverse
// order) and returns the group's error once it has stopped. It logs "<name> starting" with attrs,
// then "<name> exited" (with the error, if any). A daemon exits 1 when Run returns an error.
func Run(logger *slog.Logger, name string, members grouper.Members, attrs ...any) error {
	logger.Info(name+" starting", attrs...)
	process := ifrit.Invoke(sigmon.New(grouper.NewOrdered(os.Interrupt, members)))
	if err := <-process.Wait(); err != nil {
		logger.Error(name+" exited", "error", err)
		return err
	}
	logger.Info(name + " exited")
	return nil
}

// NewRegistry is a Prometheus registry holding the Go runtime's and the process's collectors, for
// the daemon to add its own metrics to.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// StatusServers are the first members of a daemon's group, so that a standby answers while it
// waits for its lock: "health", serving health on healthAddress, and, when metricsAddress is not
// empty, "metrics", serving reg's Prometheus metrics there.
func StatusServers(healthAddress string, health http.Handler, metricsAddress string, reg prometheus.Gatherer) grouper.Members {
	members := grouper.Members{{Name: "health", Runner: http_server.New(healthAddress, health)}}
	if metricsAddress != "" {
		members = append(members, grouper.Member{Name: "metrics", Runner: http_server.New(metricsAddress, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))})
	}
	return members
}

// LockMember is the "lock" member: the Consul leader lock locket.LockKey(name), holding
// advertiseURL (who leads) with the configured timing. The members after it start only once it
// is held, and the group stops (Run returns an error) when it is lost.
func LockMember(logger *slog.Logger, consul *locket.Client, name string, timing daemonconfig.Lock, advertiseURL string) grouper.Member {
	return grouper.Member{Name: "lock", Runner: locket.NewLock(logger, consul, locket.LockConfig{
		Key:           locket.LockKey(name),
		Value:         []byte(advertiseURL),
		TTL:           timing.LockTTL.D(),
		RetryInterval: timing.LockRetryInterval.D(),
	})}
}
