package locket_test

import (
	"os"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/locket"
)

var _ = Describe("DiffPresences", func() {
	b := func(s string) []byte { return []byte(s) }
	DescribeTable("computes who appeared, changed and vanished, ordered by name",
		func(old, new map[string][]byte, want []locket.PresenceChange) {
			Expect(locket.DiffPresences(old, new)).To(Equal(want))
		},
		Entry("nothing to nothing", nil, nil, nil),
		Entry("equal maps", map[string][]byte{"a": b("1")}, map[string][]byte{"a": b("1")}, nil),
		Entry("appeared", nil, map[string][]byte{"a": b("1")},
			[]locket.PresenceChange{{Kind: locket.PresenceAppeared, Name: "a", Value: b("1")}}),
		Entry("vanished", map[string][]byte{"a": b("1")}, map[string][]byte{},
			[]locket.PresenceChange{{Kind: locket.PresenceVanished, Name: "a", OldValue: b("1")}}),
		Entry("changed", map[string][]byte{"a": b("1")}, map[string][]byte{"a": b("2")},
			[]locket.PresenceChange{{Kind: locket.PresenceChanged, Name: "a", Value: b("2"), OldValue: b("1")}}),
		Entry("empty value to nil is no change", map[string][]byte{"a": b("")}, map[string][]byte{"a": nil}, nil),
		Entry("all at once, by name",
			map[string][]byte{"c": b("3"), "a": b("1"), "d": b("4")},
			map[string][]byte{"b": b("2"), "a": b("1"), "d": b("5")},
			[]locket.PresenceChange{
				{Kind: locket.PresenceAppeared, Name: "b", Value: b("2")},
				{Kind: locket.PresenceVanished, Name: "c", OldValue: b("3")},
				{Kind: locket.PresenceChanged, Name: "d", Value: b("5"), OldValue: b("4")},
			}),
	)

	It("names the kinds", func() {
		Expect(locket.PresenceAppeared.String()).To(Equal("appeared"))
		Expect(locket.PresenceChanged.String()).To(Equal("changed"))
		Expect(locket.PresenceVanished.String()).To(Equal("vanished"))
	})
})

var _ = Describe("PresenceWatcher", func() {
	var (
		prefix  string
		mu      sync.Mutex
		changes []locket.PresenceChange
	)
	seen := func() []locket.PresenceChange {
		mu.Lock()
		defer mu.Unlock()
		return append([]locket.PresenceChange(nil), changes...)
	}
	presence := func(name, value string) ifrit.Process {
		return ifrit.Background(locket.NewPresence(logger, client, prefix+name, []byte(value), testTTL, testRetry))
	}

	BeforeEach(func() {
		prefix = uniqueKey("watched/") + "/"
		mu.Lock()
		changes = nil
		mu.Unlock()
	})

	It("reports the first listing as appearances before ready, then appear, change and vanish", func() {
		early := presence("cell-early", "e")
		DeferCleanup(func() { early.Signal(os.Interrupt); Eventually(early.Wait()).Should(Receive()) })
		Eventually(early.Ready(), 5*time.Second).Should(BeClosed())

		w := start(locket.NewPresenceWatcher(logger, client, prefix, func(c locket.PresenceChange) {
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, c)
		}))
		Eventually(w.Ready(), 5*time.Second).Should(BeClosed())
		Expect(seen()).To(Equal([]locket.PresenceChange{{Kind: locket.PresenceAppeared, Name: "cell-early", Value: []byte("e")}}))

		p := presence("cell-1", "one")
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		Eventually(seen, time.Second).Should(ContainElement(locket.PresenceChange{Kind: locket.PresenceAppeared, Name: "cell-1", Value: []byte("one")}))

		// Change the value through the holder's session (as a re-acquire by the holder does).
		sess := holderOf(prefix + "cell-1")
		code, body := consulDo("PUT", "/v1/kv/"+prefix+"cell-1?acquire="+sess, []byte("uno"))
		Expect(code).To(Equal(200), string(body))
		Eventually(seen, time.Second).Should(ContainElement(locket.PresenceChange{
			Kind: locket.PresenceChanged, Name: "cell-1", Value: []byte("uno"), OldValue: []byte("one"),
		}))

		vanished := time.Now()
		p.Signal(os.Interrupt)
		Eventually(p.Wait(), 5*time.Second).Should(Receive(BeNil()))
		Eventually(seen, time.Second).Should(ContainElement(locket.PresenceChange{Kind: locket.PresenceVanished, Name: "cell-1", OldValue: []byte("uno")}))
		GinkgoWriter.Printf("vanish reported %s after the presence was signalled\n", time.Since(vanished))
		Expect(seen()).To(HaveLen(4))
	})

	It("reports a presence whose session is destroyed as vanished", func() {
		var vanishedCh = make(chan string, 10)
		w := start(locket.NewPresenceWatcher(logger, client, prefix, func(c locket.PresenceChange) {
			if c.Kind == locket.PresenceVanished {
				vanishedCh <- c.Name
			}
		}))
		Eventually(w.Ready(), 5*time.Second).Should(BeClosed())
		p := presence("cell-2", "two")
		DeferCleanup(func() { p.Signal(os.Interrupt); Eventually(p.Wait()).Should(Receive()) })
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		// Stop the runner from re-creating it: signal it, but first destroy its session.
		destroySession(holderOf(prefix + "cell-2"))
		Eventually(vanishedCh, time.Second).Should(Receive(Equal("cell-2")))
	})

	It("reports a killed holder's presence as vanished within 1.2 x (TTL + retry interval)", func() {
		vanishedCh := make(chan string, 10)
		w := start(locket.NewPresenceWatcher(logger, client, prefix, func(c locket.PresenceChange) {
			if c.Kind == locket.PresenceVanished {
				vanishedCh <- c.Name
			}
		}))
		Eventually(w.Ready(), 5*time.Second).Should(BeClosed())
		helper := startHelper("presence", prefix+"cell-killed")
		killed := time.Now()
		helper.Kill().Wait(5 * time.Second)
		Eventually(vanishedCh, testTTL+time.Second).Should(Receive(Equal("cell-killed")))
		took := time.Since(killed)
		AddReportEntry("vanish reported after the presence holder was killed", took.String())
		GinkgoWriter.Printf("vanish reported %s after kill -9 of the presence holder\n", took)
		Expect(took).To(BeNumerically("<", time.Duration(float64(testTTL+testRetry)*1.2)))
	})

	Context("across an agent restart", Serial, func() {
		It("reports nothing while Consul is away and the presences survive", func() {
			w := start(locket.NewPresenceWatcher(logger, client, prefix, func(c locket.PresenceChange) {
				mu.Lock()
				defer mu.Unlock()
				changes = append(changes, c)
			}))
			p := presence("cell-3", "three")
			DeferCleanup(func() { p.Signal(os.Interrupt); Eventually(p.Wait()).Should(Receive()) })
			Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
			Eventually(w.Ready(), 5*time.Second).Should(BeClosed())
			Eventually(seen).Should(HaveLen(1))

			Expect(consul.Kill()).To(Succeed())
			time.Sleep(testTTL / 2)
			restartConsul()
			Consistently(seen, testTTL).Should(HaveLen(1))
			Expect(w.Wait()).NotTo(Receive())
		})
	})
})
