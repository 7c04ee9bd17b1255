// Package config is the BBS daemon's JSON configuration: defaults, parsing and validation.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("15s") in JSON.
type Duration time.Duration

// UnmarshalJSON accepts "15s" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration must be a string like \"15s\": %s", b)
	}
	*d = Duration(n)
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// D is the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config of the bbs daemon. Example:
//
//	{
//	  "listen_address": "0.0.0.0:8889",
//	  "advertise_url": "https://bbs.service.cf.internal:8889",
//	  "health_address": "127.0.0.1:8890",
//	  "metrics_address": "127.0.0.1:9090",
//	  "ca_file": "ca.crt", "cert_file": "server.crt", "key_file": "server.key",
//	  "etcd_endpoints": ["http://127.0.0.1:2379"],
//	  "consul_address": "127.0.0.1:8500",
//	  "lock_ttl": "15s", "lock_retry_interval": "5s",
//	  "encryption_keys": {"key-2024": "a long passphrase", "key-2025": "another passphrase"},
//	  "active_key_label": "key-2025",
//	  "auctioneer_url": "http://auctioneer.service.cf.internal:9016",
//	  "convergence_interval": "30s"
//	}
type Config struct {
	// ListenAddress is the mutual-TLS API listener.
	ListenAddress string `json:"listen_address"`
	// AdvertiseURL is stored in the lock (who leads). Default https://<listen_address>.
	AdvertiseURL string `json:"advertise_url"`
	// HealthAddress is the plain-HTTP health listener; it must be a loopback address.
	HealthAddress string `json:"health_address"`
	// MetricsAddress serves Prometheus /metrics ("" disables).
	MetricsAddress string `json:"metrics_address"`

	CAFile   string `json:"ca_file"`
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`

	EtcdEndpoints   []string `json:"etcd_endpoints"`
	EtcdDialTimeout Duration `json:"etcd_dial_timeout"`

	ConsulAddress     string   `json:"consul_address"`
	LockTTL           Duration `json:"lock_ttl"`
	LockRetryInterval Duration `json:"lock_retry_interval"`

	// EncryptionKeys maps key labels to passphrases; ActiveKeyLabel names the one records are
	// written under. Records under the others are re-encrypted when this BBS becomes leader.
	EncryptionKeys map[string]string `json:"encryption_keys"`
	ActiveKeyLabel string            `json:"active_key_label"`

	// AuctioneerURL is the auctioneer's API ("" : auctions are not requested; logged).
	AuctioneerURL string `json:"auctioneer_url"`
	// Optional client TLS for the auctioneer and the reps (all three files or none).
	AuctioneerCAFile   string `json:"auctioneer_ca_file"`
	AuctioneerCertFile string `json:"auctioneer_cert_file"`
	AuctioneerKeyFile  string `json:"auctioneer_key_file"`
	RepCAFile          string `json:"rep_ca_file"`
	RepCertFile        string `json:"rep_cert_file"`
	RepKeyFile         string `json:"rep_key_file"`

	// ConvergenceInterval runs a pass on this interval in the BBS itself (0: only when the
	// converger asks on /v1/converge, or a cell vanishes).
	ConvergenceInterval Duration `json:"convergence_interval"`
	// Convergence thresholds (upstream's defaults).
	UnclaimedLRPThreshold       Duration `json:"unclaimed_lrp_threshold"`
	KickTaskDuration            Duration `json:"kick_task_duration"`
	ExpireCompletedTaskDuration Duration `json:"expire_completed_task_duration"`
	ExpirePendingTaskDuration   Duration `json:"expire_pending_task_duration"`

	// CallbackRetryWait is the pause between task callback attempts.
	CallbackRetryWait Duration `json:"callback_retry_wait"`

	// LogLevel: debug, info, warn, error.
	LogLevel string `json:"log_level"`
}

// Default is the configuration before the file is applied.
func Default() Config {
	return Config{
		ListenAddress:               "0.0.0.0:8889",
		HealthAddress:               "127.0.0.1:8890",
		EtcdDialTimeout:             Duration(5 * time.Second),
		LockTTL:                     Duration(15 * time.Second),
		LockRetryInterval:           Duration(5 * time.Second),
		UnclaimedLRPThreshold:       Duration(30 * time.Second),
		KickTaskDuration:            Duration(30 * time.Second),
		ExpireCompletedTaskDuration: Duration(120 * time.Second),
		ExpirePendingTaskDuration:   Duration(30 * time.Minute),
		CallbackRetryWait:           Duration(time.Second),
		LogLevel:                    "info",
	}
}

// Load reads the file over the defaults and validates the result.
func Load(path string) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if c.AdvertiseURL == "" {
		c.AdvertiseURL = "https://" + c.ListenAddress
	}
	return c, c.Validate()
}

// Validate lists every problem.
func (c Config) Validate() error {
	var errs []error
	req := func(name, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is required", name))
		}
	}
	req("listen_address", c.ListenAddress)
	req("health_address", c.HealthAddress)
	req("ca_file", c.CAFile)
	req("cert_file", c.CertFile)
	req("key_file", c.KeyFile)
	req("consul_address", c.ConsulAddress)
	if len(c.EtcdEndpoints) == 0 {
		errs = append(errs, errors.New("etcd_endpoints is required"))
	}
	if h := c.HealthAddress; h != "" && !strings.HasPrefix(h, "127.") && !strings.HasPrefix(h, "localhost:") && !strings.HasPrefix(h, "[::1]:") {
		errs = append(errs, fmt.Errorf("health_address %q must be a loopback address", h))
	}
	if len(c.EncryptionKeys) == 0 {
		errs = append(errs, errors.New("encryption_keys is required"))
	} else if _, ok := c.EncryptionKeys[c.ActiveKeyLabel]; !ok {
		errs = append(errs, fmt.Errorf("active_key_label %q is not among encryption_keys", c.ActiveKeyLabel))
	}
	if c.LockTTL.D() <= 0 || c.LockRetryInterval.D() <= 0 {
		errs = append(errs, errors.New("lock_ttl and lock_retry_interval must be positive"))
	}
	all3 := func(name string, a, b, cc string) {
		n := 0
		for _, v := range []string{a, b, cc} {
			if v != "" {
				n++
			}
		}
		if n != 0 && n != 3 {
			errs = append(errs, fmt.Errorf("%s_ca_file, %s_cert_file and %s_key_file go together", name, name, name))
		}
	}
	all3("auctioneer", c.AuctioneerCAFile, c.AuctioneerCertFile, c.AuctioneerKeyFile)
	all3("rep", c.RepCAFile, c.RepCertFile, c.RepKeyFile)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}
