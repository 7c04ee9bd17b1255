package main_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/internal/daemontest"
)

func TestFileServerCmd(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "cmd/file-server Suite")
}

var fileServerPath string

var _ = BeforeSuite(func() {
	fileServerPath = daemontest.Build("github.com/diego-go/diego/cmd/file-server")[0]
})
