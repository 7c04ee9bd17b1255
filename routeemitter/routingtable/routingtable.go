// Package routingtable is the route emitter's routing table, upstream's: which hostnames reach
// which instance addresses, kept from the BBS's desired and actual LRPs. It is pure: the BBS's
// events and full snapshots go in, the router.register and router.unregister messages that the
// change calls for come out, in a stable order. It reads no clock and does no I/O, and it is not
// safe for concurrent use (its owner serialises the calls).
//
// An entry is keyed by (process guid, container port): the routes come from the DesiredLRP's
// "cf-router" routes for that port, the endpoints from the instances' host address and the host
// port mapped to that container port. Only HTTP routes are kept: TCP routes and internal routes
// (service discovery) are left out.
package routingtable

import (
	"cmp"
	"maps"
	"slices"
	"strconv"

	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/routeemitter/cfroutes"
	"github.com/diego-go/diego/router"
)

// Key names an entry: one container port of one LRP.
type Key struct {
	ProcessGuid   string
	ContainerPort uint32
}

// Messages are what a change makes the emitter publish.
type Messages struct {
	Registrations   []router.RegistryMessage
	Unregistrations []router.RegistryMessage
}

func (m *Messages) add(o Messages) {
	m.Registrations = append(m.Registrations, o.Registrations...)
	m.Unregistrations = append(m.Unregistrations, o.Unregistrations...)
}

// Empty says whether there is nothing to publish.
func (m Messages) Empty() bool { return len(m.Registrations) == 0 && len(m.Unregistrations) == 0 }

// routeID is what tells two routes apart (upstream's route hash): a change of only the metric
// tags or options of a route sends nothing until the next full registration.
type routeID struct {
	hostname, routeServiceURL, isolationSegment, logGuid, protocol string
}

type route struct {
	routeID
	metricTags map[string]*models.MetricTagValue
	options    *router.RouteOptions
}

// endpointKey: an instance's evacuating record is a second endpoint beside its ordinary one.
type endpointKey struct {
	instanceGuid string
	evacuating   bool
}

// address is what makes two endpoints different: a change of presence, since or modification
// tag alone is not a new registration.
type address struct {
	instanceGuid     string
	index            int32
	host             string
	port, tlsPort    uint32
	availabilityZone string
}

type endpoint struct {
	address
	evacuating bool
	since      int64
	tag        *models.ModificationTag
}

func (e endpoint) key() endpointKey { return endpointKey{e.instanceGuid, e.evacuating} }

type entry struct {
	domain           string
	routes           []route
	endpoints        map[endpointKey]endpoint
	desiredInstances int32
	tag              *models.ModificationTag
}

func (e entry) copy() entry {
	c := e
	c.routes = slices.Clone(e.routes)
	c.endpoints = maps.Clone(e.endpoints)
	if c.endpoints == nil {
		c.endpoints = map[endpointKey]endpoint{}
	}
	return c
}

// Table is the routing table.
type Table struct {
	entries map[Key]entry
	// routeCount is RouteCount, kept as entries change so that reading it costs no walk
	routeCount int
	// quiet: a table being built for a sync, whose own changes send nothing
	quiet bool
}

func (t *Table) diff(before, after entry) Messages {
	if t.quiet {
		return Messages{}
	}
	return diff(before, after)
}

// New is an empty table.
func New() *Table { return &Table{entries: map[Key]entry{}} }

// Routed says whether the route emitter routes to the instance: it is RUNNING and its routable
// flag is unset or true.
func Routed(a *models.ActualLRP) bool {
	return a.GetState() == models.ActualLRPStateRunning && (a.Routable == nil || *a.Routable)
}

// Handle applies one BBS event (desired LRP created, changed or removed; actual LRP instance
// created, changed or removed; others are ignored) and returns what to publish.
func (t *Table) Handle(ev models.Event) Messages {
	switch e := ev.(type) {
	case *models.DesiredLRPCreatedEvent:
		return t.SetRoutes(nil, e.GetDesiredLrp())
	case *models.DesiredLRPChangedEvent:
		return t.SetRoutes(e.GetBefore(), e.GetAfter())
	case *models.DesiredLRPRemovedEvent:
		return t.SetRoutes(e.GetDesiredLrp(), nil)
	case *models.ActualLRPInstanceCreatedEvent:
		if Routed(e.GetActualLrp()) {
			return t.AddEndpoint(e.GetActualLrp())
		}
	case *models.ActualLRPInstanceChangedEvent:
		before := e.GetBefore().ActualLRP(e.GetActualLrpKey(), e.GetActualLrpInstanceKey())
		after := e.GetAfter().ActualLRP(e.GetActualLrpKey(), e.GetActualLrpInstanceKey())
		if before == nil || after == nil {
			return Messages{}
		}
		return t.instanceChanged(before, after)
	case *models.ActualLRPInstanceRemovedEvent:
		if e.GetActualLrp().GetState() == models.ActualLRPStateRunning {
			return t.RemoveEndpoint(e.GetActualLrp())
		}
	}
	return Messages{}
}

