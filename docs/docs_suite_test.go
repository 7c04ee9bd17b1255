package docs_test

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

// TestDocs holds README.md and docs/ to the tree: the example configs load (and the daemons'
// start with theirs), each daemon's doc shows its example as it is and names every key of its
// config, links stay inside the repository and wire.md's route table is what the BBS serves.
func TestDocs(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "docs Suite")
}

var (
	bbsPath, auctioneerPath, convergerPath, fileServerPath, routerPath string
	etcd                                                               *testservers.Etcd
	consul                                                             *testservers.Consul
	// workDir holds certs/ and static/ as the examples name them; the daemons run in it.
	workDir string
	certs   tlstest.Files
)

var _ = BeforeSuite(func() {
	bins := daemontest.Build("github.com/diego-go/diego/cmd/bbs", "github.com/diego-go/diego/cmd/auctioneer", "github.com/diego-go/diego/cmd/converger",
		"github.com/diego-go/diego/cmd/file-server", "github.com/diego-go/diego/cmd/router")
	bbsPath, auctioneerPath, convergerPath, fileServerPath, routerPath = bins[0], bins[1], bins[2], bins[3], bins[4]

	dir := GinkgoT().TempDir()
	var err error
	etcd, err = testservers.StartEtcd(filepath.Join(dir, "etcd"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = etcd.Stop() })
	consul, err = testservers.StartConsul(filepath.Join(dir, "consul"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = consul.Stop() })

	workDir = filepath.Join(dir, "work")
	Expect(os.MkdirAll(filepath.Join(workDir, "certs"), 0o755)).To(Succeed())
	certs, err = tlstest.Generate(filepath.Join(workDir, "certs"))
	Expect(err).NotTo(HaveOccurred())
	Expect(os.Mkdir(filepath.Join(workDir, "static"), 0o755)).To(Succeed())
})
