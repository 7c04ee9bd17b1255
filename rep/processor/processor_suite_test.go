package processor_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/internal/bbstest"
)

func TestProcessor(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Processor Suite")
}

var realBBS *bbstest.BBS

var _ = BeforeSuite(func() {
	realBBS = bbstest.Start(nil)
})