func (t *Table) instanceChanged(before, after *models.ActualLRP) Messages {
	var m Messages
	switch {
	case after.GetState() == models.ActualLRPStateRunning:
		if Routed(after) {
			m = t.AddEndpoint(after)
		} else {
			// marked unroutable (e.g. before it is stopped): unregistered now
			m = t.RemoveEndpoint(after)
		}
		if before.GetState() == models.ActualLRPStateRunning &&
			before.GetPresence() == models.ActualLRP_ORDINARY && after.GetPresence() == models.ActualLRP_EVACUATING {
			// the evacuating record took over the ordinary one's address: nothing is sent
			m.add(t.RemoveEndpoint(before))
		}
	case before.GetState() == models.ActualLRPStateRunning:
		m = t.RemoveEndpoint(before)
	}
	return m
}

// endpointsOf is one endpoint per port mapping of the instance, with the entry it belongs to.
func endpointsOf(a *models.ActualLRP) map[Key]endpoint {
	out := map[Key]endpoint{}
	net := a.GetActualLrpNetInfo()
	for _, p := range net.GetPorts() {
		if p == nil {
			continue
		}
		out[Key{a.GetActualLrpKey().GetProcessGuid(), p.GetContainerPort()}] = endpoint{
			address: address{
				instanceGuid:     a.GetActualLrpInstanceKey().GetInstanceGuid(),
				index:            a.GetActualLrpKey().GetIndex(),
				host:             net.GetAddress(),
				port:             p.GetHostPort(),
				tlsPort:          p.GetHostTlsProxyPort(),
				availabilityZone: a.GetAvailabilityZone(),
			},
			evacuating: a.GetPresence() == models.ActualLRP_EVACUATING,
			since:      a.GetSince(),
			tag:        a.GetModificationTag(),
		}
	}
	return out
}

// AddEndpoint adds (or updates) a routed instance's endpoints. An instance whose index is not
// desired any more, or an older version of an endpoint the table holds, is ignored.
func (t *Table) AddEndpoint(a *models.ActualLRP) Messages {
	var m Messages
	eps := endpointsOf(a)
	for _, k := range sortedKeys(eps) {
		e := eps[k]
		cur := t.entries[k]
		if cur.desiredInstances > 0 && e.index >= cur.desiredInstances {
			continue
		}
		if old, ok := cur.endpoints[e.key()]; ok && !old.tag.SucceededBy(e.tag) {
			continue
		}
		next := cur.copy()
		next.endpoints[e.key()] = e
		t.put(k, cur, next)
		m.add(t.diff(cur, next))
	}
	return m
}

// RemoveEndpoint removes an instance's endpoints, unless the table holds a later version.
func (t *Table) RemoveEndpoint(a *models.ActualLRP) Messages {
	var m Messages
	eps := endpointsOf(a)
	for _, k := range sortedKeys(eps) {
		e := eps[k]
		cur := t.entries[k]
		old, ok := cur.endpoints[e.key()]
		if !ok || (!old.tag.Equal(e.tag) && !old.tag.SucceededBy(e.tag)) {
			continue
		}
		next := cur.copy()
		delete(next.endpoints, e.key())
		t.put(k, cur, next)
		m.add(t.diff(cur, next))
	}
	return m
}

// routesOf is the desired LRP's HTTP routes by entry; a "cf-router" value that does not decode
// routes nothing (as upstream).
func routesOf(d *models.DesiredLRP) map[Key][]route {
	if d == nil {
		return nil
	}
	cf, err := cfroutes.Decode(d.GetRoutes())
	if err != nil {
		return nil
	}
	out := map[Key][]route{}
	for _, r := range cf {
		k := Key{d.GetProcessGuid(), r.Port}
		var options *router.RouteOptions
		if r.Options != nil {
			options = &router.RouteOptions{LoadBalancing: r.Options.LoadBalancing}
		}
		for _, h := range r.Hostnames {
			out[k] = append(out[k], route{
				routeID: routeID{
					hostname:         h,
					routeServiceURL:  r.RouteServiceURL,
					isolationSegment: r.IsolationSegment,
					logGuid:          d.GetLogGuid(),
					protocol:         r.Protocol,
				},
				metricTags: d.GetMetricTags(),
				options:    options,
			})
		}
	}
	return out
}

