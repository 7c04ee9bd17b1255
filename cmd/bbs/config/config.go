// Package config is the BBS daemon's JSON configuration: defaults, parsing and validation. What
// every daemon's configuration has (listeners, server TLS, Consul, lock, log level) is in
// internal/daemonconfig; this package adds the BBS's own fields.
package config

import (
	"errors"
	"net/url"
	"time"

	"github.com/diego-go/diego/bbs/convergence"
	"github.com/diego-go/diego/bbs/handlers"
	"github.com/diego-go/diego/bbs/service"
	"github.com/diego-go/diego/internal/daemonconfig"
	"github.com/diego-go/diego/models"
)

// Config of the bbs daemon. Example:
//
//	{
//	  "listen_address": "0.0.0.0:8889",
//	  "advertise_url": "https://bbs.service.cf.internal:8889",
//	  "health_address": "127.0.0.1:8890",
//	  "metrics_address": "127.0.0.1:9090",
//	  "ca_file": "ca.crt", "cert_file": "server.crt", "key_file": "server.key",
//	  "etcd_endpoints": ["https://etcd.service.cf.internal:4001"],
//	  "etcd_ca_file": "etcd-ca.crt", "etcd_cert_file": "etcd-client.crt", "etcd_key_file": "etcd-client.key",
//	  "consul_address": "127.0.0.1:8500",
//	  "lock_ttl": "15s", "lock_retry_interval": "5s",
//	  "encryption_keys": {"key-2024": "a long passphrase", "key-2025": "another passphrase"},
//	  "active_key_label": "key-2025",
//	  "auctioneer_url": "http://auctioneer.service.cf.internal:9016",
//	  "convergence_interval": "30s"
//	}
type Config struct {
	daemonconfig.Listeners
	daemonconfig.ServerTLS
	daemonconfig.Consul
	daemonconfig.Lock
	daemonconfig.Logging

	EtcdEndpoints   []string              `json:"etcd_endpoints"`
	EtcdDialTimeout daemonconfig.Duration `json:"etcd_dial_timeout"`
	// Mutual TLS to etcd (all three files or none): with them every endpoint must be https,
	// without them http.
	EtcdCAFile   string `json:"etcd_ca_file"`
	EtcdCertFile string `json:"etcd_cert_file"`
	EtcdKeyFile  string `json:"etcd_key_file"`

	// EncryptionKeys maps key labels to passphrases; ActiveKeyLabel names the one records are
	// written under. Records under the others are re-encrypted when this BBS becomes leader.
	EncryptionKeys map[string]string `json:"encryption_keys"`
	ActiveKeyLabel string            `json:"active_key_label"`

	// ServiceName registers the API in Consul (<name>.service.consul) while this BBS holds the
	// lock, as upstream's BBS registers "bbs"; "" disables.
	ServiceName string `json:"service_name"`

	// AuctioneerURL is the auctioneer's API ("" : auctions are not requested; logged, unless
	// AuctioneerServiceName is set).
	AuctioneerURL string `json:"auctioneer_url"`
	// AuctioneerServiceName, when set, makes every auction request try the passing instances of
	// this Consul service first (the auctioneer registers "auctioneer" while it holds its lock,
	// so a standby that takes over is found), auctioneer_url after them.
	AuctioneerServiceName string `json:"auctioneer_service_name"`
	// Optional client TLS for the auctioneer and the reps (all three files or none).
	AuctioneerCAFile   string `json:"auctioneer_ca_file"`
	AuctioneerCertFile string `json:"auctioneer_cert_file"`
	AuctioneerKeyFile  string `json:"auctioneer_key_file"`
	RepCAFile          string `json:"rep_ca_file"`
	RepCertFile        string `json:"rep_cert_file"`
	RepKeyFile         string `json:"rep_key_file"`

	// ConvergenceInterval runs a pass on this interval in the BBS itself, and at once when a
	// cell vanishes (default upstream's 30 s), for a BBS run without a converger. 0: the BBS
	// converges only on /v1/converge, which a converger daemon (cmd/converger) calls.
	ConvergenceInterval daemonconfig.Duration `json:"convergence_interval"`
	// Convergence thresholds (defaults: convergence.DefaultConfig, upstream's).
	UnclaimedLRPThreshold       daemonconfig.Duration `json:"unclaimed_lrp_threshold"`
	KickTaskDuration            daemonconfig.Duration `json:"kick_task_duration"`
	ExpireCompletedTaskDuration daemonconfig.Duration `json:"expire_completed_task_duration"`
	ExpirePendingTaskDuration   daemonconfig.Duration `json:"expire_pending_task_duration"`

	// MaxRequestBytes bounds an API request's body (a larger one answers 413 unread);
	// MaxInstances bounds a desired LRP's instances (desire and update answer InvalidRequest).
	MaxRequestBytes int64 `json:"max_request_bytes"`
	MaxInstances    int32 `json:"max_instances"`

	// CallbackRetryWait is the pause between task callback attempts.
	CallbackRetryWait daemonconfig.Duration `json:"callback_retry_wait"`

	// CrashRestartPolicy decides when a crashed instance starts again (default upstream's,
	// which hard-codes it: models.DefaultRestartPolicy). A file may set some of its keys.
	CrashRestartPolicy RestartPolicy `json:"crash_restart_policy"`
}

