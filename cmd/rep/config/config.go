// Package config is the rep daemon's JSON configuration: defaults, parsing and validation. What
// every daemon's configuration has (listeners, server TLS, Consul, the presence's timing, log
// level) is in internal/daemonconfig; this package adds the cell's own fields.
package config

import (
	"net"
	"net/url"
	"regexp"
	"slices"
	"time"

	"github.com/diego-go/diego/executor/depot"
	"github.com/diego-go/diego/internal/daemonconfig"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/convert"
)

// Config of the rep daemon. Example:
//
//	{
//	  "cell_id": "cell-z1-0", "zone": "z1",
//	  "listen_address": "0.0.0.0:1801",
//	  "advertise_url": "https://cell-z1-0.cell.service.cf.internal:1801",
//	  "health_address": "127.0.0.1:1800",
//	  "ca_file": "ca.crt", "cert_file": "rep.crt", "key_file": "rep.key",
//	  "consul_address": "127.0.0.1:8500",
//	  "bbs_url": "https://bbs.service.cf.internal:8889",
//	  "bbs_ca_file": "ca.crt", "bbs_cert_file": "client.crt", "bbs_key_file": "client.key",
//	  "preloaded_rootfs": ["cflinuxfs4"],
//	  "nats_urls": ["nats://127.0.0.1:4222"],
//	  "garden_network": "unix", "garden_address": "/var/run/diego-garden/garden.sock"
//	}
type Config struct {
	// ListenAddress is the rep's API (mutual TLS: GET /state, POST /work, stop, cancel, update,
	// container metrics); AdvertiseURL is the rep URL the cell's presence announces (default
	// https://<listen_address>); HealthAddress is the loopback-only admin listener (GET /ping,
	// POST /evacuate); MetricsAddress serves Prometheus /metrics.
	daemonconfig.Listeners
	daemonconfig.ServerTLS
	daemonconfig.Consul
	// LockTTL and LockRetryInterval are the cell presence's session TTL and retry interval.
	daemonconfig.Lock
	daemonconfig.Logging

	// CellID names the cell (its presence key, the instances' cell_id in the BBS).
	CellID string `json:"cell_id"`
	// CellIndex is the cell's index among its deployment's cells, reported in its state.
	CellIndex int `json:"cell_index"`
	// Zone is the availability zone the auction spreads instances across.
	Zone string `json:"zone"`

	// BBS is the BBS's API (bbs_url, after the leader found by bbs_service_name when set);
	// client TLS for it is optional (all three files or none).
	daemonconfig.BBS

	// PlacementTags must all be asked for by work placed on this cell; OptionalPlacementTags may
	// be.
	PlacementTags         []string `json:"placement_tags"`
	OptionalPlacementTags []string `json:"optional_placement_tags"`
	// PreloadedRootFS are the stacks garden has preloaded (its preloaded_rootfs names); the cell
	// offers them as preloaded:NAME and preloaded+layer:NAME?layer=....
	PreloadedRootFS []string `json:"preloaded_rootfs"`
	// SupportedProviders are the rootfs schemes offered for any image (default ["docker"]).
	SupportedProviders []string `json:"supported_providers"`
	// VolumeDrivers are the volume drivers the cell offers to the auction.
	VolumeDrivers []string `json:"volume_drivers"`
	// LayeringMode is upstream's: SingleLayer downloads a preloaded rootfs's image_layers into
	// the container; TwoLayer makes the first exclusive tgz sha256 layer garden's
	// preloaded+layer rootfs.
	LayeringMode string `json:"layering_mode"`

	// PollingInterval is the bulk sync's (BBS against garden) interval.
	PollingInterval daemonconfig.Duration `json:"polling_interval"`
	// EvacuationTimeout bounds an evacuation; EvacuationPollingInterval is how often the
	// evacuating rep checks whether anything is left.
	EvacuationTimeout         daemonconfig.Duration `json:"evacuation_timeout"`
	EvacuationPollingInterval daemonconfig.Duration `json:"evacuation_polling_interval"`
	// RouteDrainDelay is how long a retired running instance (scaled down, removed, evacuated)
	// stays up after it was made unroutable, before its process is signalled; 0 disables it.
	RouteDrainDelay daemonconfig.Duration `json:"route_drain_delay"`

	// NATSURLs are the NATS servers the containers' log lines are published on.
	daemonconfig.NATS

	// GardenNetwork ("unix" or "tcp") and GardenAddress reach the cell's garden server.
	GardenNetwork string `json:"garden_network"`
	GardenAddress string `json:"garden_address"`

	// Executor is the executor's part (capacity, intervals, cache, identity CA, the garden
	// health check: executor/depot's keys); its cell id and preloaded stacks are the rep's.
	Executor depot.Config `json:"executor"`
}

