// Package config is the garden server's JSON configuration: defaults and validation. Loading,
// durations, the problem collector and log_level come from internal/daemonconfig, as for every
// daemon. The garden server has no Consul or lock; it listens on a unix socket (0660, root and
// socket_group) or on TCP, beyond loopback only with mutual TLS.
package config

import (
	"fmt"
	"net"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/diego-go/diego/gardenrunc"
	"github.com/diego-go/diego/internal/daemonconfig"
)

// Config is the garden server's configuration file.
type Config struct {
	ListenNetwork string `json:"listen_network"` // "unix" or "tcp"
	ListenAddress string `json:"listen_address"`
	// SocketGroup (name or gid) may use the unix socket besides root.
	SocketGroup string `json:"socket_group"`
	// CAFile, CertFile and KeyFile, all set, serve TCP over mutual TLS: clients must present a
	// certificate signed by the CA. Required for a TCP address that is not loopback.
	CAFile               string `json:"ca_file"`
	CertFile             string `json:"cert_file"`
	KeyFile              string `json:"key_file"`
	daemonconfig.Logging        // log_level: debug, info, warn, error
	// HealthAddress, when set, serves plain-HTTP health (GET /ping) on a loopback host:port;
	// MetricsAddress, when set (needs HealthAddress), serves Prometheus /metrics. Both off by default.
	HealthAddress      string                `json:"health_address"`
	MetricsAddress     string                `json:"metrics_address"`
	DepotDir           string                `json:"depot_dir"`
	RuncBin            string                `json:"runc_bin"`
	RuncRoot           string                `json:"runc_root"`
	InitBin            string                `json:"init_bin"` // default: this binary (must be static)
	PreloadedRootFS    map[string]string     `json:"preloaded_rootfs"`
	DefaultRootFS      string                `json:"default_rootfs"`
	CgroupParent       string                `json:"cgroup_parent"`
	BridgeName         string                `json:"bridge_name"`
	ChainPrefix        string                `json:"chain_prefix"`
	NetworkPool        string                `json:"network_pool"`
	ExternalIP         string                `json:"external_ip"`
	MTU                int                   `json:"mtu"`
	PortRangeStart     uint32                `json:"port_range_start"`
	PortRangeEnd       uint32                `json:"port_range_end"`
	IPForward          bool                  `json:"ip_forward"`
	MaxContainers      uint64                `json:"max_containers"`
	DefaultGraceTime   daemonconfig.Duration `json:"default_grace_time"`
	ImageCacheDir      string                `json:"image_cache_dir"`
	InsecureRegistries []string              `json:"insecure_registries"`
	// UserNSHostID: unprivileged containers' ids 0..65535 are host ids from this one on.
	UserNSHostID uint32 `json:"userns_host_id"`
	// AllowHostAccess lets containers reach the host's own addresses (denied by default).
	AllowHostAccess bool `json:"allow_host_access"`
}

// Default is the configuration used for fields a file leaves out.
func Default() Config {
	return Config{
		ListenNetwork:  "unix",
		ListenAddress:  "/var/run/diego-garden/garden.sock",
		SocketGroup:    "root",
		Logging:        daemonconfig.DefaultLogging(),
		DepotDir:       "/var/lib/diego-garden/depot",
		RuncBin:        "runc",
		RuncRoot:       "/run/diego-garden/runc",
		CgroupParent:   "diego-garden",
		BridgeName:     "diego-garden0",
		ChainPrefix:    "diego-garden",
		NetworkPool:    "10.254.0.0/22",
		PortRangeStart: 61001,
		PortRangeEnd:   65001,
		IPForward:      true,
		ImageCacheDir:  "/var/lib/diego-garden/images",
		UserNSHostID:   gardenrunc.DefaultUserNSHostID,
	}
}

// Load reads a JSON file over the defaults and validates the result.
func Load(path string) (Config, error) {
	return daemonconfig.Load(path, Default())
}

