// Package config is the router daemon's JSON configuration: defaults, parsing and validation.
// Loading, durations, the problem collector, log_level and nats_urls come from
// internal/daemonconfig, as for every daemon. The router has no Consul, lock or server TLS: its
// proxy listener is plain HTTP, as gorouter's port 80 behind a load balancer.
package config

import (
	"net"
	"time"

	"github.com/diego-go/diego/internal/daemonconfig"
)

// Config of the router daemon. Example:
//
//	{
//	  "listen_address": "0.0.0.0:8081",
//	  "health_address": "127.0.0.1:8082",
//	  "nats_urls": ["nats://127.0.0.1:4222"],
//	  "access_log_path": "/var/log/router/access.log"
//	}
type Config struct {
	// ListenAddress is the plain-HTTP proxy listener (host:port).
	ListenAddress string `json:"listen_address"`
	// HealthAddress (loopback) answers GET /health 200 "ok" once the proxy listens and the NATS
	// subscriptions are made, 503 before.
	HealthAddress string `json:"health_address"`
	// MetricsAddress serves Prometheus /metrics ("" disables).
	MetricsAddress string `json:"metrics_address"`
	daemonconfig.Logging
	// NATSURLs are the servers register and unregister messages arrive on.
	daemonconfig.NATS

	// AnnounceHost is the address router.start names in hosts; "": the listener's host when it
	// is a specific address, else this machine's first non-loopback IPv4 address.
	AnnounceHost string `json:"announce_host"`
	// StartResponseDelayInterval is how long the router waits after announcing router.start
	// before it listens and reports healthy (gorouter's start_response_delay_interval), so that
	// the emitters' answers, sent after a jitter, are in before the first request.
	StartResponseDelayInterval daemonconfig.Duration `json:"start_response_delay_interval"`

	// AccessLogPath is the file each proxied request's line is appended to: "" writes none, "-"
	// writes them on stdout.
	AccessLogPath string `json:"access_log_path"`

	// RegisterInterval is sent in router.start as minimumRegisterIntervalInSeconds: how often
	// emitters register every route again.
	RegisterInterval daemonconfig.Duration `json:"register_interval"`
	// PruneThreshold: an endpoint not registered again within it is removed (unless its message
	// carried its own stale_threshold_in_seconds); checked every PruneInterval.
	PruneThreshold daemonconfig.Duration `json:"prune_threshold"`
	PruneInterval  daemonconfig.Duration `json:"prune_interval"`

	// EndpointDialTimeout bounds connecting to a backend; EndpointTimeout bounds waiting for its
	// response headers.
	EndpointDialTimeout daemonconfig.Duration `json:"endpoint_dial_timeout"`
	EndpointTimeout     daemonconfig.Duration `json:"endpoint_timeout"`
	// FailedEndpointBackoff: a backend that failed to dial is left out of its pool this long.
	FailedEndpointBackoff daemonconfig.Duration `json:"failed_endpoint_backoff"`
	// MaxAttempts is how many backends a request may be tried on, the first try included
	// (gorouter's backends.max_attempts).
	MaxAttempts int `json:"max_attempts"`

	// RouteServices is what the router does with a route that has a route_service_url: "forward"
	// sends the request to the route service as gorouter does, "refuse" answers 502 saying so.
	RouteServices string `json:"route_services"`
	// RouteServicesSecret derives the key that signs a request sent to a route service and
	// checks it when it comes back (gorouter's route_services_secret): routers behind one load
	// balancer need the same one. "": a random key of this process.
	RouteServicesSecret string `json:"route_services_secret"`
	// RouteServicesTimeout is how long a route service has to send a request back.
	RouteServicesTimeout daemonconfig.Duration `json:"route_services_timeout"`
}

// Default is the configuration before the file is applied.
func Default() Config {
	return Config{
		ListenAddress:              "0.0.0.0:8081",
		HealthAddress:              "127.0.0.1:8082",
		Logging:                    daemonconfig.DefaultLogging(),
		RegisterInterval:           daemonconfig.Duration(20 * time.Second),
		PruneThreshold:             daemonconfig.Duration(120 * time.Second),
		PruneInterval:              daemonconfig.Duration(30 * time.Second),
		StartResponseDelayInterval: daemonconfig.Duration(5 * time.Second),
		EndpointDialTimeout:        daemonconfig.Duration(5 * time.Second),
		EndpointTimeout:            daemonconfig.Duration(900 * time.Second),
		FailedEndpointBackoff:      daemonconfig.Duration(30 * time.Second),
		MaxAttempts:                3,
		RouteServices:              "refuse",
		RouteServicesTimeout:       daemonconfig.Duration(60 * time.Second),
	}
}

// Load reads the file over the defaults and validates the result. Unknown fields are errors.
func Load(path string) (Config, error) {
	return daemonconfig.Load(path, Default())
}

// Validate lists every problem.
func (c Config) Validate() error {
	var p daemonconfig.Problems
	// The listeners' rules, without the group's advertise_url: the router holds no lock.
	daemonconfig.Listeners{ListenAddress: c.ListenAddress, HealthAddress: c.HealthAddress, MetricsAddress: c.MetricsAddress}.Check(&p)
	c.Logging.Check(&p)
	c.NATS.Check(&p, "routes are registered there")
	for _, d := range []struct {
		name string
		v    daemonconfig.Duration
	}{
		{"register_interval", c.RegisterInterval}, {"prune_threshold", c.PruneThreshold}, {"prune_interval", c.PruneInterval},
		{"endpoint_dial_timeout", c.EndpointDialTimeout}, {"endpoint_timeout", c.EndpointTimeout},
		{"route_services_timeout", c.RouteServicesTimeout},
	} {
		if d.v.D() <= 0 {
			p.Addf("%s %s: must be positive", d.name, d.v.D())
		}
	}
	// Both go out in whole seconds (router.start); a fraction would be cut to a smaller promise.
	for _, d := range []struct {
		name string
		v    daemonconfig.Duration
	}{{"register_interval", c.RegisterInterval}, {"prune_threshold", c.PruneThreshold}} {
		if d.v.D() > 0 && d.v.D()%time.Second != 0 {
			p.Addf("%s %s: must be whole seconds (router.start carries seconds)", d.name, d.v.D())
		}
	}
	if c.FailedEndpointBackoff.D() < 0 {
		p.Addf("failed_endpoint_backoff %s: must not be negative", c.FailedEndpointBackoff.D())
	}
	if c.MaxAttempts < 1 {
		p.Addf("max_attempts %d: must be at least 1", c.MaxAttempts)
	}
	if d := c.StartResponseDelayInterval.D(); d < 0 {
		p.Addf("start_response_delay_interval %s: must not be negative", d)
	} else if c.PruneThreshold.D() > 0 && d > c.PruneThreshold.D() {
		p.Addf("start_response_delay_interval %s must not exceed prune_threshold %s, or routes learnt at start are pruned before the router listens",
			d, c.PruneThreshold.D())
	}
	if h := c.AnnounceHost; h != "" {
		if ip := net.ParseIP(h); ip == nil || ip.IsUnspecified() {
			p.Addf("announce_host %q: want a specific IP address", h)
		}
	}
	if c.PruneThreshold.D() > 0 && c.RegisterInterval.D() >= c.PruneThreshold.D() {
		p.Addf("register_interval %s must be shorter than prune_threshold %s, or every route is pruned between registrations",
			c.RegisterInterval.D(), c.PruneThreshold.D())
	}
	switch c.RouteServices {
	case "forward", "refuse":
	default:
		p.Addf("route_services %q: want forward or refuse", c.RouteServices)
	}
	return p.Err()
}
