package locket_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/locket"
)

var _ = Describe("ServiceRegistration", func() {
	var (
		name string
		reg  locket.Registration
	)

	type healthEntry struct {
		Service struct {
			ID      string
			Service string
			Address string
			Port    int
			Tags    []string
		}
	}
	// passing lists the passing instances of the service through the health API.
	passing := func() []healthEntry {
		code, body := consulDo("GET", "/v1/health/service/"+name+"?passing=1", nil)
		Expect(code).To(Equal(200), string(body))
		var entries []healthEntry
		Expect(json.Unmarshal(body, &entries)).To(Succeed())
		return entries
	}
	resolver := func() *net.Resolver {
		return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, consul.DNSAddr())
		}}
	}

	newRegistration := func() ifrit.Runner {
		return locket.NewServiceRegistration(logger.With("runner", "service"), client, reg, testTTL)
	}

	BeforeEach(func() {
		name = "svc-" + uniqueKey("")
		reg = locket.Registration{Name: name, ID: name + "-0", Address: "127.0.0.2", Port: 8889, Tags: []string{"z1"}}
	})

	It("registers a service that stays passing and resolves through the health API and Consul DNS", func() {
		p := start(newRegistration())
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		entries := passing()
		Expect(entries).To(HaveLen(1))
		Expect(entries[0].Service.ID).To(Equal(name + "-0"))
		Expect(entries[0].Service.Address).To(Equal("127.0.0.2"))
		Expect(entries[0].Service.Port).To(Equal(8889))
		Expect(entries[0].Service.Tags).To(Equal([]string{"z1"}))

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		addrs, err := resolver().LookupHost(ctx, name+".service.consul.")
		Expect(err).NotTo(HaveOccurred())
		Expect(addrs).To(ConsistOf("127.0.0.2"))
		_, srvs, err := resolver().LookupSRV(ctx, "", "", name+".service.consul.")
		Expect(err).NotTo(HaveOccurred())
		Expect(srvs).To(HaveLen(1))
		Expect(srvs[0].Port).To(BeEquivalentTo(8889))

		addrs, err = client.ServiceAddresses(ctx, name)
		Expect(err).NotTo(HaveOccurred())
		Expect(addrs).To(Equal([]string{"127.0.0.2:8889"}))

		// Past the TTL it is still passing: the check is being updated.
		time.Sleep(testTTL + testTTL/2)
		Expect(passing()).To(HaveLen(1))
	})

	It("lists an instance registered without an address at its node's", func() {
		reg.Address = ""
		p := start(newRegistration())
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		addrs, err := client.ServiceAddresses(context.Background(), name)
		Expect(err).NotTo(HaveOccurred())
		Expect(addrs).To(HaveLen(1))
		host, port, err := net.SplitHostPort(addrs[0])
		Expect(err).NotTo(HaveOccurred())
		Expect(net.ParseIP(host)).NotTo(BeNil())
		Expect(port).To(Equal("8889"))
	})

	It("deregisters when signalled", func() {
		p := ifrit.Background(newRegistration())
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		p.Signal(os.Interrupt)
		Eventually(p.Wait(), 5*time.Second).Should(Receive(BeNil()))
		code, body := consulDo("GET", "/v1/catalog/service/"+name, nil)
		Expect(code).To(Equal(200))
		Expect(string(body)).To(MatchJSON("[]"))
		Expect(client.ServiceAddresses(context.Background(), name)).To(BeEmpty())
	})

	It("registers again when the agent forgets the service", func() {
		p := start(newRegistration())
		Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
		code, body := consulDo("PUT", "/v1/agent/service/deregister/"+reg.ID, nil)
		Expect(code).To(Equal(200), string(body))
		Expect(passing()).To(BeEmpty())
		Eventually(passing, testTTL).Should(HaveLen(1))
	})

	Context("across an agent restart", Serial, func() {
		It("is passing again after the restart", func() {
			p := start(newRegistration())
			Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
			restartConsul()
			Eventually(passing, 2*testTTL).Should(HaveLen(1))
			time.Sleep(testTTL + testTTL/2)
			Expect(passing()).To(HaveLen(1))
			Consistently(p.Wait()).ShouldNot(Receive())
		})
	})
})
