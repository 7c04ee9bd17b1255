package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"code.cloudfoundry.org/garden/client"
	"code.cloudfoundry.org/garden/client/connection"

	"github.com/diego-go/diego/gardenrunc"
	"github.com/diego-go/diego/internal/repo"
	"github.com/diego-go/diego/tlsconfig"
)

// Settings choose where a deployment lives; each has a documented default (docs/deploy.md) and
// an environment variable.
type Settings struct {
	// StateDir holds configs, certificates, data, logs, pid files and the env file.
	StateDir string
	// PortBase: every port is PortBase plus a fixed offset (ports below).
	PortBase int
	// Prefix names everything on the host outside StateDir: /var/lib/<Prefix> and each cell's
	// bridge, iptables chains and cgroup parent (<Prefix>-<cell index>).
	Prefix string
	// Cells is how many gardens, each with a rep, run (zones z1, z2, z1, ...).
	Cells int
	// Pool is an IPv4 /16; cell i's containers get addresses in its i-th /24.
	Pool string
	// Domain: the demo app is routed at demo.<Domain>, which the env file names for create-app.
	Domain string
}

// Port offsets from PortBase. Cells use cellPorts+cellPortStride*i and up, and NetIn host ports
// netInPorts+netInStride*i and up.
const (
	etcdPort       = 0
	etcdPeerPort   = 1
	consulHTTP     = 10 // and 11-14: server, DNS, serf LAN, serf WAN
	natsPort       = 20
	natsMonitor    = 21
	bbsPort        = 30
	auctioneerPort = 40
	convergerPort  = 50
	emitterPort    = 60
	dashboardPort  = 70
	routerPort     = 80
	fileServerPort = 90
	// each daemon's health listener is its port + 1
	cellPorts      = 100 // rep, rep admin, garden health
	cellPortStride = 10
	netInPorts     = 1000
	netInStride    = 200 // below base+2000: a default deployment's stay clear of the test gardens' (20000 and up)
	maxCells       = 5
	maxPortOffset  = netInPorts + netInStride*maxCells
)

var prefixOK = regexp.MustCompile(`^[a-z][a-z0-9-]{0,11}$`)

// Validate names every bad setting at once. The state dir is any folder (the command makes it
// absolute).
func (s Settings) Validate() error {
	var errs []error
	if s.PortBase < 1024 || s.PortBase+maxPortOffset > 65535 {
		errs = append(errs, fmt.Errorf("port base %d must be between 1024 and %d (the deployment uses ports up to base+%d)", s.PortBase, 65535-maxPortOffset, maxPortOffset))
	}
	if !prefixOK.MatchString(s.Prefix) {
		errs = append(errs, fmt.Errorf("prefix %q must be a lower-case letter then up to 11 letters, digits or dashes (it names bridges of at most 15 characters)", s.Prefix))
	}
	if s.Cells < 1 || s.Cells > maxCells {
		errs = append(errs, fmt.Errorf("cells %d must be between 1 and %d", s.Cells, maxCells))
	}
	if ip, n, err := net.ParseCIDR(s.Pool); err != nil || ip.To4() == nil {
		errs = append(errs, fmt.Errorf("pool %q must be an IPv4 /16 such as 10.249.0.0/16", s.Pool))
	} else if ones, _ := n.Mask.Size(); ones != 16 {
		errs = append(errs, fmt.Errorf("pool %q must be a /16 (each cell takes a /24 of it)", s.Pool))
	}
	if s.Domain == "" || strings.ContainsAny(s.Domain, "/: ") {
		errs = append(errs, fmt.Errorf("domain %q must be a host name such as localhost", s.Domain))
	}
	return errors.Join(errs...)
}

// Deployment is the layout that Settings give: paths, addresses and the processes in start order.
type Deployment struct {
	Settings
	binDir, certDir, configDir, logDir, runDir, dataDir, staticDir string
	// hostDir (/var/lib/<prefix>) holds what containers' users must reach (the rootfs, the
	// healthcheck, garden-init, the depots): every folder above it is searchable by all.
	hostDir string
	EnvFile string
	certs   certFiles
	bins    map[string]string
	procs   []*process
	// configs are the JSON configuration files the processes read, by path
	configs  map[string]map[string]any
	gardens  []gardenSettings
	DemoHost string
}

