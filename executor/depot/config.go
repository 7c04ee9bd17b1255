package depot

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"code.cloudfoundry.org/garden"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/internal/daemonconfig"
)

// Auto is the capacity value that takes garden's own.
const Auto = "auto"

// Capacity is memory_mb or disk_mb: "auto" (garden's capacity) or a positive number of MB, as a
// JSON string or number.
type Capacity string

// UnmarshalJSON accepts "auto", "1024" or 1024.
func (c *Capacity) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*c = Capacity(n.String())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf(`want "auto" or a number of MB, not %s`, b)
	}
	*c = Capacity(s)
	return nil
}

// mb is the configured number, 0 for auto.
func (c Capacity) mb() (int, error) {
	if c == Auto {
		return 0, nil
	}
	n, err := strconv.Atoi(string(c))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf(`must be "auto" or a positive number of MB, not %q`, string(c))
	}
	return n, nil
}

// Config is the executor's part of the rep's configuration (its JSON keys are upstream
// executor's where upstream has one). CellID and PreloadedRootFS come from the rep's own keys.
type Config struct {
	// CellID owns the cell's garden containers and names the cell in the lifecycle log lines.
	CellID string `json:"-"`
	// PreloadedRootFS are the stacks garden preloads; the first is the garden health check's.
	PreloadedRootFS []string `json:"-"`

	MemoryMB Capacity `json:"memory_mb"`
	DiskMB   Capacity `json:"disk_mb"`
	// AutoDiskOverheadMB is left out of an automatic disk capacity.
	AutoDiskOverheadMB int `json:"auto_disk_capacity_overhead_mb"`
	// MaxContainers is the cell's container capacity; 0 takes garden's less one (the health
	// check's container).
	MaxContainers int `json:"max_containers"`

	ContainerInodeLimit   uint64 `json:"container_inode_limit"`
	ContainerMaxCPUShares uint64 `json:"container_max_cpu_shares"`

	// GracefulShutdownInterval is the cell's time between SIGTERM and SIGKILL when an instance
	// stops (an LRP's own grace period wins).
	GracefulShutdownInterval    daemonconfig.Duration `json:"graceful_shutdown_interval"`
	HealthyMonitoringInterval   daemonconfig.Duration `json:"healthy_monitoring_interval"`
	UnhealthyMonitoringInterval daemonconfig.Duration `json:"unhealthy_monitoring_interval"`
	// ReservedExpirationTime: a reservation never run is given back after it.
	ReservedExpirationTime daemonconfig.Duration `json:"reserved_expiration_time"`
	// ContainerReapInterval is how often expired reservations and containers garden lost are
	// reaped.
	ContainerReapInterval daemonconfig.Duration `json:"container_reap_interval"`

	CachePath           string `json:"cache_path"`
	MaxCacheSizeInBytes int64  `json:"max_cache_size_in_bytes"`

	// TrustedSystemCertificatesPath is the host's trusted CA certificates directory, mounted
	// where an instance asks ("" mounts none).
	TrustedSystemCertificatesPath string `json:"trusted_system_certificates_path"`
	// InstanceIdentityCAPath and InstanceIdentityPrivateKeyPath sign each instance's identity
	// credentials, written under InstanceIdentityCredDir; all three or none.
	InstanceIdentityCAPath         string                `json:"instance_identity_ca_path"`
	InstanceIdentityPrivateKeyPath string                `json:"instance_identity_private_key_path"`
	InstanceIdentityCredDir        string                `json:"instance_identity_cred_dir"`
	InstanceIdentityValidityPeriod daemonconfig.Duration `json:"instance_identity_validity_period"`
	// DeclarativeHealthcheckPath is the host directory holding cmd/healthcheck's binary
	// ("healthcheck"), mounted read-only in every container ("" mounts none: checks cannot run).
	DeclarativeHealthcheckPath string `json:"declarative_healthcheck_path"`

	// ContainerMetricsReportInterval is how often each container's metrics are published.
	ContainerMetricsReportInterval daemonconfig.Duration `json:"container_metrics_report_interval"`
	// MaxLogLinesPerSecond limits each container's log lines (0 = no limit).
	MaxLogLinesPerSecond int `json:"max_log_lines_per_second"`

	// The periodic garden health check: a container of HealthCheckContainerOwnerName (default
	// "executor-health-check-<cell id>", so that cells sharing a garden never destroy each
	// other's) from the first preloaded stack, running the process below; failing (or not done
	// within the timeout) makes the cell unhealthy.
	GardenHealthcheckInterval          daemonconfig.Duration `json:"garden_healthcheck_interval"`
	GardenHealthcheckTimeout           daemonconfig.Duration `json:"garden_healthcheck_timeout"`
	GardenHealthcheckCommandRetryPause daemonconfig.Duration `json:"garden_healthcheck_command_retry_pause"`
	GardenHealthcheckProcessPath       string                `json:"garden_healthcheck_process_path"`
	GardenHealthcheckProcessArgs       []string              `json:"garden_healthcheck_process_args"`
	GardenHealthcheckProcessUser       string                `json:"garden_healthcheck_process_user"`
	GardenHealthcheckProcessDir        string                `json:"garden_healthcheck_process_dir"`
	GardenHealthcheckProcessEnv        []string              `json:"garden_healthcheck_process_env"`
	HealthCheckContainerOwnerName      string                `json:"healthcheck_container_owner_name"`
}

