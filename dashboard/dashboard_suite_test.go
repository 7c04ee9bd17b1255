package dashboard_test

import (
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/tlsconfig"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

func TestDashboard(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Dashboard Suite")
}

// The server's specs run against a real BBS on real etcd and Consul.
var (
	bbsClient    *bbs.Client
	bbsURL       string
	bbsTLS       *tls.Config
	consulClient *locket.Client
	logger       *slog.Logger
)

var _ = BeforeSuite(func() {
	logger = slog.New(slog.NewTextHandler(GinkgoWriter, nil))
	dir, err := os.MkdirTemp("", "dashboard-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)

	bbsPath := daemontest.Build("github.com/diego-go/diego/cmd/bbs")[0]
	certDir := filepath.Join(dir, "certs")
	Expect(os.MkdirAll(certDir, 0o755)).To(Succeed())
	certs, err := tlstest.Generate(certDir)
	Expect(err).NotTo(HaveOccurred())

	consul, err := testservers.StartConsul(filepath.Join(dir, "consul"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = consul.Stop() })
	consulClient, err = locket.NewClient(consul.HTTPAddr())
	Expect(err).NotTo(HaveOccurred())
	etcd, err := testservers.StartEtcd(filepath.Join(dir, "etcd"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = etcd.Stop() })

	api := daemontest.FreeAddr()
	daemontest.Start(bbsPath, "-config", daemontest.WriteConfig(daemontest.BBSConfig(api, etcd.ClientURL(), consul.HTTPAddr(), certs, nil)))
	bbsURL = "https://" + api
	bbsClient = daemontest.ConnectBBS(bbsURL, certs)
	bbsTLS, err = tlsconfig.Client(certs.ClientCert, certs.ClientKey, certs.CACert)
	Expect(err).NotTo(HaveOccurred())
})
