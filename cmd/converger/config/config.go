// Package config is the converger daemon's JSON configuration: defaults, parsing and validation.
// The groups every daemon shares are in internal/daemonconfig; this package adds the interval.
package config

import (
	"time"

	"github.com/diego-go/diego/internal/daemonconfig"
)

// Config of the converger daemon. Example:
//
//	{
//	  "health_address": "127.0.0.1:8891",
//	  "metrics_address": "127.0.0.1:8892",
//	  "consul_address": "127.0.0.1:8500",
//	  "lock_ttl": "15s", "lock_retry_interval": "5s",
//	  "bbs_url": "https://bbs.service.cf.internal:8889",
//	  "bbs_ca_file": "ca.crt", "bbs_cert_file": "client.crt", "bbs_key_file": "client.key",
//	  "convergence_interval": "30s"
//	}
type Config struct {
	// HealthAddress is the plain-HTTP health listener (GET /ping, GET /healthz; loopback only),
	// served by the holder and the standbys alike. MetricsAddress serves Prometheus /metrics
	// ("" disables).
	HealthAddress  string `json:"health_address"`
	MetricsAddress string `json:"metrics_address"`
	daemonconfig.Consul
	daemonconfig.Lock
	daemonconfig.Logging
	daemonconfig.BBS

	// ConvergenceInterval is the time between two passes asked for while the lock is held; a
	// pass is also asked for at once when the lock is won and when a cell's presence vanishes.
	ConvergenceInterval daemonconfig.Duration `json:"convergence_interval"`
}

// Default is the configuration before the file is applied.
func Default() Config {
	return Config{
		Lock:                daemonconfig.DefaultLock(),
		Logging:             daemonconfig.DefaultLogging(),
		ConvergenceInterval: daemonconfig.Duration(30 * time.Second),
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
	if c.ConvergenceInterval.D() <= 0 {
		p.Addf("convergence_interval %s: must be positive", c.ConvergenceInterval.D())
	}
	return p.Err()
}
