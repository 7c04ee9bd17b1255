// Package gardentest is the one way specs start a real garden server (cmd/garden on the runc
// backend): the binaries are built once per test binary, a busybox rootfs with the test app at
// /testapp is made, and each server gets a bridge, iptables chains, network pool, port range and
// cgroup parent of its own, all removed after the suite or spec that started it, even when a spec
// fails. Work left behind by a test process that died (a go test timeout, a kill) is removed by
// the next one.
package gardentest

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"code.cloudfoundry.org/garden"
	"code.cloudfoundry.org/garden/client"
	"code.cloudfoundry.org/garden/client/connection"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/gardenrunc"
	"github.com/diego-go/diego/gardenrunc/initproc"
	"github.com/diego-go/diego/internal/busyboxfs"
)

// RootFS is the preloaded rootfs every server offers and uses by default: busybox-static with
// the test app at TestAppPath.
const RootFS = "preloaded:busybox"

// TestAppPath is where internal/testapp is inside RootFS.
func TestAppPath() string { return "/testapp" }

// Options: Extra is laid over the server's configuration (cmd/garden's JSON keys); the server
// must keep listening on its unix socket, which Client uses.
type Options struct {
	Extra map[string]any
}

// Garden is one running server.
type Garden struct {
	Socket     string
	Client     garden.Client
	Session    *gexec.Session
	ConfigPath string
	RootFS     string
	// ExternalIP is the host address NetIn ports are mapped on.
	ExternalIP string
	// DepotDir holds the containers' state on disk.
	DepotDir string

	dir      string
	bridge   string
	chains   string
	pool     string
	cgParent string
	slotLock *os.File // nil for a server found left behind
}

const (
	workDirPrefix = "diego-gardentest-"
	binDirPrefix  = "diego-gardentest-bin-"
	// ownerFile holds the pid and start time of the test process a directory is for.
	ownerFile = "owner"
	// slots bounds how many servers may run at once on the machine (each has a pool and a port
	// range of its own).
	slots = 22
)

var (
	buildOnce sync.Once
	buildErr  error
	binDir    string
	counter   int
	counterMu sync.Mutex
)

// Binaries are the static garden and garden-init binaries, built once per test binary.
func Binaries() (gardenBin, gardenInit string) {
	GinkgoHelper()
	buildOnce.Do(build)
	Expect(buildErr).NotTo(HaveOccurred())
	return filepath.Join(binDir, "garden"), filepath.Join(binDir, "garden-init")
}

// rootfsDir is the busybox rootfs made next to the binaries.
func rootfsDir() string { return filepath.Join(binDir, "busybox-rootfs") }

// build makes the binaries and the rootfs in a directory owned by this test process (removed by
// a later test process's Start once this one is gone: a library cannot hook the end of the test
// binary).
func build() {
	dir, err := os.MkdirTemp("", binDirPrefix)
	if err != nil {
		buildErr = err
		return
	}
	binDir = dir
	if buildErr = writeOwner(dir); buildErr != nil {
		return
	}
	// containers' roots (user namespaces) must be able to search the path to the rootfs
	if buildErr = os.Chmod(dir, 0711); buildErr != nil {
		return
	}
	for name, pkg := range map[string]string{
		"garden":      "github.com/diego-go/diego/cmd/garden",
		"garden-init": "github.com/diego-go/diego/cmd/garden/garden-init",
		"testapp":     "github.com/diego-go/diego/internal/testapp",
	} {
		if buildErr = buildStatic(filepath.Join(dir, name), pkg); buildErr != nil {
			return
		}
	}
	if buildErr = busyboxfs.Make(rootfsDir()); buildErr != nil {
		return
	}
	buildErr = os.Rename(filepath.Join(dir, "testapp"), filepath.Join(rootfsDir(), "testapp"))
}

func buildStatic(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", pkg, err, out)
	}
	return nil
}

var (
	healthcheckOnce sync.Once
	healthcheckErr  error
)

// HealthcheckDir is a directory holding only cmd/healthcheck's static binary ("healthcheck"),
// built once per test binary: an executor's declarative_healthcheck_path, so that instances'
// checks run as on a cell.
func HealthcheckDir() string {
	GinkgoHelper()
	Binaries() // it lives in the binaries' directory and goes with it
	dir := filepath.Join(binDir, "healthcheck")
	healthcheckOnce.Do(func() {
		// containers' users reach the binary through the read-only mount
		if healthcheckErr = os.Mkdir(dir, 0755); healthcheckErr == nil {
			healthcheckErr = buildStatic(filepath.Join(dir, "healthcheck"), "github.com/diego-go/diego/cmd/healthcheck")
		}
	})
	Expect(healthcheckErr).NotTo(HaveOccurred())
	return dir
}

// writeOwner writes the owner file whole at once (a rename): another test process's sweep must
// never read it half-written and take a live server for a dead one's.
func writeOwner(dir string) error {
	start, _ := initproc.ProcStart(os.Getpid())
	tmp := filepath.Join(dir, ownerFile+".tmp")
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d %s", os.Getpid(), start)), 0600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, ownerFile))
}

