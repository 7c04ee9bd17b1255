package gardenrunc_test

import (
	"net"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/gardenrunc"
)

var _ = Describe("PoolOverlap", func() {
	pool := func(cidr string) *net.IPNet {
		_, n, err := net.ParseCIDR(cidr)
		Expect(err).NotTo(HaveOccurred())
		return n
	}

	It("names the interface whose network overlaps the pool", func() {
		// loopback's 127.0.0.1/8 holds the pool, and the pool holds a /32 within it
		Expect(gardenrunc.PoolOverlap(pool("127.3.0.0/24"))).To(Equal("lo (127.0.0.1/8)"))
		Expect(gardenrunc.PoolOverlap(pool("127.0.0.0/4"))).To(HavePrefix("lo ("))
	})

	It("skips the interfaces it is told to and says nothing for a free pool", func() {
		Expect(gardenrunc.PoolOverlap(pool("127.3.0.0/24"), "lo")).To(BeEmpty())
		Expect(gardenrunc.PoolOverlap(pool("198.18.255.0/24"))).To(BeEmpty())
	})
})
