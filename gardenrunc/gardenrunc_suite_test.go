package gardenrunc_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"code.cloudfoundry.org/garden"
	"code.cloudfoundry.org/garden/client"
	"code.cloudfoundry.org/garden/client/connection"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/gardenrunc"
	"github.com/diego-go/diego/gardenrunc/initproc"
	"github.com/diego-go/diego/internal/busyboxfs"
	"github.com/diego-go/diego/internal/gardentest"
)

func TestGardenrunc(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Gardenrunc Suite")
}

// Everything the integration specs need: a static garden binary, a busybox rootfs and a server
// on a unix socket in a temp dir, with a bridge, pool, ports and cgroup parent of the suite's own.
var (
	skipReason string
	gardenBin  string
	initBin    string
	workDir    string
	rootfsDir  string
	srv        *gardenServer
)

type gardenServer struct {
	cfgPath    string
	socket     string
	depot      string
	bridge     string
	chains     string
	pool       string
	cgParent   string
	externalIP string
	session    *gexec.Session
	client     client.Client
}

var _ = SynchronizedBeforeSuite(func() []byte {
	if os.Geteuid() != 0 {
		return []byte("skip:the gardenrunc integration specs need root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return []byte("skip:runc is not installed (make deps installs it)")
	}
	bin, err := gexec.BuildWithEnvironment("github.com/diego-go/diego/cmd/garden", []string{"CGO_ENABLED=0"})
	Expect(err).NotTo(HaveOccurred())
	initBin, err := gexec.BuildWithEnvironment("github.com/diego-go/diego/cmd/garden/garden-init", []string{"CGO_ENABLED=0"})
	Expect(err).NotTo(HaveOccurred())
	sweepLeftovers(bin)
	return []byte(bin + "\n" + initBin)
}, func(data []byte) {
	if s := string(data); strings.HasPrefix(s, "skip:") {
		skipReason = strings.TrimPrefix(s, "skip:")
		return
	}
	bins := strings.Split(string(data), "\n")
	gardenBin, initBin = bins[0], bins[1]
	var err error
	workDir, err = os.MkdirTemp("", workDirPrefix)
	Expect(err).NotTo(HaveOccurred())
	start, _ := initproc.ProcStart(os.Getpid())
	Expect(os.WriteFile(filepath.Join(workDir, ownerFile), []byte(fmt.Sprintf("%d %s", os.Getpid(), start)), 0600)).To(Succeed())
	// the depot is in it: containers' roots (user namespaces) must be able to search it
	Expect(os.Chmod(workDir, 0711)).To(Succeed())
	rootfsDir = filepath.Join(workDir, "busybox-rootfs")
	Expect(makeBusyboxRootFS(rootfsDir)).To(Succeed())
	startRegistry()
	srv = newServer(workDir, GinkgoParallelProcess())
	srv.start(gardenBin)
})

var _ = SynchronizedAfterSuite(func() {
	if srv == nil {
		return
	}
	if srv.session != nil && srv.session.ExitCode() != -1 {
		// the server died (or a spec killed it): restart it so it destroys what is left
		srv.start(gardenBin)
	}
	if srv.session != nil {
		srv.destroyAll()
		srv.stop()
	}
	teardownNetwork(srv)
	os.RemoveAll(workDir)
	if registryServer != nil {
		registryServer.Close()
	}
}, func() {
	gexec.CleanupBuildArtifacts()
})

const (
	workDirPrefix = "diego-garden-test-"
	ownerFile     = "owner" // the pid and start time of the test process the work directory is for
)

// sweepLeftovers cleans up after earlier runs of this suite that died before their AfterSuite
// (a go test timeout, a kill): for each work directory whose test process is gone, a server on
// its configuration reloads its containers and destroys them, then the network, cgroups and the
// directory go, as the AfterSuite would have done. Servers die with their test process.
func sweepLeftovers(bin string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), workDirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not one of ours, or its owner is still setting up
		}
		var pid int
		var start string
		fmt.Sscanf(string(b), "%d %s", &pid, &start)
		if s, alive := initproc.ProcStart(pid); alive && s == start {
			continue // a suite running now
		}
		fmt.Fprintf(GinkgoWriter, "cleaning up after an earlier run that died: %s\n", dir)
		if s, err := serverFromConfig(dir); err == nil {
			s.start(bin)
			s.destroyAll()
			s.stop()
			teardownNetwork(s)
		}
		os.RemoveAll(dir)
	}
}

