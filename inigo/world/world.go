// Package world is the one way ginkgo suites start the whole system: real etcd, Consul and NATS
// (internal/testservers), garden servers (internal/gardentest) and the project's daemons as
// processes (internal/daemontest): two bbs, two auctioneers, two convergers and two
// route-emitters (each pair sharing one Consul lock: the second is a standby that takes over
// when the holder dies), three cells (a garden with a rep each) in two zones, the router and the
// file-server, all on free loopback ports with short timings. Every client of the bbs (the
// daemons and World.BBS) reaches whichever bbs holds the lock: the daemons through the Consul
// service "bbs" the leader registers (bbs_service_name), World.BBS by trying both; the bbs
// reaches the leading auctioneer through its Consul service "auctioneer"
// (auctioneer_service_name). Start it once in a BeforeSuite; every part is stopped and removed
// after the suite, even when a spec fails. Each part can be stopped, killed and started again from
// a spec: it then lives on, on the same configuration, until the suite ends or the next spec stops
// it.
//
//	var w *world.World
//	var _ = BeforeSuite(func() { w = world.Start(world.Options{}) })
//	...
//	w.Desire(world.AppLRP(w.Guid("app"), 3, "app.example.com"))
//	w.Routers[0].WaitRoutable("app.example.com", 3, time.Minute)
package world

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/gardentest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/tlsconfig"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

// Domain is the domain every LRP of a world is desired in; Start makes it fresh (no TTL).
const Domain = "cf-apps"

// Options choose a world's size and timings; a zero field takes the default named.
type Options struct {
	// Cells is how many gardens, each with a rep, run (default 3); cell i is in zone "z1" when
	// i is even, "z2" when it is odd.
	Cells int
	// LockTTL is the TTL of every lock and cell presence (default 2 s; Consul's session_ttl_min
	// is 1 s in testservers). Locks are retried every quarter of it.
	LockTTL time.Duration
	// ConvergenceInterval is the converger's (default 5 min: long enough that what converges
	// in a spec comes from a vanished cell or a won lock, not the interval).
	ConvergenceInterval time.Duration
	// RegisterInterval is the routers' register_interval, which the route-emitter follows, and
	// the emitter's own (default upstream's 20 s: what routes in a spec comes from events,
	// syncs and router.start, not from the interval's round).
	RegisterInterval time.Duration
	// SyncInterval is the route-emitter's full sync interval (default 10 s).
	SyncInterval time.Duration
	// CrashRestartPolicy is the bbs's crash_restart_policy (the zero value: the bbs's default,
	// upstream's: 3 immediate restarts, then a backoff of 30 s doubling up to 16 min, CRASHED for
	// good from the 200th crash).
	CrashRestartPolicy models.RestartPolicy
	// Rep is laid over every rep's configuration (cmd/rep's keys; "executor" replaces the
	// executor object whole).
	Rep map[string]any
}

func (o Options) withDefaults() Options {
	if o.Cells == 0 {
		o.Cells = 3
	}
	if o.LockTTL == 0 {
		o.LockTTL = 2 * time.Second
	}
	if o.ConvergenceInterval == 0 {
		o.ConvergenceInterval = 5 * time.Minute
	}
	if o.RegisterInterval == 0 {
		o.RegisterInterval = 20 * time.Second
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = 10 * time.Second
	}
	return o
}

// World is the running system.
type World struct {
	Options Options
	Certs   tlstest.Files

	Etcd   *testservers.Etcd
	Consul *testservers.Consul
	NATS   *testservers.NATS
	// BBS is a client of the bbs holding the lock (mutual TLS).
	BBS *bbs.Client

	// Two of each locked daemon, the first started first (it takes the lock), the second a
	// standby; the XLeader methods say which holds the lock now.
	BBSServers  []*Process
	Auctioneers []*Process
	// Convergers: StartConverger adds more standbys.
	Convergers []*Process
	Emitters   []*Process
	Cells      []*Cell
	// Routers: the first is started with the world; StartRouter adds more.
	Routers    []*Router
	FileServer *FileServer

	bins    map[string]string
	dir     string
	bbsURLs []string
	mu      sync.Mutex
	counter int
}