// RestartPolicy is models.RestartPolicy in the configuration's JSON.
type RestartPolicy struct {
	ImmediateRestarts int32                 `json:"immediate_restarts"`
	MinBackoff        daemonconfig.Duration `json:"min_backoff"`
	MaxBackoff        daemonconfig.Duration `json:"max_backoff"`
	MaxRestarts       int32                 `json:"max_restarts"`
	CrashResetAfter   daemonconfig.Duration `json:"crash_reset_after"`
}

// Policy is the models.RestartPolicy configured.
func (r RestartPolicy) Policy() models.RestartPolicy {
	return models.RestartPolicy{ImmediateRestarts: r.ImmediateRestarts, MinBackoff: r.MinBackoff.D(), MaxBackoff: r.MaxBackoff.D(),
		MaxRestarts: r.MaxRestarts, CrashResetAfter: r.CrashResetAfter.D()}
}

// check records a policy that cannot be followed.
func (r RestartPolicy) check(p *daemonconfig.Problems) {
	if r.ImmediateRestarts < 0 || r.MaxRestarts < r.ImmediateRestarts {
		p.Addf("crash_restart_policy: want 0 <= immediate_restarts (%d) <= max_restarts (%d)", r.ImmediateRestarts, r.MaxRestarts)
	}
	if r.MinBackoff <= 0 || r.MaxBackoff < r.MinBackoff {
		p.Addf("crash_restart_policy: want 0 < min_backoff (%s) <= max_backoff (%s)", r.MinBackoff.D(), r.MaxBackoff.D())
	}
	if r.CrashResetAfter <= 0 {
		p.Addf("crash_restart_policy: crash_reset_after must be positive, not %s", r.CrashResetAfter.D())
	}
}

// Default is the configuration before the file is applied.
func Default() Config {
	conv := convergence.DefaultConfig()
	policy := models.DefaultRestartPolicy()
	return Config{
		ServiceName:                 "bbs",
		Listeners:                   daemonconfig.Listeners{ListenAddress: "0.0.0.0:8889", HealthAddress: "127.0.0.1:8890"},
		Lock:                        daemonconfig.DefaultLock(),
		Logging:                     daemonconfig.DefaultLogging(),
		EtcdDialTimeout:             daemonconfig.Duration(5 * time.Second),
		ConvergenceInterval:         daemonconfig.Duration(30 * time.Second),
		UnclaimedLRPThreshold:       daemonconfig.Duration(conv.StaleUnclaimedLRP),
		KickTaskDuration:            daemonconfig.Duration(conv.KickTask),
		ExpireCompletedTaskDuration: daemonconfig.Duration(conv.ExpireCompletedTask),
		ExpirePendingTaskDuration:   daemonconfig.Duration(conv.ExpirePendingTask),
		CallbackRetryWait:           daemonconfig.Duration(time.Second),
		MaxRequestBytes:             handlers.MaxBodyBytes,
		MaxInstances:                service.DefaultMaxInstances,
		CrashRestartPolicy: RestartPolicy{ImmediateRestarts: policy.ImmediateRestarts, MinBackoff: daemonconfig.Duration(policy.MinBackoff),
			MaxBackoff: daemonconfig.Duration(policy.MaxBackoff), MaxRestarts: policy.MaxRestarts,
			CrashResetAfter: daemonconfig.Duration(policy.CrashResetAfter)},
	}
}

