package main_test

import (
	"context"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/tlsconfig"
)

var _ = Describe("the bbs daemon and etcd over mutual TLS", func() {
	var tlsEtcd *testservers.Etcd
	etcdFiles := func() map[string]any {
		return map[string]any{
			"etcd_endpoints": []string{tlsEtcd.ClientURL()},
			"etcd_ca_file":   certs.CACert, "etcd_cert_file": certs.ClientCert, "etcd_key_file": certs.ClientKey,
		}
	}

	BeforeEach(func() {
		var err error
		tlsEtcd, err = testservers.StartEtcdTLS(filepath.Join(GinkgoT().TempDir(), "etcd-tls"), testservers.EtcdTLS{
			CAFile: certs.CACert, CertFile: certs.ServerCert, KeyFile: certs.ServerKey,
			ClientCertFile: certs.ClientCert, ClientKeyFile: certs.ClientKey,
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = tlsEtcd.Stop() })
	})

	It("stores through etcd's https endpoint with the configured client certificate", func() {
		p := writeConfig(map[string]string{"k1": "pass-1"}, "k1", etcdFiles()).start()
		DeferCleanup(func() { p.session.Interrupt().Wait("10s") })
		Eventually(func() bool { return pingOK(p) }, "20s", "50ms").Should(BeTrue())
		ctx := context.Background()
		Expect(clientFor(p).DesireLRP(ctx, desired("over-tls"))).To(Succeed())

		clientTLS, err := tlsconfig.Client(certs.ClientCert, certs.ClientKey, certs.CACert)
		Expect(err).NotTo(HaveOccurred())
		cli, err := db.NewEtcdClient([]string{tlsEtcd.ClientURL()}, 5*time.Second, clientTLS)
		Expect(err).NotTo(HaveOccurred())
		defer cli.Close()
		resp, err := cli.Get(ctx, db.DesiredSchedPrefix+"over-tls")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Kvs).To(HaveLen(1))
	})

	It("cannot reach etcd with a client certificate etcd does not trust", func() {
		cfg := etcdFiles()
		cfg["etcd_cert_file"], cfg["etcd_key_file"] = certs.UntrustedClientCert, certs.UntrustedClientKey
		p := writeConfig(map[string]string{"k1": "pass-1"}, "k1", cfg).start()
		DeferCleanup(func() { p.session.Kill().Wait("10s") })
		Consistently(func() bool { return pingOK(p) }, "3s", "200ms").Should(BeFalse())
	})

	It("refuses an https endpoint without the etcd TLS files, and the files with an http endpoint", func() {
		for _, extra := range []map[string]any{
			{"etcd_endpoints": []string{tlsEtcd.ClientURL()}},
			{"etcd_ca_file": certs.CACert, "etcd_cert_file": certs.ClientCert},
			{"etcd_ca_file": certs.CACert, "etcd_cert_file": certs.ClientCert, "etcd_key_file": certs.ClientKey},
		} {
			s := daemontest.Start(bbsPath, "-config", writeConfig(map[string]string{"k1": "pass-1"}, "k1", extra).cfgPath)
			Eventually(s).Should(gexec.Exit(2))
			Expect(string(s.Err.Contents())).To(ContainSubstring("etcd_"))
		}
	})
})
