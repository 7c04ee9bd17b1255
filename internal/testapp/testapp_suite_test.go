package main_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

func TestTestapp(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Testapp Suite")
}

var bin string

var _ = BeforeSuite(func() {
	var err error
	bin, err = gexec.Build("github.com/diego-go/diego/internal/testapp")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(gexec.CleanupBuildArtifacts)
})
