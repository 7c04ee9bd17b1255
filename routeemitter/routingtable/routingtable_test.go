package routingtable_test

import (
	"encoding/json"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/routeemitter/cfroutes"
	rt "github.com/diego-go/diego/routeemitter/routingtable"
	"github.com/diego-go/diego/router"
)

const guid = "web-pg"

func web(hostnames ...string) cfroutes.Route { return cfroutes.Route{Hostnames: hostnames, Port: 8080} }

// desired is the LRP guid at version tag with instances and routes.
func desired(instances int32, tag uint32, routes ...cfroutes.Route) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid:     guid,
		Domain:          "cf-apps",
		LogGuid:         "log-web",
		Instances:       instances,
		ModificationTag: &models.ModificationTag{Epoch: "desired", Index: tag},
		Routes:          cfroutes.Encode(routes),
		MetricTags: map[string]*models.MetricTagValue{
			"app":      {Static: "web"},
			"index":    {Dynamic: models.MetricTagValue_INDEX},
			"instance": {Dynamic: models.MetricTagValue_INSTANCE_GUID},
		},
	}
}

// running is instance index of the LRP as container instanceGuid, RUNNING on 10.0.0.<index+1>
// with container port 8080 mapped to host port 61000+index.
func running(index int32, instanceGuid string) *models.ActualLRP {
	return &models.ActualLRP{
		ActualLrpKey:         &models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "cf-apps"},
		ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: instanceGuid, CellId: "cell-1"},
		ActualLrpNetInfo: &models.ActualLRPNetInfo{
			Address: fmt.Sprintf("10.0.0.%d", index+1),
			Ports:   []*models.PortMapping{{ContainerPort: 8080, HostPort: 61000 + uint32(index)}},
		},
		State:           models.ActualLRPStateRunning,
		Since:           1000 + int64(index),
		ModificationTag: &models.ModificationTag{Epoch: instanceGuid, Index: 1},
	}
}

// next is a's next version, changed by f.
func next(a *models.ActualLRP, f func(*models.ActualLRP)) *models.ActualLRP {
	n := proto.Clone(a).(*models.ActualLRP)
	n.ModificationTag = &models.ModificationTag{Epoch: a.GetModificationTag().GetEpoch(), Index: a.GetModificationTag().GetIndex() + 1}
	f(n)
	return n
}

// msg is the message for instance a under hostname, without endpoint_updated_at_ns.
func msg(a *models.ActualLRP, hostname string) router.RegistryMessage {
	return router.RegistryMessage{
		Host:                 a.GetActualLrpNetInfo().GetAddress(),
		Port:                 uint16(a.GetActualLrpNetInfo().GetPorts()[0].GetHostPort()),
		URIs:                 []string{hostname},
		App:                  "log-web",
		PrivateInstanceID:    a.GetActualLrpInstanceKey().GetInstanceGuid(),
		PrivateInstanceIndex: fmt.Sprint(a.GetActualLrpKey().GetIndex()),
		ServerCertDomainSAN:  a.GetActualLrpInstanceKey().GetInstanceGuid(),
		Tags: map[string]string{
			"component": "route-emitter", "app": "web",
			"index": fmt.Sprint(a.GetActualLrpKey().GetIndex()), "instance": a.GetActualLrpInstanceKey().GetInstanceGuid(),
		},
	}
}

// first is msg with the instance's since: the message of an endpoint's first registration.
func first(a *models.ActualLRP, hostname string) router.RegistryMessage {
	m := msg(a, hostname)
	m.EndpointUpdatedAtNs = a.GetSince()
	return m
}

func regs(ms ...router.RegistryMessage) rt.Messages   { return rt.Messages{Registrations: ms} }
func unregs(ms ...router.RegistryMessage) rt.Messages { return rt.Messages{Unregistrations: ms} }

func created(a *models.ActualLRP) models.Event { return models.NewActualLRPInstanceCreatedEvent(a, "") }
func changed(before, after *models.ActualLRP) models.Event {
	return models.NewActualLRPInstanceChangedEvent(before, after, "")
}
func removed(a *models.ActualLRP) models.Event { return models.NewActualLRPInstanceRemovedEvent(a, "") }

