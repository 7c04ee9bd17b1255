package eventhub_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestEventHub(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Event Hub Suite")
}
