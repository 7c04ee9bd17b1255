package depot_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/types"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/depot"
	"github.com/diego-go/diego/executor/logstream"
	"github.com/diego-go/diego/internal/daemonconfig"
	"github.com/diego-go/diego/internal/gardentest"
	"github.com/diego-go/diego/models"
)

// tgz is a gzipped tar of files owned by vcap.
func tgz(files map[string]string) []byte {
	GinkgoHelper()
	buf := new(bytes.Buffer)
	zw := gzip.NewWriter(buf)
	tw := tar.NewWriter(zw)
	for name, content := range files {
		// owned by vcap, as a droplet's files are
		Expect(tw.WriteHeader(&tar.Header{Name: name, Mode: 0755, Uid: 2000, Gid: 2000, Size: int64(len(content)), Typeflag: tar.TypeReg})).To(Succeed())
		_, err := tw.Write([]byte(content))
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(tw.Close()).To(Succeed())
	Expect(zw.Close()).To(Succeed())
	return buf.Bytes()
}

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

// writeCA writes a self-signed CA's certificate and key into dir.
func writeCA(dir string) (certFile, keyFile string, ca *x509.Certificate) {
	GinkgoHelper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "instance identity CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	Expect(err).NotTo(HaveOccurred())
	ca, err = x509.ParseCertificate(der)
	Expect(err).NotTo(HaveOccurred())
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	certFile, keyFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	Expect(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0600)).To(Succeed())
	Expect(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0600)).To(Succeed())
	return certFile, keyFile, ca
}

