package containerstore_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestContainerstore(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Containerstore Suite")
}
