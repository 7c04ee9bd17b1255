package main_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"code.cloudfoundry.org/garden/client"
	"code.cloudfoundry.org/garden/client/connection"
	"code.cloudfoundry.org/lager/v3/lagertest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/gardenrunc"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/tlsconfig"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

func TestGarden(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Garden Command Suite")
}

var gardenBin string

var _ = BeforeSuite(func() {
	var err error
	gardenBin, err = gexec.BuildWithEnvironment("github.com/diego-go/diego/cmd/garden", []string{"CGO_ENABLED=0"})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(gexec.CleanupBuildArtifacts)
})

var _ = Describe("the garden command", func() {
	It("refuses to start without a config or with an invalid one", func() {
		s, err := gexec.Start(exec.Command(gardenBin), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(s).Should(gexec.Exit(2))
		Expect(s.Err).To(gbytesSay("garden: -config FILE is required"))

		cfg := filepath.Join(GinkgoT().TempDir(), "bad.json")
		os.WriteFile(cfg, []byte(`{"listen_network":"carrier-pigeon"}`), 0600)
		s, err = gexec.Start(exec.Command(gardenBin, "-config", cfg), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(s).Should(gexec.Exit(2))
		Expect(s.Err).To(gbytesSay("garden: config " + regexp.QuoteMeta(cfg) + ": listen_network must be unix or tcp"))
	})

	It("serves garden's API over TCP, logs JSON lines, and stops on SIGINT leaving containers to the next start", func() {
		addr, healthAddr, metricsAddr := daemontest.FreeAddr(), daemontest.FreeAddr(), daemontest.FreeAddr()
		s, stderr := startGarden(map[string]any{"listen_network": "tcp", "listen_address": addr,
			"health_address": healthAddr, "metrics_address": metricsAddr})
		c := client.New(connection.New("tcp", addr))
		Eventually(c.Ping, 20*time.Second, 50*time.Millisecond).Should(Succeed())
		capacity, err := c.Capacity()
		Expect(err).NotTo(HaveOccurred())
		Expect(capacity.MaxContainers).To(BeEquivalentTo(253))
		Expect(capacity.MemoryInBytes).To(BeNumerically(">", 0))
		resp, err := http.Get("http://" + healthAddr + "/ping")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(daemontest.Scrape(metricsAddr)).To(ContainSubstring("go_goroutines"))
		s.Interrupt()
		Eventually(s, 20*time.Second).Should(gexec.Exit(0))

		sc := bufio.NewScanner(bytes.NewReader(stderr.Bytes()))
		lines := 0
		for sc.Scan() {
			var entry map[string]any
			Expect(json.Unmarshal(sc.Bytes(), &entry)).To(Succeed(), sc.Text())
			Expect(entry).To(HaveKey("msg"))
			Expect(entry).To(HaveKeyWithValue("component", "garden"))
			lines++
		}
		Expect(lines).To(BeNumerically(">", 1))
	})

	It("serves on a unix socket only root and socket_group may use, in a directory it makes 0750", func() {
		sock := filepath.Join(GinkgoT().TempDir(), "run", "garden", "garden.sock")
		s, _ := startGarden(map[string]any{"listen_network": "unix", "listen_address": sock, "socket_group": "daemon"})
		c := client.New(connection.New("unix", sock))
		Eventually(c.Ping, 20*time.Second, 50*time.Millisecond).Should(Succeed())
		daemon, err := user.LookupGroup("daemon")
		Expect(err).NotTo(HaveOccurred())
		gid, _ := strconv.Atoi(daemon.Gid)
		expectMode(sock, os.ModeSocket|0660, 0, uint32(gid))
		expectMode(filepath.Dir(sock), os.ModeDir|0750, 0, uint32(gid))
		s.Interrupt()
		Eventually(s, 20*time.Second).Should(gexec.Exit(0))
	})

	It("refuses a socket directory others could write to or that is not root's, before starting anything", func() {
		requireRoot()
		for _, dir := range []struct {
			mode     os.FileMode
			uid, gid int
			complain string
		}{
			{0777, 0, 0, "is world-writable (mode 0777)"},
			{0755, 1000, 0, "is owned by uid 1000, not root"},
			{0770, 0, 4242, "is writable by group 4242, neither root's nor socket_group's (mode 0770)"},
		} {
			d := filepath.Join(GinkgoT().TempDir(), "sockets")
			Expect(os.Mkdir(d, 0700)).To(Succeed())
			Expect(os.Chmod(d, dir.mode)).To(Succeed())
			Expect(os.Chown(d, dir.uid, dir.gid)).To(Succeed())
			cfg := daemontest.WriteConfig(map[string]any{"listen_address": filepath.Join(d, "garden.sock"), "bridge_name": "dgnever0"})
			s, err := gexec.Start(exec.Command(gardenBin, "-config", cfg), GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			// should the server start after all, it must not outlive the spec
			DeferCleanup(func() { s.Interrupt().Wait(20 * time.Second) })
			Eventually(s, 10*time.Second).Should(gexec.Exit(2))
			Expect(s.Err).To(gbytesSay("socket directory " + d + " " + regexp.QuoteMeta(dir.complain)))
			Expect(filepath.Join(d, "garden.sock")).NotTo(BeAnExistingFile())
			_, err = net.InterfaceByName("dgnever0")
			Expect(err).To(HaveOccurred(), "the backend did not start")
		}
	})

	It("serves beyond loopback only over mutual TLS, to clients with a certificate of the CA", func() {
		dir := GinkgoT().TempDir()
		certs, err := tlstest.Generate(dir)
		Expect(err).NotTo(HaveOccurred())
		port := strings.TrimPrefix(daemontest.FreeAddr(), "127.0.0.1:")
		addr := net.JoinHostPort(gardenrunc.DefaultExternalIP(), port)
		s, _ := startGarden(map[string]any{"listen_network": "tcp", "listen_address": addr,
			"ca_file": certs.CACert, "cert_file": certs.ServerCert, "key_file": certs.ServerKey})
		dialWith := func(cert, key string) client.Client {
			tc, err := tlsconfig.Client(cert, key, certs.CACert)
			Expect(err).NotTo(HaveOccurred())
			tc.ServerName = "127.0.0.1" // what the spec's server certificate is for
			return client.New(connection.NewWithDialerAndLogger(func(string, string) (net.Conn, error) {
				return tls.Dial("tcp", addr, tc)
			}, lagertest.NewTestLogger("garden-client")))
		}
		Eventually(dialWith(certs.ClientCert, certs.ClientKey).Ping, 20*time.Second, 50*time.Millisecond).Should(Succeed())
		Expect(dialWith(certs.UntrustedClientCert, certs.UntrustedClientKey).Ping()).NotTo(Succeed())
		Expect(client.New(connection.New("tcp", addr)).Ping()).NotTo(Succeed(), "plain HTTP")
		s.Interrupt()
		Eventually(s, 20*time.Second).Should(gexec.Exit(0))
	})
})

func requireRoot() {
	if os.Geteuid() != 0 {
		Skip("the garden server needs root")
	}
}

func expectMode(path string, mode os.FileMode, uid, gid uint32) {
	GinkgoHelper()
	fi, err := os.Stat(path)
	Expect(err).NotTo(HaveOccurred())
	Expect(fi.Mode()).To(Equal(mode), path)
	st := fi.Sys().(*syscall.Stat_t)
	Expect([]uint32{st.Uid, st.Gid}).To(Equal([]uint32{uid, gid}), path)
}

// startGarden starts the garden binary with a configuration of its own (depot, bridge, chains,
// pool, cgroups, over which extra is laid) and cleans all of it up after the spec.
func startGarden(extra map[string]any) (*gexec.Session, *bytes.Buffer) {
	requireRoot()
	if _, err := exec.LookPath("runc"); err != nil {
		Skip("runc is not installed")
	}
	dir := GinkgoT().TempDir()
	// the depot is in it: the roots of containers with user namespaces must be able to search it
	Expect(os.Chmod(dir, 0711)).To(Succeed())
	bridge := fmt.Sprintf("dgcmd%d", os.Getpid()%100000)
	pool := fmt.Sprintf("10.250.%d.0/24", os.Getpid()%250)
	cgParent := fmt.Sprintf("diego-garden-cmd-%d", os.Getpid())
	chains := fmt.Sprintf("dgc%d", os.Getpid()%100000)
	cfg := map[string]any{"depot_dir": filepath.Join(dir, "depot"),
		"runc_root": filepath.Join(dir, "runc"), "image_cache_dir": filepath.Join(dir, "images"),
		"bridge_name": bridge, "chain_prefix": chains, "network_pool": pool, "cgroup_parent": cgParent, "ip_forward": false}
	for k, v := range extra {
		cfg[k] = v
	}
	data, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "garden.json")
	Expect(os.WriteFile(cfgPath, data, 0600)).To(Succeed())
	stderr := new(bytes.Buffer)
	s, err := gexec.Start(exec.Command(gardenBin, "-config", cfgPath), GinkgoWriter, io.MultiWriter(stderr, GinkgoWriter))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		s.Kill().Wait(10 * time.Second)
		exec.Command("ip", "link", "del", bridge).Run()
		exec.Command("iptables", "-w", "-t", "nat", "-D", chains+"-postrouting", "-s", pool, "!", "-d", pool, "-j", "MASQUERADE").Run()
		gardenrunc.RemoveSharedChainsIfUnused(chains)
		cgroups, err := gardenrunc.HostCgroups()
		Expect(err).NotTo(HaveOccurred())
		cgroups.RemoveParent(cgParent)
	})
	return s, stderr
}
