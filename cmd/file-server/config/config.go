// Package config is the file server's JSON configuration: defaults, parsing and validation.
package config

import (
	"os"

	"github.com/diego-go/diego/internal/daemonconfig"
)

// Config of the file server. Example:
//
//	{
//	  "listen_address": "0.0.0.0:8080",
//	  "health_address": "127.0.0.1:8083",
//	  "static_directory": "/var/vcap/data/file-server"
//	}
type Config struct {
	// ListenAddress serves the static directory under /v1/static/ (plain HTTP).
	ListenAddress string `json:"listen_address"`
	// HealthAddress is the plain-HTTP health listener (GET /ping, GET /healthz; loopback only).
	HealthAddress string `json:"health_address"`
	daemonconfig.Logging
	// StaticDirectory is the directory served; it must exist when the server starts.
	StaticDirectory string `json:"static_directory"`
}

// Default is the configuration before the file is applied.
func Default() Config {
	return Config{ListenAddress: "0.0.0.0:8080", Logging: daemonconfig.DefaultLogging()}
}

// Load reads the file over the defaults and validates the result. Unknown fields are errors.
func Load(path string) (Config, error) {
	return daemonconfig.Load(path, Default())
}

// Validate lists every problem.
func (c Config) Validate() error {
	var p daemonconfig.Problems
	p.Require("listen_address", c.ListenAddress)
	p.HostPort("listen_address", c.ListenAddress)
	p.Require("health_address", c.HealthAddress)
	p.HostPort("health_address", c.HealthAddress)
	p.Loopback("health_address", c.HealthAddress)
	c.Logging.Check(&p)
	p.Require("static_directory", c.StaticDirectory)
	if c.StaticDirectory != "" {
		if fi, err := os.Stat(c.StaticDirectory); err != nil {
			p.Addf("static_directory: %w", err)
		} else if !fi.IsDir() {
			p.Addf("static_directory %s is not a directory", c.StaticDirectory)
		}
	}
	return p.Err()
}