// SetRoutes applies a desired LRP's change: before nil is a creation, after nil a removal. A
// version older than the table's is ignored. Scaling down drops the endpoints of the indices no
// longer desired at once.
func (t *Table) SetRoutes(before, after *models.DesiredLRP) Messages {
	var m Messages
	added, removed := routesOf(after), routesOf(before)
	for _, k := range sortedKeys(added) {
		cur := t.entries[k]
		if !cur.tag.SucceededBy(after.GetModificationTag()) {
			continue
		}
		next := cur.copy()
		next.domain = after.GetDomain()
		next.routes = added[k]
		next.tag = after.GetModificationTag()
		next.desiredInstances = after.GetInstances()
		if before != nil && before.GetInstances() > after.GetInstances() {
			for ek, e := range next.endpoints {
				if e.index >= after.GetInstances() {
					delete(next.endpoints, ek)
				}
			}
		}
		t.put(k, cur, next)
		m.add(t.diff(cur, next))
	}
	for _, k := range sortedKeys(removed) {
		if _, ok := added[k]; ok {
			continue
		}
		cur := t.entries[k]
		if after == nil {
			if !cur.tag.Equal(before.GetModificationTag()) && !cur.tag.SucceededBy(before.GetModificationTag()) {
				continue
			}
		} else if !cur.tag.SucceededBy(after.GetModificationTag()) {
			continue
		}
		next := cur.copy()
		next.routes = nil
		if after != nil {
			next.domain = after.GetDomain()
			next.tag = after.GetModificationTag()
			next.desiredInstances = after.GetInstances()
		}
		t.put(k, cur, next)
		m.add(t.diff(cur, next))
	}
	return m
}

// put replaces the entry cur of k with next (dropping it when next is empty).
func (t *Table) put(k Key, cur, next entry) {
	t.routeCount += pairs(next) - pairs(cur)
	if len(next.routes) == 0 && len(next.endpoints) == 0 {
		delete(t.entries, k)
		return
	}
	t.entries[k] = next
}

func pairs(e entry) int { return len(e.routes) * len(e.endpoints) }

// Snapshot is the BBS's state read at once for a full sync: every desired LRP (its routing
// fields suffice), every actual LRP, and the fresh domains.
type Snapshot struct {
	Desired      []*models.DesiredLRP
	Actual       []*models.ActualLRP
	FreshDomains []string
}

