// Package config is the auctioneer daemon's JSON configuration: defaults, parsing and validation.
// What every daemon's configuration has (listeners, server TLS, Consul, lock, log level) is in
// internal/daemonconfig; this package adds the auctioneer's own fields.
package config

import (
	"time"

	"github.com/diego-go/diego/internal/daemonconfig"
)

// Config of the auctioneer daemon. Example:
//
//	{
//	  "listen_address": "0.0.0.0:9016",
//	  "advertise_url": "https://auctioneer.service.cf.internal:9016",
//	  "health_address": "127.0.0.1:9017",
//	  "metrics_address": "127.0.0.1:9018",
//	  "ca_file": "ca.crt", "cert_file": "server.crt", "key_file": "server.key",
//	  "consul_address": "127.0.0.1:8500",
//	  "lock_ttl": "15s", "lock_retry_interval": "5s",
//	  "bbs_url": "https://bbs.service.cf.internal:8889",
//	  "bbs_ca_file": "ca.crt", "bbs_cert_file": "client.crt", "bbs_key_file": "client.key",
//	  "rep_ca_file": "ca.crt", "rep_cert_file": "client.crt", "rep_key_file": "client.key",
//	  "cell_state_timeout": "1s", "rep_work_timeout": "10s"
//	}
type Config struct {
	// The API listener (POST /v1/lrps, POST /v1/tasks) only listens while this auctioneer holds
	// the lock; the health listener (GET /healthz, GET /ping) serves from start-up on, leader or
	// standby.
	daemonconfig.Listeners
	daemonconfig.ServerTLS
	daemonconfig.Consul
	daemonconfig.Lock
	daemonconfig.Logging

	// ServiceName registers the auctioneer in Consul (<name>.service.consul) while it leads; ""
	// disables. Default "auctioneer".
	ServiceName string `json:"service_name"`

	// The BBS, where placement failures are reported.
	daemonconfig.BBS

	// Client TLS for the reps (all three files or none: plain http).
	RepCAFile   string `json:"rep_ca_file"`
	RepCertFile string `json:"rep_cert_file"`
	RepKeyFile  string `json:"rep_key_file"`

	// CellStateTimeout bounds each cell's GET /state; a cell not answering in time is left out
	// of the auction. RepWorkTimeout bounds each POST /work.
	CellStateTimeout daemonconfig.Duration `json:"cell_state_timeout"`
	RepWorkTimeout   daemonconfig.Duration `json:"rep_work_timeout"`
	// MaxRounds bounds submissions of one batch (the first plus re-plans of rejected work).
	MaxRounds int `json:"max_rounds"`
	// RequeueDelay: how long work held back by starting_container_count_maximum, or a batch
	// whose cells could not be listed, waits before going back to the inbox.
	RequeueDelay daemonconfig.Duration `json:"requeue_delay"`

	// Auction weights (upstream's names and defaults).
	StartingContainerWeight       float64 `json:"starting_container_weight"`
	BinPackFirstFitWeight         float64 `json:"bin_pack_first_fit_weight"`
	StartingContainerCountMaximum int     `json:"starting_container_count_maximum"`
}

// Default is the configuration before the file is applied.
func Default() Config {
	return Config{
		Listeners:               daemonconfig.Listeners{ListenAddress: "0.0.0.0:9016", HealthAddress: "127.0.0.1:9017"},
		Lock:                    daemonconfig.DefaultLock(),
		Logging:                 daemonconfig.DefaultLogging(),
		ServiceName:             "auctioneer",
		CellStateTimeout:        daemonconfig.Duration(time.Second),
		RepWorkTimeout:          daemonconfig.Duration(10 * time.Second),
		MaxRounds:               3,
		RequeueDelay:            daemonconfig.Duration(time.Second),
		StartingContainerWeight: 0.25,
	}
}

// Load reads the file over the defaults and validates the result. Unknown fields are errors.
func Load(path string) (Config, error) {
	return daemonconfig.Load(path, Default(), (*Config).DefaultAdvertiseURL)
}

// Validate lists every problem.
func (c Config) Validate() error {
	var p daemonconfig.Problems
	c.Listeners.Check(&p)
	c.ServerTLS.Check(&p)
	c.Consul.Check(&p)
	c.Lock.Check(&p)
	c.Logging.Check(&p)
	c.BBS.Check(&p)
	for _, d := range []struct {
		name string
		v    daemonconfig.Duration
	}{{"cell_state_timeout", c.CellStateTimeout}, {"rep_work_timeout", c.RepWorkTimeout}, {"requeue_delay", c.RequeueDelay}} {
		if d.v.D() <= 0 {
			p.Addf("%s %s: must be positive", d.name, d.v.D())
		}
	}
	if c.MaxRounds < 1 {
		p.Addf("max_rounds %d: must be at least 1", c.MaxRounds)
	}
	for _, w := range []struct {
		name string
		v    float64
	}{{"starting_container_weight", c.StartingContainerWeight}, {"bin_pack_first_fit_weight", c.BinPackFirstFitWeight}, {"starting_container_count_maximum", float64(c.StartingContainerCountMaximum)}} {
		if w.v < 0 {
			p.Addf("%s %v: must not be negative", w.name, w.v)
		}
	}
	p.TLSFiles("rep", c.RepCAFile, c.RepCertFile, c.RepKeyFile)
	return p.Err()
}
