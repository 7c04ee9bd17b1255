package main_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	natsclient "github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/executor/logstream"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/gardentest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/tlsconfig"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

// TestRepCmd runs the cell end to end: real etcd, Consul and NATS, the bbs and auctioneer
// binaries, garden servers (internal/gardentest, runc) and rep processes; nothing between them
// is faked.
func TestRepCmd(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "cmd/rep Suite")
}

// Short timings: Consul runs with session_ttl_min 1s (testservers).
const (
	lockTTL   = 2 * time.Second
	lockRetry = 500 * time.Millisecond
	domain    = "cf-apps"
)

var (
	repPath string
	// healthcheckDir holds cmd/healthcheck's static binary, mounted in every container.
	healthcheckDir string
	etcd           *testservers.Etcd
	consul         *testservers.Consul
	nats           *testservers.NATS
	certs          tlstest.Files
	logger         *slog.Logger

	bbsAddr    string
	bbsClient  *bbs.Client
	consulAPI  *locket.Client
	gardens    [2]*gardentest.Garden
	specPrefix int

	// No connection is kept: gardens hand a host port to another container once the last one
	// is gone, and a kept connection would still reach the old container's address.
	httpClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
)

var _ = BeforeSuite(func() {
	logger = slog.New(slog.NewJSONHandler(GinkgoWriter, nil))
	dir := GinkgoT().TempDir()

	bins := daemontest.Build("github.com/diego-go/diego/cmd/rep", "github.com/diego-go/diego/cmd/bbs",
		"github.com/diego-go/diego/cmd/auctioneer")
	repPath = bins[0]
	bbsPath, auctioneerPath := bins[1], bins[2]

	healthcheckDir = filepath.Join(dir, "healthcheck")
	build := exec.Command("go", "build", "-o", filepath.Join(healthcheckDir, "healthcheck"), "github.com/diego-go/diego/cmd/healthcheck")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = GinkgoWriter, GinkgoWriter
	Expect(build.Run()).To(Succeed())

	certDir := filepath.Join(dir, "certs")
	Expect(os.MkdirAll(certDir, 0o755)).To(Succeed())
	var err error
	certs, err = tlstest.Generate(certDir)
	Expect(err).NotTo(HaveOccurred())

	consul, err = testservers.StartConsul(filepath.Join(dir, "consul"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = consul.Stop() })
	consulAPI, err = locket.NewClient(consul.HTTPAddr())
	Expect(err).NotTo(HaveOccurred())
	etcd, err = testservers.StartEtcd(filepath.Join(dir, "etcd"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = etcd.Stop() })
	nats, err = testservers.StartNATS(filepath.Join(dir, "nats"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = nats.Stop() })

	for i := range gardens {
		gardens[i] = gardentest.Start(gardentest.Options{})
	}

	bbsAddr = daemontest.FreeAddr()
	auctioneerAddr := daemontest.FreeAddr()
	daemontest.Start(bbsPath, "-config", daemontest.WriteConfig(daemontest.BBSConfig(bbsAddr, etcd.ClientURL(), consul.HTTPAddr(), certs, map[string]any{
		"auctioneer_url":       "https://" + auctioneerAddr,
		"auctioneer_ca_file":   certs.CACert,
		"auctioneer_cert_file": certs.ClientCert,
		"auctioneer_key_file":  certs.ClientKey,
		"rep_ca_file":          certs.CACert,
		"rep_cert_file":        certs.ClientCert,
		"rep_key_file":         certs.ClientKey,
		"convergence_interval": "2s",
	})))
	daemontest.Start(auctioneerPath, "-config", daemontest.WriteConfig(map[string]any{
		"listen_address":      auctioneerAddr,
		"health_address":      daemontest.FreeAddr(),
		"ca_file":             certs.CACert,
		"cert_file":           certs.ServerCert,
		"key_file":            certs.ServerKey,
		"consul_address":      consul.HTTPAddr(),
		"lock_ttl":            lockTTL.String(),
		"lock_retry_interval": lockRetry.String(),
		"bbs_url":             "https://" + bbsAddr,
		"bbs_ca_file":         certs.CACert,
		"bbs_cert_file":       certs.ClientCert,
		"bbs_key_file":        certs.ClientKey,
		"rep_ca_file":         certs.CACert,
		"rep_cert_file":       certs.ClientCert,
		"rep_key_file":        certs.ClientKey,
		"cell_state_timeout":  "2s",
		"log_level":           "info",
	}))

	bbsClient = daemontest.ConnectBBS("https://"+bbsAddr, certs)
	Expect(bbsClient.UpsertDomain(context.Background(), domain, 0)).To(Succeed())
})

