// Package route holds the router's endpoints and the pool of endpoints behind one route, with
// gorouter's round-robin choice, its sticky-session lookup by instance id and its temporary
// exclusion of a backend that failed to dial.
package route

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"
)

// Endpoint is one registered backend. A pool treats it as immutable once Put: a registration
// with new data is a new Endpoint for the same Addr, so a request that already holds one never
// sees it change underneath.
type Endpoint struct {
	Host string
	Port uint16

	AppID                string
	PrivateInstanceID    string
	PrivateInstanceIndex string
	AvailabilityZone     string
	IsolationSegment     string
	ServerCertDomainSAN  string
	RouteServiceURL      string
	Tags                 map[string]string

	// StaleThreshold replaces the registry's prune threshold for this endpoint when it is
	// shorter (gorouter's stale_threshold_in_seconds); 0: the registry's.
	StaleThreshold time.Duration
	// UpdatedAt is when this registration was received; the zero time means "now" to Put.
	// Pruning counts from the latest registration of the address.
	UpdatedAt time.Time
}

// Addr is host:port, the endpoint's identity in a pool.
func (e *Endpoint) Addr() string {
	return net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
}

type elem struct {
	endpoint *Endpoint
	addr     string
	// renewed is the latest registration of addr, what pruning counts from.
	renewed time.Time
	// failedAt is the last failed dial; zero when the endpoint is eligible.
	failedAt time.Time
}

// Pool is the set of endpoints behind one route. Safe for concurrent use.
type Pool struct {
	contextPath string

	mu              sync.Mutex
	routeServiceURL string
	elems           []*elem
	byAddr          map[string]*elem
	byInstanceID    map[string]*elem
	// next is where the next request's round starts; -1 until the first request, which
	// starts at a random endpoint as gorouter does, so routers restarted together do not
	// all pick the same first backend.
	next int
}

// NewPathPool makes an empty pool for a route whose path is contextPath ("/" for a host
// route), the Path of the sticky-session cookie set for it. routeServiceURL is replaced by
// each Put, like gorouter's, so the latest registration decides whether the route has a route
// service.
func NewPathPool(routeServiceURL, contextPath string) *Pool {
	return &Pool{
		contextPath:     contextPath,
		routeServiceURL: routeServiceURL,
		byAddr:          map[string]*elem{},
		byInstanceID:    map[string]*elem{},
		next:            -1,
	}
}

// ContextPath is the route's path, "/" for a host route.
func (p *Pool) ContextPath() string { return p.contextPath }

// Put adds e, or replaces the endpoint registered at the same Addr and renews it. True when
// added.
func (p *Pool) Put(e *Endpoint) bool {
	addr := e.Addr()
	renewed := e.UpdatedAt
	if renewed.IsZero() {
		renewed = time.Now()
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	p.routeServiceURL = e.RouteServiceURL
	if el, ok := p.byAddr[addr]; ok {
		if old := el.endpoint.PrivateInstanceID; old != e.PrivateInstanceID {
			delete(p.byInstanceID, old)
		}
		el.endpoint = e
		if renewed.After(el.renewed) {
			el.renewed = renewed
		}
		p.indexInstance(el)
		return false
	}
	el := &elem{endpoint: e, addr: addr, renewed: renewed}
	p.elems = append(p.elems, el)
	p.byAddr[addr] = el
	p.indexInstance(el)
	return true
}

func (p *Pool) indexInstance(el *elem) {
	if id := el.endpoint.PrivateInstanceID; id != "" {
		p.byInstanceID[id] = el
	}
}

// Remove removes the endpoint at addr; true when there was one.
func (p *Pool) Remove(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	el, ok := p.byAddr[addr]
	if !ok {
		return false
	}
	p.remove(el)
	return true
}

func (p *Pool) remove(el *elem) {
	for i, x := range p.elems {
		if x == el {
			p.elems = append(p.elems[:i:i], p.elems[i+1:]...)
			break
		}
	}
	delete(p.byAddr, el.addr)
	if id := el.endpoint.PrivateInstanceID; id != "" && p.byInstanceID[id] == el {
		delete(p.byInstanceID, id)
	}
}

// PruneStale removes the endpoints whose latest registration is older than their stale
// threshold at now (threshold when an endpoint has none of its own or a longer one) and
// returns them.
func (p *Pool) PruneStale(now time.Time, threshold time.Duration) []*Endpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pruned []*Endpoint
	for _, el := range append([]*elem(nil), p.elems...) {
		t := threshold
		if own := el.endpoint.StaleThreshold; own > 0 && own < t {
			t = own
		}
		if el.renewed.Before(now.Add(-t)) {
			p.remove(el)
			pruned = append(pruned, el.endpoint)
		}
	}
	return pruned
}

