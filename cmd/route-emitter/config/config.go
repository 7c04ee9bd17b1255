// Package config is the route-emitter daemon's JSON configuration: defaults, parsing and
// validation. What every daemon's configuration has is in internal/daemonconfig; this package adds
// the route emitter's own fields.
package config

import (
	"time"

	"github.com/diego-go/diego/internal/daemonconfig"
)

// Config of the route-emitter daemon. Example:
//
//	{
//	  "health_address": "127.0.0.1:17011",
//	  "metrics_address": "127.0.0.1:17012",
//	  "consul_address": "127.0.0.1:8500",
//	  "lock_ttl": "15s", "lock_retry_interval": "5s",
//	  "bbs_url": "https://bbs.service.cf.internal:8889",
//	  "bbs_ca_file": "ca.crt", "bbs_cert_file": "client.crt", "bbs_key_file": "client.key",
//	  "nats_urls": ["nats://10.0.0.5:4222", "nats://10.0.0.6:4222"],
//	  "sync_interval": "60s",
//	  "register_interval": "20s"
//	}
type Config struct {
	// HealthAddress is the plain-HTTP health listener (GET /healthz, GET /ping), loopback only;
	// it serves from start-up on, holder of the lock or standby. MetricsAddress serves Prometheus
	// /metrics ("" disables).
	HealthAddress  string `json:"health_address"`
	MetricsAddress string `json:"metrics_address"`
	daemonconfig.Consul
	daemonconfig.Lock
	daemonconfig.Logging
	daemonconfig.BBS
	daemonconfig.NATS

	// SyncInterval: how often the whole routing table is read again from the BBS (also at start
	// and after the event stream broke).
	SyncInterval daemonconfig.Duration `json:"sync_interval"`
	// RegisterInterval: how often every route is registered again until a router says how often
	// it wants it (its answer to router.greet or its router.start).
	RegisterInterval daemonconfig.Duration `json:"register_interval"`
}

// Default is the configuration before the file is applied (upstream's defaults).
func Default() Config {
	return Config{
		HealthAddress:    "127.0.0.1:17011",
		Lock:             daemonconfig.DefaultLock(),
		Logging:          daemonconfig.DefaultLogging(),
		SyncInterval:     daemonconfig.Duration(60 * time.Second),
		RegisterInterval: daemonconfig.Duration(20 * time.Second),
	}
}

// Load reads the file over the defaults and validates the result. Unknown fields are errors.
func Load(path string) (Config, error) {
	return daemonconfig.Load(path, Default())
}

// Validate lists every problem.
func (c Config) Validate() error {
	var p daemonconfig.Problems
	p.Require("health_address", c.HealthAddress)
	p.HostPort("health_address", c.HealthAddress)
	p.Loopback("health_address", c.HealthAddress)
	p.HostPort("metrics_address", c.MetricsAddress)
	c.Consul.Check(&p)
	c.Lock.Check(&p)
	c.Logging.Check(&p)
	c.BBS.Check(&p)
	c.NATS.Check(&p, "the routers' register and unregister messages go there")
	for _, d := range []struct {
		name string
		v    daemonconfig.Duration
	}{{"sync_interval", c.SyncInterval}, {"register_interval", c.RegisterInterval}} {
		if d.v.D() <= 0 {
			p.Addf("%s %s: must be positive", d.name, d.v.D())
		}
	}
	return p.Err()
}
