package main_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

func TestLocal(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "deploy/local Suite")
}

// bin is the command built once.
var bin string

var _ = BeforeSuite(func() {
	var err error
	bin, err = gexec.Build("github.com/diego-go/diego/deploy/local")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(gexec.CleanupBuildArtifacts)
})