// IsEmpty is true when the pool has no endpoint.
func (p *Pool) IsEmpty() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.elems) == 0
}

// Len is the number of endpoints.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.elems)
}

// RouteServiceURL is the route service of the latest registration; "" when none.
func (p *Pool) RouteServiceURL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.routeServiceURL
}

// FindAppInstance is the endpoint of app appID's instance at index (X-CF-APP-INSTANCE), nil
// when none.
func (p *Pool) FindAppInstance(appID, index string) *Endpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, el := range p.elems {
		if el.endpoint.AppID == appID && el.endpoint.PrivateInstanceIndex == index {
			return el.endpoint
		}
	}
	return nil
}

// EndpointFailed marks the endpoint at addr as failed at now: iterators leave it out until
// their backoff has passed. A no-op when it has left the pool.
func (p *Pool) EndpointFailed(addr string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if el, ok := p.byAddr[addr]; ok {
		el.failedAt = now
	}
}

// Iterator is one request's walk through a pool: it starts at the pool's round-robin
// position and hands out the endpoints in turn. A value, so a request allocates nothing for
// it.
type Iterator struct {
	pool    *Pool
	sticky  string
	backoff time.Duration
	next    int
	addr    string
	// stickyAddr is the sticky endpoint the first Next returned: the round after it does not
	// hand it out again while the pool has others.
	stickyAddr string
}

// Iterator starts a request's walk. sticky is a private instance id (the __VCAP_ID__
// cookie): the first Next returns that endpoint while it is in the pool, even while a failed
// dial leaves it out of the round, as gorouter does: a session stays on a live instance through
// a passing failure, and moves only for a request whose own try on it fails. An endpoint marked
// failed within backoff is left out of the round unless every endpoint is, and then all are
// eligible again.
func (p *Pool) Iterator(sticky string, backoff time.Duration) Iterator {
	return Iterator{pool: p, sticky: sticky, backoff: backoff, next: -1}
}

// leftOut: el failed within the backoff. A failure older than that is forgotten.
func (it *Iterator) leftOut(el *elem, now time.Time) bool {
	if el.failedAt.IsZero() {
		return false
	}
	if now.Sub(el.failedAt) > it.backoff {
		el.failedAt = time.Time{}
		return false
	}
	return true
}

// Addr is the address of the endpoint Next returned last, without building it again.
func (it *Iterator) Addr() string { return it.addr }

// Next is the endpoint for the next attempt; nil when the pool is empty.
func (it *Iterator) Next(now time.Time) *Endpoint {
	p := it.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if it.sticky != "" {
		id := it.sticky
		it.sticky = ""
		if el, ok := p.byInstanceID[id]; ok {
			it.addr, it.stickyAddr = el.addr, el.addr
			return el.endpoint
		}
	}
	n := len(p.elems)
	if n == 0 {
		return nil
	}
	if it.next < 0 {
		if p.next < 0 {
			p.next = rand.IntN(n)
		}
		it.next = p.next
		p.next++
		if p.next >= n {
			p.next = 0
		}
	}
	if it.next >= n {
		it.next = 0
	}
	start := it.next
	for i := it.next; ; {
		el := p.elems[i]
		i++
		if i == n {
			i = 0
		}
		if (el.addr != it.stickyAddr || n == 1) && !it.leftOut(el, now) {
			it.next = i
			it.addr = el.addr
			return el.endpoint
		}
		if i == start {
			// Every endpoint failed recently: a dead route is better tried again than
			// refused, and one of them may be back.
			for _, x := range p.elems {
				x.failedAt = time.Time{}
			}
		}
	}
}
