// Package config is the auctioneer daemon's JSON configuration: defaults, parsing and validation.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
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
	// ListenAddress is the mutual-TLS API listener (POST /v1/lrps, POST /v1/tasks). It only
	// listens while this auctioneer holds the lock.
	ListenAddress string `json:"listen_address"`
	// AdvertiseURL is stored in the lock (who leads). Default https://<listen_address>.
	AdvertiseURL string `json:"advertise_url"`
	// HealthAddress is the plain-HTTP health listener (GET /healthz, GET /ping); it must be a
	// loopback address. It serves from start-up on, leader or standby.
	HealthAddress string `json:"health_address"`
	// MetricsAddress serves Prometheus /metrics ("" disables).
	MetricsAddress string `json:"metrics_address"`

	// Server certificate, key and the CA that client certificates must chain to (mutual TLS).
	CAFile   string `json:"ca_file"`
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`

	ConsulAddress     string   `json:"consul_address"`
	LockTTL           Duration `json:"lock_ttl"`
	LockRetryInterval Duration `json:"lock_retry_interval"`
	// ServiceName registers the auctioneer in Consul (<name>.service.consul) while it leads; ""
	// disables. Default "auctioneer".
	ServiceName string `json:"service_name"`

	// BBSURL is where placement failures are reported; client TLS for it is optional (all three
	// files or none).
	BBSURL      string `json:"bbs_url"`
	BBSCAFile   string `json:"bbs_ca_file"`
	BBSCertFile string `json:"bbs_cert_file"`
	BBSKeyFile  string `json:"bbs_key_file"`

	// Client TLS for the reps (all three files or none: plain http).
	RepCAFile   string `json:"rep_ca_file"`
	RepCertFile string `json:"rep_cert_file"`
	RepKeyFile  string `json:"rep_key_file"`

	// CellStateTimeout bounds each cell's GET /state; a cell not answering in time is left out
	// of the auction. RepWorkTimeout bounds each POST /work.
	CellStateTimeout Duration `json:"cell_state_timeout"`
	RepWorkTimeout   Duration `json:"rep_work_timeout"`
	// MaxRounds bounds submissions of one batch (the first plus re-plans of rejected work).
	MaxRounds int `json:"max_rounds"`
	// RequeueDelay: how long work held back by starting_container_count_maximum, or a batch
	// whose cells could not be listed, waits before going back to the inbox.
	RequeueDelay Duration `json:"requeue_delay"`

	// Auction weights (upstream's names and defaults).
	StartingContainerWeight       float64 `json:"starting_container_weight"`
	BinPackFirstFitWeight         float64 `json:"bin_pack_first_fit_weight"`
	StartingContainerCountMaximum int     `json:"starting_container_count_maximum"`

	// LogLevel: debug, info, warn, error.
	LogLevel string `json:"log_level"`
}

// Default is the configuration before the file is applied.
func Default() Config {
	return Config{
		ListenAddress:           "0.0.0.0:9016",
		HealthAddress:           "127.0.0.1:9017",
		LockTTL:                 Duration(15 * time.Second),
		LockRetryInterval:       Duration(5 * time.Second),
		ServiceName:             "auctioneer",
		CellStateTimeout:        Duration(time.Second),
		RepWorkTimeout:          Duration(10 * time.Second),
		MaxRounds:               3,
		RequeueDelay:            Duration(time.Second),
		StartingContainerWeight: 0.25,
		LogLevel:                "info",
	}
}

// Load reads the file over the defaults and validates the result. Unknown fields are errors.
func Load(path string) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if c.AdvertiseURL == "" {
		c.AdvertiseURL = "https://" + c.ListenAddress
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
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
	req("bbs_url", c.BBSURL)
	for _, na := range [][2]string{{"listen_address", c.ListenAddress}, {"health_address", c.HealthAddress}, {"metrics_address", c.MetricsAddress}} {
		name, a := na[0], na[1]
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", name, a, err))
		}
	}
	if h := c.HealthAddress; h != "" && !isLoopback(h) {
		errs = append(errs, fmt.Errorf("health_address %q must be a loopback address", h))
	}
	if u := c.BBSURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		errs = append(errs, fmt.Errorf("bbs_url %q must start with http:// or https://", u))
	}
	if c.LockTTL.D() <= 0 || c.LockRetryInterval.D() <= 0 {
		errs = append(errs, errors.New("lock_ttl and lock_retry_interval must be positive"))
	}
	if c.CellStateTimeout.D() <= 0 || c.RepWorkTimeout.D() <= 0 || c.RequeueDelay.D() <= 0 {
		errs = append(errs, errors.New("cell_state_timeout, rep_work_timeout and requeue_delay must be positive"))
	}
	if c.MaxRounds < 1 {
		errs = append(errs, fmt.Errorf("max_rounds %d: must be at least 1", c.MaxRounds))
	}
	if c.StartingContainerWeight < 0 || c.BinPackFirstFitWeight < 0 || c.StartingContainerCountMaximum < 0 {
		errs = append(errs, errors.New("starting_container_weight, bin_pack_first_fit_weight and starting_container_count_maximum must not be negative"))
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
	all3("bbs", c.BBSCAFile, c.BBSCertFile, c.BBSKeyFile)
	all3("rep", c.RepCAFile, c.RepCertFile, c.RepKeyFile)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
