package dashboard_test

import (
	"crypto/tls"
	"log/slog"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/bbstest"
	"github.com/diego-go/diego/locket"
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
	b := bbstest.Start(nil)
	bbsClient, bbsURL, bbsTLS, consulClient = b.Client, b.URL, b.TLS, b.Locket
})
