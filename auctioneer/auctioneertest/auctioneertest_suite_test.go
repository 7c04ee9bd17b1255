package auctioneertest_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestAuctioneertest(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Auctioneer Test Server Suite")
}
