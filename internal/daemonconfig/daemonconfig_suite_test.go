package daemonconfig_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestDaemonconfig(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "internal/daemonconfig Suite")
}