// Convergence is the thresholds of a convergence pass as configured.
func (c Config) Convergence() convergence.Config {
	conv := convergence.DefaultConfig()
	conv.StaleUnclaimedLRP = c.UnclaimedLRPThreshold.D()
	conv.KickTask = c.KickTaskDuration.D()
	conv.ExpireCompletedTask = c.ExpireCompletedTaskDuration.D()
	conv.ExpirePendingTask = c.ExpirePendingTaskDuration.D()
	return conv
}

// Load reads the file over the defaults and validates the result. Unknown fields are errors.
func Load(path string) (Config, error) {
	return daemonconfig.Load(path, Default(), (*Config).DefaultAdvertiseURL)
}

// Validate lists every problem.
func (c Config) Validate() error {
	var p daemonconfig.Problems
	c.Listeners.Check(&p)
	c.ServerTLS.Check(&p)
	c.Consul.Check(&p)
	c.Lock.Check(&p)
	c.Logging.Check(&p)
	if len(c.EtcdEndpoints) == 0 {
		p.Add(errors.New("etcd_endpoints is required"))
	}
	p.TLSFiles("etcd", c.EtcdCAFile, c.EtcdCertFile, c.EtcdKeyFile)
	want := "http"
	if c.EtcdCAFile != "" {
		want = "https"
	}
	for _, e := range c.EtcdEndpoints {
		u, err := url.Parse(e)
		switch {
		case err != nil || u.Host == "":
			p.Addf("etcd_endpoints: %q is not a URL like %s://host:port", e, want)
		case u.Scheme != want && want == "https":
			p.Addf("etcd_endpoints: %q is not https, but etcd_ca_file is set (mutual TLS)", e)
		case u.Scheme != want:
			p.Addf("etcd_endpoints: %q needs etcd_ca_file, etcd_cert_file and etcd_key_file (mutual TLS), or an http URL", e)
		}
	}
	if len(c.EncryptionKeys) == 0 {
		p.Add(errors.New("encryption_keys is required"))
	} else if _, ok := c.EncryptionKeys[c.ActiveKeyLabel]; !ok {
		p.Addf("active_key_label %q is not among encryption_keys", c.ActiveKeyLabel)
	}
	for _, t := range []struct {
		name string
		d    daemonconfig.Duration
	}{
		{"unclaimed_lrp_threshold", c.UnclaimedLRPThreshold}, {"kick_task_duration", c.KickTaskDuration},
		{"expire_completed_task_duration", c.ExpireCompletedTaskDuration}, {"expire_pending_task_duration", c.ExpirePendingTaskDuration},
	} {
		if t.d <= 0 {
			p.Addf("%s must be positive, not %s", t.name, t.d.D())
		}
	}
	if c.ConvergenceInterval < 0 {
		p.Addf("convergence_interval must not be negative, not %s", c.ConvergenceInterval.D())
	}
	if c.MaxRequestBytes < 1024 {
		p.Addf("max_request_bytes %d is below 1024", c.MaxRequestBytes)
	}
	if c.MaxInstances < 1 {
		p.Addf("max_instances %d must be positive", c.MaxInstances)
	}
	p.TLSFiles("auctioneer", c.AuctioneerCAFile, c.AuctioneerCertFile, c.AuctioneerKeyFile)
	p.TLSFiles("rep", c.RepCAFile, c.RepCertFile, c.RepKeyFile)
	c.CrashRestartPolicy.check(&p)
	return p.Err()
}