// The project's daemons a world runs, by cmd/ folder.
var daemons = []string{"bbs", "auctioneer", "rep", "converger", "route-emitter", "router", "file-server"}

// Start builds the daemons and starts the whole system, ready: every daemon answers its health
// check, every cell's presence is in Consul, the routers have answered their first health check.
// Call it in a BeforeSuite (its parts are cleaned up when the node that started it ends).
func Start(opts Options) *World {
	GinkgoHelper()
	w := &World{Options: opts.withDefaults(), dir: GinkgoT().TempDir(), bins: map[string]string{}}

	pkgs := make([]string, len(daemons))
	for i, d := range daemons {
		pkgs[i] = "github.com/diego-go/diego/cmd/" + d
	}
	for i, bin := range daemontest.Build(pkgs...) {
		w.bins[daemons[i]] = bin
	}

	certDir := filepath.Join(w.dir, "certs")
	Expect(os.MkdirAll(certDir, 0o755)).To(Succeed())
	var err error
	w.Certs, err = tlstest.Generate(certDir)
	Expect(err).NotTo(HaveOccurred())

	w.Consul, err = testservers.StartConsul(filepath.Join(w.dir, "consul"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = w.Consul.Stop() })
	w.Etcd, err = testservers.StartEtcd(filepath.Join(w.dir, "etcd"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = w.Etcd.Stop() })
	w.NATS, err = testservers.StartNATS(filepath.Join(w.dir, "nats"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = w.NATS.Stop() })

	// the gardens first: their cleanups, registered before the processes', run after the reps
	// have stopped
	for i := range w.Options.Cells {
		w.Cells = append(w.Cells, &Cell{Index: i, Zone: fmt.Sprintf("z%d", i%2+1), Garden: gardentest.Start(gardentest.Options{}), w: w})
	}
	// Every process the world starts stops after the suite, whichever spec last started it.
	DeferCleanup(func() {
		w.mu.Lock()
		procs := w.processes()
		w.mu.Unlock()
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].Stop()
		}
	})

	// Each standby is launched once its peer holds the lock, and only waited for at the end:
	// the world's start is the first of each, one after the other.
	var standbys []*Process
	w.BBSServers = w.newBBSServers()
	w.BBSServers[0].Start()
	w.BBS = bbs.NewClient(w.bbsURLs[0], w.clientTLS(), bbs.WithURLs(w.bbsURLs[1:]...))
	Eventually(func() bool { return w.BBS.Ping(context.Background()) }, 30*time.Second, 100*time.Millisecond).Should(BeTrue(), "the bbs serves")
	standbys = append(standbys, w.BBSServers[1].launch())
	Expect(w.BBS.UpsertDomain(context.Background(), Domain, 0)).To(Succeed())

	w.Auctioneers = []*Process{w.newAuctioneer(), w.newAuctioneer()}
	w.Auctioneers[0].Start()
	Eventually(w.Auctioneers[0].Leader, 20*time.Second, 50*time.Millisecond).Should(BeTrue(), "the auctioneer holds its lock")
	standbys = append(standbys, w.Auctioneers[1].launch())
	w.StartConverger()
	Eventually(w.Convergers[0].Leader, 20*time.Second, 50*time.Millisecond).Should(BeTrue(), "the converger holds its lock")
	standbys = append(standbys, w.addConverger().launch())
	for _, c := range w.Cells {
		c.launchRep()
	}
	for _, c := range w.Cells {
		c.waitRep()
	}
	w.StartRouter()
	w.Emitters = []*Process{w.newEmitter(), w.newEmitter()}
	w.Emitters[0].Start()
	Eventually(w.Emitters[0].Leader, 20*time.Second, 50*time.Millisecond).Should(BeTrue(), "the route-emitter holds its lock")
	standbys = append(standbys, w.Emitters[1].launch())
	w.startFileServer()
	for _, p := range standbys {
		p.waitReady()
	}
	return w
}