var _ = AfterEach(func() {
	if CurrentSpecReport().Failed() && consul != nil {
		GinkgoWriter.Printf("--- consul log tail:\n%s\n", tail(consul.Logs(), 3000))
	}
})

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// cell is one rep process this suite started on one of the gardens.
type cell struct {
	id      string
	garden  *gardentest.Garden
	api     string
	admin   string
	config  string
	session *gexec.Session
}

// executorConfig is the "executor" object of the suite's reps: short intervals, the health
// check binary, an identity CA.
func executorConfig() map[string]any {
	return map[string]any{
		"cache_path":                         filepath.Join(GinkgoT().TempDir(), "cache"),
		"declarative_healthcheck_path":       healthcheckDir,
		"instance_identity_ca_path":          certs.CACert,
		"instance_identity_private_key_path": certs.CAKey,
		"instance_identity_cred_dir":         GinkgoT().TempDir(),
		"unhealthy_monitoring_interval":      "500ms",
		"healthy_monitoring_interval":        "1s",
		"graceful_shutdown_interval":         "2s",
		"container_reap_interval":            "2s",
	}
}

// startCell starts cmd/rep as cell id on garden g; extra is laid over its configuration (the
// "executor" object's keys go under "executor").
func startCell(id string, g *gardentest.Garden, extra map[string]any) *cell {
	GinkgoHelper()
	c := &cell{id: id, garden: g, api: daemontest.FreeAddr(), admin: daemontest.FreeAddr()}
	cfg := map[string]any{
		"cell_id":                     id,
		"zone":                        "z1",
		"listen_address":              c.api,
		"health_address":              c.admin,
		"ca_file":                     certs.CACert,
		"cert_file":                   certs.ServerCert,
		"key_file":                    certs.ServerKey,
		"consul_address":              consul.HTTPAddr(),
		"lock_ttl":                    lockTTL.String(),
		"lock_retry_interval":         lockRetry.String(),
		"bbs_url":                     "https://" + bbsAddr,
		"bbs_ca_file":                 certs.CACert,
		"bbs_cert_file":               certs.ClientCert,
		"bbs_key_file":                certs.ClientKey,
		"preloaded_rootfs":            []string{strings.TrimPrefix(g.RootFS, "preloaded:")},
		"nats_urls":                   []string{nats.URL()},
		"garden_network":              "unix",
		"garden_address":              g.Socket,
		"polling_interval":            "2s",
		"evacuation_polling_interval": "200ms",
		"log_level":                   "debug",
		"executor":                    executorConfig(),
	}
	for k, v := range extra {
		cfg[k] = v
	}
	c.config = daemontest.WriteConfig(cfg)
	// after the rep stops (cleanups run last first): a rep stopped mid-way leaves containers of
	// its cell id, which no later rep owns
	DeferCleanup(func() {
		list, _ := g.Client.Containers(nil)
		for _, ctr := range list {
			_ = g.Client.Destroy(ctr.Handle())
		}
	})
	c.start()
	return c
}

func (c *cell) start() {
	GinkgoHelper()
	c.session = daemontest.Start(repPath, "-config", c.config)
	Eventually(func() int { return daemontest.Status(c.admin, "/ping") }, 30*time.Second, 100*time.Millisecond).Should(Equal(http.StatusOK))
	Eventually(func() []string { return daemontest.CellIDs(bbsClient) }, 10*time.Second, 100*time.Millisecond).Should(ContainElement(c.id))
}

// kill9 kills the rep without letting it clean anything up.
func (c *cell) kill9() {
	GinkgoHelper()
	c.session.Kill()
	Eventually(c.session, 5*time.Second).Should(gexec.Exit())
}

// guid is a process or task guid of its own for every spec: the BBS and the gardens outlive
// specs.
func guid(name string) string {
	specPrefix++
	return fmt.Sprintf("%s-%d-%d", name, GinkgoParallelProcess(), specPrefix)
}

// ctx is a context for one call to the BBS.
func ctx() context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	DeferCleanup(cancel)
	return c
}