// Sync replaces the table with the one the snapshot describes, after replaying on it the events
// that arrived while the snapshot was read (in their order), and returns the difference. In an
// entry whose domain is not fresh, routes the snapshot lacks are kept (the BBS's data for that
// domain may be incomplete); its endpoints are always the snapshot's.
func (t *Table) Sync(s Snapshot, during []models.Event) Messages {
	next := &Table{entries: map[Key]entry{}, quiet: true}
	for _, d := range s.Desired {
		next.SetRoutes(nil, d)
	}
	for _, a := range s.Actual {
		if Routed(a) {
			next.AddEndpoint(a)
		}
	}
	for _, e := range during {
		next.Handle(e)
	}
	fresh := map[string]bool{}
	for _, d := range s.FreshDomains {
		fresh[d] = true
	}

	var m Messages
	keys := sortedKeys(next.entries)
	for k := range t.entries {
		if _, ok := next.entries[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareKeys)
	for _, k := range keys {
		cur, ok := t.entries[k]
		if !ok {
			m.add(diff(entry{}, next.entries[k]))
			continue
		}
		merged := keepUnfresh(cur, next.entries[k], fresh)
		next.put(k, next.entries[k], merged)
		m.add(diff(cur, merged))
	}
	t.entries, t.routeCount = next.entries, next.routeCount
	return m
}

// keepUnfresh is after with the routes of before that after lacks, when before's domain is not
// fresh. The domain is the snapshot's when it has one: an entry first made by an instance event
// has none, and keeping that would count its routes as never fresh.
func keepUnfresh(before, after entry, fresh map[string]bool) entry {
	merged := after.copy()
	merged.domain = cmp.Or(after.domain, before.domain)
	if fresh[before.domain] {
		return merged
	}
	for _, r := range before.routes {
		if !slices.ContainsFunc(after.routes, func(n route) bool { return n.routeID == r.routeID }) {
			merged.routes = append(merged.routes, r)
		}
	}
	return merged
}

// Emit is a registration of every route of every endpoint: the periodic renewal routers need.
func (t *Table) Emit() Messages {
	var m Messages
	for _, k := range sortedKeys(t.entries) {
		m.add(diff(entry{}, t.entries[k]))
	}
	return m
}

// RouteCount is the number of (route, endpoint) pairs: what one Emit registers.
func (t *Table) RouteCount() int { return t.routeCount }

// Size is the number of entries.
func (t *Table) Size() int { return len(t.entries) }

// diff is upstream's: a removed route is unregistered from every endpoint the entry had, an
// added one registered on every endpoint it has; a removed endpoint is unregistered from every
// route the entry had, an added one registered on every route it has, with its
// endpoint_updated_at_ns. An endpoint whose key changed only by evacuation (the same instance's
// other record at the same address) is neither.
func diff(before, after entry) Messages {
	removedRoutes, addedRoutes := routeDiff(before.routes, after.routes), routeDiff(after.routes, before.routes)
	removedEps, addedEps := endpointDiff(before.endpoints, after.endpoints), endpointDiff(after.endpoints, before.endpoints)

	var m Messages
	seen := map[messageID]bool{}
	emit := func(out *[]router.RegistryMessage, r route, e endpoint, updatedAt bool) {
		id := messageID{r.routeID, e.address, out == &m.Unregistrations}
		if seen[id] {
			return
		}
		seen[id] = true
		*out = append(*out, messageFor(r, e, updatedAt))
	}
	for _, r := range removedRoutes {
		for _, e := range sortedEndpoints(before.endpoints) {
			emit(&m.Unregistrations, r, e, false)
		}
	}
	for _, e := range removedEps {
		for _, r := range before.routes {
			emit(&m.Unregistrations, r, e, false)
		}
	}
	for _, r := range addedRoutes {
		for _, e := range sortedEndpoints(after.endpoints) {
			emit(&m.Registrations, r, e, false)
		}
	}
	for _, e := range addedEps {
		for _, r := range after.routes {
			emit(&m.Registrations, r, e, true)
		}
	}
	return m
}

type messageID struct {
	route      routeID
	address    address
	unregister bool
}

// routeDiff is the routes of a that b lacks.
func routeDiff(a, b []route) []route {
	var out []route
	for _, r := range a {
		if !slices.ContainsFunc(b, func(o route) bool { return o.routeID == r.routeID }) {
			out = append(out, r)
		}
	}
	return out
}

// endpointDiff is the endpoints of a that b lacks or has at another address; the same instance's
// record of the other presence (evacuating or not) counts as the same endpoint.
func endpointDiff(a, b map[endpointKey]endpoint) []endpoint {
	// most entries of a sync differ in nothing: sort only what differs
	out := map[endpointKey]endpoint{}
	for k, e := range a {
		o, ok := b[k]
		if !ok {
			o, ok = b[endpointKey{e.instanceGuid, !e.evacuating}]
		}
		if !ok || o.address != e.address {
			out[k] = e
		}
	}
	if len(out) == 0 {
		return nil
	}
	return sortedEndpoints(out)
}

func messageFor(r route, e endpoint, updatedAt bool) router.RegistryMessage {
	msg := router.RegistryMessage{
		Host:                e.host,
		Port:                uint16(e.port),
		TLSPort:             uint16(e.tlsPort),
		URIs:                []string{r.hostname},
		Protocol:            r.protocol,
		App:                 r.logGuid,
		RouteServiceURL:     r.routeServiceURL,
		PrivateInstanceID:   e.instanceGuid,
		ServerCertDomainSAN: e.instanceGuid,
		AvailabilityZone:    e.availabilityZone,
		IsolationSegment:    r.isolationSegment,
		Tags:                tagsFor(r.metricTags, e),
		Options:             r.options,
	}
	if e.instanceGuid != "" {
		msg.PrivateInstanceIndex = strconv.Itoa(int(e.index))
	}
	if updatedAt {
		msg.EndpointUpdatedAtNs = e.since
	}
	return msg
}

// tagsFor is the LRP's metric tags with their dynamic values resolved for the instance, and
// component=route-emitter.
func tagsFor(metricTags map[string]*models.MetricTagValue, e endpoint) map[string]string {
	tags := map[string]string{}
	for k, v := range metricTags {
		switch v.GetDynamic() {
		case models.MetricTagValue_INDEX:
			tags[k] = strconv.Itoa(int(e.index))
		case models.MetricTagValue_INSTANCE_GUID:
			tags[k] = e.instanceGuid
		default:
			tags[k] = v.GetStatic()
		}
	}
	tags["component"] = "route-emitter"
	return tags
}

func compareKeys(a, b Key) int {
	return cmp.Or(cmp.Compare(a.ProcessGuid, b.ProcessGuid), cmp.Compare(a.ContainerPort, b.ContainerPort))
}

func sortedKeys[V any](m map[Key]V) []Key {
	return slices.SortedFunc(maps.Keys(m), compareKeys)
}

func sortedEndpoints(m map[endpointKey]endpoint) []endpoint {
	return slices.SortedFunc(maps.Values(m), func(a, b endpoint) int {
		return cmp.Or(cmp.Compare(a.index, b.index), cmp.Compare(a.instanceGuid, b.instanceGuid),
			cmp.Compare(a.host, b.host), cmp.Compare(a.port, b.port))
	})
}
