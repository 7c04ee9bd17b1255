package locket_test

import (
	"errors"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/locket"
)

var _ = Describe("LockKey", func() {
	It("names locks under v1/locks/", func() {
		Expect(locket.LockKey("bbs_lock")).To(Equal("v1/locks/bbs_lock"))
		Expect(locket.CellPresenceKey("cell-1")).To(Equal("v1/presences/cells/cell-1"))
	})
})

var _ = Describe("Lock", func() {
	var key string
	// The bound the issue sets for a standby taking over.
	bound := time.Duration(float64(testTTL+testRetry) * 1.2)

	newLock := func(value string) ifrit.Runner {
		return locket.NewLock(logger.With("runner", value), client, locket.LockConfig{
			Key: key, Value: []byte(value), TTL: testTTL, RetryInterval: testRetry,
		})
	}

	BeforeEach(func() {
		key = locket.LockKey(uniqueKey("lock-"))
	})

	It("is ready only once held, with a session of TTL/2 and a 1ms lock delay, storing the value", func() {
		p := start(newLock("holder"))
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		e := kvGet(key)
		Expect(e).NotTo(BeNil())
		Expect(string(e.Value)).To(Equal("holder"))
		info := sessionInfoOf(e.Session)
		Expect(info).NotTo(BeNil())
		Expect(info.TTL).To(Equal("1s"))
		Expect(time.Duration(info.LockDelay)).To(Equal(time.Millisecond))
		Expect(info.Behavior).To(Equal("release"))
	})

	It("lets only one of two runners hold it; the standby takes over at once when the holder is signalled", func() {
		first := ifrit.Background(newLock("first"))
		Eventually(first.Ready(), 5*time.Second).Should(BeClosed())
		second := start(newLock("second"))
		Consistently(second.Ready(), 3*testRetry).ShouldNot(BeClosed())
		Expect(string(kvGet(key).Value)).To(Equal("first"))

		signalled := time.Now()
		first.Signal(os.Interrupt)
		Eventually(second.Ready(), bound).Should(BeClosed())
		took := time.Since(signalled)
		AddReportEntry("takeover after the holder was signalled", took.String())
		GinkgoWriter.Printf("takeover after signal: %s (bound %s)\n", took, bound)
		Expect(took).To(BeNumerically("<", bound))
		Eventually(first.Wait()).Should(Receive(BeNil()))
		Expect(string(kvGet(key).Value)).To(Equal("second"))
	})

	It("lets the standby take over within 1.2 x (TTL + retry interval) after the holder is killed (kill -9)", func() {
		helper := startHelper("lock", key)

		standby := start(newLock("standby"))
		Consistently(standby.Ready(), testTTL/2).ShouldNot(BeClosed())

		killed := time.Now()
		helper.Kill().Wait(5 * time.Second)
		Eventually(standby.Ready(), bound+time.Second).Should(BeClosed())
		took := time.Since(killed)
		AddReportEntry("takeover after the holder was killed", took.String())
		GinkgoWriter.Printf("takeover after kill -9: %s (bound %s)\n", took, bound)
		Expect(took).To(BeNumerically("<", bound))
		Expect(string(kvGet(key).Value)).To(Equal("standby"))
	})

	It("returns the lost-lock error when its session is destroyed out from under it", func() {
		p := ifrit.Background(newLock("holder"))
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		wait := p.Wait()

		destroyed := time.Now()
		destroySession(holderOf(key))
		var err error
		Eventually(wait, testTTL).Should(Receive(&err))
		GinkgoWriter.Printf("lock loss noticed after %s\n", time.Since(destroyed))
		Expect(err).To(MatchError(ContainSubstring("lost lock " + key)))
		Expect(errors.Is(err, locket.ErrLostLock)).To(BeTrue())
	})

	It("returns the lost-lock error when the key is deleted", func() {
		p := ifrit.Background(newLock("holder"))
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		wait := p.Wait()
		consulDo("DELETE", "/v1/kv/"+key, nil)
		var err error
		Eventually(wait, testTTL).Should(Receive(&err))
		Expect(errors.Is(err, locket.ErrLostLock)).To(BeTrue())
		Expect(err.Error()).To(ContainSubstring("deleted"))
	})

	It("keeps waiting without error while another holds it, and returns nil when signalled while waiting", func() {
		holder := start(newLock("holder"))
		Eventually(holder.Ready(), 5*time.Second).Should(BeClosed())
		waiter := ifrit.Background(newLock("waiter"))
		Consistently(waiter.Wait(), 2*testTTL).ShouldNot(Receive())
		waiter.Signal(os.Interrupt)
		Eventually(waiter.Wait(), 5*time.Second).Should(Receive(BeNil()))
		Expect(waiter.Ready()).NotTo(BeClosed())
		Expect(string(kvGet(key).Value)).To(Equal("holder"))
	})

	It("defaults TTL 15s, retry 5s and lock delay 1ms", func() {
		p := start(locket.NewLock(logger, client, locket.LockConfig{Key: key}))
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		info := sessionInfoOf(holderOf(key))
		Expect(info.TTL).To(Equal("7.5s"))
		Expect(time.Duration(info.LockDelay)).To(Equal(time.Millisecond))
	})

	It("falls back to a session of the full TTL when the agent refuses TTL/2", func() {
		// The suite's agent has session_ttl_min 1s: TTL/2 = 500ms is refused.
		p := start(locket.NewLock(logger, client, locket.LockConfig{Key: key, TTL: time.Second, RetryInterval: testRetry}))
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		Expect(sessionInfoOf(holderOf(key)).TTL).To(Equal("1s"))
	})

	Context("when Consul is gone for longer than the TTL", Serial, func() {
		It("returns the lost-lock error within about the TTL", func() {
			p := ifrit.Background(newLock("holder"))
			Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
			wait := p.Wait()
			DeferCleanup(func() { restartConsul() })

			Expect(consul.Kill()).To(Succeed())
			gone := time.Now()
			var err error
			Eventually(wait, testTTL+2*time.Second).Should(Receive(&err))
			GinkgoWriter.Printf("lock given up %s after Consul was killed\n", time.Since(gone))
			Expect(errors.Is(err, locket.ErrLostLock)).To(BeTrue())
			Expect(err.Error()).To(ContainSubstring("unreachable"))
		})
	})
})