// DefaultConfig is upstream's defaults.
func DefaultConfig() Config {
	return Config{
		MemoryMB:                           Auto,
		DiskMB:                             Auto,
		ContainerInodeLimit:                200000,
		ContainerMaxCPUShares:              1024,
		GracefulShutdownInterval:           daemonconfig.Duration(10 * time.Second),
		HealthyMonitoringInterval:          daemonconfig.Duration(30 * time.Second),
		UnhealthyMonitoringInterval:        daemonconfig.Duration(2 * time.Second),
		ReservedExpirationTime:             daemonconfig.Duration(time.Minute),
		ContainerReapInterval:              daemonconfig.Duration(time.Minute),
		CachePath:                          "/var/vcap/data/executor_cache",
		MaxCacheSizeInBytes:                10 * 1024 * 1024 * 1024,
		InstanceIdentityValidityPeriod:     daemonconfig.Duration(24 * time.Hour),
		ContainerMetricsReportInterval:     daemonconfig.Duration(15 * time.Second),
		GardenHealthcheckInterval:          daemonconfig.Duration(10 * time.Minute),
		GardenHealthcheckTimeout:           daemonconfig.Duration(10 * time.Minute),
		GardenHealthcheckCommandRetryPause: daemonconfig.Duration(time.Second),
		GardenHealthcheckProcessPath:       "/bin/sh",
		GardenHealthcheckProcessArgs:       []string{"-c", "echo checking health"},
		GardenHealthcheckProcessUser:       "vcap",
	}
}

