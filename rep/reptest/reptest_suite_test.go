package reptest_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestReptest(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Reptest Suite")
}
