package mbus_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/router"
	"github.com/diego-go/diego/router/mbus"
	"github.com/diego-go/diego/router/registry"
	"github.com/diego-go/diego/router/route"
)

var _ = Describe("Endpoint", func() {
	It("carries what the router uses from a register message", func() {
		e, err := mbus.Endpoint(router.RegistryMessage{
			Host: "10.0.16.4", Port: 61001, TLSPort: 61007, URIs: []string{"a.example.com"}, App: "log-guid",
			PrivateInstanceID: "ig-1", PrivateInstanceIndex: "2", ServerCertDomainSAN: "ig-1", AvailabilityZone: "z1",
			IsolationSegment: "iso", RouteServiceURL: "https://rs.example.com", StaleThresholdInSeconds: 30,
			EndpointUpdatedAtNs: 1000, Tags: map[string]string{"component": "route-emitter"},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(e).To(Equal(&route.Endpoint{
			Host: "10.0.16.4", Port: 61001, AppID: "log-guid", PrivateInstanceID: "ig-1", PrivateInstanceIndex: "2",
			AvailabilityZone: "z1", IsolationSegment: "iso", ServerCertDomainSAN: "ig-1",
			RouteServiceURL: "https://rs.example.com", Tags: map[string]string{"component": "route-emitter"},
			StaleThreshold: 30 * time.Second,
		}), "the instance's start time is not its registration time: UpdatedAt stays zero (now)")
	})

	It("names every problem of an invalid message", func() {
		_, err := mbus.Endpoint(router.RegistryMessage{RouteServiceURL: "http://rs.example.com", StaleThresholdInSeconds: -1})
		Expect(err).To(HaveOccurred())
		for _, want := range []string{"host is missing", "port is missing", "uris is missing",
			`route_service_url "http://rs.example.com" must be https`, "stale_threshold_in_seconds -1 is negative"} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
		_, err = mbus.Endpoint(router.RegistryMessage{Host: "h", Port: 1, URIs: []string{"a.example.com", ""}})
		Expect(err).To(MatchError("uris holds an empty uri"))
	})
})

var _ = Describe("Subscriber", func() {
	var (
		natsServer *testservers.NATS
		client     *nats.Conn
		reg        *registry.Registry
		logger     *slog.Logger
		starts     chan router.RouterStart
		announced  = router.RouterStart{ID: "r-1", Hosts: []string{"10.0.0.5"}, MinimumRegisterIntervalInSeconds: 20, PruneThresholdInSeconds: 120}
	)

	BeforeEach(func() {
		var err error
		natsServer, err = testservers.StartNATS(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = natsServer.Stop() })
		logger = slog.New(slog.NewJSONHandler(GinkgoWriter, nil))
		reg = registry.New(logger, time.Minute)

		// The client stands for an emitter: it publishes registrations and hears router.start.
		client, err = nats.Connect(natsServer.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(client.Close)
		starts = make(chan router.RouterStart, 10)
		_, err = client.Subscribe(router.StartSubject, func(m *nats.Msg) {
			var s router.RouterStart
			Expect(json.Unmarshal(m.Data, &s)).To(Succeed())
			starts <- s
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(client.Flush()).To(Succeed())
	})

	run := func() ifrit.Process {
		GinkgoHelper()
		s, err := mbus.NewSubscriber(logger, "router-spec", []string{natsServer.URL()}, reg, announced)
		Expect(err).NotTo(HaveOccurred())
		p := ifrit.Background(s)
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait(), 5*time.Second).Should(Receive(BeNil()))
		})
		return p
	}

	publish := func(subject, payload string) {
		GinkgoHelper()
		Expect(client.Publish(subject, []byte(payload))).To(Succeed())
		Expect(client.Flush()).To(Succeed())
	}

	addrs := func(host, path string) func() []string {
		return func() []string {
			pool := reg.Lookup(host, path)
			if pool == nil {
				return nil
			}
			it := pool.Iterator("", time.Minute)
			var out []string
			for range pool.Len() {
				out = append(out, it.Next(time.Now()).Addr())
			}
			return out
		}
	}

	It("registers and unregisters the endpoint of each message under each of its uris", func() {
		p := run()
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		publish(router.RegisterSubject, `{"host":"10.0.16.4","port":61001,"uris":["a.example.com","b.example.com/path"],`+
			`"app":"log-guid","private_instance_id":"ig-1","private_instance_index":"0","tags":{"component":"route-emitter"}}`)
		Eventually(addrs("a.example.com", "/")).Should(Equal([]string{"10.0.16.4:61001"}))
		Expect(addrs("b.example.com", "/path/x")()).To(Equal([]string{"10.0.16.4:61001"}))
		e := reg.Lookup("a.example.com", "/").FindAppInstance("log-guid", "0")
		Expect(e).NotTo(BeNil())
		Expect(e.PrivateInstanceID).To(Equal("ig-1"))

		publish(router.RegisterSubject, `{"host":"10.0.16.5","port":61002,"uris":["a.example.com"]}`)
		Eventually(addrs("a.example.com", "/")).Should(ConsistOf("10.0.16.4:61001", "10.0.16.5:61002"))

		publish(router.UnregisterSubject, `{"host":"10.0.16.4","port":61001,"uris":["a.example.com","b.example.com/path"]}`)
		Eventually(addrs("a.example.com", "/")).Should(Equal([]string{"10.0.16.5:61002"}))
		Eventually(func() *route.Pool { return reg.Lookup("b.example.com", "/path") }).Should(BeNil())
	})

	It("applies a register and the unregister after it in order", func() {
		p := run()
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		for range 200 {
			Expect(client.Publish(router.RegisterSubject, []byte(`{"host":"10.0.16.4","port":61001,"uris":["order.example.com"]}`))).To(Succeed())
			Expect(client.Publish(router.UnregisterSubject, []byte(`{"host":"10.0.16.4","port":61001,"uris":["order.example.com"]}`))).To(Succeed())
		}
		publish(router.RegisterSubject, `{"host":"10.0.16.9","port":1,"uris":["last.example.com"]}`)
		Eventually(addrs("last.example.com", "/")).ShouldNot(BeEmpty())
		Expect(reg.Lookup("order.example.com", "/")).To(BeNil())
	})

	It("drops invalid messages and goes on with the next", func() {
		p := run()
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		for _, bad := range []string{
			`not json`,
			`{"port":61001,"uris":["bad.example.com"]}`,
			`{"host":"10.0.16.4","uris":["bad.example.com"]}`,
			`{"host":"10.0.16.4","port":61001}`,
			`{"host":"10.0.16.4","port":61001,"uris":["bad.example.com"],"route_service_url":"http://rs.example.com"}`,
		} {
			publish(router.RegisterSubject, bad)
		}
		publish(router.RegisterSubject, `{"host":"10.0.16.4","port":61001,"uris":["good.example.com"]}`)
		Eventually(addrs("good.example.com", "/")).Should(Equal([]string{"10.0.16.4:61001"}))
		Expect(reg.Lookup("bad.example.com", "/")).To(BeNil())
		Expect(reg.NumURIs()).To(Equal(1))
	})

	It("announces itself at start, answers router.greet with the same message, and announces again after NATS comes back", func() {
		p := run()
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		Eventually(starts, 5*time.Second).Should(Receive(Equal(announced)))

		answer, err := client.Request(router.GreetSubject, nil, 5*time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(answer.Data).To(MatchJSON(`{"id":"r-1","hosts":["10.0.0.5"],"minimumRegisterIntervalInSeconds":20,"pruneThresholdInSeconds":120}`))

		Expect(natsServer.Restart()).To(Succeed())
		Eventually(starts, 10*time.Second).Should(Receive(Equal(announced)))
		// Its subscriptions came back too.
		publish(router.RegisterSubject, `{"host":"10.0.16.4","port":61001,"uris":["after.example.com"]}`)
		Eventually(addrs("after.example.com", "/"), 5*time.Second).Should(Equal([]string{"10.0.16.4:61001"}))
	})

	It("is not ready until a NATS server has its subscriptions, then announces itself", func() {
		// The subscriber reaches NATS through a forwarder that is not listening yet, while the
		// emitter's connection stays up and hears the announcement.
		port, err := testservers.FreePort()
		Expect(err).NotTo(HaveOccurred())
		forwarder := fmt.Sprintf("127.0.0.1:%d", port)
		s, err := mbus.NewSubscriber(logger, "router-spec", []string{"nats://" + forwarder}, reg, announced)
		Expect(err).NotTo(HaveOccurred())
		p := ifrit.Background(s)
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait(), 5*time.Second).Should(Receive(BeNil()))
		})
		Consistently(p.Ready(), time.Second).ShouldNot(BeClosed())
		Expect(starts).NotTo(Receive())

		l, err := net.Listen("tcp", forwarder)
		Expect(err).NotTo(HaveOccurred())
		var (
			mu    sync.Mutex
			conns []net.Conn
		)
		DeferCleanup(func() {
			l.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				c.Close()
			}
		})
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				up, err := net.Dial("tcp", natsServer.Addr())
				mu.Lock()
				conns = append(conns, c)
				if err == nil {
					conns = append(conns, up)
				}
				mu.Unlock()
				if err != nil {
					c.Close()
					continue
				}
				go func() { _, _ = io.Copy(up, c) }()
				go func() { _, _ = io.Copy(c, up) }()
			}
		}()
		Eventually(p.Ready(), 10*time.Second).Should(BeClosed())
		Eventually(starts, 10*time.Second).Should(Receive(Equal(announced)))
		publish(router.RegisterSubject, `{"host":"10.0.16.4","port":61001,"uris":["late.example.com"]}`)
		Eventually(addrs("late.example.com", "/"), 5*time.Second).Should(Equal([]string{"10.0.16.4:61001"}))
	})

	It("stops when signalled while NATS is away", func() {
		Expect(natsServer.Stop()).To(Succeed())
		s, err := mbus.NewSubscriber(logger, "router-spec", []string{natsServer.URL()}, reg, announced)
		Expect(err).NotTo(HaveOccurred())
		p := ifrit.Background(s)
		p.Signal(os.Interrupt)
		Eventually(p.Wait(), 5*time.Second).Should(Receive(BeNil()))
	})
})