type certFiles struct {
	CA, CAKey string
	// cert and key per component (bbs, auctioneer, rep, ...) and "client" for operators
	Cert, Key map[string]string
}

type gardenSettings struct {
	host   gardenrunc.Host
	socket string
	depot  string
	// config is the garden's configuration file
	config string
	cell   string
	zone   string
}

func (d *Deployment) addr(offset int) string { return fmt.Sprintf("127.0.0.1:%d", d.PortBase+offset) }

// Addr of the BBS, router, file-server and NATS, for what this command prints and writes.
func (d *Deployment) BBSURL() string        { return "https://" + d.addr(bbsPort) }
func (d *Deployment) RouterURL() string     { return "http://" + d.addr(routerPort) }
func (d *Deployment) FileServerURL() string { return "http://" + d.addr(fileServerPort) }
func (d *Deployment) DashboardURL() string  { return "http://" + d.addr(dashboardPort) + "/" }
func (d *Deployment) NATSURL() string       { return "nats://" + d.addr(natsPort) }

// The project's programs the deployment builds (CGO_ENABLED=0: garden-init and the healthcheck
// run inside containers).
var programs = map[string]string{
	"bbs":           "./cmd/bbs",
	"auctioneer":    "./cmd/auctioneer",
	"converger":     "./cmd/converger",
	"rep":           "./cmd/rep",
	"route-emitter": "./cmd/route-emitter",
	"router":        "./cmd/router",
	"file-server":   "./cmd/file-server",
	"garden":        "./cmd/garden",
	"garden-init":   "./cmd/garden/garden-init",
	"healthcheck":   "./cmd/healthcheck",
	"diego":         "./cmd/diego",
	"testapp":       "./internal/testapp",
}

// components are the certificates made: each serves and calls with its own.
var components = []string{"bbs", "auctioneer", "rep", "converger", "route-emitter"}

func newDeployment(s Settings) (*Deployment, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(s.StateDir) {
		return nil, fmt.Errorf("state dir %q must be an absolute path", s.StateDir)
	}
	d := &Deployment{
		Settings:  s,
		binDir:    filepath.Join(s.StateDir, "bin"),
		certDir:   filepath.Join(s.StateDir, "certs"),
		configDir: filepath.Join(s.StateDir, "config"),
		logDir:    filepath.Join(s.StateDir, "logs"),
		runDir:    filepath.Join(s.StateDir, "run"),
		dataDir:   filepath.Join(s.StateDir, "data"),
		staticDir: filepath.Join(s.StateDir, "static"),
		hostDir:   filepath.Join("/var/lib", s.Prefix),
		EnvFile:   filepath.Join(s.StateDir, "env"),
		DemoHost:  "demo." + s.Domain,
		bins:      map[string]string{},
	}
	d.certs = certFiles{CA: filepath.Join(d.certDir, "ca.crt"), CAKey: filepath.Join(d.certDir, "ca.key"), Cert: map[string]string{}, Key: map[string]string{}}
	for _, c := range append(components, "client") {
		d.certs.Cert[c] = filepath.Join(d.certDir, c+".crt")
		d.certs.Key[c] = filepath.Join(d.certDir, c+".key")
	}
	for name := range programs {
		d.bins[name] = filepath.Join(d.binDir, name)
	}
	_, pool, _ := net.ParseCIDR(s.Pool)
	for i := range s.Cells {
		name := fmt.Sprintf("%s-%d", s.Prefix, i)
		dir := filepath.Join(d.hostDir, fmt.Sprintf("cell-%d", i))
		subnet := net.IPv4(pool.IP[0], pool.IP[1], byte(i), 0)
		d.gardens = append(d.gardens, gardenSettings{
			host:   gardenrunc.Host{Dir: dir, CgroupParent: name, Bridge: name, ChainPrefix: name, NetworkPool: subnet.String() + "/24"},
			socket: filepath.Join(dir, "garden.sock"),
			depot:  filepath.Join(dir, "depot"),
			config: filepath.Join(d.configDir, fmt.Sprintf("garden-%d.json", i)),
			cell:   fmt.Sprintf("cell-%d", i),
			zone:   fmt.Sprintf("z%d", i%2+1),
		})
	}
	d.procs = d.processes()
	return d, nil
}