// leader is the first of ps holding its lock now (nil if none does).
func leader(ps []*Process) *Process {
	for _, p := range ps {
		if p.Leader() {
			return p
		}
	}
	return nil
}

// BBSLeader is the bbs holding the lock now (nil if none does).
func (w *World) BBSLeader() *Process { return leader(w.BBSServers) }

// AuctioneerLeader is the auctioneer holding the lock now (nil if none does).
func (w *World) AuctioneerLeader() *Process { return leader(w.Auctioneers) }

// ConvergerLeader is the converger holding the lock now (nil if none does).
func (w *World) ConvergerLeader() *Process {
	w.mu.Lock()
	ps := append([]*Process(nil), w.Convergers...)
	w.mu.Unlock()
	return leader(ps)
}

// EmitterLeader is the route-emitter holding the lock now (nil if none does).
func (w *World) EmitterLeader() *Process { return leader(w.Emitters) }

// processes is every process of the world, in start order.
func (w *World) processes() []*Process {
	ps := append(append([]*Process(nil), w.BBSServers...), w.Auctioneers...)
	ps = append(ps, w.Convergers...)
	for _, c := range w.Cells {
		ps = append(ps, c.Rep)
	}
	for _, r := range w.Routers {
		ps = append(ps, r.Process)
	}
	ps = append(ps, w.Emitters...)
	if w.FileServer != nil {
		ps = append(ps, w.FileServer.Process)
	}
	var out []*Process
	for _, p := range ps {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// clientTLS is the client certificate the bbs and the reps accept.
func (w *World) clientTLS() *tls.Config {
	GinkgoHelper()
	t, err := tlsconfig.Client(w.Certs.ClientCert, w.Certs.ClientKey, w.Certs.CACert)
	Expect(err).NotTo(HaveOccurred())
	return t
}

func (w *World) lockTiming() map[string]any {
	return map[string]any{
		"consul_address":      w.Consul.HTTPAddr(),
		"lock_ttl":            w.Options.LockTTL.String(),
		"lock_retry_interval": (w.Options.LockTTL / 4).String(),
	}
}

// bbsClientConfig is the bbs_* keys of a daemon that calls the bbs: the leader registers the
// Consul service "bbs"; bbs_url, the first bbs, is tried after it.
func (w *World) bbsClientConfig() map[string]any {
	return map[string]any{
		"bbs_service_name": "bbs",
		"bbs_url":          w.bbsURLs[0],
		"bbs_ca_file":      w.Certs.CACert,
		"bbs_cert_file":    w.Certs.ClientCert,
		"bbs_key_file":     w.Certs.ClientKey,
	}
}

func (w *World) serverTLS() map[string]any {
	return map[string]any{
		"ca_file":   w.Certs.CACert,
		"cert_file": w.Certs.ServerCert,
		"key_file":  w.Certs.ServerKey,
	}
}

func merge(maps ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// newBBSServers makes the two bbs, on one etcd and one Consul lock.
func (w *World) newBBSServers() []*Process {
	GinkgoHelper()
	var policy map[string]any
	if p := w.Options.CrashRestartPolicy; p != (models.RestartPolicy{}) {
		policy = map[string]any{"crash_restart_policy": map[string]any{
			"immediate_restarts": p.ImmediateRestarts, "min_backoff": p.MinBackoff.String(), "max_backoff": p.MaxBackoff.String(),
			"max_restarts": p.MaxRestarts, "crash_reset_after": p.CrashResetAfter.String(),
		}}
	}
	var ps []*Process
	for range 2 {
		addr := daemontest.FreeAddr()
		w.bbsURLs = append(w.bbsURLs, "https://"+addr)
		ps = append(ps, w.newProcess("bbs", "/ping", merge(w.serverTLS(), w.lockTiming(), policy, map[string]any{
			"listen_address":          addr,
			"health_address":          daemontest.FreeAddr(),
			"etcd_endpoints":          []string{w.Etcd.ClientURL()},
			"encryption_keys":         map[string]string{"k1": "a passphrase"},
			"active_key_label":        "k1",
			"auctioneer_service_name": "auctioneer",
			"auctioneer_ca_file":      w.Certs.CACert,
			"auctioneer_cert_file":    w.Certs.ClientCert,
			"auctioneer_key_file":     w.Certs.ClientKey,
			"rep_ca_file":             w.Certs.CACert,
			"rep_cert_file":           w.Certs.ClientCert,
			"rep_key_file":            w.Certs.ClientKey,
			// the converger drives convergence
			"convergence_interval": "0s",
			"log_level":            "info",
		})))
	}
	return ps
}

// newAuctioneer makes an auctioneer; the one holding the lock registers the Consul service
// "auctioneer" (its default service_name), where the bbs finds it.
func (w *World) newAuctioneer() *Process {
	GinkgoHelper()
	return w.newProcess("auctioneer", "/ping", merge(w.serverTLS(), w.lockTiming(), w.bbsClientConfig(), map[string]any{
		"listen_address":     daemontest.FreeAddr(),
		"health_address":     daemontest.FreeAddr(),
		"rep_ca_file":        w.Certs.CACert,
		"rep_cert_file":      w.Certs.ClientCert,
		"rep_key_file":       w.Certs.ClientKey,
		"cell_state_timeout": "2s",
		"log_level":          "info",
	}))
}

// StartConverger starts one more converger (standing by while another holds the lock) and
// returns it.
func (w *World) StartConverger() *Process {
	GinkgoHelper()
	p := w.addConverger()
	p.Start()
	return p
}

// addConverger makes one more converger, listed in Convergers.
func (w *World) addConverger() *Process {
	p := w.newProcess("converger", "/ping", merge(w.lockTiming(), w.bbsClientConfig(), map[string]any{
		"health_address":       daemontest.FreeAddr(),
		"convergence_interval": w.Options.ConvergenceInterval.String(),
		"log_level":            "info",
	}))
	w.mu.Lock()
	w.Convergers = append(w.Convergers, p)
	w.mu.Unlock()
	return p
}

func (w *World) newEmitter() *Process {
	return w.newProcess("route-emitter", "/ping", merge(w.lockTiming(), w.bbsClientConfig(), map[string]any{
		"health_address":    daemontest.FreeAddr(),
		"nats_urls":         []string{w.NATS.URL()},
		"sync_interval":     w.Options.SyncInterval.String(),
		"register_interval": w.Options.RegisterInterval.String(),
		"log_level":         "info",
	}))
}

// Router is one cmd/router: plain HTTP at Addr.
type Router struct {
	*Process
	Addr string
}

// URL is http://Addr.
func (r *Router) URL() string { return "http://" + r.Addr }

// StartRouter starts one more router and returns it once it answers its health check.
func (w *World) StartRouter() *Router {
	GinkgoHelper()
	addr := daemontest.FreeAddr()
	r := &Router{Addr: addr, Process: w.newProcess("router", "/health", map[string]any{
		"listen_address":    addr,
		"health_address":    daemontest.FreeAddr(),
		"nats_urls":         []string{w.NATS.URL()},
		"register_interval": w.Options.RegisterInterval.String(),
		// a dead backend is left for another at once rather than after upstream's 5 s
		"endpoint_dial_timeout": "1s",
		// Above the route-emitter's start jitter (at most 1 s), below upstream's 5 s wait.
		"start_response_delay_interval": "1500ms",
		"endpoint_timeout":              "30s",
		"log_level":                     "info",
	})}
	w.mu.Lock()
	w.Routers = append(w.Routers, r)
	w.mu.Unlock()
	r.Start()
	return r
}

// FileServer is cmd/file-server serving Dir under URL()+"/v1/static/".
type FileServer struct {
	*Process
	Addr string
	Dir  string
}

// URL is http://Addr.
func (f *FileServer) URL() string { return "http://" + f.Addr }

func (w *World) startFileServer() {
	GinkgoHelper()
	dir := filepath.Join(w.dir, "static")
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	addr := daemontest.FreeAddr()
	w.FileServer = &FileServer{Addr: addr, Dir: dir, Process: w.newProcess("file-server", "/ping", map[string]any{
		"listen_address":   addr,
		"health_address":   daemontest.FreeAddr(),
		"static_directory": dir,
		"log_level":        "info",
	})}
	w.FileServer.Start()
}

// Process is one daemon of the world, started on one configuration.
type Process struct {
	Name string
	// Config is the daemon's JSON configuration (written at each Start).
	Config map[string]any
	// HealthAddr is its health listener (health_address).
	HealthAddr string

	w         *World
	bin       string
	readyPath string
	mu        sync.Mutex
	session   *gexec.Session
}

func (w *World) newProcess(name, readyPath string, cfg map[string]any) *Process {
	health, _ := cfg["health_address"].(string)
	return &Process{Name: name, Config: cfg, HealthAddr: health, w: w, bin: w.bins[name], readyPath: readyPath}
}

// Start starts the daemon on its configuration and waits until its health listener answers
// 200; it fails when the daemon is running already.
func (p *Process) Start() {
	GinkgoHelper()
	p.launch()
	p.waitReady()
}

// launch starts the daemon's process without waiting for it.
func (p *Process) launch() *Process {
	GinkgoHelper()
	Expect(p.Running()).To(BeFalse(), "%s is running already", p.Name)
	s := daemontest.Launch(p.bin, "-config", daemontest.WriteConfigIn(p.w.dir, p.Config))
	p.mu.Lock()
	p.session = s
	p.mu.Unlock()
	return p
}

// waitReady waits until the launched daemon's health listener answers 200.
func (p *Process) waitReady() {
	GinkgoHelper()
	s := p.Session()
	Eventually(func() int {
		Expect(s.ExitCode()).To(Equal(-1), "%s exited while starting", p.Name)
		return httpStatus("http://" + p.HealthAddr + p.readyPath)
	}, 30*time.Second, 50*time.Millisecond).Should(Equal(http.StatusOK), "%s answers %s", p.Name, p.readyPath)
}

// Stop stops the daemon as an operator does (SIGINT: a lock holder releases its lock); it is
// killed if it has not exited daemontest.StopGrace later.
func (p *Process) Stop() {
	GinkgoHelper()
	if s := p.Session(); s != nil {
		daemontest.Stop(s)
	}
}

// Kill9 kills the daemon with SIGKILL: nothing is released, a lock or presence expires.
func (p *Process) Kill9() {
	GinkgoHelper()
	if s := p.Session(); s != nil && s.ExitCode() == -1 {
		s.Kill()
		Eventually(s, 10*time.Second).Should(gexec.Exit())
	}
}

// Session is the current (or last) process (nil before the first Start).
func (p *Process) Session() *gexec.Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.session
}

// Running says whether the daemon's process is alive.
func (p *Process) Running() bool {
	s := p.Session()
	return s != nil && s.ExitCode() == -1
}

// Leader says whether the daemon is alive and its health listener says it holds its lock
// (GET /healthz: {"leader":true}).
func (p *Process) Leader() bool {
	if !p.Running() {
		return false
	}
	resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + p.HealthAddr + "/healthz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var h struct {
		Leader bool `json:"leader"`
	}
	return json.NewDecoder(resp.Body).Decode(&h) == nil && h.Leader
}

func httpStatus(url string) int {
	resp, err := (&http.Client{Timeout: time.Second}).Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// Cell is one garden with a rep on it. Each start of a rep after the first is a new cell id
// (the last one's presence may outlive its process by the TTL).
type Cell struct {
	Index int
	// Zone is the rep's availability zone: "z1" for an even Index, "z2" for an odd one.
	Zone   string
	Garden *gardentest.Garden
	Rep    *Process
	// ID is the current rep's cell id; API its TLS listener, Admin its loopback admin
	// listener (POST /evacuate).
	ID, API, Admin string

	w          *World
	generation int
}

// startRep starts a rep of a new cell id on the garden, once its containers are gone, and waits
// until its presence is in Consul.
func (c *Cell) startRep() {
	GinkgoHelper()
	c.launchRep()
	c.waitRep()
}

// launchRep launches a rep of a new cell id on the garden, once its containers are gone.
func (c *Cell) launchRep() {
	GinkgoHelper()
	w := c.w
	if list, err := c.Garden.Client.Containers(nil); err == nil {
		for _, ctr := range list {
			_ = c.Garden.Client.Destroy(ctr.Handle())
		}
	}
	c.generation++
	c.ID = fmt.Sprintf("cell-%d-%d", c.Index, c.generation)
	c.API, c.Admin = daemontest.FreeAddr(), daemontest.FreeAddr()
	cellDir := filepath.Join(w.dir, c.ID)
	Expect(os.MkdirAll(filepath.Join(cellDir, "creds"), 0o755)).To(Succeed())
	cfg := merge(w.serverTLS(), w.lockTiming(), w.bbsClientConfig(), map[string]any{
		"cell_id":                     c.ID,
		"zone":                        c.Zone,
		"listen_address":              c.API,
		"health_address":              c.Admin,
		"preloaded_rootfs":            []string{strings.TrimPrefix(c.Garden.RootFS, "preloaded:")},
		"nats_urls":                   []string{w.NATS.URL()},
		"garden_network":              "unix",
		"garden_address":              c.Garden.Socket,
		"polling_interval":            "2s",
		"evacuation_polling_interval": "200ms",
		"evacuation_timeout":          "2m",
		"log_level":                   "info",
		"executor": map[string]any{
			"cache_path":                         filepath.Join(cellDir, "cache"),
			"declarative_healthcheck_path":       gardentest.HealthcheckDir(),
			"instance_identity_ca_path":          w.Certs.CACert,
			"instance_identity_private_key_path": w.Certs.CAKey,
			"instance_identity_cred_dir":         filepath.Join(cellDir, "creds"),
			"unhealthy_monitoring_interval":      "100ms",
			"healthy_monitoring_interval":        "1s",
			"graceful_shutdown_interval":         "5s",
			"container_reap_interval":            "2s",
		},
	}, w.Options.Rep)
	p := w.newProcess("rep", "/ping", cfg)
	w.mu.Lock()
	c.Rep = p
	w.mu.Unlock()
	p.launch()
}

// waitRep waits until the launched rep answers and its presence is in Consul.
func (c *Cell) waitRep() {
	GinkgoHelper()
	c.Rep.waitReady()
	Eventually(func() []string { return daemontest.CellIDs(c.w.BBS) }, 10*time.Second, 50*time.Millisecond).Should(ContainElement(c.ID), "%s's presence", c.ID)
}

// Kill9Rep kills the rep with SIGKILL; its containers go on running on the garden.
func (c *Cell) Kill9Rep() {
	GinkgoHelper()
	c.Rep.Kill9()
}

// Kill kills the whole cell with SIGKILL, as a machine that is lost: the rep, the garden server
// and every process in its containers. Requests to its instances fail from then on.
func (c *Cell) Kill() {
	GinkgoHelper()
	c.Rep.Kill9()
	c.Garden.KillWithContainers()
}

// Evacuate asks the rep to evacuate (POST /evacuate on its admin listener); the rep exits once
// its instances run elsewhere.
func (c *Cell) Evacuate() {
	GinkgoHelper()
	resp, err := http.Post("http://"+c.Admin+"/evacuate", "application/json", nil)
	Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(http.StatusAccepted))
}

// Restart brings the cell back after Kill, Kill9Rep, Evacuate or a stop: the garden server is
// started again if it is not running, every container on it is destroyed, and a rep of a new cell
// id starts.
func (c *Cell) Restart() {
	GinkgoHelper()
	c.Rep.Kill9()
	if c.Garden.Session.ExitCode() != -1 {
		c.Garden.Restart()
	}
	c.startRep()
}

// Guid is a process guid of its own for every call: the world outlives specs, and so do the
// records of the LRPs they desire until their removal is done.
func (w *World) Guid(name string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counter++
	return fmt.Sprintf("%s-%d-%d", name, GinkgoParallelProcess(), w.counter)
}