// Check records every problem of the executor's keys.
func (c Config) Check(p *daemonconfig.Problems) {
	if _, err := c.MemoryMB.mb(); err != nil {
		p.Addf("memory_mb %w", err)
	}
	if _, err := c.DiskMB.mb(); err != nil {
		p.Addf("disk_mb %w", err)
	}
	if c.AutoDiskOverheadMB < 0 {
		p.Addf("auto_disk_capacity_overhead_mb must not be negative")
	}
	if c.MaxContainers < 0 {
		p.Addf("max_containers must not be negative (0 takes garden's)")
	}
	if c.ContainerMaxCPUShares == 0 {
		p.Addf("container_max_cpu_shares must be positive")
	}
	for _, d := range []struct {
		name string
		v    daemonconfig.Duration
	}{
		{"graceful_shutdown_interval", c.GracefulShutdownInterval},
		{"healthy_monitoring_interval", c.HealthyMonitoringInterval},
		{"unhealthy_monitoring_interval", c.UnhealthyMonitoringInterval},
		{"reserved_expiration_time", c.ReservedExpirationTime},
		{"container_reap_interval", c.ContainerReapInterval},
		{"container_metrics_report_interval", c.ContainerMetricsReportInterval},
		{"garden_healthcheck_interval", c.GardenHealthcheckInterval},
		{"garden_healthcheck_timeout", c.GardenHealthcheckTimeout},
		{"garden_healthcheck_command_retry_pause", c.GardenHealthcheckCommandRetryPause},
	} {
		if d.v.D() <= 0 {
			p.Addf("%s %s: must be positive", d.name, d.v.D())
		}
	}
	abs := func(name, path string, required bool) {
		if path == "" {
			if required {
				p.Addf("%s is required", name)
			}
			return
		}
		if !filepath.IsAbs(path) {
			p.Addf("%s %q must be an absolute path", name, path)
		}
	}
	abs("cache_path", c.CachePath, true)
	if c.MaxCacheSizeInBytes <= 0 {
		p.Addf("max_cache_size_in_bytes must be positive")
	}
	abs("trusted_system_certificates_path", c.TrustedSystemCertificatesPath, false)
	abs("declarative_healthcheck_path", c.DeclarativeHealthcheckPath, false)
	identity := []string{c.InstanceIdentityCAPath, c.InstanceIdentityPrivateKeyPath, c.InstanceIdentityCredDir}
	set := 0
	for _, v := range identity {
		if v != "" {
			set++
		}
	}
	if set != 0 && set != len(identity) {
		p.Addf("instance_identity_ca_path, instance_identity_private_key_path and instance_identity_cred_dir go together")
	}
	abs("instance_identity_cred_dir", c.InstanceIdentityCredDir, false)
	if set != 0 && c.InstanceIdentityValidityPeriod.D() <= 0 {
		p.Addf("instance_identity_validity_period must be positive")
	}
	if c.MaxLogLinesPerSecond < 0 {
		p.Addf("max_log_lines_per_second must not be negative (0 = no limit)")
	}
	p.Require("garden_healthcheck_process_path", c.GardenHealthcheckProcessPath)
}

// Validate is Check on its own, for the executor's keys alone.
func (c Config) Validate() error {
	var p daemonconfig.Problems
	c.Check(&p)
	return p.Err()
}

// healthCheckOwner owns the health check's containers and the rootfs measurements'.
func (c Config) healthCheckOwner() string {
	if c.HealthCheckContainerOwnerName != "" {
		return c.HealthCheckContainerOwnerName
	}
	return "executor-health-check-" + c.CellID
}

// capacity is the cell's total resources: the configured numbers, or garden's where "auto".
func (c Config) capacity(g garden.Capacity) (executor.Resources, error) {
	r := executor.Resources{Containers: c.MaxContainers}
	var err error
	if r.MemoryMB, err = c.MemoryMB.mb(); err != nil {
		return r, fmt.Errorf("memory_mb %w", err)
	}
	if r.MemoryMB == 0 {
		r.MemoryMB = int(g.MemoryInBytes / (1024 * 1024))
	}
	if r.DiskMB, err = c.DiskMB.mb(); err != nil {
		return r, fmt.Errorf("disk_mb %w", err)
	}
	if r.DiskMB == 0 {
		disk := g.SchedulableDiskInBytes
		if disk == 0 {
			disk = g.DiskInBytes - min(g.DiskInBytes, uint64(c.MaxCacheSizeInBytes))
		}
		r.DiskMB = int(disk/(1024*1024)) - c.AutoDiskOverheadMB
		if r.DiskMB <= 0 {
			return r, fmt.Errorf("disk_mb auto: garden's disk (%d bytes) less the cache and the overhead leaves nothing", g.DiskInBytes)
		}
	}
	if r.Containers == 0 {
		r.Containers = int(g.MaxContainers) - 1
	}
	if r.MemoryMB <= 0 || r.Containers <= 0 {
		return r, fmt.Errorf("garden's capacity %+v leaves the cell no memory or containers", g)
	}
	return r, nil
}
