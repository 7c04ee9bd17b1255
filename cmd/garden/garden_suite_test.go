package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"code.cloudfoundry.org/garden/client"
	"code.cloudfoundry.org/garden/client/connection"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/gardenrunc"
	"github.com/diego-go/diego/internal/daemontest"
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
		Expect(s.Err).To(gbytesSay("garden: listen_network must be unix or tcp"))
	})

	It("serves garden's API over TCP, logs JSON lines, and stops on SIGINT leaving containers to the next start", func() {
		if os.Geteuid() != 0 {
			Skip("the garden server needs root")
		}
		if _, err := exec.LookPath("runc"); err != nil {
			Skip("runc is not installed")
		}
		dir := GinkgoT().TempDir()
		// the depot is in it: the roots of containers with user namespaces must be able to search it
		Expect(os.Chmod(dir, 0711)).To(Succeed())
		addr, healthAddr, metricsAddr := daemontest.FreeAddr(), daemontest.FreeAddr(), daemontest.FreeAddr()
		bridge := fmt.Sprintf("dgcmd%d", os.Getpid()%100000)
		pool := fmt.Sprintf("10.250.%d.0/24", os.Getpid()%250)
		cgParent := fmt.Sprintf("diego-garden-cmd-%d", os.Getpid())
		chains := fmt.Sprintf("dgc%d", os.Getpid()%100000)
		cfg := map[string]any{"listen_network": "tcp", "listen_address": addr, "depot_dir": filepath.Join(dir, "depot"),
			"runc_root": filepath.Join(dir, "runc"), "image_cache_dir": filepath.Join(dir, "images"),
			"bridge_name": bridge, "chain_prefix": chains, "network_pool": pool, "cgroup_parent": cgParent, "ip_forward": false,
			"health_address": healthAddr, "metrics_address": metricsAddr}
		data, _ := json.Marshal(cfg)
		cfgPath := filepath.Join(dir, "garden.json")
		Expect(os.WriteFile(cfgPath, data, 0600)).To(Succeed())
		DeferCleanup(func() {
			exec.Command("ip", "link", "del", bridge).Run()
			exec.Command("iptables", "-w", "-t", "nat", "-D", chains+"-postrouting", "-s", pool, "!", "-d", pool, "-j", "MASQUERADE").Run()
			gardenrunc.RemoveSharedChainsIfUnused(chains)
			for _, ctrl := range []string{"memory", "cpu", "cpuacct", "pids", "devices", "freezer", "blkio", "cpuset", "systemd", "unified"} {
				os.Remove(filepath.Join("/sys/fs/cgroup", ctrl, cgParent))
			}
		})

		stderr := new(bytes.Buffer)
		s, err := gexec.Start(exec.Command(gardenBin, "-config", cfgPath), GinkgoWriter, stderr)
		Expect(err).NotTo(HaveOccurred())
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
		resp, err = http.Get("http://" + metricsAddr + "/metrics")
		Expect(err).NotTo(HaveOccurred())
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		Expect(string(body)).To(ContainSubstring("go_goroutines"))
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
})
