package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/reptest"
	"github.com/diego-go/diego/routeemitter/cfroutes"
	"github.com/diego-go/diego/router"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

func TestRouteEmitterCmd(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "cmd/route-emitter Suite")
}

// Short timings: Consul runs with session_ttl_min 1s (testservers).
const (
	lockTTL   = 2 * time.Second
	lockRetry = 500 * time.Millisecond
	// the cell this suite plays
	cellID = "emitter-cell"
	domain = "emitter-apps"
)

var (
	emitterPath, bbsPath, routerPath string
	natsServer                       *testservers.NATS
	consul                           *testservers.Consul
	certs                            tlstest.Files
	etcdURL                          string

	// the spec's BBS
	bbsAPI, bbsURL string
	bbsSession     *gexec.Session
	bbsClient      *bbs.Client
)

var _ = BeforeSuite(func() {
	dir, err := os.MkdirTemp("", "route-emitter-cmd-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	logger := slog.New(slog.NewJSONHandler(GinkgoWriter, nil))

	bins := daemontest.Build("github.com/diego-go/diego/cmd/route-emitter", "github.com/diego-go/diego/cmd/bbs", "github.com/diego-go/diego/cmd/router")
	emitterPath, bbsPath, routerPath = bins[0], bins[1], bins[2]

	certDir := filepath.Join(dir, "certs")
	Expect(os.MkdirAll(certDir, 0o755)).To(Succeed())
	certs, err = tlstest.Generate(certDir)
	Expect(err).NotTo(HaveOccurred())

	consul, err = testservers.StartConsul(filepath.Join(dir, "consul"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = consul.Stop() })
	etcd, err := testservers.StartEtcd(filepath.Join(dir, "etcd"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = etcd.Stop() })
	natsServer, err = testservers.StartNATS(filepath.Join(dir, "nats"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = natsServer.Stop() })

	// The cell this suite plays is present, so nothing it runs is converged away.
	consulClient, err := locket.NewClient(consul.HTTPAddr())
	Expect(err).NotTo(HaveOccurred())
	reptest.RegisterPresence(logger, consulClient, cellID, "http://127.0.0.1:1", lockTTL, lockRetry)
	etcdURL = etcd.ClientURL()
})

// Each spec has its own BBS (on the suite's etcd), so a spec may kill it.
var _ = BeforeEach(func() {
	bbsAPI = daemontest.FreeAddr()
	bbsSession = startBBS()
	bbsURL = "https://" + bbsAPI
	bbsClient = daemontest.ConnectBBS(bbsURL, certs)
	Expect(bbsClient.UpsertDomain(context.Background(), domain, 0)).To(Succeed())
})

// startBBS starts the BBS on bbsAPI, without an auctioneer (the specs claim and start the
// instances themselves) and without a convergence loop.
func startBBS() *gexec.Session {
	GinkgoHelper()
	return daemontest.Start(bbsPath, "-config", daemontest.WriteConfig(daemontest.BBSConfig(bbsAPI, etcdURL, consul.HTTPAddr(), certs, nil)))
}

// emitter is one route-emitter process this suite started (daemontest.Start: stopped by its pid
// when the spec ends).
type emitter struct {
	session *gexec.Session
	health  string
	metrics string
}

func startEmitter(extra map[string]any) *emitter {
	GinkgoHelper()
	e := &emitter{health: daemontest.FreeAddr(), metrics: daemontest.FreeAddr()}
	cfg := map[string]any{
		"health_address":      e.health,
		"metrics_address":     e.metrics,
		"consul_address":      consul.HTTPAddr(),
		"lock_ttl":            lockTTL.String(),
		"lock_retry_interval": lockRetry.String(),
		"bbs_url":             bbsURL,
		"bbs_ca_file":         certs.CACert,
		"bbs_cert_file":       certs.ClientCert,
		"bbs_key_file":        certs.ClientKey,
		"nats_urls":           []string{natsServer.URL()},
		"log_level":           "debug",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	e.session = daemontest.Start(emitterPath, "-config", daemontest.WriteConfig(cfg))
	return e
}

func (e *emitter) healthz() (daemontest.Health, error) {
	return daemontest.HealthOf(e.health, "/healthz")
}

func (e *emitter) metric(name string) float64 { return daemontest.Metric(e.metrics, name) }

// synced waits for the emitter's first full sync.
func (e *emitter) synced() {
	GinkgoHelper()
	Eventually(func() float64 { return e.metric(`route_emitter_syncs_total{result="ok"}`) }, 20*time.Second, 50*time.Millisecond).
		Should(BeNumerically(">=", 1))
}

// heard is one message the spy received.
type heard struct {
	subject string
	at      time.Time
	raw     []byte
	msg     router.RegistryMessage
}

// routerSpy plays a router on NATS: it records register and unregister messages and answers
// router.greet with its register interval.
type routerSpy struct {
	conn *nats.Conn
	mu   sync.Mutex
	got  []heard
	// greets counts the greetings received
	greets int
}

func newRouterSpy(registerIntervalSeconds int) *routerSpy {
	GinkgoHelper()
	return newRouterSpyOn(natsServer.URL(), registerIntervalSeconds)
}

// newRouterSpyOn is a router spy on the NATS server at url.
func newRouterSpyOn(url string, registerIntervalSeconds int) *routerSpy {
	GinkgoHelper()
	conn, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(conn.Close)
	s := &routerSpy{conn: conn}
	for _, subject := range []string{router.RegisterSubject, router.UnregisterSubject} {
		_, err := conn.Subscribe(subject, func(m *nats.Msg) {
			h := heard{subject: m.Subject, at: time.Now(), raw: m.Data}
			// a message that does not decode has no uris: no spec finds it
			_ = json.Unmarshal(m.Data, &h.msg)
			s.mu.Lock()
			s.got = append(s.got, h)
			s.mu.Unlock()
		})
		Expect(err).NotTo(HaveOccurred())
	}
	answer, _ := json.Marshal(router.RouterStart{ID: "spy", Hosts: []string{"127.0.0.1"}, MinimumRegisterIntervalInSeconds: registerIntervalSeconds, PruneThresholdInSeconds: 120})
	_, err = conn.Subscribe(router.GreetSubject, func(m *nats.Msg) {
		s.mu.Lock()
		s.greets++
		s.mu.Unlock()
		_ = conn.Publish(m.Reply, answer)
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(conn.Flush()).To(Succeed())
	return s
}

// messages are the messages on subject for hostname, received after since.
func (s *routerSpy) messages(subject, hostname string, since time.Time) []heard {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []heard
	for _, h := range s.got {
		if h.subject == subject && h.at.After(since) && len(h.msg.URIs) == 1 && h.msg.URIs[0] == hostname {
			out = append(out, h)
		}
	}
	return out
}

// instances are the private instance indices of the messages, in order, without repeats.
func instances(hs []heard) []string {
	var out []string
	seen := map[string]bool{}
	for _, h := range hs {
		if !seen[h.msg.PrivateInstanceIndex] {
			seen[h.msg.PrivateInstanceIndex] = true
			out = append(out, h.msg.PrivateInstanceIndex)
		}
	}
	return out
}

// desire desires guid with instances, its container port 8080 routed from hostname.
func desire(guid, hostname string, instances int32) {
	GinkgoHelper()
	desireRoutes(guid, fmt.Sprintf(`[{"hostnames":[%q],"port":8080}]`, hostname), instances)
}

// desireRoutes desires guid with instances and cfRouter as its "cf-router" routes, written here
// as a client sends them rather than encoded by the routing table it checks.
func desireRoutes(guid, cfRouter string, instances int32) {
	GinkgoHelper()
	Expect(bbsClient.DesireLRP(context.Background(), &models.DesiredLRP{
		ProcessGuid: guid,
		Domain:      domain,
		LogGuid:     "log-" + guid,
		RootFs:      "preloaded:cflinuxfs4",
		Instances:   instances,
		MemoryMb:    64,
		DiskMb:      64,
		Ports:       []uint32{8080},
		Action:      &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/app", User: "vcap"}}},
		Routes:      &models.Routes{Routes: map[string][]byte{cfroutes.Key: []byte(cfRouter)}},
		MetricTags:  map[string]*models.MetricTagValue{"source_id": {Static: "app-" + guid}},
	})).To(Succeed())
}

func instanceKey(guid string, index int32) *models.ActualLRPInstanceKey {
	return &models.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("%s-%d", guid, index), CellId: cellID}
}

func lrpKey(guid string, index int32) *models.ActualLRPKey {
	return &models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: domain}
}

// start plays the cell: claims instance index of guid as <guid>-<index> and starts it at
// 127.0.0.1 with container port 8080 mapped to host port 61000+index; routable nil leaves the
// flag unset.
func start(guid string, index int32, routable *bool) {
	GinkgoHelper()
	startAs(instanceKey(guid, index), lrpKey(guid, index), 61000+uint32(index), routable)
}

// startAs claims and starts the instance at key as ik with host port hostPort.
func startAs(ik *models.ActualLRPInstanceKey, key *models.ActualLRPKey, hostPort uint32, routable *bool) {
	GinkgoHelper()
	ctx := context.Background()
	Expect(bbsClient.ClaimActualLRP(ctx, key.GetProcessGuid(), key.GetIndex(), ik)).To(Succeed())
	Expect(bbsClient.StartActualLRP(ctx, &models.StartActualLRPRequest{
		ActualLrpKey:         key,
		ActualLrpInstanceKey: ik,
		ActualLrpNetInfo:     netInfo(hostPort),
		Routable:             routable,
		AvailabilityZone:     "z1",
	})).To(Succeed())
}

func netInfo(hostPort uint32) *models.ActualLRPNetInfo {
	return &models.ActualLRPNetInfo{Address: "127.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: hostPort}}}
}

func ptr[T any](v T) *T { return &v }
