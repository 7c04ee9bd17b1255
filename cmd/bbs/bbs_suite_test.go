package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

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
	var err error
	bbsPath, err = gexec.Build("github.com/diego-go/diego/cmd/bbs")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(gexec.CleanupBuildArtifacts)

	dir := GinkgoT().TempDir()
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

func freeAddr() string {
	p, err := testservers.FreePort()
	Expect(err).NotTo(HaveOccurred())
	return fmt.Sprintf("127.0.0.1:%d", p)
}

// writeConfig writes a config for one BBS and returns its path and addresses.
func writeConfig(keys map[string]string, active string, extra map[string]any) *bbsProc {
	p := &bbsProc{api: freeAddr(), health: freeAddr(), metrics: freeAddr()}
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
	b, err := json.Marshal(cfg)
	Expect(err).NotTo(HaveOccurred())
	f, err := os.CreateTemp(GinkgoT().TempDir(), "bbs-*.json")
	Expect(err).NotTo(HaveOccurred())
	_, err = f.Write(b)
	Expect(err).NotTo(HaveOccurred())
	Expect(f.Close()).To(Succeed())
	p.cfgPath = f.Name()
	return p
}

func (p *bbsProc) start() *bbsProc {
	var err error
	p.session, err = gexec.Start(exec(bbsPath, "-config", p.cfgPath), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	s := p.session
	DeferCleanup(func() { s.Kill().Wait(5 * time.Second) })
	return p
}

func startBBS(keys map[string]string, active string) *bbsProc {
	return writeConfig(keys, active, nil).start()
}