// ownerGone: the directory was made by a test process that is no longer running.
func ownerGone(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return false // not one of ours, or its owner is still setting up
	}
	var pid int
	var start string
	if n, _ := fmt.Sscanf(string(b), "%d %s", &pid, &start); n != 2 {
		return false // not an owner file this package wrote: leave it alone
	}
	s, alive := initproc.ProcStart(pid)
	return !alive || s != start
}

// Start starts a server and registers its cleanup (every container destroyed, the server
// stopped, its network, cgroups and files removed) with DeferCleanup: call it in a BeforeSuite,
// BeforeEach or spec. It skips when not root or when runc or busybox is missing.
func Start(opts Options) *Garden {
	GinkgoHelper()
	if os.Geteuid() != 0 {
		Skip("a garden server needs root")
	}
	for _, bin := range []string{"runc", "busybox"} {
		if _, err := exec.LookPath(bin); err != nil {
			Skip(bin + " is not installed (make deps installs it)")
		}
	}
	gardenBin, initBin := Binaries()
	sweepLeftovers(gardenBin)

	dir, err := os.MkdirTemp("", workDirPrefix)
	Expect(err).NotTo(HaveOccurred())
	Expect(writeOwner(dir)).To(Succeed())
	// the depot is in it: containers' roots (user namespaces) must be able to search it
	Expect(os.Chmod(dir, 0711)).To(Succeed())
	counterMu.Lock()
	counter++
	n := counter
	counterMu.Unlock()
	slot, slotLock, err := freeSlot()
	Expect(err).NotTo(HaveOccurred())
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, n)
	cfg := map[string]any{
		"listen_network":   "unix",
		"listen_address":   filepath.Join(dir, "garden.sock"),
		"log_level":        "debug",
		"depot_dir":        filepath.Join(dir, "depot"),
		"runc_root":        filepath.Join(dir, "runc"),
		"image_cache_dir":  filepath.Join(dir, "images"),
		"init_bin":         initBin,
		"preloaded_rootfs": map[string]string{"busybox": rootfsDir()},
		"default_rootfs":   RootFS,
		"cgroup_parent":    "diego-gardentest-" + id,
		"bridge_name":      "dgk" + id,
		"chain_prefix":     "dgk" + id,
		"network_pool":     fmt.Sprintf("10.251.%d.0/24", slot),
		"external_ip":      gardenrunc.DefaultExternalIP(),
		"port_range_start": 20000 + slot*250,
		"port_range_end":   20000 + slot*250 + 250,
		"ip_forward":       false,
	}
	for k, v := range opts.Extra {
		cfg[k] = v
	}
	data, err := json.Marshal(cfg)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(dir, "garden.json"), data, 0600)).To(Succeed())
	g, err := fromConfig(dir)
	Expect(err).NotTo(HaveOccurred())
	g.RootFS, g.slotLock = RootFS, slotLock
	DeferCleanup(g.cleanup)
	g.start(gardenBin)
	return g
}

// freeSlot picks a pool 10.251.<slot>.0/24 (10.250 is cmd/garden's suite's, 10.252 the
// gardenrunc benchmark's, 10.253 the gardenrunc suite's) no interface on the host has an address in (gardenrunc.PoolOverlap) and no
// other test process holds (a lock on /tmp/diego-gardentest-slot-<slot>, released when the
// returned file is closed or the process dies), starting at one derived from the pid.
func freeSlot() (int, *os.File, error) {
	for i := 0; i < slots; i++ {
		s := (os.Getpid() + i) % slots
		used, err := gardenrunc.PoolOverlap(&net.IPNet{IP: net.IPv4(10, 251, byte(s), 0).To4(), Mask: net.CIDRMask(24, 32)})
		if err != nil {
			return 0, nil, err
		}
		if used != "" {
			continue
		}
		lock, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("diego-gardentest-slot-%d", s)), os.O_CREATE|os.O_RDWR, 0600)
		if err != nil {
			return 0, nil, err
		}
		if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			return s, lock, nil
		}
		lock.Close()
	}
	return 0, nil, fmt.Errorf("all %d garden test pools 10.251.0-%d.0/24 are in use", slots, slots-1)
}

