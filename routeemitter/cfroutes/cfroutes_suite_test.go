package cfroutes_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestCFRoutes(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "CFRoutes Suite")
}