// appLRP is a desired LRP of the test app, listening on 8080 and checked there over HTTP, the
// way Cloud Controller desires a web process.
func appLRP(processGuid string, instances int32) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: processGuid,
		Domain:      domain,
		LogGuid:     processGuid,
		RootFs:      gardentest.RootFS,
		Instances:   instances,
		MemoryMb:    64,
		DiskMb:      64,
		Ports:       []uint32{8080},
		Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{
			Path: gardentest.TestAppPath(), User: "vcap",
			Env: []*models.EnvironmentVariable{{Name: "PORT", Value: "8080"}},
		}}},
		CheckDefinition: &models.CheckDefinition{Checks: []*models.Check{
			{Value: &models.Check_HttpCheck{HttpCheck: &models.HTTPCheck{Port: 8080, Path: "/"}}},
		}},
		StartTimeoutMs: 60000,
	}
}

// desire desires lrp and removes it when the spec ends, waiting for its containers to go.
func desire(lrp *models.DesiredLRP) {
	GinkgoHelper()
	Expect(bbsClient.DesireLRP(ctx(), lrp)).To(Succeed())
	DeferCleanup(func() {
		_ = bbsClient.RemoveDesiredLRP(context.Background(), lrp.ProcessGuid)
		Eventually(func() []*models.ActualLRP { return actuals(lrp.ProcessGuid) }, 30*time.Second, 200*time.Millisecond).Should(BeEmpty())
	})
}

func actuals(processGuid string) []*models.ActualLRP {
	GinkgoHelper()
	lrps, err := bbsClient.ActualLRPs(context.Background(), bbs.ActualLRPFilter{ProcessGuid: processGuid})
	Expect(err).NotTo(HaveOccurred())
	return lrps
}

// running lists the RUNNING ORDINARY instances of the process.
func running(processGuid string) []*models.ActualLRP {
	GinkgoHelper()
	var out []*models.ActualLRP
	for _, a := range actuals(processGuid) {
		if a.GetState() == models.ActualLRPStateRunning && a.GetPresence() == models.ActualLRP_ORDINARY {
			out = append(out, a)
		}
	}
	return out
}

// appURL is the instance's mapped host address for 8080 ("" before it has one).
func appURL(a *models.ActualLRP) string {
	ni := a.GetActualLrpNetInfo()
	for _, p := range ni.GetPorts() {
		if p.GetContainerPort() == 8080 {
			return fmt.Sprintf("http://%s:%d", ni.GetAddress(), p.GetHostPort())
		}
	}
	return ""
}

// answer is what GET path answers at the instance's mapped host port for 8080 ("" when it does
// not answer 200).
func answer(a *models.ActualLRP, path string) string {
	u := appURL(a)
	if u == "" {
		return ""
	}
	resp, err := httpClient.Get(u + path)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(b)
}

// clientTLS is the client certificate the BBS and the reps accept.
func clientTLS() *tls.Config {
	GinkgoHelper()
	t, err := tlsconfig.Client(certs.ClientCert, certs.ClientKey, certs.CACert)
	Expect(err).NotTo(HaveOccurred())
	return t
}

// subscribeLogs collects, until the spec ends, the log messages published on NATS for logGuid;
// it returns what has arrived so far.
func subscribeLogs(logGuid string) func() []logstream.Message {
	GinkgoHelper()
	conn, err := natsclient.Connect(nats.URL())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(conn.Close)
	var mu sync.Mutex
	var got []logstream.Message
	_, err = conn.Subscribe(logstream.Subject(logGuid), func(m *natsclient.Msg) {
		var msg logstream.Message
		if json.Unmarshal(m.Data, &msg) == nil {
			mu.Lock()
			got = append(got, msg)
			mu.Unlock()
		}
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(conn.Flush()).To(Succeed())
	return func() []logstream.Message {
		mu.Lock()
		defer mu.Unlock()
		return append([]logstream.Message(nil), got...)
	}
}

// lines are the messages' texts.
func lines(msgs []logstream.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Message)
	}
	return out
}

// every calls f every interval, one call after the other on a goroutine of its own, until the
// returned stop is called or the spec ends; stop returns once the last call has.
func every(interval time.Duration, f func()) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-time.After(interval):
			}
			f()
		}
	}()
	stop = sync.OnceFunc(func() { close(quit); <-done })
	DeferCleanup(stop)
	return stop
}