// Default is the configuration before the file is applied (upstream's ports and timings).
func Default() Config {
	return Config{
		Listeners:                 daemonconfig.Listeners{ListenAddress: "0.0.0.0:1801", HealthAddress: "127.0.0.1:1800"},
		Lock:                      daemonconfig.DefaultLock(),
		Logging:                   daemonconfig.DefaultLogging(),
		SupportedProviders:        []string{"docker"},
		LayeringMode:              SingleLayer,
		PollingInterval:           daemonconfig.Duration(30 * time.Second),
		EvacuationTimeout:         daemonconfig.Duration(10 * time.Minute),
		EvacuationPollingInterval: daemonconfig.Duration(10 * time.Second),
		RouteDrainDelay:           daemonconfig.Duration(2 * time.Second),
		GardenNetwork:             "unix",
		GardenAddress:             "/var/run/diego-garden/garden.sock",
		Executor:                  depot.DefaultConfig(),
	}
}

// Load reads the file over the defaults and validates the result. Unknown fields are errors.
func Load(path string) (Config, error) {
	return daemonconfig.Load(path, Default(), func(c *Config) {
		c.DefaultAdvertiseURL()
		c.Executor.CellID = c.CellID
		c.Executor.PreloadedRootFS = c.PreloadedRootFS
	})
}

// name is what a cell id, a stack, a tag, a provider or a volume driver may be: it goes into a
// Consul key, a rootfs URL or a placement constraint.
var name = regexp.MustCompile(`^[a-zA-Z0-9_.+-]+$`)

// Validate lists every problem.
func (c Config) Validate() error {
	var p daemonconfig.Problems
	c.Listeners.Check(&p)
	c.ServerTLS.Check(&p)
	c.Consul.Check(&p)
	c.Lock.Check(&p)
	c.Logging.Check(&p)

	p.Require("cell_id", c.CellID)
	if c.CellID != "" && !name.MatchString(c.CellID) {
		p.Addf("cell_id %q: only letters, digits, '_', '.', '+' and '-'", c.CellID)
	}
	if c.AdvertiseURL != "" {
		checkAdvertiseURL(&p, c.AdvertiseURL)
	}

	c.BBS.Check(&p)

	names(&p, "placement_tags", c.PlacementTags)
	names(&p, "optional_placement_tags", c.OptionalPlacementTags)
	for _, t := range c.PlacementTags {
		if slices.Contains(c.OptionalPlacementTags, t) {
			p.Addf("placement tag %q is both required (placement_tags) and optional (optional_placement_tags)", t)
		}
	}
	if len(c.PreloadedRootFS) == 0 {
		p.Addf("preloaded_rootfs is required (the executor's garden health check runs in the first)")
	}
	names(&p, "preloaded_rootfs", c.PreloadedRootFS)
	names(&p, "supported_providers", c.SupportedProviders)
	for _, s := range c.SupportedProviders {
		if s == PreloadedProvider || s == PreloadedLayerProvider {
			p.Addf("supported_providers %q: the preloaded providers come from preloaded_rootfs", s)
		}
	}
	names(&p, "volume_drivers", c.VolumeDrivers)
	if c.CellIndex < 0 {
		p.Addf("cell_index %d: must not be negative", c.CellIndex)
	}
	if c.LayeringMode != SingleLayer && c.LayeringMode != TwoLayer {
		p.Addf("layering_mode %q: want %q or %q", c.LayeringMode, SingleLayer, TwoLayer)
	}

	for _, d := range []struct {
		name string
		v    daemonconfig.Duration
	}{
		{"polling_interval", c.PollingInterval}, {"evacuation_timeout", c.EvacuationTimeout},
		{"evacuation_polling_interval", c.EvacuationPollingInterval},
	} {
		if d.v.D() <= 0 {
			p.Addf("%s %s: must be positive", d.name, d.v.D())
		}
	}
	if c.RouteDrainDelay.D() < 0 {
		p.Addf("route_drain_delay %s: must not be negative (0s disables the drain)", c.RouteDrainDelay.D())
	}

	c.NATS.Check(&p, "the containers' logs are published there")

	switch c.GardenNetwork {
	case "unix":
	case "tcp":
		p.HostPort("garden_address", c.GardenAddress)
	default:
		p.Addf("garden_network %q: want unix or tcp", c.GardenNetwork)
	}
	p.Require("garden_address", c.GardenAddress)

	var ep daemonconfig.Problems
	c.Executor.Check(&ep)
	if err, ok := ep.Err().(interface{ Unwrap() []error }); ok {
		for _, e := range err.Unwrap() {
			p.Addf("executor: %w", e)
		}
	}
	return p.Err()
}

