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
)

// Consul is a single-server Consul agent (its own datacenter) on loopback.
type Consul struct {
	proc     *process
	nodeName string
	dataDir  string
	ports    consulPorts
}

type consulPorts struct {
	HTTP    int `json:"http"`
	HTTPS   int `json:"https"`
	DNS     int `json:"dns"`
	SerfLAN int `json:"serf_lan"`
	SerfWAN int `json:"serf_wan"`
	Server  int `json:"server"`
	GRPC    int `json:"grpc"`
	GRPCTLS int `json:"grpc_tls"`
}

// ConsulStartTimeout bounds how long StartConsul and Restart wait for a leader.
var ConsulStartTimeout = 60 * time.Second

// ConsulSessionTTLMin is the agent's session_ttl_min: sessions may use TTLs this short (Consul's
// default minimum is 10s).
const ConsulSessionTTLMin = "1s"

// StartConsul starts `consul agent` as a single server that bootstraps itself (bootstrap_expect 1),
// with every port on a free random 127.0.0.1 port (gRPC and HTTPS disabled), data in
// dir/consul-data, config in dir/consul.json and log in dir/consul.log. It returns once a leader is
// elected and the node's serfHealth check passes, so sessions can be created at once.
func StartConsul(dir string) (*Consul, error) {
	bin, err := repo.BinPath("consul")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		c := &Consul{dataDir: filepath.Join(dir, "consul-data")}
		if c.ports, err = pickConsulPorts(); err != nil {
			return nil, err
		}
		c.nodeName = fmt.Sprintf("testservers-%d", c.ports.HTTP)
		configPath := filepath.Join(dir, "consul.json")
		if err := c.writeConfig(configPath); err != nil {
			return nil, err
		}
		c.proc = &process{
			name:    "consul",
			bin:     bin,
			args:    []string{"agent", "-config-file", configPath},
			logPath: filepath.Join(dir, "consul.log"),
		}
		err = c.start()
		if err == nil {
			return c, nil
		}
		_ = c.proc.kill()
		if attempt >= startAttempts || !portClash(err) {
			return nil, err
		}
		_ = os.RemoveAll(c.dataDir)
	}
}

func pickConsulPorts() (consulPorts, error) {
	tcp, err := freePorts(2)
	if err != nil {
		return consulPorts{}, err
	}
	both := make([]int, 0, 3) // DNS and serf listen on UDP too
	for len(both) < 3 {
		p, err := freeUDPAndTCPPort()
		if err != nil {
			return consulPorts{}, err
		}
		if p != tcp[0] && p != tcp[1] && (len(both) == 0 || p != both[0]) && (len(both) < 2 || p != both[1]) {
			both = append(both, p)
		}
	}
	return consulPorts{
		HTTP: tcp[0], Server: tcp[1],
		DNS: both[0], SerfLAN: both[1], SerfWAN: both[2],
		HTTPS: -1, GRPC: -1, GRPCTLS: -1,
	}, nil
}

func (c *Consul) writeConfig(path string) error {
	cfg := map[string]any{
		"node_name":            c.nodeName,
		"datacenter":           "dc1",
		"data_dir":             c.dataDir,
		"server":               true,
		"bootstrap_expect":     1,
		"bind_addr":            "127.0.0.1",
		"client_addr":          "127.0.0.1",
		"advertise_addr":       "127.0.0.1",
		"advertise_addr_wan":   "127.0.0.1",
		"ports":                c.ports,
		"session_ttl_min":      ConsulSessionTTLMin,
		"disable_update_check": true,
		"log_level":            "INFO",
		"ui_config":            map[string]any{"enabled": false},
		"performance":          map[string]any{"raft_multiplier": 1},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func (c *Consul) start() error {
	if err := c.proc.start(); err != nil {
		return err
	}
	client := &http.Client{Timeout: time.Second}
	get := func(path string, v any) error {
		resp, err := client.Get("http://" + c.HTTPAddr() + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return json.Unmarshal(body, v)
	}
	return c.proc.waitUntil(ConsulStartTimeout, func() error {
		var leader string
		if err := get("/v1/status/leader", &leader); err != nil {
			return err
		}
		if leader == "" {
			return fmt.Errorf("no leader yet")
		}
		var checks []struct {
			CheckID string
			Status  string
		}
		if err := get("/v1/health/node/"+c.nodeName, &checks); err != nil {
			return err
		}
		for _, ch := range checks {
			if ch.CheckID == "serfHealth" && ch.Status == "passing" {
				return nil
			}
		}
		return fmt.Errorf("node %s not registered and healthy yet: %+v", c.nodeName, checks)
	})
}

// HTTPAddr is the agent's HTTP API address, host:port (what consul/api's Config.Address takes).
func (c *Consul) HTTPAddr() string { return fmt.Sprintf("127.0.0.1:%d", c.ports.HTTP) }

// URL is the HTTP API base URL, http://host:port.
func (c *Consul) URL() string { return "http://" + c.HTTPAddr() }

// DNSAddr is the agent's DNS server address, host:port (UDP and TCP).
func (c *Consul) DNSAddr() string { return fmt.Sprintf("127.0.0.1:%d", c.ports.DNS) }

// NodeName is the agent's node name.
func (c *Consul) NodeName() string { return c.nodeName }

// DataDir is where the agent keeps its state; it survives Stop, Kill and Restart.
func (c *Consul) DataDir() string { return c.dataDir }

// Stop sends SIGTERM and waits; after 10 s it sends SIGKILL. Safe to call twice.
func (c *Consul) Stop() error { return c.proc.stop(10 * time.Second) }

// Kill sends SIGKILL (a crash) and waits until the process is gone.
func (c *Consul) Kill() error { return c.proc.kill() }

// Restart stops the agent if it runs and starts it again with the same ports and data, returning
// once it has a leader again. A port another process took while the agent was down is waited for
// (RestartPortWait); if it stays taken, Restart fails with a *PortTakenError naming it.
func (c *Consul) Restart() error {
	if err := c.Stop(); err != nil {
		return err
	}
	return restartOnPorts(c.proc, []serverPort{
		{name: "http", port: c.ports.HTTP},
		{name: "server", port: c.ports.Server},
		{name: "dns", port: c.ports.DNS, udp: true},
		{name: "serf_lan", port: c.ports.SerfLAN, udp: true},
		{name: "serf_wan", port: c.ports.SerfWAN, udp: true},
	}, c.start)
}

// Pid is the process id of the current (or last) agent process.
func (c *Consul) Pid() int { return c.proc.pid() }

// LogPath is the file holding the agent's stdout and stderr.
func (c *Consul) LogPath() string { return c.proc.logPath }

// Logs returns the whole log, for printing when a spec fails.
func (c *Consul) Logs() string { return c.proc.logs() }
