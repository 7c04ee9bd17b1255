package routeemitter

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/router"
)

var _ = Describe("the register interval", func() {
	asks := func(seconds int) router.RouterStart {
		return router.RouterStart{ID: "r", MinimumRegisterIntervalInSeconds: seconds}
	}

	It("is the configured one until a router asks, then the first router's, even when longer", func() {
		r := registerInterval{d: 20 * time.Second}
		Expect(r.adopt(asks(30))).To(BeTrue())
		Expect(r.d).To(Equal(30 * time.Second))
	})

	It("then keeps the smallest any router asked for", func() {
		r := registerInterval{d: 20 * time.Second}
		r.adopt(asks(30))
		Expect(r.adopt(asks(10))).To(BeTrue())
		Expect(r.adopt(asks(15))).To(BeFalse())
		Expect(r.adopt(asks(10))).To(BeFalse())
		Expect(r.d).To(Equal(10 * time.Second))
	})

	It("ignores a router that asks for none", func() {
		r := registerInterval{d: 20 * time.Second}
		Expect(r.adopt(asks(0))).To(BeFalse())
		Expect(r.adopt(asks(-1))).To(BeFalse())
		Expect(r.d).To(Equal(20 * time.Second))
		Expect(r.adopt(asks(40))).To(BeTrue(), "the first router that asks still replaces the configured one")
	})

	It("spreads the answers to a router.start over a fifth of the interval, at most a second", func() {
		Expect((&registerInterval{d: 2 * time.Second}).startJitter()).To(Equal(400 * time.Millisecond))
		Expect((&registerInterval{d: 20 * time.Second}).startJitter()).To(Equal(time.Second))
	})
})