// checkAdvertiseURL: the rep URL is what auctioneers and BBSes on other machines dial, over
// mutual TLS.
func checkAdvertiseURL(p *daemonconfig.Problems, raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		p.Addf("advertise_url %q must be a URL like https://host:port (the API is mutual TLS)", raw)
		return
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() {
		p.Addf("advertise_url %q: %s cannot be dialled; name this cell's address", raw, u.Hostname())
	}
}

// names records the entries of list that are empty or have characters a name may not have.
func names(p *daemonconfig.Problems, key string, list []string) {
	for _, v := range list {
		if !name.MatchString(v) {
			p.Addf("%s: %q is not a name (letters, digits, '_', '.', '+' and '-')", key, v)
		}
	}
}

// The rootfs schemes of the preloaded stacks: as they are, and with a droplet layer on top.
const (
	PreloadedProvider      = "preloaded"
	PreloadedLayerProvider = "preloaded+layer"
)

// The layering modes, upstream's values.
const (
	SingleLayer = "single-layer"
	TwoLayer    = "two-layer"
)

// Convert is how the cell turns its work into containers.
func (c Config) Convert() convert.Options {
	return convert.Options{TwoLayer: c.LayeringMode == TwoLayer}
}

// RootFSProviders is what the cell offers to auctions (its GET /state): the preloaded stacks
// under both preloaded schemes, and any image under each supported provider.
func (c Config) RootFSProviders() models.RootFSProviders {
	p := models.RootFSProviders{
		PreloadedProvider:      models.FixedSetRootFSProvider(c.PreloadedRootFS...),
		PreloadedLayerProvider: models.FixedSetRootFSProvider(c.PreloadedRootFS...),
	}
	for _, s := range c.SupportedProviders {
		p[s] = models.ArbitraryRootFSProvider()
	}
	return p
}

// PresenceProviders are the same offers as the cell's presence lists them (upstream's rep: a
// fixed set's names as properties, an arbitrary provider with none).
func (c Config) PresenceProviders() []*models.Provider {
	ps := []*models.Provider{
		{Name: PreloadedProvider, Properties: slices.Clone(c.PreloadedRootFS)},
		{Name: PreloadedLayerProvider, Properties: slices.Clone(c.PreloadedRootFS)},
	}
	for _, s := range c.SupportedProviders {
		ps = append(ps, &models.Provider{Name: s})
	}
	return ps
}