// start runs the server, which dies with the test process, and waits until it answers.
func (g *Garden) start(bin string) {
	GinkgoHelper()
	cmd := exec.Command(bin, "-config", g.ConfigPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	OnLastingThread(func() { g.Session, err = gexec.Start(cmd, GinkgoWriter, GinkgoWriter) })
	Expect(err).NotTo(HaveOccurred())
	Eventually(g.Client.Ping, 20*time.Second, 50*time.Millisecond).Should(Succeed(), "garden did not answer")
}

// Kill9 kills the server with SIGKILL; its containers keep running.
func (g *Garden) Kill9() {
	GinkgoHelper()
	g.Session.Kill()
	Eventually(g.Session, 10*time.Second).Should(gexec.Exit())
}

// Restart stops the server (SIGINT, or SIGKILL if it does not stop) if it runs and starts it
// again on the same configuration; its containers are kept and reloaded.
func (g *Garden) Restart() {
	GinkgoHelper()
	g.stop()
	bin, _ := Binaries()
	g.start(bin)
}

func (g *Garden) stop() {
	if g.Session == nil || g.Session.ExitCode() != -1 {
		return
	}
	g.Session.Interrupt()
	if g.Session.Wait(20*time.Second).ExitCode() == -1 {
		g.Session.Kill().Wait(10 * time.Second)
	}
}

// cleanup destroys every container (a server is started again if it died, so it reloads and
// destroys them), stops the server and removes its network, cgroups and files.
func (g *Garden) cleanup() {
	if g.Session == nil || g.Session.ExitCode() != -1 {
		if bin := filepath.Join(binDir, "garden"); fileExists(bin) {
			g.tryStart(bin)
		}
	}
	g.destroyAll()
	g.stop()
	g.teardown()
}

// tryStart is start for cleanup paths: it never fails the spec.
func (g *Garden) tryStart(bin string) {
	cmd := exec.Command(bin, "-config", g.ConfigPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	OnLastingThread(func() { g.Session, err = gexec.Start(cmd, GinkgoWriter, GinkgoWriter) })
	if err != nil {
		return
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if g.Client.Ping() == nil || g.Session.ExitCode() != -1 {
			return
		}
	}
}

func (g *Garden) destroyAll() {
	if cs, err := g.Client.Containers(nil); err == nil {
		for _, c := range cs {
			g.Client.Destroy(c.Handle())
		}
	}
}

func (g *Garden) teardown() {
	gardenrunc.RemoveLeftovers(gardenrunc.Host{Dir: g.dir, CgroupParent: g.cgParent, Bridge: g.bridge, ChainPrefix: g.chains, NetworkPool: g.pool})
	os.RemoveAll(g.dir)
	if g.slotLock != nil {
		g.slotLock.Close()
	}
}

// KillWithContainers kills the server and every process of its containers with SIGKILL, as a
// cell that loses its machine: nothing answers on the containers' ports any more. Restart starts
// the server again on its configuration; none of the containers' processes runs again.
func (g *Garden) KillWithContainers() {
	GinkgoHelper()
	g.Kill9()
	gardenrunc.KillContainerProcesses(g.cgParent)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// sweepLeftovers removes what test processes that died before their cleanup (a go test
// timeout, a kill) left: for each of their servers a server on its configuration (bin: the
// garden binary) reloads and destroys its containers, then its network, cgroups and files go;
// then their binaries.
func sweepLeftovers(bin string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), workDirPrefix+"*"))
	for _, dir := range dirs {
		if !ownerGone(dir) {
			continue
		}
		if strings.HasPrefix(filepath.Base(dir), binDirPrefix) {
			os.RemoveAll(dir)
			continue
		}
		fmt.Fprintf(GinkgoWriter, "cleaning up after a test process that died: %s\n", dir)
		g, err := fromConfig(dir)
		if err != nil {
			os.RemoveAll(dir)
			continue
		}
		g.tryStart(bin)
		g.destroyAll()
		g.stop()
		g.teardown()
	}
}

// fromConfig is the server a work directory's garden.json describes (not started).
func fromConfig(dir string) (*Garden, error) {
	g := &Garden{ConfigPath: filepath.Join(dir, "garden.json"), dir: dir}
	b, err := os.ReadFile(g.ConfigPath)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Socket   string `json:"listen_address"`
		Depot    string `json:"depot_dir"`
		Bridge   string `json:"bridge_name"`
		Chains   string `json:"chain_prefix"`
		Pool     string `json:"network_pool"`
		CgParent string `json:"cgroup_parent"`
		External string `json:"external_ip"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, err
	}
	g.Socket, g.DepotDir, g.bridge, g.chains, g.pool, g.cgParent = cfg.Socket, cfg.Depot, cfg.Bridge, cfg.Chains, cfg.Pool, cfg.CgParent
	g.ExternalIP = cfg.External
	g.Client = client.New(connection.New("unix", g.Socket))
	return g, nil
}

// lastingThread is a goroutine locked to its thread for the life of the test process.
var lastingThread = make(chan func())

func init() {
	go func() {
		runtime.LockOSThread()
		for f := range lastingThread {
			f()
		}
	}()
}

// OnLastingThread runs f on a thread that lives as long as the test process: fork there a child
// that must die with the test process (Pdeathsig). A child's Pdeathsig fires when the thread that
// forked it ends, and Go ends the thread of a goroutine that returns while locked to it (as specs
// do after moving a thread into a network namespace).
func OnLastingThread(f func()) {
	done := make(chan struct{})
	lastingThread <- func() { defer close(done); f() }
	<-done
}
