package main_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

func TestBBSCmd(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "cmd/bbs Suite")
}

const (
	lockTTL   = 2 * time.Second
	lockRetry = 500 * time.Millisecond
)

var (
	bbsPath string
	etcd    *testservers.Etcd
	consul  *testservers.Consul
	certs   tlstest.Files
)

var _ = BeforeSuite(func() {
	bbsPath = daemontest.Build("github.com/diego-go/diego/cmd/bbs")[0]

	dir := GinkgoT().TempDir()
	var err error
	etcd, err = testservers.StartEtcd(filepath.Join(dir, "etcd"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = etcd.Stop() })
	consul, err = testservers.StartConsul(filepath.Join(dir, "consul"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = consul.Stop() })
	certDir := filepath.Join(dir, "certs")
	Expect(os.MkdirAll(certDir, 0o755)).To(Succeed())
	certs, err = tlstest.Generate(certDir)
	Expect(err).NotTo(HaveOccurred())
})

type bbsProc struct {
	session *gexec.Session
	api     string
	health  string
	metrics string
	cfgPath string
}

// writeConfig writes a config for one BBS and returns its path and addresses.
func writeConfig(keys map[string]string, active string, extra map[string]any) *bbsProc {
	p := &bbsProc{api: daemontest.FreeAddr(), health: daemontest.FreeAddr(), metrics: daemontest.FreeAddr()}
	cfg := map[string]any{
		"listen_address":      p.api,
		"health_address":      p.health,
		"metrics_address":     p.metrics,
		"ca_file":             certs.CACert,
		"cert_file":           certs.ServerCert,
		"key_file":            certs.ServerKey,
		"etcd_endpoints":      []string{etcd.ClientURL()},
		"consul_address":      consul.HTTPAddr(),
		"lock_ttl":            lockTTL.String(),
		"lock_retry_interval": lockRetry.String(),
		"encryption_keys":     keys,
		"active_key_label":    active,
		"log_level":           "debug",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	p.cfgPath = daemontest.WriteConfig(cfg)
	return p
}

func (p *bbsProc) start() *bbsProc {
	p.session = daemontest.Start(bbsPath, "-config", p.cfgPath)
	return p
}

func startBBS(keys map[string]string, active string) *bbsProc {
	return writeConfig(keys, active, nil).start()
}
