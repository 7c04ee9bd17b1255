// Package config is the garden server's JSON configuration: defaults and validation.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Duration is a time.Duration written as a string in JSON ("5m", "30s").
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return err
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Config is the garden server's configuration file.
type Config struct {
	ListenNetwork      string            `json:"listen_network"` // "unix" or "tcp"
	ListenAddress      string            `json:"listen_address"`
	LogLevel           string            `json:"log_level"` // debug, info, warn, error
	DepotDir           string            `json:"depot_dir"`
	RuncBin            string            `json:"runc_bin"`
	RuncRoot           string            `json:"runc_root"`
	InitBin            string            `json:"init_bin"`  // default: this binary (must be static)
	ExecMode           string            `json:"exec_mode"` // "nsenter" (default) or "runc"
	PreloadedRootFS    map[string]string `json:"preloaded_rootfs"`
	DefaultRootFS      string            `json:"default_rootfs"`
	CgroupParent       string            `json:"cgroup_parent"`
	BridgeName         string            `json:"bridge_name"`
	ChainPrefix        string            `json:"chain_prefix"`
	NetworkPool        string            `json:"network_pool"`
	ExternalIP         string            `json:"external_ip"`
	MTU                int               `json:"mtu"`
	PortRangeStart     uint32            `json:"port_range_start"`
	PortRangeEnd       uint32            `json:"port_range_end"`
	IPForward          bool              `json:"ip_forward"`
	MaxContainers      uint64            `json:"max_containers"`
	DefaultGraceTime   Duration          `json:"default_grace_time"`
	ImageCacheDir      string            `json:"image_cache_dir"`
	InsecureRegistries []string          `json:"insecure_registries"`
}

// Default is the configuration used for fields a file leaves out.
func Default() Config {
	return Config{
		ListenNetwork:  "unix",
		ListenAddress:  "/var/run/diego-garden/garden.sock",
		LogLevel:       "info",
		DepotDir:       "/var/lib/diego-garden/depot",
		RuncBin:        "runc",
		ExecMode:       "nsenter",
		RuncRoot:       "/run/diego-garden/runc",
		CgroupParent:   "diego-garden",
		BridgeName:     "diego-garden0",
		ChainPrefix:    "diego-garden",
		NetworkPool:    "10.254.0.0/22",
		PortRangeStart: 61001,
		PortRangeEnd:   65001,
		IPForward:      true,
		ImageCacheDir:  "/var/lib/diego-garden/images",
	}
}

// Load reads a JSON file over the defaults and validates the result.
func Load(path string) (Config, error) {
	c := Default()
	data, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("parse %s: %w", path, err)
	}
	return c, c.Validate()
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

// Validate reports every problem in the configuration.
func (c Config) Validate() error {
	var errs []error
	switch c.ListenNetwork {
	case "unix":
		if !filepath.IsAbs(c.ListenAddress) {
			errs = append(errs, fmt.Errorf("listen_address must be an absolute socket path for unix"))
		}
	case "tcp":
		if _, _, err := net.SplitHostPort(c.ListenAddress); err != nil {
			errs = append(errs, fmt.Errorf("listen_address: %w", err))
		}
	default:
		errs = append(errs, fmt.Errorf("listen_network must be unix or tcp, not %q", c.ListenNetwork))
	}
	if c.ExecMode != "nsenter" && c.ExecMode != "runc" {
		errs = append(errs, fmt.Errorf("exec_mode must be nsenter or runc"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level must be debug, info, warn or error"))
	}
	for name, p := range map[string]string{"depot_dir": c.DepotDir, "runc_root": c.RuncRoot, "image_cache_dir": c.ImageCacheDir} {
		if !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("%s must be an absolute path", name))
		}
	}
	for name, dir := range c.PreloadedRootFS {
		if !nameOK(name) {
			errs = append(errs, fmt.Errorf("preloaded_rootfs name %q must be letters, digits, - or _", name))
		}
		if !filepath.IsAbs(dir) {
			errs = append(errs, fmt.Errorf("preloaded_rootfs %q must be an absolute path", name))
		}
	}
	if !nameOK(c.CgroupParent) {
		errs = append(errs, fmt.Errorf("cgroup_parent must be a plain name"))
	}
	if !nameOK(c.BridgeName) || len(c.BridgeName) > 15 {
		errs = append(errs, fmt.Errorf("bridge_name must be a plain name of at most 15 characters"))
	}
	if !nameOK(c.ChainPrefix) || len(c.ChainPrefix) > 16 {
		errs = append(errs, fmt.Errorf("chain_prefix must be a plain name of at most 16 characters"))
	}
	if ip, n, err := net.ParseCIDR(c.NetworkPool); err != nil || ip.To4() == nil {
		errs = append(errs, fmt.Errorf("network_pool must be an IPv4 CIDR"))
	} else if ones, _ := n.Mask.Size(); ones > 30 || ones < 8 {
		errs = append(errs, fmt.Errorf("network_pool must be between /8 and /30"))
	}
	if c.ExternalIP != "" && net.ParseIP(c.ExternalIP) == nil {
		errs = append(errs, fmt.Errorf("external_ip is not an IP address"))
	}
	if c.PortRangeStart == 0 || c.PortRangeEnd <= c.PortRangeStart || c.PortRangeEnd > 65536 {
		errs = append(errs, fmt.Errorf("port range %d-%d is invalid", c.PortRangeStart, c.PortRangeEnd))
	}
	if c.MTU < 0 || (c.MTU > 0 && c.MTU < 576) {
		errs = append(errs, fmt.Errorf("mtu must be 0 (auto) or at least 576"))
	}
	if c.DefaultGraceTime < 0 {
		errs = append(errs, fmt.Errorf("default_grace_time must not be negative"))
	}
	return errors.Join(errs...)
}
