package main_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

func TestConvergerCmd(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "cmd/converger Suite")
}

// Short timings: Consul runs with session_ttl_min 1s (testservers).
const (
	lockTTL   = 2 * time.Second
	lockRetry = 500 * time.Millisecond
)

var (
	convergerPath string
	consul        *testservers.Consul
	consulClient  *locket.Client
	certs         tlstest.Files
	// the suite's BBS: convergence_interval 0, so every pass it makes is one a converger asked for
	bbsURL     string
	bbsClient  *bbs.Client
	bbsMetrics string
)

var _ = BeforeSuite(func() {
	dir, err := os.MkdirTemp("", "converger-cmd-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)

	bins := daemontest.Build("github.com/diego-go/diego/cmd/converger", "github.com/diego-go/diego/cmd/bbs")
	convergerPath = bins[0]

	certDir := filepath.Join(dir, "certs")
	Expect(os.MkdirAll(certDir, 0o755)).To(Succeed())
	certs, err = tlstest.Generate(certDir)
	Expect(err).NotTo(HaveOccurred())

	consul, err = testservers.StartConsul(filepath.Join(dir, "consul"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = consul.Stop() })
	consulClient, err = locket.NewClient(consul.HTTPAddr())
	Expect(err).NotTo(HaveOccurred())
	etcd, err := testservers.StartEtcd(filepath.Join(dir, "etcd"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = etcd.Stop() })

	api := daemontest.FreeAddr()
	bbsMetrics = daemontest.FreeAddr()
	daemontest.Start(bins[1], "-config", daemontest.WriteConfig(daemontest.BBSConfig(api, etcd.ClientURL(), consul.HTTPAddr(), certs,
		map[string]any{"metrics_address": bbsMetrics})))
	bbsURL = "https://" + api
	bbsClient = daemontest.ConnectBBS(bbsURL, certs)
})

// converger is one cmd/converger process this suite started (daemontest.Start: stopped when the
// spec ends, whatever happened).
type converger struct {
	session *gexec.Session
	health  string
	metrics string
}

// startConverger starts cmd/converger against the suite's BBS, with extra keys over its config.
func startConverger(extra map[string]any) *converger {
	GinkgoHelper()
	c := &converger{health: daemontest.FreeAddr(), metrics: daemontest.FreeAddr()}
	cfg := map[string]any{
		"health_address":       c.health,
		"metrics_address":      c.metrics,
		"consul_address":       consul.HTTPAddr(),
		"lock_ttl":             lockTTL.String(),
		"lock_retry_interval":  lockRetry.String(),
		"bbs_url":              bbsURL,
		"bbs_ca_file":          certs.CACert,
		"bbs_cert_file":        certs.ClientCert,
		"bbs_key_file":         certs.ClientKey,
		"convergence_interval": "10m",
		"log_level":            "debug",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	c.session = daemontest.Start(convergerPath, "-config", daemontest.WriteConfig(cfg))
	return c
}
