package cellrep_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestCellrep(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Cellrep Suite")
}
