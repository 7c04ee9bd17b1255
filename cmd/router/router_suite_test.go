package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/router"
)

func TestRouterCmd(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "cmd/router Suite")
}

var routerPath, testappPath, bareProxyPath string

var _ = BeforeSuite(func() {
	bins := daemontest.Build("github.com/diego-go/diego/cmd/router", "github.com/diego-go/diego/internal/testapp",
		"github.com/diego-go/diego/cmd/router/internal/bareproxy")
	routerPath, testappPath, bareProxyPath = bins[0], bins[1], bins[2]
})

// Each spec has its own NATS server (some restart it) and a client standing for the emitters.
var (
	natsServer *testservers.NATS
	emitter    *nats.Conn
)

var _ = BeforeEach(func() {
	var err error
	natsServer, err = testservers.StartNATS(GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = natsServer.Stop() })
	emitter, err = nats.Connect(natsServer.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(emitter.Close)
})

// routerProcess is a running router daemon.
type routerProcess struct {
	addr, health, metrics string
	accessLog             string
	session               *gexec.Session
}

// startRouter starts the router on free loopback ports with this spec's NATS, short timings
// and overrides on top, and waits until it answers GET /health 200 (unless wait is false).
func startRouter(overrides map[string]any, wait bool) routerProcess {
	GinkgoHelper()
	r := routerProcess{
		addr: daemontest.FreeAddr(), health: daemontest.FreeAddr(), metrics: daemontest.FreeAddr(),
		accessLog: GinkgoT().TempDir() + "/access.log",
	}
	cfg := map[string]any{
		"listen_address": r.addr, "health_address": r.health, "metrics_address": r.metrics,
		"nats_urls": []string{natsServer.URL()}, "access_log_path": r.accessLog, "log_level": "debug",
		"register_interval": "1s", "prune_threshold": "30s", "prune_interval": "1s",
		"endpoint_dial_timeout": "1s", "endpoint_timeout": "10s",
		// The spec stands for the emitters and answers router.start at once.
		"start_response_delay_interval": "100ms",
	}
	for k, v := range overrides {
		cfg[k] = v
	}
	r.session = daemontest.Start(routerPath, "-config", daemontest.WriteConfig(cfg))
	if wait {
		Eventually(r.healthStatus, 20*time.Second, 50*time.Millisecond).Should(Equal(http.StatusOK))
	}
	return r
}

func (r routerProcess) healthStatus() int { return daemontest.Status(r.health, "/health") }

// response is what a client got through the router.
type response struct {
	status int
	body   string
	header http.Header
	cookie []*http.Cookie
}

// instance is the test app instance that answered, whatever the path.
func (r response) instance() string { return r.header.Get("X-Testapp-Instance") }

// client is what the specs send requests with; no keep-alive pool is shared between specs.
func newClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
}

// do sends req to the router with Host host.
func (r routerProcess) do(c *http.Client, req *http.Request, host string) (response, error) {
	req.URL.Scheme, req.URL.Host = "http", r.addr
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, body: string(b), header: resp.Header, cookie: resp.Cookies()}, nil
}

func (r routerProcess) get(host, path string) response {
	GinkgoHelper()
	req, err := http.NewRequest(http.MethodGet, path, nil)
	Expect(err).NotTo(HaveOccurred())
	res, err := r.do(newClient(), req, host)
	Expect(err).NotTo(HaveOccurred())
	return res
}

// backend is a test app process on the host: it answers "<index> <guid>".
type backend struct {
	index   int
	guid    string
	port    uint16
	session *gexec.Session
}

func startBackend(index int) *backend {
	GinkgoHelper()
	port, err := testservers.FreePort()
	Expect(err).NotTo(HaveOccurred())
	b := &backend{index: index, guid: fmt.Sprintf("guid-%d-%d", index, port), port: uint16(port)}
	cmd := exec.Command(testappPath)
	cmd.Env = []string{fmt.Sprintf("PORT=%d", port), fmt.Sprintf("CF_INSTANCE_INDEX=%d", index), "CF_INSTANCE_GUID=" + b.guid}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	b.session, err = gexec.Start(cmd, nil, GinkgoWriter) // stdout: kept in b.session.Out
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { b.session.Kill().Wait(5 * time.Second) })
	Eventually(b.session, 10*time.Second).Should(gbytes.Say("testapp listening"))
	Eventually(func() bool { return daemontest.Listening(b.addr()) }, 10*time.Second).Should(BeTrue())
	return b
}

func (b *backend) addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// answer is what the backend says to GET /.
func (b *backend) answer() string { return fmt.Sprintf("%d %s", b.index, b.guid) }

// appGUID is the app every backend belongs to (X-CF-APP-INSTANCE wants a guid).
const appGUID = "5bd1e7d2-6e43-4b7e-9a0c-3c1f3a8d9e10"

// message is the registration an emitter sends for b under uris.
func (b *backend) message(uris ...string) router.RegistryMessage {
	return router.RegistryMessage{
		Host: "127.0.0.1", Port: b.port, URIs: uris, App: appGUID,
		PrivateInstanceID: b.guid, PrivateInstanceIndex: fmt.Sprint(b.index), ServerCertDomainSAN: b.guid,
		Tags: map[string]string{"component": "route-emitter"},
	}
}

func publish(subject string, m router.RegistryMessage) {
	GinkgoHelper()
	body, err := json.Marshal(m)
	Expect(err).NotTo(HaveOccurred())
	Expect(emitter.Publish(subject, body)).To(Succeed())
	Expect(emitter.Flush()).To(Succeed())
}

// answers waits until GET host/path through r answers want.
func answers(r routerProcess, host, path, want string) {
	GinkgoHelper()
	Eventually(func() string { return r.get(host, path).body }, 10*time.Second, 20*time.Millisecond).Should(Equal(want))
}

func (r routerProcess) metric(name string) float64 { return daemontest.Metric(r.metrics, name) }