var nameOK = func(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// TLS says whether the API is served over mutual TLS.
func (c Config) TLS() bool { return c.CAFile != "" }

// SocketGID is the group of the unix socket: socket_group as a group name or a numeric gid.
func (c Config) SocketGID() (int, error) {
	if gid, err := strconv.ParseUint(c.SocketGroup, 10, 31); err == nil {
		return int(gid), nil
	}
	g, err := user.LookupGroup(c.SocketGroup)
	if err != nil {
		return 0, fmt.Errorf("socket_group %q is not a group of this host", c.SocketGroup)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("socket_group %q has gid %q, not a number", c.SocketGroup, g.Gid)
	}
	return gid, nil
}

// Validate reports every problem in the configuration.
func (c Config) Validate() error {
	var p daemonconfig.Problems
	c.Logging.Check(&p)
	p.HostPort("health_address", c.HealthAddress)
	p.Loopback("health_address", c.HealthAddress)
	p.HostPort("metrics_address", c.MetricsAddress)
	if c.MetricsAddress != "" && c.HealthAddress == "" {
		p.Addf("metrics_address needs health_address")
	}
	if set := c.CAFile != ""; set != (c.CertFile != "") || set != (c.KeyFile != "") {
		p.Addf("ca_file, cert_file and key_file go together")
	}
	switch c.ListenNetwork {
	case "unix":
		if !filepath.IsAbs(c.ListenAddress) {
			p.Addf("listen_address must be an absolute socket path for unix")
		}
		if _, err := c.SocketGID(); err != nil {
			p.Add(err)
		}
		if c.TLS() {
			p.Addf("ca_file, cert_file and key_file are for listen_network tcp (the unix socket is guarded by its mode)")
		}
	case "tcp":
		if _, _, err := net.SplitHostPort(c.ListenAddress); err != nil {
			p.Addf("listen_address: %w", err)
		} else if !c.TLS() && !daemonconfig.IsLoopback(c.ListenAddress) {
			// anyone who can connect has root on the host
			p.Addf("listen_address %q is not a loopback address: TCP beyond loopback needs ca_file, cert_file and key_file (mutual TLS)", c.ListenAddress)
		}
	default:
		p.Addf("listen_network must be unix or tcp, not %q", c.ListenNetwork)
	}
	for name, dir := range map[string]string{"depot_dir": c.DepotDir, "runc_root": c.RuncRoot, "image_cache_dir": c.ImageCacheDir} {
		if !filepath.IsAbs(dir) {
			p.Addf("%s must be an absolute path", name)
		}
	}
	for name, dir := range c.PreloadedRootFS {
		if !nameOK(name) {
			p.Addf("preloaded_rootfs name %q must be letters, digits, - or _", name)
		}
		if !filepath.IsAbs(dir) {
			p.Addf("preloaded_rootfs %q must be an absolute path", name)
		}
	}
	if !nameOK(c.CgroupParent) {
		p.Addf("cgroup_parent must be a plain name")
	}
	if !nameOK(c.BridgeName) || len(c.BridgeName) > 15 {
		p.Addf("bridge_name must be a plain name of at most 15 characters")
	}
	if !nameOK(c.ChainPrefix) || len(c.ChainPrefix) > 16 {
		p.Addf("chain_prefix must be a plain name of at most 16 characters")
	}
	if ip, n, err := net.ParseCIDR(c.NetworkPool); err != nil || ip.To4() == nil {
		p.Addf("network_pool must be an IPv4 CIDR")
	} else if ones, _ := n.Mask.Size(); ones > 30 || ones < 8 {
		p.Addf("network_pool must be between /8 and /30")
	}
	// NetIn's rules match the external address as an IPv4 /32
	if ip := net.ParseIP(c.ExternalIP); c.ExternalIP != "" && (ip == nil || ip.To4() == nil || strings.Contains(c.ExternalIP, ":")) {
		p.Addf("external_ip must be an IPv4 address, not %q", c.ExternalIP)
	}
	if c.PortRangeStart == 0 || c.PortRangeEnd <= c.PortRangeStart || c.PortRangeEnd > 65536 {
		p.Addf("port range %d-%d is invalid", c.PortRangeStart, c.PortRangeEnd)
	}
	if c.MTU < 0 || (c.MTU > 0 && c.MTU < 576) {
		p.Addf("mtu must be 0 (auto) or at least 576")
	}
	if c.DefaultGraceTime < 0 {
		p.Addf("default_grace_time must not be negative")
	}
	if err := gardenrunc.CheckUserNSHostID(c.UserNSHostID); err != nil {
		p.Add(err)
	}
	return p.Err()
}
