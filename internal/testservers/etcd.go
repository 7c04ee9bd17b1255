package testservers

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/diego-go/diego/internal/repo"
	"github.com/diego-go/diego/tlsconfig"
)

// Etcd is a single-member etcd on loopback.
type Etcd struct {
	proc       *process
	dataDir    string
	clientPort int
	peerPort   int
	tls        *EtcdTLS
	health     *http.Client
}

// EtcdTLS has etcd serve its clients over TLS only, requiring a client certificate signed by CA.
type EtcdTLS struct {
	CAFile, CertFile, KeyFile string // the clients' CA, etcd's certificate (for 127.0.0.1) and key
	// ClientCertFile and ClientKeyFile are what the health check presents
	ClientCertFile, ClientKeyFile string
}

// EtcdStartTimeout bounds how long StartEtcd and Restart wait for /health.
var EtcdStartTimeout = 30 * time.Second

// StartEtcd starts a single-member etcd with its data in dir/etcd-data and its log in dir/etcd.log,
// on random 127.0.0.1 client and peer ports, and returns once /health answers true.
func StartEtcd(dir string) (*Etcd, error) { return startEtcd(dir, nil) }

// StartEtcdTLS is StartEtcd with clients served over mutual TLS (ClientURL is https).
func StartEtcdTLS(dir string, t EtcdTLS) (*Etcd, error) { return startEtcd(dir, &t) }

func startEtcd(dir string, t *EtcdTLS) (*Etcd, error) {
	bin, err := repo.BinPath("etcd")
	if err != nil {
		return nil, err
	}
	health := &http.Client{Timeout: time.Second}
	if t != nil {
		cfg, err := tlsconfig.Client(t.ClientCertFile, t.ClientKeyFile, t.CAFile)
		if err != nil {
			return nil, err
		}
		health.Transport = &http.Transport{TLSClientConfig: cfg}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		e := &Etcd{
			dataDir:    filepath.Join(dir, "etcd-data"),
			clientPort: ports[0],
			peerPort:   ports[1],
			tls:        t,
			health:     health,
		}
		e.proc = &process{
			name:    "etcd",
			bin:     bin,
			args:    e.args(),
			logPath: filepath.Join(dir, "etcd.log"),
			// Tests crash the process, not the machine: the page cache keeps what was written.
			// (An environment variable, not a flag, so Debian's etcd 3.4 fallback just warns.)
			env: []string{"ETCD_UNSAFE_NO_FSYNC=true"},
		}
		err = e.start()
		if err == nil {
			return e, nil
		}
		_ = e.proc.kill()
		if attempt >= startAttempts || !portClash(err) {
			return nil, err
		}
		_ = os.RemoveAll(e.dataDir)
	}
}

func (e *Etcd) args() []string {
	client := e.ClientURL()
	peer := fmt.Sprintf("http://127.0.0.1:%d", e.peerPort)
	var tlsArgs []string
	if e.tls != nil {
		tlsArgs = []string{"--cert-file", e.tls.CertFile, "--key-file", e.tls.KeyFile,
			"--trusted-ca-file", e.tls.CAFile, "--client-cert-auth"}
	}
	return append(tlsArgs,
		"--name", "testservers",
		"--data-dir", e.dataDir,
		"--listen-client-urls", client,
		"--advertise-client-urls", client,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "testservers="+peer,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", fmt.Sprintf("testservers-%d", e.clientPort),
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
	)
}

func (e *Etcd) start() error {
	if err := e.proc.start(); err != nil {
		return err
	}
	return e.proc.waitUntil(EtcdStartTimeout, func() error {
		resp, err := e.health.Get(e.ClientURL() + "/health")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var h struct {
			Health string `json:"health"`
		}
		if err := json.Unmarshal(body, &h); err != nil || h.Health != "true" {
			return fmt.Errorf("/health answered %d %s", resp.StatusCode, body)
		}
		return nil
	})
}

// ClientURL is the URL clients connect to, e.g. http://127.0.0.1:41234 (https with TLS).
func (e *Etcd) ClientURL() string {
	scheme := "http"
	if e.tls != nil {
		scheme = "https"
	}
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme, e.clientPort)
}

// PeerURL is the member's peer URL.
func (e *Etcd) PeerURL() string { return fmt.Sprintf("http://127.0.0.1:%d", e.peerPort) }

// DataDir is where etcd keeps its data; it survives Stop, Kill and Restart.
func (e *Etcd) DataDir() string { return e.dataDir }

// Stop sends SIGTERM and waits; after 5 s it sends SIGKILL. Safe to call twice.
func (e *Etcd) Stop() error { return e.proc.stop(5 * time.Second) }

// Kill sends SIGKILL (a crash) and waits until the process is gone.
func (e *Etcd) Kill() error { return e.proc.kill() }

// Restart stops etcd if it runs and starts it again on the same ports with the same data. A port
// another process took while etcd was down is waited for (RestartPortWait); if it stays taken,
// Restart fails with a *PortTakenError naming it.
func (e *Etcd) Restart() error {
	if err := e.Stop(); err != nil {
		return err
	}
	return restartOnPorts(e.proc, []serverPort{
		{name: "client", port: e.clientPort},
		{name: "peer", port: e.peerPort},
	}, e.start)
}

// Pid is the process id of the current (or last) etcd process.
func (e *Etcd) Pid() int { return e.proc.pid() }

// LogPath is the file holding etcd's stdout and stderr.
func (e *Etcd) LogPath() string { return e.proc.logPath }

// Logs returns the whole log, for printing when a spec fails.
func (e *Etcd) Logs() string { return e.proc.logs() }