// serverFromConfig is the server a work directory's garden.json describes.
func serverFromConfig(dir string) (*gardenServer, error) {
	s := &gardenServer{cfgPath: filepath.Join(dir, "garden.json")}
	b, err := os.ReadFile(s.cfgPath)
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
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, err
	}
	s.socket, s.depot, s.bridge, s.chains, s.pool, s.cgParent = cfg.Socket, cfg.Depot, cfg.Bridge, cfg.Chains, cfg.Pool, cfg.CgParent
	s.client = client.New(connection.New("unix", s.socket))
	return s, nil
}

func requireIntegration() {
	if skipReason != "" {
		Skip(skipReason)
	}
}

// makeBusyboxRootFS is gardentest's busybox rootfs with the page the network specs serve.
func makeBusyboxRootFS(dir string) error {
	if err := busyboxfs.Make(dir); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "var", "www", "index.html"), []byte("hello from the container\n"), 0644)
}

// usernsHostID is the host id of unprivileged containers' root in the suite's server (not the
// default, so the specs see the setting applied).
const usernsHostID = 1900000000

func newServer(dir string, n int) *gardenServer {
	id := os.Getpid()%200 + n
	s := &gardenServer{
		cfgPath:    filepath.Join(dir, "garden.json"),
		socket:     filepath.Join(dir, "garden.sock"),
		depot:      filepath.Join(dir, "depot"),
		bridge:     fmt.Sprintf("dgtest%d", os.Getpid()%100000),
		chains:     fmt.Sprintf("dgt%d", os.Getpid()%100000),
		pool:       fmt.Sprintf("10.253.%d.0/24", id),
		cgParent:   fmt.Sprintf("diego-garden-test-%d", os.Getpid()),
		externalIP: gardenrunc.DefaultExternalIP(),
	}
	cfg := map[string]any{
		"listen_network":      "unix",
		"listen_address":      s.socket,
		"log_level":           "debug",
		"depot_dir":           s.depot,
		"runc_root":           filepath.Join(dir, "runc"),
		"image_cache_dir":     filepath.Join(dir, "images"),
		"preloaded_rootfs":    map[string]string{"busybox": rootfsDir, "etc-links": etcLinksRootFS(dir), "etc-dir-link": etcDirLinkRootFS(dir)},
		"default_rootfs":      "preloaded:busybox",
		"cgroup_parent":       s.cgParent,
		"bridge_name":         s.bridge,
		"chain_prefix":        s.chains,
		"network_pool":        s.pool,
		"external_ip":         s.externalIP,
		"port_range_start":    40000 + id*100,
		"port_range_end":      40000 + id*100 + 100,
		"ip_forward":          false,
		"insecure_registries": []string{registryHost},
		"userns_host_id":      usernsHostID,
	}
	data, _ := json.Marshal(cfg)
	Expect(os.WriteFile(s.cfgPath, data, 0600)).To(Succeed())
	s.client = client.New(connection.New("unix", s.socket))
	return s
}

