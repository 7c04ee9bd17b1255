package gardentest_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestGardentest(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Gardentest Suite")
}