func routable(v bool) func(*models.ActualLRP) { return func(a *models.ActualLRP) { a.Routable = &v } }

var _ = Describe("the routing table", func() {
	var table *rt.Table
	BeforeEach(func() { table = rt.New() })
	AfterEach(func() {
		Expect(table.RouteCount()).To(Equal(len(table.Emit().Registrations)), "the count kept as entries change is what a walk finds")
	})

	Describe("the message", func() {
		It("is upstream's RegistryMessageFor, byte for byte", func() {
			d := desired(3, 1, cfroutes.Route{
				Hostnames: []string{"app.example.com"}, Port: 8080,
				RouteServiceURL: "https://rs.example.com", IsolationSegment: "iso-1", Protocol: "http2",
				Options: &cfroutes.Options{LoadBalancing: "least-connection"},
			})
			d.MetricTags = map[string]*models.MetricTagValue{"space": {Static: "s1"}, "i": {Dynamic: models.MetricTagValue_INDEX}}
			table.Handle(models.NewDesiredLRPCreatedEvent(d, ""))
			a := running(2, "ig-2")
			a.AvailabilityZone = "z1"
			a.ActualLrpNetInfo.Ports[0].HostTlsProxyPort = 61443
			a.Since = 1700000000123456789

			m := table.Handle(created(a))
			Expect(m.Unregistrations).To(BeEmpty())
			Expect(m.Registrations).To(HaveLen(1))
			b, err := json.Marshal(m.Registrations[0])
			Expect(err).NotTo(HaveOccurred())
			Expect(b).To(MatchJSON(`{
				"host": "10.0.0.3", "port": 61002, "tls_port": 61443, "uris": ["app.example.com"],
				"protocol": "http2", "app": "log-web", "route_service_url": "https://rs.example.com",
				"private_instance_id": "ig-2", "private_instance_index": "2", "server_cert_domain_san": "ig-2",
				"availability_zone": "z1", "isolation_segment": "iso-1",
				"endpoint_updated_at_ns": 1700000000123456789,
				"tags": {"component": "route-emitter", "space": "s1", "i": "2"},
				"options": {"loadbalancing": "least-connection"}
			}`))
		})
	})

	Describe("events", func() {
		It("registers a RUNNING instance on every hostname of its port, once its LRP is desired", func() {
			Expect(table.Handle(models.NewDesiredLRPCreatedEvent(desired(1, 1, web("a.example.com", "b.example.com")), ""))).To(Equal(rt.Messages{}))
			a := running(0, "ig-0")
			Expect(table.Handle(created(a))).To(Equal(regs(first(a, "a.example.com"), first(a, "b.example.com"))))
			Expect(table.RouteCount()).To(Equal(2))
			Expect(table.Size()).To(Equal(1))
		})

		It("holds an instance seen before its LRP, and registers it when the routes arrive (no endpoint_updated_at_ns: only the route is new)", func() {
			a := running(0, "ig-0")
			Expect(table.Handle(created(a))).To(Equal(rt.Messages{}))
			Expect(table.Handle(models.NewDesiredLRPCreatedEvent(desired(1, 1, web("a.example.com")), ""))).To(Equal(regs(msg(a, "a.example.com"))))
		})

		It("routes only RUNNING instances: a claimed one is registered when it starts", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(1, 1, web("a.example.com")), ""))
			claimed := running(0, "ig-0")
			claimed.State = models.ActualLRPStateClaimed
			claimed.ActualLrpNetInfo = nil
			Expect(table.Handle(created(claimed))).To(Equal(rt.Messages{}))
			started := next(claimed, func(a *models.ActualLRP) {
				a.State = models.ActualLRPStateRunning
				a.ActualLrpNetInfo = running(0, "ig-0").GetActualLrpNetInfo()
			})
			Expect(table.Handle(changed(claimed, started))).To(Equal(regs(first(started, "a.example.com"))))
		})

		It("follows the routable flag: unset and true route, false unregisters at once", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(1, 1, web("a.example.com")), ""))
			notYet := next(running(0, "ig-0"), routable(false))
			Expect(table.Handle(created(notYet))).To(Equal(rt.Messages{}))
			ready := next(notYet, routable(true))
			Expect(table.Handle(changed(notYet, ready))).To(Equal(regs(first(ready, "a.example.com"))))
			draining := next(ready, routable(false))
			Expect(table.Handle(changed(ready, draining))).To(Equal(unregs(msg(draining, "a.example.com"))))
			Expect(table.RouteCount()).To(Equal(0))

			By("the record's removal afterwards sends nothing more")
			Expect(table.Handle(removed(draining))).To(Equal(rt.Messages{}))
		})

		It("scales up: only the new instance is registered", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(1, 1, web("a.example.com")), ""))
			table.Handle(created(running(0, "ig-0")))
			Expect(table.Handle(models.NewDesiredLRPChangedEvent(desired(1, 1, web("a.example.com")), desired(3, 2, web("a.example.com")), ""))).To(Equal(rt.Messages{}))
			one, two := running(1, "ig-1"), running(2, "ig-2")
			Expect(table.Handle(created(one))).To(Equal(regs(first(one, "a.example.com"))))
			Expect(table.Handle(created(two))).To(Equal(regs(first(two, "a.example.com"))))
			Expect(table.RouteCount()).To(Equal(3))
		})

		It("scales down: the indices no longer desired are unregistered with the desired change, before their records go", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(3, 1, web("a.example.com")), ""))
			zero, one, two := running(0, "ig-0"), running(1, "ig-1"), running(2, "ig-2")
			for _, a := range []*models.ActualLRP{zero, one, two} {
				table.Handle(created(a))
			}
			Expect(table.Handle(models.NewDesiredLRPChangedEvent(desired(3, 1, web("a.example.com")), desired(1, 2, web("a.example.com")), ""))).
				To(Equal(unregs(msg(one, "a.example.com"), msg(two, "a.example.com"))))
			Expect(table.Handle(removed(one))).To(Equal(rt.Messages{}))
			Expect(table.Handle(removed(two))).To(Equal(rt.Messages{}))

			By("an instance of an index no longer desired is not routed")
			Expect(table.Handle(created(running(2, "ig-late")))).To(Equal(rt.Messages{}))
			Expect(table.RouteCount()).To(Equal(1))
		})

		It("unregisters a crashed instance, and registers it again when it runs again", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(1, 1, web("a.example.com")), ""))
			a := running(0, "ig-0")
			table.Handle(created(a))
			crashed := next(a, func(c *models.ActualLRP) {
				c.State = models.ActualLRPStateCrashed
				c.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{}
				c.ActualLrpNetInfo = nil
			})
			Expect(table.Handle(changed(a, crashed))).To(Equal(unregs(msg(a, "a.example.com"))))

			again := next(crashed, func(c *models.ActualLRP) {
				c.State = models.ActualLRPStateRunning
				c.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{InstanceGuid: "ig-0b", CellId: "cell-1"}
				c.ActualLrpNetInfo = running(0, "").GetActualLrpNetInfo()
				c.Since = 2000
			})
			Expect(table.Handle(changed(crashed, again))).To(Equal(regs(first(again, "a.example.com"))))
		})

		It("unregisters a RUNNING instance whose record is removed", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(2, 1, web("a.example.com")), ""))
			zero, one := running(0, "ig-0"), running(1, "ig-1")
			table.Handle(created(zero))
			table.Handle(created(one))
			Expect(table.Handle(removed(one))).To(Equal(unregs(msg(one, "a.example.com"))))
		})

		It("keeps an evacuating instance routed until its evacuating record is removed; its replacement is registered when it runs", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(1, 1, web("a.example.com")), ""))
			ordinary := running(0, "ig-0")
			table.Handle(created(ordinary))

			By("the evacuating record (same container, same address) is created: nothing is sent")
			evacuating := proto.Clone(ordinary).(*models.ActualLRP)
			evacuating.Presence = models.ActualLRP_EVACUATING
			evacuating.ModificationTag = &models.ModificationTag{Epoch: "evac", Index: 0}
			Expect(table.Handle(created(evacuating))).To(Equal(rt.Messages{}))

			By("the ordinary record goes back to UNCLAIMED: nothing is sent, the evacuating one still routes")
			unclaimed := next(ordinary, func(a *models.ActualLRP) {
				a.State = models.ActualLRPStateUnclaimed
				a.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{}
				a.ActualLrpNetInfo = nil
			})
			Expect(table.Handle(changed(ordinary, unclaimed))).To(Equal(rt.Messages{}))
			Expect(table.RouteCount()).To(Equal(1))

			By("the replacement runs: registered beside the evacuating instance")
			replacement := next(unclaimed, func(a *models.ActualLRP) {
				a.State = models.ActualLRPStateRunning
				a.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{InstanceGuid: "ig-new", CellId: "cell-2"}
				a.ActualLrpNetInfo = &models.ActualLRPNetInfo{Address: "10.0.0.9", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 62000}}}
				a.Since = 3000
			})
			Expect(table.Handle(changed(unclaimed, replacement))).To(Equal(regs(first(replacement, "a.example.com"))))
			Expect(table.RouteCount()).To(Equal(2))

			By("the evacuating record is removed: only then is the old instance unregistered")
			Expect(table.Handle(removed(evacuating))).To(Equal(unregs(msg(ordinary, "a.example.com"))))
			Expect(table.RouteCount()).To(Equal(1))
		})

		It("moves an ordinary RUNNING record that turns EVACUATING without sending anything", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(1, 1, web("a.example.com")), ""))
			ordinary := running(0, "ig-0")
			table.Handle(created(ordinary))
			evac := next(ordinary, func(a *models.ActualLRP) { a.Presence = models.ActualLRP_EVACUATING })
			Expect(table.Handle(changed(ordinary, evac))).To(Equal(rt.Messages{}))
			Expect(table.RouteCount()).To(Equal(1))
			Expect(table.Handle(removed(evac))).To(Equal(unregs(msg(ordinary, "a.example.com"))))
		})

		It("keeps a SUSPECT instance (its cell vanished) routed until its record is removed", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(1, 1, web("a.example.com")), ""))
			a := running(0, "ig-0")
			table.Handle(created(a))
			suspect := next(a, func(s *models.ActualLRP) { s.Presence = models.ActualLRP_SUSPECT })
			Expect(table.Handle(changed(a, suspect))).To(Equal(rt.Messages{}))
			Expect(table.RouteCount()).To(Equal(1))
			Expect(table.Handle(removed(suspect))).To(Equal(unregs(msg(a, "a.example.com"))))
		})

		It("unregisters the old address and registers the new one when an instance's address changes", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(1, 1, web("a.example.com")), ""))
			a := running(0, "ig-0")
			table.Handle(created(a))
			moved := next(a, func(m *models.ActualLRP) { m.ActualLrpNetInfo.Ports[0].HostPort = 61999 })
			Expect(table.Handle(changed(a, moved))).To(Equal(rt.Messages{
				Registrations:   []router.RegistryMessage{first(moved, "a.example.com")},
				Unregistrations: []router.RegistryMessage{msg(a, "a.example.com")},
			}))
		})

		It("sends the difference when the hostnames change: the removed ones unregistered, the added ones registered", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(2, 1, web("a.example.com", "b.example.com")), ""))
			zero, one := running(0, "ig-0"), running(1, "ig-1")
			table.Handle(created(zero))
			table.Handle(created(one))
			m := table.Handle(models.NewDesiredLRPChangedEvent(desired(2, 1, web("a.example.com", "b.example.com")), desired(2, 2, web("b.example.com", "c.example.com")), ""))
			Expect(m).To(Equal(rt.Messages{
				Registrations:   []router.RegistryMessage{msg(zero, "c.example.com"), msg(one, "c.example.com")},
				Unregistrations: []router.RegistryMessage{msg(zero, "a.example.com"), msg(one, "a.example.com")},
			}))
		})

		It("routes each container port's hostnames to the host port mapped to it", func() {
			d := desired(1, 1, web("a.example.com"), cfroutes.Route{Hostnames: []string{"admin.example.com"}, Port: 9090})
			table.Handle(models.NewDesiredLRPCreatedEvent(d, ""))
			a := running(0, "ig-0")
			a.ActualLrpNetInfo.Ports = append(a.ActualLrpNetInfo.Ports, &models.PortMapping{ContainerPort: 9090, HostPort: 61090})
			admin := first(a, "admin.example.com")
			admin.Port = 61090
			Expect(table.Handle(created(a))).To(Equal(regs(first(a, "a.example.com"), admin)))
		})

		It("unregisters every route of every instance when the desired LRP is removed", func() {
			d := desired(2, 1, web("a.example.com"))
			table.Handle(models.NewDesiredLRPCreatedEvent(d, ""))
			zero, one := running(0, "ig-0"), running(1, "ig-1")
			table.Handle(created(zero))
			table.Handle(created(one))
			Expect(table.Handle(models.NewDesiredLRPRemovedEvent(d, ""))).To(Equal(unregs(msg(zero, "a.example.com"), msg(one, "a.example.com"))))
			Expect(table.RouteCount()).To(Equal(0))
			By("the instances' removals afterwards send nothing and empty the table")
			table.Handle(removed(zero))
			table.Handle(removed(one))
			Expect(table.Size()).To(Equal(0))
		})

		It("ignores versions older than the table's", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(1, 5, web("a.example.com")), ""))
			a := running(0, "ig-0")
			table.Handle(created(a))
			Expect(table.Handle(models.NewDesiredLRPChangedEvent(desired(1, 3, web("a.example.com")), desired(1, 4, web("old.example.com")), ""))).To(Equal(rt.Messages{}))
			newer := next(a, func(*models.ActualLRP) {})
			table.Handle(changed(a, newer))
			Expect(table.Handle(removed(a))).To(Equal(rt.Messages{}), "an older record's removal")
			Expect(table.RouteCount()).To(Equal(1))
		})

		It("routes nothing for a cf-router value that does not decode", func() {
			d := desired(1, 1)
			d.Routes = &models.Routes{Routes: map[string][]byte{cfroutes.Key: []byte(`{"hostnames":`)}}
			table.Handle(models.NewDesiredLRPCreatedEvent(d, ""))
			Expect(table.Handle(created(running(0, "ig-0")))).To(Equal(rt.Messages{}))
		})
	})

	Describe("Emit", func() {
		It("registers every route of every endpoint, without endpoint_updated_at_ns (as upstream: route and endpoint both new)", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(2, 1, web("a.example.com", "b.example.com")), ""))
			zero, one := running(0, "ig-0"), running(1, "ig-1")
			table.Handle(created(one))
			table.Handle(created(zero))
			Expect(table.Emit()).To(Equal(regs(msg(zero, "a.example.com"), msg(one, "a.example.com"), msg(zero, "b.example.com"), msg(one, "b.example.com"))))
		})
	})

	Describe("a full sync", func() {
		var zero, one *models.ActualLRP
		BeforeEach(func() {
			zero, one = running(0, "ig-0"), running(1, "ig-1")
		})

		It("registers everything into an empty table, routing only RUNNING routable instances", func() {
			claimed := running(2, "ig-2")
			claimed.State = models.ActualLRPStateClaimed
			unroutable := next(running(3, "ig-3"), routable(false))
			m := table.Sync(rt.Snapshot{
				Desired:      []*models.DesiredLRP{desired(4, 1, web("a.example.com"))},
				Actual:       []*models.ActualLRP{one, claimed, zero, unroutable},
				FreshDomains: []string{"cf-apps"},
			}, nil)
			Expect(m).To(Equal(regs(msg(zero, "a.example.com"), msg(one, "a.example.com"))))
		})

		It("sends only the difference with the table: gone instances unregistered, new ones registered", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(3, 1, web("a.example.com")), ""))
			table.Handle(created(zero))
			table.Handle(created(one))
			two := running(2, "ig-2")
			m := table.Sync(rt.Snapshot{
				Desired:      []*models.DesiredLRP{desired(3, 1, web("a.example.com"))},
				Actual:       []*models.ActualLRP{zero, two},
				FreshDomains: []string{"cf-apps"},
			}, nil)
			Expect(m).To(Equal(rt.Messages{
				Registrations:   []router.RegistryMessage{first(two, "a.example.com")},
				Unregistrations: []router.RegistryMessage{msg(one, "a.example.com")},
			}))
			Expect(table.Sync(rt.Snapshot{Desired: []*models.DesiredLRP{desired(3, 1, web("a.example.com"))}, Actual: []*models.ActualLRP{zero, two}, FreshDomains: []string{"cf-apps"}}, nil)).
				To(Equal(rt.Messages{}), "a second identical sync")
		})

		It("keeps the routes of a domain that is not fresh when the snapshot lacks them, and drops them once the domain is fresh", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(1, 1, web("a.example.com", "b.example.com")), ""))
			table.Handle(created(zero))
			snapshot := rt.Snapshot{Desired: []*models.DesiredLRP{desired(1, 2, web("a.example.com"))}, Actual: []*models.ActualLRP{zero}}

			Expect(table.Sync(snapshot, nil)).To(Equal(rt.Messages{}), "domain not fresh")
			Expect(table.RouteCount()).To(Equal(2))

			snapshot.FreshDomains = []string{"cf-apps"}
			Expect(table.Sync(snapshot, nil)).To(Equal(unregs(msg(zero, "b.example.com"))))
			Expect(table.RouteCount()).To(Equal(1))
		})

		It("takes the snapshot's domain for an entry an instance event made, so its routes are dropped once that domain is fresh", func() {
			Expect(table.Handle(created(zero))).To(Equal(rt.Messages{}), "no routes yet: the entry has no domain")
			fresh := rt.Snapshot{Desired: []*models.DesiredLRP{desired(1, 1, web("a.example.com", "b.example.com"))}, Actual: []*models.ActualLRP{zero}, FreshDomains: []string{"cf-apps"}}
			Expect(table.Sync(fresh, nil)).To(Equal(regs(msg(zero, "a.example.com"), msg(zero, "b.example.com"))))

			fresh.Desired = []*models.DesiredLRP{desired(1, 2, web("a.example.com"))}
			Expect(table.Sync(fresh, nil)).To(Equal(unregs(msg(zero, "b.example.com"))))
		})

		It("keeps the routes of a stale domain's LRP the snapshot lacks entirely, but not its instances' endpoints", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(1, 1, web("a.example.com")), ""))
			table.Handle(created(zero))
			Expect(table.Sync(rt.Snapshot{}, nil)).To(Equal(unregs(msg(zero, "a.example.com"))))
			Expect(table.Size()).To(Equal(1), "the route is kept")
			Expect(table.Handle(created(zero))).To(Equal(regs(first(zero, "a.example.com"))))
		})

		It("replays on the snapshot the events that arrived while it was read", func() {
			table.Handle(models.NewDesiredLRPCreatedEvent(desired(2, 1, web("a.example.com")), ""))
			table.Handle(created(zero))
			m := table.Sync(rt.Snapshot{
				Desired:      []*models.DesiredLRP{desired(2, 1, web("a.example.com"))},
				Actual:       []*models.ActualLRP{zero},
				FreshDomains: []string{"cf-apps"},
			}, []models.Event{created(one), removed(zero)})
			Expect(m).To(Equal(rt.Messages{
				Registrations:   []router.RegistryMessage{first(one, "a.example.com")},
				Unregistrations: []router.RegistryMessage{msg(zero, "a.example.com")},
			}))
		})
	})
})
