package registry_test

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/router/registry"
	"github.com/diego-go/diego/router/route"
)

var logger = slog.New(slog.NewTextHandler(io.Discard, nil))

func endpoint(port uint16) *route.Endpoint {
	return &route.Endpoint{Host: "10.0.0.1", Port: port}
}

// ports is the ports of a pool's endpoints; nil for no pool.
func ports(p *route.Pool) []uint16 {
	if p == nil {
		return nil
	}
	it := p.Iterator("", time.Minute)
	var out []uint16
	for range p.Len() {
		out = append(out, it.Next(time.Now()).Port)
	}
	return out
}

var _ = Describe("Registry", func() {
	var reg *registry.Registry

	BeforeEach(func() {
		reg = registry.New(logger, time.Minute)
	})

	// Each registered URI below has its own backend port, so a lookup names the route it matched.
	DescribeTable("lookup",
		func(registered []string, host, path string, want uint16) {
			for i, uri := range registered {
				reg.Register(uri, endpoint(uint16(i+1)))
			}
			if want == 0 {
				Expect(reg.Lookup(host, path)).To(BeNil())
			} else {
				Expect(ports(reg.Lookup(host, path))).To(Equal([]uint16{want}))
			}
		},
		Entry("exact host", []string{"app.example.com"}, "app.example.com", "/", uint16(1)),
		Entry("unknown host", []string{"app.example.com"}, "other.example.com", "/", uint16(0)),
		Entry("host in another case", []string{"App.Example.COM"}, "APP.example.com", "/x", uint16(1)),
		Entry("host with a port", []string{"app.example.com"}, "app.example.com:8081", "/", uint16(1)),
		Entry("a registered trailing slash", []string{"app.example.com/"}, "app.example.com", "", uint16(1)),
		Entry("any path under a host route", []string{"app.example.com"}, "app.example.com", "/a/b/c", uint16(1)),
		Entry("path route", []string{"app.example.com", "app.example.com/api"}, "app.example.com", "/api", uint16(2)),
		Entry("path route with a trailing slash", []string{"app.example.com", "app.example.com/api"}, "app.example.com", "/api/", uint16(2)),
		Entry("below a path route", []string{"app.example.com", "app.example.com/api"}, "app.example.com", "/api/v1/users", uint16(2)),
		Entry("longest path route", []string{"app.example.com/api", "app.example.com/api/v2"}, "app.example.com", "/api/v2/x", uint16(2)),
		Entry("shorter path route beside a longer one", []string{"app.example.com/api", "app.example.com/api/v2"}, "app.example.com", "/api/v1", uint16(1)),
		Entry("path segments are whole", []string{"app.example.com", "app.example.com/api"}, "app.example.com", "/apis", uint16(1)),
		Entry("path case-insensitive", []string{"app.example.com/API"}, "app.example.com", "/api/x", uint16(1)),
		Entry("path route only: other path", []string{"app.example.com/api"}, "app.example.com", "/web", uint16(0)),
		Entry("path route only: root", []string{"app.example.com/api"}, "app.example.com", "/", uint16(0)),
		Entry("query left out", []string{"app.example.com/api"}, "app.example.com", "/api?x=/y", uint16(1)),
		Entry("wildcard", []string{"*.example.com"}, "app.example.com", "/", uint16(1)),
		Entry("wildcard covers deeper hosts", []string{"*.example.com"}, "a.b.example.com", "/", uint16(1)),
		Entry("wildcard does not cover the domain itself", []string{"*.example.com"}, "example.com", "/", uint16(0)),
		Entry("exact host before wildcard", []string{"*.example.com", "app.example.com"}, "app.example.com", "/", uint16(2)),
		Entry("most specific wildcard", []string{"*.example.com", "*.b.example.com"}, "a.b.example.com", "/", uint16(2)),
		Entry("wildcard with a path", []string{"*.example.com", "*.example.com/api"}, "app.example.com", "/api/x", uint16(2)),
		Entry("wildcard when the exact host has only another path",
			[]string{"*.example.com", "app.example.com/api"}, "app.example.com", "/web", uint16(1)),
		Entry("wildcard in another case", []string{"*.Example.com"}, "APP.example.com:80", "/", uint16(1)),
	)

	It("gives each route's pool the route's path", func() {
		reg.Register("app.example.com", endpoint(1))
		reg.Register("App.example.com/Shop/", endpoint(2))
		Expect(reg.Lookup("app.example.com", "/x").ContextPath()).To(Equal("/"))
		Expect(reg.Lookup("app.example.com", "/shop/cart").ContextPath()).To(Equal("/shop"))
	})

	It("keeps several endpoints under a URI and renews one without adding it again", func() {
		reg.Register("app.example.com", endpoint(1))
		reg.Register("app.example.com", endpoint(2))
		reg.Register("APP.example.com", endpoint(1))
		Expect(ports(reg.Lookup("app.example.com", "/"))).To(ConsistOf(uint16(1), uint16(2)))
		Expect(reg.NumURIs()).To(Equal(1))
		Expect(reg.NumEndpoints()).To(Equal(2))
	})

	It("unregisters only that address, and forgets a route left empty", func() {
		reg.Register("app.example.com", endpoint(1))
		reg.Register("app.example.com", endpoint(2))
		reg.Register("app.example.com/api", endpoint(3))
		reg.Unregister("app.example.com", endpoint(9))
		reg.Unregister("app.example.com", endpoint(1))
		Expect(ports(reg.Lookup("app.example.com", "/"))).To(Equal([]uint16{2}))
		reg.Unregister("App.example.com", endpoint(2))
		Expect(reg.Lookup("app.example.com", "/")).To(BeNil())
		Expect(ports(reg.Lookup("app.example.com", "/api"))).To(Equal([]uint16{3}))
		reg.Unregister("app.example.com/api", endpoint(3))
		Expect(reg.NumURIs()).To(Equal(0))
		reg.Unregister("unknown.example.com", endpoint(3))
	})

	It("prunes endpoints not renewed within the threshold and the routes left empty", func() {
		now := time.Now()
		stale, fresh, short := endpoint(1), endpoint(2), endpoint(3)
		stale.UpdatedAt = now.Add(-61 * time.Second)
		fresh.UpdatedAt = now.Add(-59 * time.Second)
		short.UpdatedAt = now.Add(-11 * time.Second)
		short.StaleThreshold = 10 * time.Second
		reg.Register("a.example.com", stale)
		reg.Register("b.example.com", fresh)
		reg.Register("b.example.com", stale)
		reg.Register("c.example.com/path", short)

		Expect(reg.PruneStale(now)).To(Equal(3))
		Expect(reg.Lookup("a.example.com", "/")).To(BeNil())
		Expect(ports(reg.Lookup("b.example.com", "/"))).To(Equal([]uint16{2}))
		Expect(reg.Lookup("c.example.com", "/path")).To(BeNil())
		Expect(reg.NumURIs()).To(Equal(1))

		// A renewal restarts the count.
		renewed := endpoint(2)
		renewed.UpdatedAt = now.Add(30 * time.Second)
		reg.Register("b.example.com", renewed)
		Expect(reg.PruneStale(now.Add(80 * time.Second))).To(Equal(0))
		Expect(reg.PruneStale(now.Add(91 * time.Second))).To(Equal(1))
		Expect(reg.NumURIs()).To(Equal(0))
	})

	It("is safe for concurrent use", func() {
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 300 {
					uri := fmt.Sprintf("app%d.example.com/p%d", w, i%3)
					e := endpoint(uint16(i % 7))
					reg.Register(uri, e)
					reg.Lookup(fmt.Sprintf("app%d.example.com", w), "/p1/x")
					if i%2 == 0 {
						reg.Unregister(uri, e)
					}
					reg.PruneStale(time.Now().Add(-time.Hour))
					reg.NumEndpoints()
				}
			})
		}
		wg.Wait()
		Expect(reg.PruneStale(time.Now().Add(time.Hour))).To(BeNumerically(">", 0))
		Expect(reg.NumURIs()).To(Equal(0))
	})
})