// resolveDeps finds etcd, Consul and NATS (make deps) for up, which starts them; down stops
// processes by their pid files and needs none of them.
func (d *Deployment) resolveDeps() error {
	for _, name := range []string{"etcd", "consul", "nats-server"} {
		p, err := repo.BinPath(name)
		if err != nil {
			return err
		}
		// the pid file's check compares it with /proc/<pid>/exe, which has no symlinks
		if d.bins[name], err = filepath.EvalSymlinks(p); err != nil {
			return err
		}
	}
	d.procs = d.processes()
	return nil
}

// processes are every program in start order.
func (d *Deployment) processes() []*process {
	var ps []*process
	add := func(name, bin string, ready func() error, args ...string) {
		ps = append(ps, &process{name: name, bin: bin, args: args, ready: ready,
			pidPath: filepath.Join(d.runDir, name+".pid"), logPath: filepath.Join(d.logDir, name+".log")})
	}
	// daemon adds one of the project's daemons, ready when its health listener (port+1)
	// answers readyPath, on its configuration written to config/<name>.json
	daemon := func(name, bin string, port int, readyPath string, cfg map[string]any) {
		path := filepath.Join(d.configDir, name+".json")
		health := d.addr(port + 1)
		cfg["health_address"] = health
		cfg["log_level"] = "info"
		d.configs[path] = cfg
		add(name, bin, httpOK("http://"+health+readyPath), "-config", path)
	}
	d.configs = map[string]map[string]any{}

	etcdURL := "http://" + d.addr(etcdPort)
	peer := "http://" + d.addr(etcdPeerPort)
	add("etcd", d.bins["etcd"], httpOK(etcdURL+"/health"),
		"--name", d.Prefix, "--data-dir", filepath.Join(d.dataDir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", d.Prefix+"="+peer, "--initial-cluster-state", "new",
		"--initial-cluster-token", d.Prefix)
	consulConfig := filepath.Join(d.configDir, "consul.json")
	d.configs[consulConfig] = map[string]any{
		"node_name": d.Prefix, "datacenter": "dc1", "data_dir": filepath.Join(d.dataDir, "consul"),
		"server": true, "bootstrap_expect": 1,
		"bind_addr": "127.0.0.1", "client_addr": "127.0.0.1", "advertise_addr": "127.0.0.1", "advertise_addr_wan": "127.0.0.1",
		"ports": map[string]int{"http": d.PortBase + consulHTTP, "server": d.PortBase + consulHTTP + 1, "dns": d.PortBase + consulHTTP + 2,
			"serf_lan": d.PortBase + consulHTTP + 3, "serf_wan": d.PortBase + consulHTTP + 4, "https": -1, "grpc": -1, "grpc_tls": -1},
		"disable_update_check": true, "log_level": "INFO",
		"ui_config": map[string]any{"enabled": false}, "performance": map[string]any{"raft_multiplier": 1},
	}
	add("consul", d.bins["consul"], consulReady("http://"+d.addr(consulHTTP)), "agent", "-config-file", consulConfig)
	add("nats", d.bins["nats-server"], httpOK("http://"+d.addr(natsMonitor)+"/healthz"),
		"-a", "127.0.0.1", "-p", fmt.Sprint(d.PortBase+natsPort), "-m", fmt.Sprint(d.PortBase+natsMonitor), "-n", d.Prefix)

	consul := map[string]any{"consul_address": d.addr(consulHTTP)}
	tlsOf := func(c string) map[string]any {
		return map[string]any{"ca_file": d.certs.CA, "cert_file": d.certs.Cert[c], "key_file": d.certs.Key[c]}
	}
	bbsClient := func(c string) map[string]any {
		return map[string]any{"bbs_url": d.BBSURL(), "bbs_ca_file": d.certs.CA, "bbs_cert_file": d.certs.Cert[c], "bbs_key_file": d.certs.Key[c]}
	}
	natsURLs := map[string]any{"nats_urls": []string{d.NATSURL()}}

	daemon("bbs", d.bins["bbs"], bbsPort, "/ping", merge(tlsOf("bbs"), consul, map[string]any{
		"listen_address": d.addr(bbsPort),
		"etcd_endpoints": []string{etcdURL},
		// encryption_keys: written by writeConfigs, from the key writeCerts made
		"active_key_label":     "local",
		"auctioneer_url":       "https://" + d.addr(auctioneerPort),
		"auctioneer_ca_file":   d.certs.CA,
		"auctioneer_cert_file": d.certs.Cert["bbs"],
		"auctioneer_key_file":  d.certs.Key["bbs"],
		"rep_ca_file":          d.certs.CA,
		"rep_cert_file":        d.certs.Cert["bbs"],
		"rep_key_file":         d.certs.Key["bbs"],
		// the converger drives convergence
		"convergence_interval": "0s",
	}))
	daemon("auctioneer", d.bins["auctioneer"], auctioneerPort, "/ping", merge(tlsOf("auctioneer"), consul, bbsClient("auctioneer"), map[string]any{
		"listen_address": d.addr(auctioneerPort),
		"rep_ca_file":    d.certs.CA,
		"rep_cert_file":  d.certs.Cert["auctioneer"],
		"rep_key_file":   d.certs.Key["auctioneer"],
	}))
	daemon("converger", d.bins["converger"], convergerPort, "/ping", merge(consul, bbsClient("converger"), map[string]any{}))
	for i, g := range d.gardens {
		base := cellPorts + cellPortStride*i
		// its health listener answers before its socket listens
		add(fmt.Sprintf("garden-%d", i), d.bins["garden"], client.New(connection.New("unix", g.socket)).Ping, "-config", g.config)
		d.configs[g.config] = map[string]any{
			"listen_network":   "unix",
			"listen_address":   g.socket,
			"health_address":   d.addr(base + 2),
			"log_level":        "info",
			"depot_dir":        g.depot,
			"runc_root":        filepath.Join(g.host.Dir, "runc"),
			"image_cache_dir":  filepath.Join(g.host.Dir, "images"),
			"init_bin":         filepath.Join(d.hostDir, "bin", "garden-init"),
			"preloaded_rootfs": map[string]string{"busybox": filepath.Join(d.hostDir, "rootfs")},
			"default_rootfs":   RootFS,
			"cgroup_parent":    g.host.CgroupParent,
			"bridge_name":      g.host.Bridge,
			"chain_prefix":     g.host.ChainPrefix,
			"network_pool":     g.host.NetworkPool,
			"external_ip":      gardenrunc.DefaultExternalIP(),
			"port_range_start": d.PortBase + netInPorts + netInStride*i,
			"port_range_end":   d.PortBase + netInPorts + netInStride*(i+1), // exclusive
			// containers reach the host's loopback through the executor's downloads only
			"ip_forward": false,
		}
	}
	for i, g := range d.gardens {
		base := cellPorts + cellPortStride*i
		// the rep's health listener is its admin listener: base+1
		daemon("rep-"+fmt.Sprint(i), d.bins["rep"], base, "/ping", merge(tlsOf("rep"), consul, bbsClient("rep"), natsURLs, map[string]any{
			"cell_id":          g.cell,
			"zone":             g.zone,
			"listen_address":   d.addr(base),
			"preloaded_rootfs": []string{strings.TrimPrefix(RootFS, "preloaded:")},
			"garden_network":   "unix",
			"garden_address":   g.socket,
			"executor": map[string]any{
				"cache_path":                   filepath.Join(g.host.Dir, "cache"),
				"declarative_healthcheck_path": filepath.Join(d.hostDir, "healthcheck"),
			},
		}))
		// ready once the auctioneer can place work on it: its presence is in Consul
		rep := ps[len(ps)-1]
		ping, cell := rep.ready, g.cell
		rep.ready = func() error {
			if err := ping(); err != nil {
				return err
			}
			return d.cellPresent(cell)
		}
	}
	daemon("router", d.bins["router"], routerPort, "/health", merge(natsURLs, map[string]any{
		"listen_address": d.addr(routerPort),
	}))
	daemon("route-emitter", d.bins["route-emitter"], emitterPort, "/ping", merge(consul, bbsClient("route-emitter"), natsURLs))
	daemon("file-server", d.bins["file-server"], fileServerPort, "/ping", map[string]any{
		"listen_address":   d.addr(fileServerPort),
		"static_directory": d.staticDir,
	})
	// the live view: diego dashboard on the env file
	add("dashboard", d.bins["diego"], httpOK(d.DashboardURL()+"api/state"),
		"dashboard", "--listen", d.addr(dashboardPort), "--env-file", d.EnvFile)
	return ps
}

// RootFS is the rootfs the cells preload: busybox-static (internal/busyboxfs).
const RootFS = "preloaded:busybox"

func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

var healthClient = &http.Client{Timeout: 2 * time.Second}

// httpOK is a check that GET url answers 200.
func httpOK(url string) func() error {
	return func() error {
		resp, err := healthClient.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// consulReady: the agent has elected itself leader (sessions, hence locks, work from then on).
func consulReady(url string) func() error {
	return func() error {
		resp, err := healthClient.Get(url + "/v1/status/leader")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var leader string
		if err := json.NewDecoder(resp.Body).Decode(&leader); err != nil {
			return err
		}
		if leader == "" {
			return errors.New("no leader yet")
		}
		return nil
	}
}

// randomSecret is a fresh passphrase (the BBS's encryption key).
func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeCerts makes the CA and every component's certificate, unless a previous up made them.
func (d *Deployment) writeCerts() (made bool, err error) {
	if _, err := os.Stat(d.certs.CA); err == nil {
		return false, nil
	}
	if err := os.MkdirAll(d.certDir, 0o700); err != nil {
		return false, err
	}
	const validity = 365 * 24 * time.Hour
	ca, err := tlsconfig.NewCA(d.Prefix+" CA", validity)
	if err != nil {
		return false, err
	}
	for _, c := range append(components, "client") {
		use := tlsconfig.ServerUse | tlsconfig.ClientUse
		if c == "client" {
			use = tlsconfig.ClientUse
		}
		kp, err := ca.Issue(c, use, validity)
		if err != nil {
			return false, err
		}
		if err := kp.Write(d.certs.Cert[c], d.certs.Key[c]); err != nil {
			return false, err
		}
	}
	if err := writeFileAtomic(filepath.Join(d.certDir, "encryption.key"), []byte(randomSecret())); err != nil {
		return false, err
	}
	// the CA last: its presence says the set is whole
	return true, ca.Write(d.certs.CA, d.certs.CAKey)
}

// writeConfigs writes every process's configuration file.
func (d *Deployment) writeConfigs() error {
	key, err := os.ReadFile(filepath.Join(d.certDir, "encryption.key"))
	if err != nil {
		return err
	}
	d.configs[filepath.Join(d.configDir, "bbs.json")]["encryption_keys"] = map[string]string{"local": string(key)}
	for path, cfg := range d.configs {
		b, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return err
		}
		if err := writeFileAtomic(path, append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// cellPresent says nil once the BBS lists the cell.
func (d *Deployment) cellPresent(cell string) error {
	c, err := d.bbsClient()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cells, err := c.Cells(ctx)
	if err != nil {
		return err
	}
	for _, p := range cells {
		if p.GetCellId() == cell {
			return nil
		}
	}
	return fmt.Errorf("%s has no presence yet", cell)
}
