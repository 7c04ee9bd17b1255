package repo_test

import (
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/internal/repo"
)

var _ = Describe("BinPath", func() {
	It("finds the binaries make deps built", func() {
		for _, name := range []string{"etcd", "consul", "nats-server"} {
			p, err := repo.BinPath(name)
			Expect(err).NotTo(HaveOccurred())
			Expect(p).To(BeAnExistingFile())
		}
	})

	It("says to run make deps when a binary is missing", func() {
		GinkgoT().Setenv(repo.DepsBinEnv, GinkgoT().TempDir())
		_, err := repo.BinPath("etcd")
		Expect(err).To(MatchError(ContainSubstring("run make deps")))
	})
})

var _ = Describe("RepoRoot", func() {
	It("finds the repository root from a package directory", func() {
		root, err := repo.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		Expect(filepath.Join(root, "go.mod")).To(BeAnExistingFile())
		Expect(filepath.Join(root, "internal", "repo")).To(BeADirectory())
	})
})
