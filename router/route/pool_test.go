package route_test

import (
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/router/route"
)

func endpoint(port uint16, instanceID string) *route.Endpoint {
	return &route.Endpoint{Host: "10.0.0.1", Port: port, AppID: "app", PrivateInstanceID: instanceID,
		PrivateInstanceIndex: fmt.Sprint(port % 10)}
}

func addrs(es []*route.Endpoint) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Addr()
	}
	return out
}

// members is the addresses in the pool, as one request's walk hands them out.
func members(p *route.Pool) []string {
	it := p.Iterator("", time.Minute)
	var out []string
	for range p.Len() {
		out = append(out, it.Next(time.Now()).Addr())
	}
	return out
}

// stickyTo is where requests sticky to instanceID go first, over four requests: only its
// address while the pool knows it.
func stickyTo(p *route.Pool, instanceID string) []string {
	seen := map[string]bool{}
	for range 4 {
		it := p.Iterator(instanceID, time.Minute)
		seen[it.Next(time.Now()).Addr()] = true
	}
	var out []string
	for a := range seen {
		out = append(out, a)
	}
	return out
}

var _ = Describe("Pool", func() {
	var (
		pool *route.Pool
		now  time.Time
	)

	BeforeEach(func() {
		pool = route.NewPathPool("", "/")
		now = time.Now()
	})

	It("adds an address once and refreshes it after", func() {
		Expect(pool.IsEmpty()).To(BeTrue())
		Expect(pool.Put(endpoint(1, "i1"))).To(BeTrue())
		Expect(pool.Put(endpoint(2, "i2"))).To(BeTrue())
		Expect(pool.Put(endpoint(1, "i1-new"))).To(BeFalse())
		Expect(members(pool)).To(ConsistOf("10.0.0.1:1", "10.0.0.1:2"))
		Expect(stickyTo(pool, "i1")).To(ConsistOf("10.0.0.1:1", "10.0.0.1:2"), "i1 is no more")
		Expect(stickyTo(pool, "i1-new")).To(Equal([]string{"10.0.0.1:1"}))
		Expect(pool.Len()).To(Equal(2))
	})

	It("removes only the address asked for", func() {
		pool.Put(endpoint(1, "i1"))
		pool.Put(endpoint(2, "i2"))
		Expect(pool.Remove("10.0.0.1:3")).To(BeFalse())
		Expect(pool.Remove("10.0.0.1:1")).To(BeTrue())
		Expect(members(pool)).To(Equal([]string{"10.0.0.1:2"}))
		Expect(stickyTo(pool, "i2")).To(Equal([]string{"10.0.0.1:2"}))
	})

	It("formats IPv6 addresses with brackets", func() {
		Expect((&route.Endpoint{Host: "::1", Port: 80}).Addr()).To(Equal("[::1]:80"))
	})

	It("takes the route service URL of the latest registration", func() {
		pool = route.NewPathPool("https://rs.example.com", "/")
		e := endpoint(1, "i1")
		e.RouteServiceURL = "https://other.example.com"
		pool.Put(e)
		Expect(pool.RouteServiceURL()).To(Equal("https://other.example.com"))
		pool.Put(endpoint(1, "i1"))
		Expect(pool.RouteServiceURL()).To(BeEmpty())
	})

	It("finds an app's instance by app id and index", func() {
		pool.Put(endpoint(1, "i1"))
		pool.Put(endpoint(2, "i2"))
		Expect(pool.FindAppInstance("app", "2").PrivateInstanceID).To(Equal("i2"))
		Expect(pool.FindAppInstance("app", "3")).To(BeNil())
		Expect(pool.FindAppInstance("other", "1")).To(BeNil())
	})

	Describe("round robin", func() {
		BeforeEach(func() {
			for p := uint16(1); p <= 3; p++ {
				pool.Put(endpoint(p, fmt.Sprint("i", p)))
			}
		})

		It("starts each request at the next endpoint", func() {
			seen := map[string]int{}
			for range 30 {
				it := pool.Iterator("", time.Minute)
				seen[it.Next(now).Addr()]++
			}
			Expect(seen).To(Equal(map[string]int{"10.0.0.1:1": 10, "10.0.0.1:2": 10, "10.0.0.1:3": 10}))
		})

		It("gives one request every endpoint before any twice", func() {
			it := pool.Iterator("", time.Minute)
			var got []string
			for range 3 {
				e := it.Next(now)
				Expect(it.Addr()).To(Equal(e.Addr()))
				got = append(got, it.Addr())
			}
			Expect(got).To(ConsistOf("10.0.0.1:1", "10.0.0.1:2", "10.0.0.1:3"))
		})

		It("leaves out an endpoint that failed until the backoff has passed", func() {
			pool.EndpointFailed("10.0.0.1:2", now)
			for range 6 {
				it := pool.Iterator("", time.Minute)
				Expect(it.Next(now.Add(59 * time.Second)).Addr()).NotTo(Equal("10.0.0.1:2"))
			}
			seen := map[string]bool{}
			for range 3 {
				it := pool.Iterator("", time.Minute)
				seen[it.Next(now.Add(61*time.Second)).Addr()] = true
			}
			Expect(seen).To(HaveKey("10.0.0.1:2"))
		})

		It("uses failed endpoints again when every endpoint has failed", func() {
			for p := 1; p <= 3; p++ {
				pool.EndpointFailed(fmt.Sprint("10.0.0.1:", p), now)
			}
			it := pool.Iterator("", time.Minute)
			Expect(it.Next(now)).NotTo(BeNil())
		})

		It("uses a failed endpoint when it is the only one", func() {
			single := route.NewPathPool("", "/")
			single.Put(endpoint(1, "i1"))
			single.EndpointFailed("10.0.0.1:1", now)
			it := single.Iterator("", time.Minute)
			Expect(it.Next(now).Addr()).To(Equal("10.0.0.1:1"))
		})

		It("starts a sticky request at its instance, then goes round", func() {
			for range 5 {
				it := pool.Iterator("i3", time.Minute)
				Expect(it.Next(now).Addr()).To(Equal("10.0.0.1:3"))
				Expect(it.Next(now)).NotTo(BeNil())
			}
		})

		It("tries a sticky request's instance first even while a failure leaves it out of the round, as gorouter does", func() {
			pool.EndpointFailed("10.0.0.1:3", now)
			for range 5 {
				it := pool.Iterator("i3", time.Minute)
				Expect(it.Next(now.Add(time.Second)).Addr()).To(Equal("10.0.0.1:3"))
				Expect(it.Next(now.Add(time.Second)).Addr()).NotTo(Equal("10.0.0.1:3"))
			}
		})

		It("does not hand a sticky request's instance out again in the round after it", func() {
			for range 6 {
				it := pool.Iterator("i1", time.Minute)
				got := []string{it.Next(now).Addr(), it.Next(now).Addr(), it.Next(now).Addr()}
				Expect(got).To(Equal([]string{"10.0.0.1:1", got[1], got[2]}))
				Expect(got[1:]).To(ConsistOf("10.0.0.1:2", "10.0.0.1:3"))
			}
		})

		It("hands a sticky request's instance out again when it is the only endpoint", func() {
			single := route.NewPathPool("", "/")
			single.Put(endpoint(1, "i1"))
			it := single.Iterator("i1", time.Minute)
			Expect(it.Next(now).Addr()).To(Equal("10.0.0.1:1"))
			Expect(it.Next(now).Addr()).To(Equal("10.0.0.1:1"))
		})

		It("sends a sticky request for a gone instance to another", func() {
			pool.Remove("10.0.0.1:3")
			it := pool.Iterator("i3", time.Minute)
			Expect(it.Next(now).Addr()).To(BeElementOf("10.0.0.1:1", "10.0.0.1:2"))
		})

		It("returns nil from an empty pool", func() {
			it := route.NewPathPool("", "/").Iterator("x", time.Minute)
			Expect(it.Next(now)).To(BeNil())
		})
	})

	Describe("pruning", func() {
		It("removes endpoints not renewed within the threshold or their own shorter one", func() {
			old, fresh, short := endpoint(1, "i1"), endpoint(2, "i2"), endpoint(3, "i3")
			old.UpdatedAt = now.Add(-2 * time.Minute)
			fresh.UpdatedAt = now.Add(-30 * time.Second)
			short.UpdatedAt = now.Add(-30 * time.Second)
			short.StaleThreshold = 10 * time.Second
			pool.Put(old)
			pool.Put(fresh)
			pool.Put(short)
			Expect(addrs(pool.PruneStale(now, time.Minute))).To(ConsistOf("10.0.0.1:1", "10.0.0.1:3"))
			Expect(members(pool)).To(Equal([]string{"10.0.0.1:2"}))
		})

		It("ignores an endpoint's own threshold when it is longer than the registry's", func() {
			e := endpoint(1, "i1")
			e.UpdatedAt = now.Add(-2 * time.Minute)
			e.StaleThreshold = time.Hour
			pool.Put(e)
			Expect(pool.PruneStale(now, time.Minute)).To(HaveLen(1))
		})

		It("counts from the latest registration", func() {
			e := endpoint(1, "i1")
			e.UpdatedAt = now.Add(-2 * time.Minute)
			pool.Put(e)
			pool.Put(endpoint(1, "i1"))
			Expect(pool.PruneStale(now, time.Minute)).To(BeEmpty())
		})
	})

	It("is safe for concurrent use", func() {
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 200 {
					port := uint16(w*1000 + i%5)
					pool.Put(endpoint(port, fmt.Sprint("i", port)))
					it := pool.Iterator(fmt.Sprint("i", port), time.Second)
					if e := it.Next(time.Now()); e != nil {
						pool.EndpointFailed(e.Addr(), time.Now())
					}
					pool.Remove(fmt.Sprint("10.0.0.1:", port))
					pool.PruneStale(time.Now(), time.Hour)
				}
			})
		}
		wg.Wait()
		Expect(pool.IsEmpty()).To(BeTrue())
	})
})
