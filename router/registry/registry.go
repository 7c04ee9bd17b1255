// Package registry is the router's routing table: route URIs (host or host/path) to pools of
// endpoints, matched as gorouter matches them. Pure and safe for concurrent use; the NATS
// subscriber feeds it and the proxy reads it.
package registry

import (
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/diego-go/diego/router/route"
)

// Registry maps route URIs to pools.
type Registry struct {
	logger         *slog.Logger
	pruneThreshold time.Duration

	mu   sync.RWMutex
	root *node
}

// node is one segment of a URI: the host, then each path segment.
type node struct {
	segment  string
	parent   *node
	children map[string]*node
	pool     *route.Pool
}

func newNode(segment string, parent *node) *node {
	return &node{segment: segment, parent: parent, children: map[string]*node{}}
}

// New makes an empty registry; pruneThreshold is how long an endpoint lives without being
// registered again (an endpoint's own shorter StaleThreshold wins).
func New(logger *slog.Logger, pruneThreshold time.Duration) *Registry {
	return &Registry{logger: logger, pruneThreshold: pruneThreshold, root: newNode("", nil)}
}

// routeKey is gorouter's key for a registered URI: lower case, without a query and without
// one trailing slash.
func routeKey(uri string) string {
	uri = strings.ToLower(uri)
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	return strings.TrimPrefix(strings.TrimSuffix(uri, "/"), "/")
}

// Register adds e under uri, or renews it. The registry keeps e and never writes to it: the
// same Endpoint may be registered under several URIs.
func (r *Registry) Register(uri string, e *route.Endpoint) {
	key := routeKey(uri)
	r.mu.Lock()
	n := r.root
	for seg := range strings.SplitSeq(key, "/") {
		c, ok := n.children[seg]
		if !ok {
			c = newNode(seg, n)
			n.children[seg] = c
		}
		n = c
	}
	newRoute := n.pool == nil
	if newRoute {
		_, path, _ := strings.Cut(key, "/")
		n.pool = route.NewPathPool(e.RouteServiceURL, "/"+path)
	}
	// Put under the registry's lock: an Unregister or a prune between creating the pool and
	// filling it would otherwise drop the route and lose this registration.
	added := n.pool.Put(e)
	r.mu.Unlock()

	if added {
		if newRoute {
			r.logger.Info("route-registered", "uri", key)
		}
		r.logger.Info("endpoint-registered", "uri", key, "backend", e.Addr(),
			"application_id", e.AppID, "instance_id", e.PrivateInstanceID)
	}
}

// Unregister removes e's address (only that one) from uri; a route left without endpoints is
// forgotten.
func (r *Registry) Unregister(uri string, e *route.Endpoint) {
	key := routeKey(uri)
	addr := e.Addr()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.find(key)
	if n == nil || n.pool == nil {
		return
	}
	if n.pool.Remove(addr) {
		r.logger.Info("endpoint-unregistered", "uri", key, "backend", addr,
			"application_id", e.AppID, "instance_id", e.PrivateInstanceID)
	}
	if n.pool.IsEmpty() {
		r.snip(n)
		r.logger.Info("route-unregistered", "uri", key)
	}
}

func (r *Registry) find(key string) *node {
	n := r.root
	for seg := range strings.SplitSeq(key, "/") {
		if n = n.children[seg]; n == nil {
			return nil
		}
	}
	return n
}

// snip drops n's pool and the nodes above it that hold nothing any more.
func (r *Registry) snip(n *node) {
	n.pool = nil
	for n != r.root && n.pool == nil && len(n.children) == 0 {
		delete(n.parent.children, n.segment)
		n = n.parent
	}
}

// Lookup is the pool for a request's Host and path, nil when no route matches. As gorouter:
// the host is case-insensitive and loses its port; the path selects the route with the
// longest matching run of whole segments (case-insensitive too); a host without an exact
// route falls back to the most specific wildcard route *.<parent domain> at any depth above
// it (a.b.example.com tries *.b.example.com, then *.example.com, then *.com).
func (r *Registry) Lookup(host, path string) *route.Pool {
	if i := strings.IndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = strings.ToLower(host)
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	path = strings.ToLower(strings.TrimSuffix(path, "/"))

	r.mu.RLock()
	defer r.mu.RUnlock()
	if p := r.match(host, path); p != nil {
		return p
	}
	rest := strings.TrimPrefix(host, "*.")
	for {
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			return nil
		}
		rest = rest[i+1:]
		if p := r.match("*."+rest, path); p != nil {
			return p
		}
	}
}

// match walks host then path's segments and returns the deepest pool on the way that has
// endpoints; when none has, the (empty) pool where the walk stopped, like gorouter's trie.
func (r *Registry) match(host, path string) *route.Pool {
	n := r.root.children[host]
	if n == nil {
		return nil
	}
	var found *route.Pool
	if n.pool != nil && !n.pool.IsEmpty() {
		found = n.pool
	}
	path = strings.TrimPrefix(path, "/")
	for path != "" {
		seg, next, more := strings.Cut(path, "/")
		c := n.children[seg]
		if c == nil {
			break
		}
		n = c
		if n.pool != nil && !n.pool.IsEmpty() {
			found = n.pool
		}
		if !more {
			break
		}
		path = next
	}
	if found == nil {
		return n.pool
	}
	return found
}

// PruneStale removes the endpoints not registered again within their threshold at now and
// the routes left empty; it returns how many endpoints it removed.
func (r *Registry) PruneStale(now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	removed := 0
	var walk func(n *node, key string)
	var emptied []*node
	walk = func(n *node, key string) {
		if n.pool != nil {
			pruned := n.pool.PruneStale(now, r.pruneThreshold)
			if len(pruned) > 0 {
				addrs := make([]string, len(pruned))
				for i, e := range pruned {
					addrs[i] = e.Addr()
				}
				r.logger.Info("pruned-route", "uri", key, "endpoints", addrs)
				removed += len(pruned)
			}
			if n.pool.IsEmpty() {
				emptied = append(emptied, n)
			}
		}
		for seg, c := range n.children {
			if key == "" {
				walk(c, seg)
			} else {
				walk(c, key+"/"+seg)
			}
		}
	}
	walk(r.root, "")
	for _, n := range emptied {
		r.snip(n)
	}
	return removed
}

// NumURIs is the number of routes.
func (r *Registry) NumURIs() int {
	n, _ := r.count()
	return n
}

// NumEndpoints is the number of endpoints summed over routes (an endpoint under two URIs
// counts twice, as in gorouter).
func (r *Registry) NumEndpoints() int {
	_, n := r.count()
	return n
}

func (r *Registry) count() (uris, endpoints int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var walk func(n *node)
	walk = func(n *node) {
		if n.pool != nil {
			uris++
			endpoints += n.pool.Len()
		}
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(r.root)
	return uris, endpoints
}