// start runs the server (bin: the garden binary), which dies with the test process.
func (s *gardenServer) start(bin string) {
	cmd := exec.Command(bin, "-config", s.cfgPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	gardentest.OnLastingThread(func() { s.session, err = gexec.Start(cmd, GinkgoWriter, GinkgoWriter) })
	Expect(err).NotTo(HaveOccurred())
	Eventually(func() error { return s.client.Ping() }, 20*time.Second, 50*time.Millisecond).Should(Succeed())
}

func (s *gardenServer) stop() {
	s.session.Interrupt()
	Eventually(s.session, 20*time.Second).Should(gexec.Exit())
}

// destroyAll destroys every container the server has.
func (s *gardenServer) destroyAll() {
	if cs, err := s.client.Containers(nil); err == nil {
		for _, c := range cs {
			s.client.Destroy(c.Handle())
		}
	}
}

// reconfigure restarts the server with key set to value in its configuration (removed when value
// is nil).
func (s *gardenServer) reconfigure(key string, value any) {
	b, err := os.ReadFile(s.cfgPath)
	Expect(err).NotTo(HaveOccurred())
	cfg := map[string]any{}
	Expect(json.Unmarshal(b, &cfg)).To(Succeed())
	if value == nil {
		delete(cfg, key)
	} else {
		cfg[key] = value
	}
	b, err = json.Marshal(cfg)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(s.cfgPath, b, 0600)).To(Succeed())
	s.stop()
	s.start(gardenBin)
}

func (s *gardenServer) kill9() {
	s.session.Kill()
	Eventually(s.session, 10*time.Second).Should(gexec.Exit())
}

// teardownNetwork removes the suite's bridge and, if no other garden uses them, the shared chains.
func teardownNetwork(s *gardenServer) {
	exec.Command("ip", "link", "del", s.bridge).Run()
	exec.Command("iptables", "-w", "-t", "nat", "-D", s.chains+"-postrouting", "-s", s.pool, "!", "-d", s.pool, "-j", "MASQUERADE").Run()
	gardenrunc.RemoveSharedChainsIfUnused(s.chains)
	hostCgroups().RemoveParent(s.cgParent)
}

// hostCgroups is the host's cgroup layout (v1 or v2), as the server under test detects it.
func hostCgroups() gardenrunc.Cgroups {
	GinkgoHelper()
	c, err := gardenrunc.HostCgroups()
	Expect(err).NotTo(HaveOccurred())
	return c
}

// cgroupFile is a file of the container's cgroup in the host's layout (ctrl's hierarchy on v1).
func cgroupFile(handle, ctrl, name string) string {
	GinkgoHelper()
	return hostCgroups().File(srv.cgParent, handle, ctrl, name)
}

// --- helpers used by the specs ---

func createContainer(spec garden.ContainerSpec) garden.Container {
	c, err := srv.client.Create(spec)
	Expect(err).NotTo(HaveOccurred())
	handle := c.Handle()
	DeferCleanup(func() {
		err := srv.client.Destroy(handle)
		if err != nil {
			Expect(err).To(BeAssignableToTypeOf(garden.ContainerNotFoundError{}))
		}
	})
	return c
}

type result struct {
	stdout, stderr string
	code           int
}

func runIn(c garden.Container, spec garden.ProcessSpec, stdin io.Reader) result {
	stdout, stderr := gbytes.NewBuffer(), gbytes.NewBuffer()
	p, err := c.Run(spec, garden.ProcessIO{Stdin: stdin, Stdout: stdout, Stderr: stderr})
	Expect(err).NotTo(HaveOccurred())
	code, err := p.Wait()
	Expect(err).NotTo(HaveOccurred())
	return result{string(stdout.Contents()), string(stderr.Contents()), code}
}

func sh(c garden.Container, script string) result {
	return runIn(c, garden.ProcessSpec{Path: "/bin/sh", Args: []string{"-c", script}}, nil)
}

func hostOutput(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	return string(out)
}

func tarOf(files map[string]string) *bytes.Buffer {
	buf := new(bytes.Buffer)
	tw := newTarWriter(buf)
	for name, content := range files {
		tw.add(name, content)
	}
	tw.close()
	return buf
}

func freePortOnHost() uint32 {
	l, err := net.Listen("tcp", ":0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return uint32(l.Addr().(*net.TCPAddr).Port)
}
