// Package daemonconfig holds what every daemon's JSON configuration (cmd/<binary>/config) has in
// common: the Duration type, strict loading of the file, a collector of every problem, and small
// groups of fields that a daemon's Config embeds (embedding keeps the JSON flat):
//
//	type Config struct {
//		daemonconfig.Listeners // listen_address, advertise_url, health_address, metrics_address
//		daemonconfig.ServerTLS // ca_file, cert_file, key_file
//		daemonconfig.Consul    // consul_address
//		daemonconfig.Lock      // lock_ttl, lock_retry_interval
//		daemonconfig.Logging   // log_level
//		daemonconfig.BBS       // bbs_url, bbs_*_file, bbs_service_name (a client of the BBS)
//		// the daemon's own fields
//	}
//
// A daemon's Validate collects into a Problems, asks each embedded group to Check itself, adds its
// own checks and returns Problems.Err, so one run names every problem.
package daemonconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
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

// Load reads a daemon's configuration: the JSON file at path decoded over defaults (unknown fields
// are errors), then each finish (the defaults that depend on what the file set), then Validate.
// A decoding or validation error names the file ("config <path>: ..."), as a read error already
// does; on error the config is the zero value, so nothing half-read is used.
func Load[C interface{ Validate() error }](path string, defaults C, finish ...func(*C)) (C, error) {
	var zero C
	b, err := os.ReadFile(path)
	if err != nil {
		return zero, err
	}
	c := defaults
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return zero, fmt.Errorf("config %s: %w", path, err)
	}
	for _, f := range finish {
		f(&c)
	}
	if err := c.Validate(); err != nil {
		return zero, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Problems collects every problem of a configuration; the zero value is ready to use.
type Problems struct {
	errs []error
}

// Add records err.
func (p *Problems) Add(err error) { p.errs = append(p.errs, err) }

// Addf records a formatted problem.
func (p *Problems) Addf(format string, args ...any) { p.Add(fmt.Errorf(format, args...)) }

// Require records "<name> is required" when v is empty.
func (p *Problems) Require(name, v string) {
	if v == "" {
		p.Addf("%s is required", name)
	}
}

// HostPort records a problem when addr is set but is not host:port.
func (p *Problems) HostPort(name, addr string) {
	if addr == "" {
		return
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		p.Addf("%s %q: %w", name, addr, err)
	}
}

// Loopback records a problem when addr is set but is not a loopback host:port (127.0.0.0/8,
// ::1 or localhost).
func (p *Problems) Loopback(name, addr string) {
	if addr != "" && !IsLoopback(addr) {
		p.Addf("%s %q must be a loopback address", name, addr)
	}
}

// TLSFiles records a problem unless the CA, certificate and key files <prefix>_ca_file,
// <prefix>_cert_file and <prefix>_key_file are all set or all empty (optional client TLS).
func (p *Problems) TLSFiles(prefix, ca, cert, key string) {
	n := 0
	for _, v := range []string{ca, cert, key} {
		if v != "" {
			n++
		}
	}
	if n != 0 && n != 3 {
		p.Addf("%s_ca_file, %s_cert_file and %s_key_file go together", prefix, prefix, prefix)
	}
}

// Err joins the problems (nil when there are none).
func (p *Problems) Err() error { return errors.Join(p.errs...) }

// IsLoopback says whether addr is a host:port on loopback (127.0.0.0/8, ::1 or localhost).
func IsLoopback(addr string) bool {
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

// Listeners are a daemon's API listener, the URL it advertises (e.g. in its lock), its plain-HTTP
// health listener (loopback only) and its Prometheus metrics listener.
type Listeners struct {
	// ListenAddress is the mutual-TLS API listener (host:port).
	ListenAddress string `json:"listen_address"`
	// AdvertiseURL is stored in the lock (who leads). Default https://<listen_address>.
	AdvertiseURL string `json:"advertise_url"`
	// HealthAddress is the plain-HTTP health listener; it must be a loopback address.
	HealthAddress string `json:"health_address"`
	// MetricsAddress serves Prometheus /metrics ("" disables).
	MetricsAddress string `json:"metrics_address"`
}

// DefaultAdvertiseURL sets AdvertiseURL to https://<listen_address> when the file left it out.
func (l *Listeners) DefaultAdvertiseURL() {
	if l.AdvertiseURL == "" {
		l.AdvertiseURL = "https://" + l.ListenAddress
	}
}

// Check records the listeners' problems: listen and health addresses required, every address
// host:port, the health address on loopback.
func (l Listeners) Check(p *Problems) {
	p.Require("listen_address", l.ListenAddress)
	p.Require("health_address", l.HealthAddress)
	p.HostPort("listen_address", l.ListenAddress)
	p.HostPort("health_address", l.HealthAddress)
	p.HostPort("metrics_address", l.MetricsAddress)
	p.Loopback("health_address", l.HealthAddress)
}

// ServerTLS is the API server's certificate, its key and the CA that client certificates must
// chain to (mutual TLS); all three are required.
type ServerTLS struct {
	CAFile   string `json:"ca_file"`
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
}

// Check records the missing files.
func (t ServerTLS) Check(p *Problems) {
	p.Require("ca_file", t.CAFile)
	p.Require("cert_file", t.CertFile)
	p.Require("key_file", t.KeyFile)
}

// Consul is the local Consul agent's HTTP address (host:port), for locks, presences and service
// registration.
type Consul struct {
	ConsulAddress string `json:"consul_address"`
}

// Check records a missing address.
func (c Consul) Check(p *Problems) { p.Require("consul_address", c.ConsulAddress) }

// Lock is a leader lock's timing (see locket.LockConfig).
type Lock struct {
	LockTTL           Duration `json:"lock_ttl"`
	LockRetryInterval Duration `json:"lock_retry_interval"`
}

// DefaultLock is upstream's lock timing: TTL 15s, retry every 5s.
func DefaultLock() Lock {
	return Lock{LockTTL: Duration(15 * time.Second), LockRetryInterval: Duration(5 * time.Second)}
}

// Check records timings that are not positive.
func (l Lock) Check(p *Problems) {
	if l.LockTTL.D() <= 0 || l.LockRetryInterval.D() <= 0 {
		p.Add(errors.New("lock_ttl and lock_retry_interval must be positive"))
	}
}

// Logging is the level of the daemon's JSON log lines: debug, info, warn or error.
type Logging struct {
	LogLevel string `json:"log_level"`
}

// DefaultLogging logs at info.
func DefaultLogging() Logging { return Logging{LogLevel: "info"} }

// Check records an unknown level.
func (l Logging) Check(p *Problems) {
	switch l.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.Addf("log_level %q: want debug, info, warn or error", l.LogLevel)
	}
}

// BBS is how a daemon reaches the BBS: bbs_url, optional client TLS (all three files or none),
// and optionally a Consul service name whose passing instances are tried before bbs_url.
type BBS struct {
	BBSURL      string `json:"bbs_url"`
	BBSCAFile   string `json:"bbs_ca_file"`
	BBSCertFile string `json:"bbs_cert_file"`
	BBSKeyFile  string `json:"bbs_key_file"`
	// BBSServiceName, when set, makes the client try the passing instances of this Consul
	// service first (https when the TLS files are set), bbs_url after them.
	BBSServiceName string `json:"bbs_service_name"`
}

// Check records a missing bbs_url (needed unless bbs_service_name is set), a URL that is not
// http(s) and incomplete TLS files.
func (b BBS) Check(p *Problems) {
	if b.BBSServiceName == "" {
		p.Require("bbs_url", b.BBSURL)
	}
	if u := b.BBSURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		p.Addf("bbs_url %q must start with http:// or https://", u)
	}
	p.TLSFiles("bbs", b.BBSCAFile, b.BBSCertFile, b.BBSKeyFile)
}

// NATS is the list of NATS servers a daemon publishes on or subscribes to (nats://host:port).
type NATS struct {
	NATSURLs []string `json:"nats_urls"`
}

// Check records a missing list and every entry that is not a nats://host:port URL; what names
// why the daemon needs NATS.
func (n NATS) Check(p *Problems, what string) {
	if len(n.NATSURLs) == 0 {
		p.Addf("nats_urls is required (%s)", what)
	}
	for _, s := range n.NATSURLs {
		if u, err := url.Parse(s); err != nil || u.Scheme != "nats" || u.Host == "" {
			p.Addf("nats_urls: %q is not a URL like nats://host:port", s)
		}
	}
}
