package locket_test

import (
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/locket"
)

var _ = Describe("Presence", func() {
	var (
		prefix string
		cellID string
		key    string
	)

	newPresence := func(value string) ifrit.Runner {
		return locket.NewPresence(logger.With("runner", "presence"), client, key, []byte(value), testTTL, testRetry)
	}

	BeforeEach(func() {
		prefix = uniqueKey("presences/") + "/"
		cellID = "cell-z1-0"
		key = prefix + cellID
	})

	It("writes the value under a session that deletes it, is ready once written, and is listed by Presences", func() {
		p := start(newPresence(`{"cell_id":"cell-z1-0"}`))
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		e := kvGet(key)
		Expect(e).NotTo(BeNil())
		Expect(string(e.Value)).To(Equal(`{"cell_id":"cell-z1-0"}`))
		info := sessionInfoOf(e.Session)
		Expect(info.Behavior).To(Equal("delete"))
		Expect(time.Duration(info.LockDelay)).To(Equal(time.Millisecond))

		presences, err := client.Presences(prefix)
		Expect(err).NotTo(HaveOccurred())
		Expect(presences).To(Equal(map[string][]byte{cellID: []byte(`{"cell_id":"cell-z1-0"}`)}))
	})

	It("removes the key at once when signalled", func() {
		p := ifrit.Background(newPresence("v"))
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		p.Signal(os.Interrupt)
		Eventually(p.Wait(), 5*time.Second).Should(Receive(BeNil()))
		Expect(kvGet(key)).To(BeNil())
	})

	It("does not list keys no session holds", func() {
		code, body := consulDo("PUT", "/v1/kv/"+prefix+"stray", []byte("x"))
		Expect(code).To(Equal(200), string(body))
		presences, err := client.Presences(prefix)
		Expect(err).NotTo(HaveOccurred())
		Expect(presences).To(BeEmpty())
	})

	It("is re-created under a new session when its session is destroyed", func() {
		p := start(newPresence("v"))
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		old := holderOf(key)
		destroyed := time.Now()
		destroySession(old)
		Eventually(func() string { return holderOf(key) }, testTTL).ShouldNot(Or(BeEmpty(), Equal(old)))
		GinkgoWriter.Printf("presence re-created %s after its session was destroyed\n", time.Since(destroyed))
		Expect(string(kvGet(key).Value)).To(Equal("v"))
		Consistently(p.Wait(), testRetry).ShouldNot(Receive())
	})

	It("is re-created when the key is deleted", func() {
		p := start(newPresence("v"))
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		consulDo("DELETE", "/v1/kv/"+key, nil)
		Eventually(func() string { return holderOf(key) }, testTTL).ShouldNot(BeEmpty())
		Expect(string(kvGet(key).Value)).To(Equal("v"))
	})

	It("waits while another session holds the key and takes it once that session ends", func() {
		other := start(newPresence("other"))
		Eventually(other.Ready(), 5*time.Second).Should(BeClosed())
		p := start(newPresence("mine"))
		Consistently(p.Ready(), 3*testRetry).ShouldNot(BeClosed())
		other.Signal(os.Interrupt)
		Eventually(p.Ready(), 2*time.Second).Should(BeClosed())
		Expect(string(kvGet(key).Value)).To(Equal("mine"))
	})

	Context("across Consul outages", Serial, func() {
		It("reappears after Consul restarts, and after Consul was killed for longer than the TTL", func() {
			p := start(newPresence("v"))
			Eventually(p.Ready(), 5*time.Second).Should(BeClosed())

			restartConsul()
			Eventually(func() string { return holderOf(key) }, 2*testTTL).ShouldNot(BeEmpty())
			Expect(string(kvGet(key).Value)).To(Equal("v"))
			Consistently(p.Wait()).ShouldNot(Receive())

			Expect(consul.Kill()).To(Succeed())
			time.Sleep(testTTL + testRetry)
			Consistently(p.Wait()).ShouldNot(Receive())
			restartConsul()
			restarted := time.Now()
			Eventually(func() string { return holderOf(key) }, 3*testTTL).ShouldNot(BeEmpty())
			GinkgoWriter.Printf("presence present %s after Consul came back from a kill\n", time.Since(restarted))
			Expect(string(kvGet(key).Value)).To(Equal("v"))
			Consistently(p.Wait(), testTTL).ShouldNot(Receive())
			// It stays: its session is renewed.
			Expect(holderOf(key)).NotTo(BeEmpty())
		})

		It("is re-created when Consul comes back without its data (every session and key gone)", func() {
			p := start(newPresence("v"))
			Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
			svc := start(locket.NewServiceRegistration(logger, client, locket.Registration{Name: "wiped-svc", Port: 1}, testTTL))
			Eventually(svc.Ready(), 5*time.Second).Should(BeClosed())
			old := holderOf(key)

			Expect(consul.Kill()).To(Succeed())
			Expect(os.RemoveAll(consul.DataDir())).To(Succeed())
			restartConsul()
			restarted := time.Now()
			Eventually(func() string { return holderOf(key) }, 3*testTTL).ShouldNot(Or(BeEmpty(), Equal(old)))
			GinkgoWriter.Printf("presence re-created %s after Consul came back empty\n", time.Since(restarted))
			Expect(string(kvGet(key).Value)).To(Equal("v"))
			Eventually(func() string {
				_, body := consulDo("GET", "/v1/health/service/wiped-svc?passing=1", nil)
				return string(body)
			}, 3*testTTL).Should(ContainSubstring(`"Service":"wiped-svc"`))
			GinkgoWriter.Printf("service registered again %s after Consul came back empty\n", time.Since(restarted))
			Consistently(p.Wait()).ShouldNot(Receive())
		})
	})
})
