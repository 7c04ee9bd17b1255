package containerstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/containerstore"
	"github.com/diego-go/diego/internal/gardentest"
	"github.com/diego-go/diego/models"
)

func get(url string) string {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Sprint(resp.StatusCode)
	}
	return string(b)
}

var _ = Describe("containers in a real garden", Ordered, func() {
	var (
		g            *gardentest.Garden
		registryHost string
		certsDir     string
		credsDir     string
	)
	app := garden.ProcessSpec{Path: gardentest.TestAppPath(), User: "vcap"}

	BeforeAll(func() {
		registryHost = startRegistry()
		g = gardentest.Start(gardentest.Options{Extra: map[string]any{"insecure_registries": []string{registryHost}}})
		certsDir = GinkgoT().TempDir()
		// as a host's certificates directory is: the containers' users read it through the mount
		Expect(os.Chmod(certsDir, 0755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(certsDir, "ca.pem"), []byte("trusted"), 0644)).To(Succeed())
		credsDir = GinkgoT().TempDir()
	})

	withFiles := func(c *containerstore.Config) {
		c.TrustedCertsDir = certsDir
		c.CredentialsDir = credsDir
		c.Credentials = func(guid, ip string, ous []string) ([]byte, []byte, error) {
			return []byte(fmt.Sprintf("cert for %s at %s %v", guid, ip, ous)), []byte("key of " + guid), nil
		}
	}

	runInfo := func(guid string) executor.RunInfo {
		return executor.RunInfo{
			RootFSPath:                     g.RootFS,
			CPUWeight:                      50,
			Ports:                          []executor.PortMapping{{ContainerPort: 8080}},
			LogConfig:                      executor.LogConfig{Guid: "log-" + guid, Index: 3, SourceName: "CELL"},
			TrustedSystemCertificatesPath:  "/etc/cf-system-certificates",
			CertificateOrganizationalUnits: []string{"app:some-app"},
			Env: []executor.EnvironmentVariable{{Name: "PORT", Value: "8080"},
				{Name: "CF_INSTANCE_INDEX", Value: "3"}, {Name: "CF_INSTANCE_GUID", Value: guid}},
		}
	}

	start := func(h *harness, guid string, info executor.RunInfo, res executor.Resource) {
		GinkgoHelper()
		Expect(h.store.Reserve(executor.AllocationRequest{Guid: guid, Resource: res})).To(Succeed())
		Expect(h.store.Run(guid, info)).To(Succeed())
	}

	It("creates and runs a container: ports, environment, mounts, limits, lifecycle lines; stops it gracefully and deletes it leaving nothing", func() {
		h := newHarness(g.Client, builder(app, ""), withFiles)
		guid := "cs-app-1"
		start(h, guid, runInfo(guid), executor.Resource{MemoryMB: 128, DiskMB: 64, MaxPids: 100})
		Eventually(h.state(guid), 30*time.Second).Should(Equal(executor.StateRunning))
		c, err := h.store.Get(guid)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Ports).To(HaveLen(1))
		Expect(c.Ports[0].ContainerPort).To(BeEquivalentTo(8080))
		Expect(c.Ports[0].HostPort).NotTo(BeZero())
		Expect(c.ExternalIP).To(Equal(g.ExternalIP))
		Expect(c.InternalIP).NotTo(BeEmpty())
		Expect(c.MemoryLimit).To(BeEquivalentTo(128 * 1024 * 1024))
		Expect(c.DiskLimit).To(BeEquivalentTo(64 * 1024 * 1024))
		Eventually(func() []executor.EventType { return h.events.Types(guid) }).Should(Equal(
			[]executor.EventType{executor.EventTypeContainerReserved, executor.EventTypeContainerRunning}))

		base := fmt.Sprintf("http://%s:%d", c.ExternalIP, c.Ports[0].HostPort)
		Eventually(func() string { return get(base + "/") }, 10*time.Second, 100*time.Millisecond).Should(Equal("3 " + guid))
		env := map[string]string{}
		Expect(json.Unmarshal([]byte(get(base+"/env")), &env)).To(Succeed())
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_IP", g.ExternalIP))
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_INTERNAL_IP", c.InternalIP))
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_PORT", fmt.Sprint(c.Ports[0].HostPort)))
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_ADDR", fmt.Sprintf("%s:%d", g.ExternalIP, c.Ports[0].HostPort)))
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_PORTS", fmt.Sprintf(`[{"external":%d,"internal":8080}]`, c.Ports[0].HostPort)))
		Expect(env).To(HaveKeyWithValue("CF_SYSTEM_CERT_PATH", "/etc/cf-system-certificates"))
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_CERT", "/etc/cf-instance-credentials/instance.crt"))
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_KEY", "/etc/cf-instance-credentials/instance.key"))
		Expect(env).To(HaveKeyWithValue("PORT", "8080"))

		gc, err := g.Client.Lookup(guid)
		Expect(err).NotTo(HaveOccurred())
		read := func(path string) string {
			out := gbytes.NewBuffer()
			p, err := gc.Run(garden.ProcessSpec{Path: "cat", Args: []string{path}, User: "vcap"}, garden.ProcessIO{Stdout: out, Stderr: GinkgoWriter})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Wait()).To(Equal(0))
			return string(out.Contents())
		}
		Expect(read("/etc/cf-system-certificates/ca.pem")).To(Equal("trusted"))
		Expect(read("/etc/cf-instance-credentials/instance.crt")).To(Equal(fmt.Sprintf("cert for %s at %s [app:some-app]", guid, c.InternalIP)))
		Expect(read("/etc/cf-instance-credentials/instance.key")).To(Equal("key of " + guid))
		p, err := gc.Run(garden.ProcessSpec{Path: "sh", Args: []string{"-c", "echo x > /etc/cf-system-certificates/new"}, User: "root"},
			garden.ProcessIO{Stdout: GinkgoWriter, Stderr: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Wait()).NotTo(Equal(0), "the certificates are mounted read-only")

		metrics, err := gc.Metrics()
		Expect(err).NotTo(HaveOccurred())
		Expect(metrics.PidStat.Max).To(BeEquivalentTo(100), "max_pids")

		mem, err := gc.CurrentMemoryLimits()
		Expect(err).NotTo(HaveOccurred())
		Expect(mem.LimitInBytes).To(BeEquivalentTo(128 * 1024 * 1024))
		cpu, err := gc.CurrentCPULimits()
		Expect(err).NotTo(HaveOccurred())
		Expect(cpu.LimitInShares).To(BeEquivalentTo(512), "1024 max shares x 50% weight")
		disk, err := gc.CurrentDiskLimits()
		Expect(err).NotTo(HaveOccurred())
		Expect(disk.ByteHard).To(BeEquivalentTo(64 * 1024 * 1024))
		Expect(disk.InodeHard).To(BeEquivalentTo(200000))
		props, err := gc.Properties()
		Expect(err).NotTo(HaveOccurred())
		Expect(props).To(HaveKeyWithValue(containerstore.OwnerProperty, "cell-z1-0"))

		Expect(h.logs.Lines()).To(ContainElements(
			"Cell cell-z1-0 creating container for instance "+guid,
			"Cell cell-z1-0 successfully created container for instance "+guid))

		Expect(h.store.Stop(guid)).To(Succeed())
		Eventually(h.state(guid), 15*time.Second).Should(Equal(executor.StateCompleted))
		c, _ = h.store.Get(guid)
		Expect(c.RunResult.Stopped).To(BeTrue())
		Expect(h.logs.Lines()).To(ContainElement("Cell cell-z1-0 stopping instance " + guid))

		Expect(h.store.Delete(context.Background(), guid)).To(Succeed())
		_, err = g.Client.Lookup(guid)
		Expect(err).To(HaveOccurred())
		Expect(h.pool.Remaining()).To(Equal(h.pool.Total()))
		Expect(filepath.Join(credsDir, guid)).NotTo(BeADirectory())
		Expect(h.store.List(nil)).To(BeEmpty())
		Expect(h.logs.Lines()).To(ContainElements(
			"Cell cell-z1-0 destroying container for instance "+guid,
			"Cell cell-z1-0 successfully destroyed container for instance "+guid))
	})

	It("signs the instance's credentials afresh every rotation period while it runs", func() {
		var signed atomic.Int32
		h := newHarness(g.Client, builder(app, ""), withFiles, func(c *containerstore.Config) {
			c.CredentialsRotation = 100 * time.Millisecond
			c.Credentials = func(guid, ip string, ous []string) ([]byte, []byte, error) {
				return []byte(fmt.Sprintf("cert %d", signed.Add(1))), []byte("key"), nil
			}
		})
		start(h, "cs-rotate", runInfo("cs-rotate"), executor.Resource{MemoryMB: 64})
		Eventually(h.state("cs-rotate"), 30*time.Second).Should(Equal(executor.StateRunning))
		crt := filepath.Join(credsDir, "cs-rotate", "instance.crt")
		Eventually(func() string { b, _ := os.ReadFile(crt); return string(b) }, 5*time.Second).Should(Equal("cert 3"))
		Expect(h.store.Stop("cs-rotate")).To(Succeed())
		Expect(h.store.Delete(context.Background(), "cs-rotate")).To(Succeed())
		n := signed.Load()
		Consistently(signed.Load, 300*time.Millisecond).Should(Equal(n), "no rotation once the container is gone")
	})

	It("completes with the result file, and with the failure of the setup step as retryable", func() {
		h := newHarness(g.Client, builder(garden.ProcessSpec{Path: "sh", Args: []string{"-c", "printf done > /tmp/result"}, User: "vcap"}, ""))
		info := runInfo("cs-task")
		info.Ports = nil
		info.ResultFile = "/tmp/result"
		start(h, "cs-task", info, executor.Resource{MemoryMB: 64})
		Eventually(h.state("cs-task"), 30*time.Second).Should(Equal(executor.StateCompleted))
		c, _ := h.store.Get("cs-task")
		Expect(c.RunResult).To(Equal(executor.RunResult{Result: "done"}))
		Expect(h.store.Delete(context.Background(), "cs-task")).To(Succeed())

		for guid, script := range map[string]string{
			"cs-no-result":  "true",
			"cs-big-result": "head -c 10241 /dev/zero > /tmp/result",
		} {
			h = newHarness(g.Client, builder(garden.ProcessSpec{Path: "sh", Args: []string{"-c", script}, User: "vcap"}, ""))
			start(h, guid, info, executor.Resource{MemoryMB: 64})
			Eventually(h.state(guid), 30*time.Second).Should(Equal(executor.StateCompleted))
			c, _ = h.store.Get(guid)
			Expect(c.RunResult).To(Equal(executor.RunResult{Failed: true, FailureReason: "failed to fetch result"}), guid)
			Expect(h.store.Delete(context.Background(), guid)).To(Succeed())
		}

		h = newHarness(g.Client, builder(app, "download failed: 404"))
		start(h, "cs-setup", info, executor.Resource{MemoryMB: 64})
		Eventually(h.state("cs-setup"), 30*time.Second).Should(Equal(executor.StateCompleted))
		c, _ = h.store.Get("cs-setup")
		Expect(c.RunResult).To(Equal(executor.RunResult{Failed: true, FailureReason: "download failed: 404", Retryable: true}))
		Expect(h.store.Delete(context.Background(), "cs-setup")).To(Succeed())
	})

	It("creates a container from a private docker image with the image's credentials, and never stores them", func() {
		pushImage(registryHost+"/diego/private:v1", "etc/from-image", "pulled")
		h := newHarness(g.Client, waiting)
		info := runInfo("cs-docker")
		info.RootFSPath = "docker://" + registryHost + "/diego/private#v1"
		info.ImageUsername, info.ImagePassword = registryUser, registryPassword
		start(h, "cs-docker", info, executor.Resource{MemoryMB: 64})
		Eventually(h.state("cs-docker"), 30*time.Second).Should(Equal(executor.StateRunning))
		gc, err := g.Client.Lookup("cs-docker")
		Expect(err).NotTo(HaveOccurred())
		Expect(fileIn(gc, "/etc/from-image")).To(Equal("pulled"))
		props, err := gc.Properties()
		Expect(err).NotTo(HaveOccurred())
		for _, v := range props {
			Expect(v).NotTo(ContainSubstring(registryPassword))
		}
		Expect(h.store.Stop("cs-docker")).To(Succeed())
		Expect(h.store.Delete(context.Background(), "cs-docker")).To(Succeed())

		info.ImagePassword = "wrong"
		start(h, "cs-docker-denied", info, executor.Resource{MemoryMB: 64})
		Eventually(h.state("cs-docker-denied"), 30*time.Second).Should(Equal(executor.StateCompleted))
		c, _ := h.store.Get("cs-docker-denied")
		Expect(c.RunResult.Retryable).To(BeTrue())
		Expect(c.RunResult.FailureReason).To(HavePrefix("failed to create container: "))
		Expect(h.store.Delete(context.Background(), "cs-docker-denied")).To(Succeed())
	})

	It("gives garden a container's egress rules as NetOut rules", func() {
		h := newHarness(g.Client, waiting)
		info := runInfo("cs-egress")
		info.Ports = nil
		info.EgressRules = []*models.SecurityGroupRule{
			{Protocol: "tcp", Destinations: []string{"10.99.1.2"}, Ports: []uint32{8080}},
			{Protocol: "udp", Destinations: []string{"10.99.2.0/24"}, PortRange: &models.PortRange{Start: 53, End: 54}},
		}
		start(h, "cs-egress", info, executor.Resource{MemoryMB: 16})
		Eventually(h.state("cs-egress"), 30*time.Second).Should(Equal(executor.StateRunning))
		out, err := exec.Command("iptables", "-w", "-S").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(ContainSubstring("-d 10.99.1.2/32 -p tcp -m tcp --dport 8080 -j ACCEPT"))
		Expect(string(out)).To(ContainSubstring("-p udp -m iprange --dst-range 10.99.2.0-10.99.2.255 -m udp --dport 53:54 -j ACCEPT"))
		Expect(h.store.Delete(context.Background(), "cs-egress")).To(Succeed())
		out, err = exec.Command("iptables", "-w", "-S").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).NotTo(ContainSubstring("10.99.1.2/32"))
	})

	It("fails, retryably and with garden's reason, a container garden cannot create", func() {
		h := newHarness(g.Client, builder(app, ""))
		info := runInfo("cs-bad")
		info.RootFSPath = "preloaded:no-such-stack"
		start(h, "cs-bad", info, executor.Resource{MemoryMB: 64})
		Eventually(h.state("cs-bad"), 30*time.Second).Should(Equal(executor.StateCompleted))
		c, _ := h.store.Get("cs-bad")
		Expect(c.RunResult.Retryable).To(BeTrue())
		Expect(c.RunResult.FailureReason).To(HavePrefix("failed to create container: "))
		Expect(c.RunResult.FailureReason).To(ContainSubstring("no-such-stack"))
		Expect(h.store.Delete(context.Background(), "cs-bad")).To(Succeed())
	})

	It("adopts the running containers of its owner after a restart: same process, events continue; others' containers are left alone", func() {
		first := newHarness(g.Client, abandoning(app), withFiles)
		guid := "cs-adopt"
		start(first, guid, runInfo(guid), executor.Resource{MemoryMB: 128})
		Eventually(first.state(guid), 30*time.Second).Should(Equal(executor.StateRunning))
		c, _ := first.store.Get(guid)
		base := fmt.Sprintf("http://%s:%d", c.ExternalIP, c.Ports[0].HostPort)
		Eventually(func() string { return get(base + "/") }, 10*time.Second, 100*time.Millisecond).Should(Equal("3 " + guid))
		// a mark the process keeps in memory: the adopted container runs the same process
		Expect(get(base + "/ready?state=fail")).To(Equal("500"))

		other, err := g.Client.Create(garden.ContainerSpec{Handle: "cs-other-owner",
			Properties: garden.Properties{containerstore.OwnerProperty: "another-cell"}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = g.Client.Destroy(other.Handle()) })

		second := newHarness(g.Client, builder(app, ""), withFiles)
		adopted, err := second.store.Adopt(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(adopted).To(Equal([]string{guid}))
		Eventually(second.state(guid), 10*time.Second).Should(Equal(executor.StateRunning))
		got, err := second.store.Get(guid)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Adopted).To(BeTrue())
		Expect(got.Ports).To(Equal(c.Ports))
		Expect(got.RunInfo.LogConfig).To(Equal(c.RunInfo.LogConfig))
		Expect(got.Resource).To(Equal(c.Resource))
		Expect(got.AllocatedAt.Equal(c.AllocatedAt)).To(BeTrue())
		Expect(second.pool.Remaining().MemoryMB).To(Equal(1024 - 128))
		Expect(get(base+"/ready")).To(Equal("500"), "the same process answers")
		Eventually(func() []executor.EventType { return second.events.Types(guid) }).Should(Equal(
			[]executor.EventType{executor.EventTypeContainerRunning}))

		Expect(second.store.ReapMissing()).To(Succeed())
		_, err = g.Client.Lookup("cs-other-owner")
		Expect(err).NotTo(HaveOccurred(), "another owner's container is never touched")

		Expect(second.store.Stop(guid)).To(Succeed())
		Eventually(second.state(guid), 15*time.Second).Should(Equal(executor.StateCompleted))
		Eventually(func() []executor.EventType { return second.events.Types(guid) }).Should(Equal(
			[]executor.EventType{executor.EventTypeContainerRunning, executor.EventTypeContainerComplete}))

		third := newHarness(g.Client, builder(app, ""), withFiles)
		Expect(third.store.Adopt(context.Background())).To(Equal([]string{guid}))
		done, _ := third.store.Get(guid)
		Expect(done.State).To(Equal(executor.StateCompleted), "a completed container keeps its result")
		Expect(done.RunResult.Stopped).To(BeTrue())
		Expect(third.store.Delete(context.Background(), guid)).To(Succeed())
		_, err = g.Client.Lookup(guid)
		Expect(err).To(HaveOccurred())
	})

	It("adopts a container garden could not describe for a moment; one it cannot describe for longer is left running and adopted by the next reap", func() {
		first := newHarness(g.Client, abandoning(app), withFiles)
		guid := "cs-adopt-flaky"
		start(first, guid, runInfo(guid), executor.Resource{MemoryMB: 64})
		Eventually(first.state(guid), 30*time.Second).Should(Equal(executor.StateRunning))

		flaky := &flakyGarden{Client: g.Client}
		flaky.failures.Store(2)
		second := newHarness(flaky, abandoning(app), withFiles)
		Expect(second.store.Adopt(context.Background())).To(Equal([]string{guid}), "adopted on the third try")
		Eventually(second.state(guid), 10*time.Second).Should(Equal(executor.StateRunning))

		flaky.failures.Store(1000)
		third := newHarness(flaky, builder(app, ""), withFiles)
		Expect(third.store.Adopt(context.Background())).To(BeEmpty())
		_, err := g.Client.Lookup(guid)
		Expect(err).NotTo(HaveOccurred(), "a container garden could not describe is not destroyed")
		_, err = third.store.Get(guid)
		Expect(err).To(MatchError(executor.ErrContainerNotFound))

		flaky.failures.Store(0)
		Expect(third.store.ReapMissing()).To(Succeed())
		Eventually(third.state(guid), 10*time.Second).Should(Equal(executor.StateRunning))
		got, _ := third.store.Get(guid)
		Expect(got.Adopted).To(BeTrue())
		Expect(third.store.Delete(context.Background(), guid)).To(Succeed())
	})

	It("destroys a container of its owner whose properties do not read back", func() {
		_, err := g.Client.Create(garden.ContainerSpec{Handle: "cs-unreadable",
			Properties: garden.Properties{containerstore.OwnerProperty: "cell-z1-0", "executor:run-info": "{not json"}})
		Expect(err).NotTo(HaveOccurred())
		h := newHarness(g.Client, builder(app, ""))
		Expect(h.store.Adopt(context.Background())).To(BeEmpty())
		_, err = g.Client.Lookup("cs-unreadable")
		Expect(err).To(HaveOccurred())
	})

	It("holds the cached dependencies an adopted container has mounted, as they are, until it is deleted", func() {
		depDir := GinkgoT().TempDir()
		Expect(os.Chmod(depDir, 0755)).To(Succeed())
		guid := "cs-adopt-deps"
		info := runInfo(guid)
		info.CachedDependencies = []executor.CachedDependency{
			{Name: "lib", From: "http://files/lib.tgz", To: "/home/vcap/lib", CacheKey: "lib-key"},
			{From: "http://files/gone.tgz", To: "/home/vcap/gone", CacheKey: "gone-key"},
		}
		first := newHarness(g.Client, abandoning(app), withFiles, func(c *containerstore.Config) {
			c.FetchDir = func(context.Context, executor.CachedDependency) (string, func(), error) {
				return depDir, func() {}, nil
			}
		})
		start(first, guid, info, executor.Resource{MemoryMB: 64})
		Eventually(first.state(guid), 30*time.Second).Should(Equal(executor.StateRunning))

		var held []string
		var fetched, released atomic.Int32
		second := newHarness(g.Client, builder(app, ""), withFiles, func(c *containerstore.Config) {
			c.FetchDir = func(context.Context, executor.CachedDependency) (string, func(), error) {
				fetched.Add(1)
				return "", nil, fmt.Errorf("fetching afresh could replace what the container has mounted")
			}
			c.Hold = func(d executor.CachedDependency) (func(), bool) {
				held = append(held, d.CacheKey)
				return func() { released.Add(1) }, d.CacheKey == "lib-key"
			}
		})
		Expect(second.store.Adopt(context.Background())).To(Equal([]string{guid}))
		Eventually(second.state(guid), 10*time.Second).Should(Equal(executor.StateRunning))
		Expect(held).To(ConsistOf("lib-key", "gone-key"))
		Expect(fetched.Load()).To(BeZero())
		Expect(released.Load()).To(BeZero())

		Expect(second.store.Delete(context.Background(), guid)).To(Succeed())
		Expect(released.Load()).To(BeEquivalentTo(1), "the one hold taken is given back")
	})

	It("completes a container garden lost and destroys this owner's containers it does not know", func() {
		h := newHarness(g.Client, waiting)
		start(h, "cs-lost", runInfo("cs-lost"), executor.Resource{MemoryMB: 64})
		Eventually(h.state("cs-lost"), 30*time.Second).Should(Equal(executor.StateRunning))
		_, err := g.Client.Create(garden.ContainerSpec{Handle: "cs-stray",
			Properties: garden.Properties{containerstore.OwnerProperty: "cell-z1-0"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(g.Client.Destroy("cs-lost")).To(Succeed())

		Expect(h.store.ReapMissing()).To(Succeed())
		Eventually(h.state("cs-lost"), 15*time.Second).Should(Equal(executor.StateCompleted))
		c, _ := h.store.Get("cs-lost")
		Expect(c.RunResult.FailureReason).To(Equal("missing garden container"))
		_, err = g.Client.Lookup("cs-stray")
		Expect(err).To(HaveOccurred())
		Expect(h.store.Delete(context.Background(), "cs-lost")).To(Succeed())
	})
})
