package repclient_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestRepclient(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Repclient Suite")
}
