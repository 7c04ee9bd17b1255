package main_test

import (
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/rep/reptest"
	"github.com/diego-go/diego/tlsconfig"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

func TestAuctioneerCmd(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "cmd/auctioneer Suite")
}

// Short timings: Consul runs with session_ttl_min 1s (testservers).
const (
	lockTTL   = 2 * time.Second
	lockRetry = 500 * time.Millisecond
)

var (
	auctioneerPath string
	bbsPath        string
	etcd           *testservers.Etcd
	consul         *testservers.Consul
	consulClient   *locket.Client
	certs          tlstest.Files
	logger         *slog.Logger
)

var _ = BeforeSuite(func() {
	dir, err := os.MkdirTemp("", "auctioneer-cmd-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	logger = slog.New(slog.NewJSONHandler(GinkgoWriter, nil))

	// The two daemons.
	bins := daemontest.Build("github.com/diego-go/diego/cmd/auctioneer", "github.com/diego-go/diego/cmd/bbs")
	auctioneerPath, bbsPath = bins[0], bins[1]

	certDir := filepath.Join(dir, "certs")
	Expect(os.MkdirAll(certDir, 0o755)).To(Succeed())
	certs, err = tlstest.Generate(certDir)
	Expect(err).NotTo(HaveOccurred())

	consul, err = testservers.StartConsul(filepath.Join(dir, "consul"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = consul.Stop() })
	consulClient, err = locket.NewClient(consul.HTTPAddr())
	Expect(err).NotTo(HaveOccurred())
	etcd, err = testservers.StartEtcd(filepath.Join(dir, "etcd"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = etcd.Stop() })
})

var _ = AfterEach(func() {
	if CurrentSpecReport().Failed() && consul != nil {
		logs := consul.Logs()
		if len(logs) > 3000 {
			logs = logs[len(logs)-3000:]
		}
		GinkgoWriter.Printf("--- consul log tail:\n%s\n", logs)
	}
})

// daemon is one process this suite started (daemontest.Start: killed by its pid when the spec
// ends, whatever happened, and dies with the test binary).
type daemon struct {
	session *gexec.Session
	api     string
	health  string
	metrics string
}

// startAuctioneer starts cmd/auctioneer reporting to bbsURL.
func startAuctioneer(bbsURL string, extra map[string]any) *daemon {
	GinkgoHelper()
	d := &daemon{api: daemontest.FreeAddr(), health: daemontest.FreeAddr(), metrics: daemontest.FreeAddr()}
	cfg := map[string]any{
		"listen_address":      d.api,
		"health_address":      d.health,
		"metrics_address":     d.metrics,
		"ca_file":             certs.CACert,
		"cert_file":           certs.ServerCert,
		"key_file":            certs.ServerKey,
		"consul_address":      consul.HTTPAddr(),
		"lock_ttl":            lockTTL.String(),
		"lock_retry_interval": lockRetry.String(),
		"bbs_url":             bbsURL,
		"bbs_ca_file":         certs.CACert,
		"bbs_cert_file":       certs.ClientCert,
		"bbs_key_file":        certs.ClientKey,
		"cell_state_timeout":  "500ms",
		"log_level":           "debug",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	d.session = daemontest.Start(auctioneerPath, "-config", daemontest.WriteConfig(cfg))
	return d
}

// startBBS starts cmd/bbs listening on apiAddr, asking the auctioneer at auctioneerAddr for
// auctions.
func startBBS(apiAddr, auctioneerAddr string) *daemon {
	GinkgoHelper()
	d := &daemon{api: apiAddr, health: daemontest.FreeAddr()}
	d.session = daemontest.Start(bbsPath, "-config", daemontest.WriteConfig(daemontest.BBSConfig(d.api, etcd.ClientURL(), consul.HTTPAddr(), certs, map[string]any{
		"health_address":       d.health,
		"auctioneer_url":       "https://" + auctioneerAddr,
		"auctioneer_ca_file":   certs.CACert,
		"auctioneer_cert_file": certs.ClientCert,
		"auctioneer_key_file":  certs.ClientKey,
		// the BBS's own loop at upstream's interval, as these specs always ran it
		"convergence_interval": "30s",
	})))
	return d
}

func clientTLS() *tls.Config {
	GinkgoHelper()
	c, err := tlsconfig.Client(certs.ClientCert, certs.ClientKey, certs.CACert)
	Expect(err).NotTo(HaveOccurred())
	return c
}

func (d *daemon) healthz() (daemontest.Health, error) {
	return daemontest.HealthOf(d.health, "/healthz")
}

// startRep starts a test rep and keeps its presence in Consul until the spec ends.
func startRep(id string, opts reptest.Options) *reptest.Rep {
	GinkgoHelper()
	rep := reptest.New(id, opts)
	DeferCleanup(rep.Close)
	reptest.RegisterPresence(logger, consulClient, id, rep.URL(), lockTTL, lockRetry)
	return rep
}
