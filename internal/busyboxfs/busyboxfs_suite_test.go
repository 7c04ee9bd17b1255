package busyboxfs_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestBusyboxfs(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "internal/busyboxfs Suite")
}