var _ = Describe("instances of the test app through the real steps", Ordered, func() {
	var (
		g   *gardentest.Garden
		cfg depot.Config
		pub *messages
		ca  *x509.Certificate
	)

	BeforeAll(func() {
		g = gardentest.Start(gardentest.Options{})
	})

	BeforeEach(func() {
		pub = &messages{}
		cfg = depot.DefaultConfig()
		cfg.CellID = "cell-steps"
		cfg.PreloadedRootFS = []string{"busybox"}
		cfg.CachePath = GinkgoT().TempDir()
		cfg.MemoryMB = "1024"
		cfg.GracefulShutdownInterval = daemonconfig.Duration(2 * time.Second)
		dir := GinkgoT().TempDir()
		cfg.InstanceIdentityCAPath, cfg.InstanceIdentityPrivateKeyPath, ca = writeCA(dir)
		cfg.InstanceIdentityCredDir = filepath.Join(dir, "creds")
	})

	start := func() (*depot.Executor, ifrit.Process) {
		GinkgoHelper()
		e, err := depot.New(cfg, slog.New(slog.NewTextHandler(GinkgoWriter, nil)), g.Client, pub)
		Expect(err).NotTo(HaveOccurred())
		p := ifrit.Invoke(e)
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait(), 10*time.Second).Should(Receive(BeNil()))
		})
		return e, p
	}

	appInfo := func(guid string) executor.RunInfo {
		return executor.RunInfo{
			RootFSPath: gardentest.RootFS,
			Ports:      []executor.PortMapping{{ContainerPort: 8080}},
			LogConfig:  executor.LogConfig{Guid: "log-" + guid, Index: 0, SourceName: "CELL"},
			Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{
				Path: gardentest.TestAppPath(), User: "vcap", LogSource: "APP/PROC/WEB"}}},
			CertificateOrganizationalUnits: []string{"app:the-app"},
			Env: []executor.EnvironmentVariable{{Name: "PORT", Value: "8080"},
				{Name: "CF_INSTANCE_INDEX", Value: "0"}, {Name: "CF_INSTANCE_GUID", Value: guid}},
		}
	}

	logLines := func(guid string) func() []string {
		return func() []string {
			var lines []string
			for _, data := range pub.On(logstream.Subject("log-" + guid)) {
				var m logstream.Message
				Expect(json.Unmarshal(data, &m)).To(Succeed())
				lines = append(lines, m.SourceType+": "+m.Message)
			}
			return lines
		}
	}

	run := func(e *depot.Executor, guid string) string {
		GinkgoHelper()
		ctx := context.Background()
		Expect(e.AllocateContainers(ctx, []executor.AllocationRequest{{Guid: guid, Resource: executor.Resource{MemoryMB: 128, DiskMB: 64}}})).To(BeEmpty())
		Expect(e.RunContainer(ctx, guid, appInfo(guid))).To(Succeed())
		Eventually(func() executor.State { c, _ := e.GetContainer(ctx, guid); return c.State }, 30*time.Second).Should(Equal(executor.StateRunning))
		c, _ := e.GetContainer(ctx, guid)
		base := fmt.Sprintf("http://%s:%d", c.ExternalIP, c.Ports[0].HostPort)
		Eventually(func() string { return get(base + "/") }, 10*time.Second, 100*time.Millisecond).Should(Equal("0 " + guid))
		return base
	}

	It("runs the app on its host port with the instance's environment and identity, logs its life, stops it gracefully and deletes it", func() {
		ctx := context.Background()
		e, _ := start()
		guid := "steps-app"
		base := run(e, guid)
		c, _ := e.GetContainer(ctx, guid)

		env := map[string]string{}
		Expect(json.Unmarshal([]byte(get(base+"/env")), &env)).To(Succeed())
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_PORT", fmt.Sprint(c.Ports[0].HostPort)))
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_ADDR", fmt.Sprintf("%s:%d", c.ExternalIP, c.Ports[0].HostPort)))
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_PORTS", fmt.Sprintf(`[{"external":%d,"internal":8080}]`, c.Ports[0].HostPort)))
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_IP", c.ExternalIP))
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_INTERNAL_IP", c.InternalIP))
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_CERT", "/etc/cf-instance-credentials/instance.crt"))

		gc, err := g.Client.Lookup(guid)
		Expect(err).NotTo(HaveOccurred())
		out := gbytes.NewBuffer()
		p, err := gc.Run(garden.ProcessSpec{Path: "cat", Args: []string{"/etc/cf-instance-credentials/instance.crt"}, User: "vcap"},
			garden.ProcessIO{Stdout: out, Stderr: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Wait()).To(Equal(0))
		block, _ := pem.Decode(out.Contents())
		Expect(block).NotTo(BeNil())
		cert, err := x509.ParseCertificate(block.Bytes)
		Expect(err).NotTo(HaveOccurred())
		Expect(cert.CheckSignatureFrom(ca)).To(Succeed())
		Expect(cert.Subject.CommonName).To(Equal(guid))
		Expect(cert.Subject.OrganizationalUnit).To(ContainElement("app:the-app"))
		Expect(cert.IPAddresses).To(ContainElement(WithTransform(func(ip interface{ String() string }) string { return ip.String() }, Equal(c.InternalIP))))

		Eventually(logLines(guid)).Should(ContainElements(
			"CELL: Cell cell-steps creating container for instance "+guid,
			"CELL: Cell cell-steps successfully created container for instance "+guid,
			"APP/PROC/WEB: testapp listening on port 8080"))

		Expect(e.StopContainer(ctx, guid)).To(Succeed())
		Eventually(func() executor.State { c, _ := e.GetContainer(ctx, guid); return c.State }, 15*time.Second).Should(Equal(executor.StateCompleted))
		c, _ = e.GetContainer(ctx, guid)
		Expect(c.RunResult.Stopped).To(BeTrue())
		Expect(get(base + "/")).NotTo(Equal("0 " + guid))
		Expect(e.DeleteContainer(ctx, guid)).To(Succeed())
		_, err = g.Client.Lookup(guid)
		Expect(err).To(HaveOccurred())
		Expect(filepath.Join(cfg.InstanceIdentityCredDir, guid)).NotTo(BeADirectory())
		Eventually(logLines(guid)).Should(ContainElements(
			"CELL: Cell cell-steps stopping instance "+guid,
			"CELL: Cell cell-steps destroying container for instance "+guid,
			"CELL: Cell cell-steps successfully destroyed container for instance "+guid))
	})

	It("mounts cached dependencies read-only and lays a preloaded+layer rootfs's layer into the container, both fetched through the cache", func() {
		ctx := context.Background()
		layer := tgz(map[string]string{"lifecycle/launcher": "the launcher"})
		dep := tgz(map[string]string{"buildpack/bin/run": "the buildpack"})
		files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/layer.tgz":
				w.Write(layer)
			case "/dep.tgz":
				w.Write(dep)
			default:
				http.NotFound(w, r)
			}
		}))
		DeferCleanup(files.Close)
		sum := sha256.Sum256(layer)

		e, _ := start()
		guid := "steps-layered"
		info := appInfo(guid)
		info.RootFSPath = fmt.Sprintf("preloaded+layer:busybox?layer=%s/layer.tgz&layer_path=/tmp/layer&layer_digest=%s", files.URL, hex.EncodeToString(sum[:]))
		info.CachedDependencies = []executor.CachedDependency{{Name: "bp", From: files.URL + "/dep.tgz", To: "/tmp/deps", CacheKey: "bp-1"}}
		Expect(e.AllocateContainers(ctx, []executor.AllocationRequest{{Guid: guid, Resource: executor.Resource{MemoryMB: 64}}})).To(BeEmpty())
		Expect(e.RunContainer(ctx, guid, info)).To(Succeed())
		Eventually(func() executor.State { c, _ := e.GetContainer(ctx, guid); return c.State }, 30*time.Second).Should(Equal(executor.StateRunning))

		gc, err := g.Client.Lookup(guid)
		Expect(err).NotTo(HaveOccurred())
		sh := func(script string) (string, int) {
			out := gbytes.NewBuffer()
			p, err := gc.Run(garden.ProcessSpec{Path: "sh", Args: []string{"-c", script}, User: "vcap"}, garden.ProcessIO{Stdout: out, Stderr: out})
			Expect(err).NotTo(HaveOccurred())
			status, err := p.Wait()
			Expect(err).NotTo(HaveOccurred())
			return string(out.Contents()), status
		}
		Expect(sh("cat /tmp/layer/lifecycle/launcher /tmp/deps/buildpack/bin/run")).To(Equal("the launcherthe buildpack"))
		_, status := sh("touch /tmp/deps/new")
		Expect(status).NotTo(BeZero(), "cached dependencies are read-only")
		Expect(sh("ls -ln /tmp/layer/lifecycle/launcher | awk '{print $1, $3}'")).To(Equal("-rwxr-xr-x 2000\n"), "the layer keeps its modes and owners")
		out, status := sh("echo more >> /tmp/layer/lifecycle/launcher && cat /tmp/layer/lifecycle/launcher")
		Expect(status).To(BeZero(), out)
		Expect(out).To(Equal("the launchermore\n"), "the container's copy of the layer is writable")
		Expect(logLines(guid)()).To(ContainElements("CELL: Downloading bp...", "CELL: Downloaded bp"))
		Expect(e.DeleteContainer(ctx, guid)).To(Succeed())

		info.RootFSPath = fmt.Sprintf("preloaded+layer:busybox?layer=%s/layer.tgz&layer_path=/tmp/layer&layer_digest=%s", files.URL, strings.Repeat("0", 64))
		Expect(e.AllocateContainers(ctx, []executor.AllocationRequest{{Guid: guid, Resource: executor.Resource{MemoryMB: 64}}})).To(BeEmpty())
		Expect(e.RunContainer(ctx, guid, info)).To(Succeed())
		Eventually(func() executor.State { c, _ := e.GetContainer(ctx, guid); return c.State }, 30*time.Second).Should(Equal(executor.StateCompleted))
		c, _ := e.GetContainer(ctx, guid)
		Expect(c.RunResult.Retryable).To(BeTrue())
		Expect(c.RunResult.FailureReason).To(HavePrefix("failed to create container: layer "+files.URL+"/layer.tgz"),
			"a layer whose digest does not match is refused")
		_, err = g.Client.Lookup(guid)
		Expect(err).To(HaveOccurred(), "no container is left of a failed creation")
		Expect(e.DeleteContainer(ctx, guid)).To(Succeed())
	})

	It("checks an instance's health with the cell's health check binary: running once its check passes, readiness followed", func() {
		cfg.DeclarativeHealthcheckPath = gardentest.HealthcheckDir()
		cfg.UnhealthyMonitoringInterval = daemonconfig.Duration(200 * time.Millisecond)
		cfg.HealthyMonitoringInterval = daemonconfig.Duration(200 * time.Millisecond)

		ctx := context.Background()
		e, _ := start()
		events, err := e.SubscribeToEvents(ctx)
		Expect(err).NotTo(HaveOccurred())
		guid := "steps-checked"
		info := appInfo(guid)
		info.CheckDefinition = &models.CheckDefinition{
			Checks:          []*models.Check{{Value: &models.Check_TcpCheck{TcpCheck: &models.TCPCheck{Port: 8080}}}},
			ReadinessChecks: []*models.Check{{Value: &models.Check_HttpCheck{HttpCheck: &models.HTTPCheck{Port: 8080, Path: "/ready"}}}},
		}
		Expect(e.AllocateContainers(ctx, []executor.AllocationRequest{{Guid: guid, Resource: executor.Resource{MemoryMB: 64}}})).To(BeEmpty())
		Expect(e.RunContainer(ctx, guid, info)).To(Succeed())
		readiness := func(ready bool) types.GomegaMatcher {
			return Receive(WithTransform(func(ev executor.Event) bool {
				return ev.Type == executor.EventTypeContainerReadinessChanged && ev.Container.Guid == guid && ev.Container.Ready == ready
			}, BeTrue()))
		}
		Eventually(events, 30*time.Second).Should(Receive(WithTransform(func(ev executor.Event) string {
			return string(ev.Type) + " " + ev.Container.Guid
		}, Equal("container_running "+guid))))
		// the first readiness may come before or after running
		Eventually(func() bool { c, _ := e.GetContainer(ctx, guid); return c.Ready }, 10*time.Second).Should(BeTrue())
		c, _ := e.GetContainer(ctx, guid)
		base := fmt.Sprintf("http://%s:%d", c.ExternalIP, c.Ports[0].HostPort)
		Expect(get(base + "/ready?state=fail")).To(Equal("500"))
		Eventually(events, 10*time.Second).Should(readiness(false))
		Expect(get(base + "/ready?state=pass")).To(Equal("ready"))
		Eventually(events, 10*time.Second).Should(readiness(true))
		Expect(e.DeleteContainer(ctx, guid)).To(Succeed())
	})

	It("deletes a container still fetching its cached dependencies at once, the download cancelled", func() {
		ctx := context.Background()
		hung := make(chan struct{})
		files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select {
			case <-hung:
			case <-r.Context().Done():
			}
		}))
		DeferCleanup(files.Close)
		DeferCleanup(func() { close(hung) })
		e, _ := start()
		guid := "steps-deleted-early"
		info := appInfo(guid)
		info.CachedDependencies = []executor.CachedDependency{{Name: "slow", From: files.URL + "/slow.tgz", To: "/tmp/slow", CacheKey: "slow"}}
		Expect(e.AllocateContainers(ctx, []executor.AllocationRequest{{Guid: guid, Resource: executor.Resource{MemoryMB: 64}}})).To(BeEmpty())
		Expect(e.RunContainer(ctx, guid, info)).To(Succeed())
		Eventually(logLines(guid)).Should(ContainElement("CELL: Downloading slow..."))
		t0 := time.Now()
		Expect(e.DeleteContainer(ctx, guid)).To(Succeed())
		Expect(time.Since(t0)).To(BeNumerically("<", 2*time.Second))
		_, err := e.GetContainer(ctx, guid)
		Expect(err).To(MatchError(executor.ErrContainerNotFound))
		_, err = g.Client.Lookup(guid)
		Expect(err).To(HaveOccurred())
		total, _ := e.TotalResources(ctx)
		Expect(e.RemainingResources(ctx)).To(Equal(total))
	})

	It("adopts a running instance when a fresh executor starts over the same garden: the same process serves, its output and events go on", func() {
		ctx := context.Background()
		first, p := start()
		guid := "steps-adopted"
		base := run(first, guid)
		// a mark the process keeps in memory
		Expect(get(base + "/ready?state=fail")).To(Equal("500"))
		p.Signal(os.Kill)
		Eventually(p.Wait(), 10*time.Second).Should(Receive())

		second, err := depot.New(cfg, slog.New(slog.NewTextHandler(GinkgoWriter, nil)), g.Client, pub)
		Expect(err).NotTo(HaveOccurred())
		events, err := second.SubscribeToEvents(ctx)
		Expect(err).NotTo(HaveOccurred())
		p2 := ifrit.Invoke(second)
		DeferCleanup(func() { p2.Signal(os.Interrupt); Eventually(p2.Wait(), 10*time.Second).Should(Receive()) })

		Eventually(events, 20*time.Second).Should(Receive(WithTransform(func(ev executor.Event) string {
			return string(ev.Type) + " " + ev.Container.Guid
		}, Equal("container_running "+guid))))
		c, err := second.GetContainer(ctx, guid)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Adopted).To(BeTrue())
		Expect(get(base+"/ready")).To(Equal("500"), "the process the first executor started")
		Expect(get(base + "/log?lines=1&text=after-adoption")).To(Equal("printed 1 lines"))
		Eventually(logLines(guid)).Should(ContainElement("APP/PROC/WEB: after-adoption 1"))

		Expect(second.StopContainer(ctx, guid)).To(Succeed())
		Eventually(events, 15*time.Second).Should(Receive(WithTransform(func(ev executor.Event) bool {
			return ev.Type == executor.EventTypeContainerComplete && ev.Container.RunResult.Stopped
		}, BeTrue())))
		Expect(second.DeleteContainer(ctx, guid)).To(Succeed())
	})
})
