package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/bbs/events"
	"github.com/diego-go/diego/models"
)

// Routes and answers as upstream's clients (rep, auctioneer, route emitter, cfdot, Cloud
// Controller) use them.
var _ = Describe("upstream's routes", func() {
	instance := func(guid string, index int32) *models.ActualLRP {
		idx := index
		as, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: guid, Index: &idx})
		Expect(err).NotTo(HaveOccurred())
		Expect(as).To(HaveLen(1))
		return as[0]
	}
	net := &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61000}}}
	routes := []*models.ActualLRPInternalRoute{{Hostname: "app.apps.internal"}}
	tags := map[string]string{"app_name": "web"}

	BeforeEach(func() {
		Expect(client.DesireLRP(ctx, desired("app", 2))).To(Succeed())
	})

	Describe("start and evacuate_running", func() {
		It("keeps routes, tags, routable and zone on start.r1, and drops routes and tags on the first revision", func() {
			Expect(post(bbs.StartActualLRPRouteR1, &models.StartActualLRPRequest{ActualLrpKey: key("app", 0), ActualLrpInstanceKey: ikey("ig-0", "cell-1"),
				ActualLrpNetInfo: net, ActualLrpInternalRoutes: routes, MetricTags: tags, Routable: ptr(false), AvailabilityZone: "z1"})).To(BeNil())
			a := instance("app", 0)
			Expect(a.GetActualLrpInternalRoutes()).To(HaveLen(1))
			Expect(a.GetActualLrpInternalRoutes()[0].GetHostname()).To(Equal("app.apps.internal"))
			Expect(a.GetMetricTags()).To(Equal(tags))
			Expect(a.Routable).NotTo(BeNil())
			Expect(a.GetRoutable()).To(BeFalse())
			Expect(a.GetAvailabilityZone()).To(Equal("z1"))

			// the first revision, routable left out: upstream takes it as true
			Expect(post(bbs.StartActualLRPRoute, &models.StartActualLRPRequest{ActualLrpKey: key("app", 1), ActualLrpInstanceKey: ikey("ig-1", "cell-1"),
				ActualLrpNetInfo: net, ActualLrpInternalRoutes: routes, MetricTags: tags, AvailabilityZone: "z1"})).To(BeNil())
			b := instance("app", 1)
			Expect(b.GetActualLrpInternalRoutes()).To(BeEmpty())
			Expect(b.GetMetricTags()).To(BeEmpty())
			Expect(b.Routable).NotTo(BeNil())
			Expect(b.GetRoutable()).To(BeTrue())
			Expect(b.GetAvailabilityZone()).To(Equal("z1"))
		})

		It("stores what upstream's rep sends to start.r1, byte for byte as it encodes it", func() {
			// StartActualLRPRequest{actual_lrp_key{process_guid "app", index 0, domain "cf-apps"},
			// actual_lrp_instance_key{"ig", "cell-1"}, net info{address "10.0.0.9"},
			// internal route{"h.internal"}, metric tag {"k": "v"}, routable false (present),
			// availability_zone "z9"}
			body := []byte("\x0a\x10\x0a\x03app\x10\x00\x1a\x07cf-apps" +
				"\x12\x0c\x0a\x02ig\x12\x06cell-1" +
				"\x1a\x0a\x0a\x0810.0.0.9" +
				"\x22\x0c\x0a\x0ah.internal" +
				"\x2a\x06\x0a\x01k\x12\x01v" +
				"\x30\x00" +
				"\x3a\x02z9")
			status, e := postRaw(bbs.StartActualLRPRouteR1, body)
			Expect(status).To(Equal(http.StatusOK))
			Expect(e).To(BeNil())
			a := instance("app", 0)
			Expect(a.GetActualLrpNetInfo().GetAddress()).To(Equal("10.0.0.9"))
			Expect(a.GetActualLrpInternalRoutes()[0].GetHostname()).To(Equal("h.internal"))
			Expect(a.GetMetricTags()).To(Equal(map[string]string{"k": "v"}))
			Expect(a.Routable).NotTo(BeNil())
			Expect(a.GetRoutable()).To(BeFalse())
			Expect(a.GetAvailabilityZone()).To(Equal("z9"))
		})

		It("keeps routes and tags on the evacuating record with evacuate_running.r1 only", func() {
			for i, route := range []string{bbs.EvacuateRunningRouteR1, bbs.EvacuateRunningRoute} {
				index := int32(i)
				ik := ikey("ig", "cell-1")
				Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key("app", index), ActualLrpInstanceKey: ik, ActualLrpNetInfo: net})).To(Succeed())
				var resp models.EvacuationResponse
				Expect(postInto(route, &models.EvacuateRunningActualLRPRequest{ActualLrpKey: key("app", index), ActualLrpInstanceKey: ik,
					ActualLrpNetInfo: net, ActualLrpInternalRoutes: routes, MetricTags: tags, Routable: ptr(true), AvailabilityZone: "z2"}, &resp).GetError()).To(BeNil())
				Expect(resp.GetKeepContainer()).To(BeTrue())
				all, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "app", Index: &index})
				Expect(err).NotTo(HaveOccurred())
				var evac *models.ActualLRP
				for _, a := range all {
					if a.GetPresence() == models.ActualLRP_EVACUATING {
						evac = a
					}
				}
				Expect(evac).NotTo(BeNil(), route)
				Expect(evac.GetAvailabilityZone()).To(Equal("z2"), route)
				Expect(evac.GetRoutable()).To(BeTrue(), route)
				if route == bbs.EvacuateRunningRouteR1 {
					Expect(evac.GetActualLrpInternalRoutes()).To(HaveLen(1), route)
					Expect(evac.GetMetricTags()).To(Equal(tags), route)
				} else {
					Expect(evac.GetActualLrpInternalRoutes()).To(BeEmpty(), route)
					Expect(evac.GetMetricTags()).To(BeEmpty(), route)
				}
			}
		})
	})

	It("answers keep_container as upstream to an evacuation request it refuses: true from evacuate_claimed and evacuate_running", func() {
		for route, keep := range map[string]bool{
			bbs.EvacuateClaimedRoute: true, bbs.EvacuateRunningRoute: true, bbs.EvacuateRunningRouteR1: true,
			bbs.EvacuateStoppedRoute: false, bbs.EvacuateCrashedRoute: false,
		} {
			var resp models.EvacuationResponse
			Expect(postDecode(route, []byte{}, &resp)).To(Equal(http.StatusOK))
			Expect(resp.GetError().GetType()).To(Equal(models.Error_InvalidRequest), route)
			Expect(resp.GetKeepContainer()).To(Equal(keep), route)
		}
	})

	Describe("actual LRP reads", func() {
		It("lists by several process guids", func() {
			Expect(client.DesireLRP(ctx, desired("other", 1))).To(Succeed())
			Expect(client.DesireLRP(ctx, desired("third", 1))).To(Succeed())
			var resp models.ActualLRPsByProcessGuidsResponse
			Expect(postInto(bbs.ActualLRPsByProcessGuidsRoute, &models.ActualLRPsByProcessGuidsRequest{ProcessGuids: []string{"app", "other", "app", "none"}}, &resp).GetError()).To(BeNil())
			var guids []string
			for _, a := range resp.GetActualLrps() {
				guids = append(guids, a.GetActualLrpKey().GetProcessGuid())
			}
			Expect(guids).To(ConsistOf("app", "app", "other"))
			Expect(post(bbs.ActualLRPsByProcessGuidsRoute, &models.ActualLRPsByProcessGuidsRequest{}).GetType()).To(Equal(models.Error_InvalidRequest))
		})

		It("answers the legacy group routes: one group per slot, the evacuating record apart", func() {
			ik := ikey("ig", "cell-1")
			Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key("app", 0), ActualLrpInstanceKey: ik, ActualLrpNetInfo: net})).To(Succeed())
			_, err := client.EvacuateRunningActualLRP(ctx, &models.EvacuateRunningActualLRPRequest{ActualLrpKey: key("app", 0), ActualLrpInstanceKey: ik, ActualLrpNetInfo: net})
			Expect(err).NotTo(HaveOccurred())

			var groups models.ActualLRPGroupsResponse
			Expect(postInto(bbs.ActualLRPGroupsByProcessGuidRoute, &models.ActualLRPGroupsByProcessGuidRequest{ProcessGuid: "app"}, &groups).GetError()).To(BeNil())
			Expect(groups.GetActualLrpGroups()).To(HaveLen(2))
			byIndex := map[int32]*models.ActualLRPGroup{}
			for _, g := range groups.GetActualLrpGroups() {
				a, _ := g.Resolve()
				byIndex[a.GetActualLrpKey().GetIndex()] = g
			}
			Expect(byIndex[0].GetInstance().GetState()).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(byIndex[0].GetEvacuating().GetActualLrpInstanceKey().GetCellId()).To(Equal("cell-1"))
			Expect(byIndex[1].GetEvacuating()).To(BeNil())

			Expect(postInto(bbs.ActualLRPGroupsRoute, &models.ActualLRPGroupsRequest{CellId: "cell-1"}, &groups).GetError()).To(BeNil())
			Expect(groups.GetActualLrpGroups()).To(HaveLen(1))
			Expect(groups.GetActualLrpGroups()[0].GetEvacuating()).NotTo(BeNil())
			Expect(postInto(bbs.ActualLRPGroupsRoute, &models.ActualLRPGroupsRequest{Domain: "cf-apps"}, &groups).GetActualLrpGroups()).To(HaveLen(2))

			var group models.ActualLRPGroupResponse
			Expect(postInto(bbs.ActualLRPGroupRoute, &models.ActualLRPGroupByProcessGuidAndIndexRequest{ProcessGuid: "app", Index: 1}, &group).GetError()).To(BeNil())
			Expect(group.GetActualLrpGroup().GetInstance().GetActualLrpKey().GetIndex()).To(Equal(int32(1)))
			Expect(post(bbs.ActualLRPGroupRoute, &models.ActualLRPGroupByProcessGuidAndIndexRequest{ProcessGuid: "app", Index: 5}).GetType()).To(Equal(models.Error_ResourceNotFound))
			Expect(post(bbs.ActualLRPGroupRoute, &models.ActualLRPGroupByProcessGuidAndIndexRequest{ProcessGuid: "nothing", Index: 0}).GetType()).To(Equal(models.Error_ResourceNotFound))
		})
	})

	Describe("desired LRP reads", func() {
		layered := func(guid string) *models.DesiredLRP {
			d := desired(guid, 0)
			d.LegacyDownloadUser = "vcap"
			d.ImageLayers = []*models.ImageLayer{
				{Name: "shared", Url: "http://files/s.tgz", DestinationPath: "/s", LayerType: models.ImageLayer_SHARED, MediaType: models.ImageLayer_TGZ},
				{Name: "excl", Url: "http://files/e.tgz", DestinationPath: "/e", LayerType: models.ImageLayer_EXCLUSIVE, MediaType: models.ImageLayer_TGZ,
					DigestAlgorithm: models.ImageLayer_SHA256, DigestValue: "abc"},
			}
			return d
		}

		It("answers one scheduling info by process guid, with volume_placement, or ResourceNotFound", func() {
			var resp models.DesiredLRPSchedulingInfoByProcessGuidResponse
			Expect(postInto(bbs.DesiredLRPSchedulingInfoRoute, &models.DesiredLRPByProcessGuidRequest{ProcessGuid: "app"}, &resp).GetError()).To(BeNil())
			Expect(resp.GetDesiredLrpSchedulingInfo().GetInstances()).To(Equal(int32(2)))
			Expect(resp.GetDesiredLrpSchedulingInfo().GetVolumePlacement()).NotTo(BeNil(), "upstream's auctioneer dereferences it")
			Expect(post(bbs.DesiredLRPSchedulingInfoRoute, &models.DesiredLRPByProcessGuidRequest{ProcessGuid: "none"}).GetType()).To(Equal(models.Error_ResourceNotFound))

			var list models.DesiredLRPSchedulingInfosResponse
			Expect(postInto(bbs.DesiredLRPSchedulingInfosRoute, &models.DesiredLRPsRequest{}, &list).GetDesiredLrpSchedulingInfos()).To(HaveLen(1))
			Expect(list.GetDesiredLrpSchedulingInfos()[0].GetVolumePlacement()).NotTo(BeNil())
		})

		It("filters by app guid, a prefix of the process guid, as upstream", func() {
			Expect(client.DesireLRP(ctx, desired("aaaa-v1", 0))).To(Succeed())
			Expect(client.DesireLRP(ctx, desired("aaaa-v2", 0))).To(Succeed())
			Expect(client.DesireLRP(ctx, desired("bbbb-v1", 0))).To(Succeed())
			guids := func(ds []*models.DesiredLRP) []string {
				var out []string
				for _, d := range ds {
					out = append(out, d.GetProcessGuid())
				}
				return out
			}
			var resp models.DesiredLRPsResponse
			Expect(guids(postInto(bbs.DesiredLRPsRoute, &models.DesiredLRPsRequest{AppGuids: []string{"aaaa"}}, &resp).GetDesiredLrps())).To(ConsistOf("aaaa-v1", "aaaa-v2"))
			Expect(guids(postInto(bbs.DesiredLRPsRoute, &models.DesiredLRPsRequest{AppGuids: []string{"aaaa", "bbbb"}, ProcessGuids: []string{"aaaa-v2", "bbbb-v1", "app"}}, &resp).GetDesiredLrps())).To(ConsistOf("aaaa-v2", "bbbb-v1"))
			var infos models.DesiredLRPSchedulingInfosResponse
			Expect(postInto(bbs.DesiredLRPSchedulingInfosRoute, &models.DesiredLRPsRequest{AppGuids: []string{"bbbb"}}, &infos).GetDesiredLrpSchedulingInfos()).To(HaveLen(1))
			// served by the record cache, which must apply every filter as etcd's read does
			Expect(postInto(bbs.DesiredLRPSchedulingInfosRoute, &models.DesiredLRPsRequest{AppGuids: []string{"bbbb"}, ProcessGuids: []string{"aaaa-v2", "bbbb-v1"}}, &infos).GetDesiredLrpSchedulingInfos()).To(HaveLen(1))
		})

		It("answers image layers on .r3 and as cached dependencies and downloads on .r2", func() {
			Expect(client.DesireLRP(ctx, layered("layers"))).To(Succeed())
			var r3, r2 models.DesiredLRPResponse
			Expect(postInto(bbs.DesiredLRPByProcessGuidRoute, &models.DesiredLRPByProcessGuidRequest{ProcessGuid: "layers"}, &r3).GetError()).To(BeNil())
			Expect(r3.GetDesiredLrp().GetImageLayers()).To(HaveLen(2))
			Expect(postInto(bbs.DesiredLRPByProcessGuidRouteR2, &models.DesiredLRPByProcessGuidRequest{ProcessGuid: "layers"}, &r2).GetError()).To(BeNil())
			Expect(proto.Equal(r2.GetDesiredLrp(), r3.GetDesiredLrp().WithoutImageLayers())).To(BeTrue())
			Expect(r2.GetDesiredLrp().GetImageLayers()).To(BeEmpty())
			Expect(r2.GetDesiredLrp().GetCachedDependencies()).To(HaveLen(1))
			Expect(r2.GetDesiredLrp().GetSetup().GetParallelAction().GetActions()[0].GetDownloadAction().GetCacheKey()).To(Equal("sha256:abc"))
			Expect(post(bbs.DesiredLRPByProcessGuidRouteR2, &models.DesiredLRPByProcessGuidRequest{ProcessGuid: "none"}).GetType()).To(Equal(models.Error_ResourceNotFound))

			var list models.DesiredLRPsResponse
			Expect(postInto(bbs.DesiredLRPsRouteR2, &models.DesiredLRPsRequest{ProcessGuids: []string{"layers"}}, &list).GetDesiredLrps()).To(HaveLen(1))
			Expect(proto.Equal(list.GetDesiredLrps()[0], r2.GetDesiredLrp())).To(BeTrue())
		})

		It("answers tasks' image layers as cached dependencies and downloads on .r2", func() {
			def := taskDef()
			def.LegacyDownloadUser = "vcap"
			def.ImageLayers = layered("x").GetImageLayers()
			Expect(client.DesireTask(ctx, "layered-task", "d", def)).To(Succeed())
			var r3, r2 models.TaskResponse
			Expect(postInto(bbs.TaskByGuidRoute, &models.TaskByGuidRequest{TaskGuid: "layered-task"}, &r3).GetTask().GetTaskDefinition().GetImageLayers()).To(HaveLen(2))
			Expect(postInto(bbs.TaskByGuidRouteR2, &models.TaskByGuidRequest{TaskGuid: "layered-task"}, &r2).GetError()).To(BeNil())
			Expect(proto.Equal(r2.GetTask(), r3.GetTask().WithoutImageLayers())).To(BeTrue())
			Expect(r2.GetTask().GetTaskDefinition().GetImageLayers()).To(BeEmpty())
			Expect(r2.GetTask().GetTaskDefinition().GetAction().GetSerialAction().GetActions()).To(HaveLen(2))
			Expect(post(bbs.TaskByGuidRouteR2, &models.TaskByGuidRequest{TaskGuid: "none"}).GetType()).To(Equal(models.Error_ResourceNotFound))
			var list models.TasksResponse
			Expect(postInto(bbs.TasksRouteR2, &models.TasksRequest{Domain: "d"}, &list).GetTasks()).To(HaveLen(1))
			Expect(proto.Equal(list.GetTasks()[0], r2.GetTask())).To(BeTrue())
		})
	})

	It("posts the task callback as upstream's JSON, false and empty fields included", func() {
		bodies := make(chan []byte, 1)
		cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			bodies <- b
		}))
		DeferCleanup(cb.Close)
		def := taskDef()
		def.CompletionCallbackUrl = cb.URL
		Expect(client.DesireTask(ctx, "cbt", "d", def)).To(Succeed())
		t, err := client.TaskByGuid(ctx, "cbt")
		Expect(err).NotTo(HaveOccurred())
		_, err = client.StartTask(ctx, "cbt", "cell-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(client.CompleteTask(ctx, "cbt", "cell-1", false, "", "")).To(Succeed())
		var body []byte
		Eventually(bodies, "5s").Should(Receive(&body))
		want, _ := json.Marshal(t.GetCreatedAt())
		Expect(string(body)).To(Equal(`{"task_guid":"cbt","failed":false,"failure_reason":"","result":"","created_at":` + string(want) + `}`))
	})

	Describe("events", func() {
		It("serves GET /v1/events.r1 with desired LRP events and the legacy group events, filtered by cell", func() {
			all, err := client.SubscribeToLRPGroupEvents(ctx, "")
			Expect(err).NotTo(HaveOccurred())
			defer all.Close()
			onCell, err := client.SubscribeToLRPGroupEvents(ctx, "cell-1")
			Expect(err).NotTo(HaveOccurred())
			defer onCell.Close()
			Eventually(groupHub.SubscriberCount).Should(Equal(2))

			next := func(s *bbs.EventStream) models.Event {
				e, err := s.Next()
				Expect(err).NotTo(HaveOccurred())
				return e
			}
			Expect(client.DesireLRP(ctx, desired("ev", 1))).To(Succeed())
			Expect(next(all).EventType()).To(Equal(models.EventTypeDesiredLRPCreated))
			created := next(all).(*models.ActualLRPCreatedEvent)
			Expect(created.GetActualLrpGroup().GetInstance().GetActualLrpKey().GetProcessGuid()).To(Equal("ev"))
			Expect(created.GetActualLrpGroup().GetInstance().GetState()).To(Equal(models.ActualLRPStateUnclaimed))

			Expect(client.ClaimActualLRP(ctx, "ev", 0, ikey("ig", "cell-1"))).To(Succeed())
			changed := next(all).(*models.ActualLRPChangedEvent)
			Expect(changed.GetBefore().GetInstance().GetState()).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(changed.GetAfter().GetInstance().GetState()).To(Equal(models.ActualLRPStateClaimed))

			Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key("ev", 0), ActualLrpInstanceKey: ikey("ig", "cell-1"),
				ActualLrpNetInfo: net, ActualLrpInternalRoutes: routes})).To(Succeed())
			running := next(all).(*models.ActualLRPChangedEvent).GetAfter().GetInstance()
			Expect(running.GetState()).To(Equal(models.ActualLRPStateRunning))
			Expect(running.GetActualLrpInternalRoutes()).To(HaveLen(1), "a group carries the whole record")

			Expect(client.CrashActualLRP(ctx, key("ev", 0), ikey("ig", "cell-1"), "boom")).To(Succeed())
			Expect(next(all).EventType()).To(Equal(models.EventTypeActualLRPCrashed))
			Expect(next(all).EventType()).To(Equal(models.EventTypeActualLRPChanged))

			// the cell's stream: desired LRP events, and the group events that concern cell-1
			var seen []string
			for len(seen) < 5 {
				seen = append(seen, next(onCell).EventType())
			}
			Expect(seen).To(Equal([]string{
				models.EventTypeDesiredLRPCreated,
				models.EventTypeActualLRPChanged, // claimed on cell-1
				models.EventTypeActualLRPChanged, // running
				models.EventTypeActualLRPCrashed,
				models.EventTypeActualLRPChanged,
			}))
		})

		It("sends an evacuation's legacy events as upstream: the evacuating RUNNING copy before the slot it left", func() {
			stream, err := client.SubscribeToLRPGroupEvents(ctx, "")
			Expect(err).NotTo(HaveOccurred())
			defer stream.Close()
			Eventually(groupHub.SubscriberCount).Should(Equal(1))
			Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key("app", 0), ActualLrpInstanceKey: ikey("ig", "cell-1"), ActualLrpNetInfo: net})).To(Succeed())
			e, err := stream.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.EventType()).To(Equal(models.EventTypeActualLRPChanged))

			_, err = client.EvacuateRunningActualLRP(ctx, &models.EvacuateRunningActualLRPRequest{ActualLrpKey: key("app", 0), ActualLrpInstanceKey: ikey("ig", "cell-1"), ActualLrpNetInfo: net})
			Expect(err).NotTo(HaveOccurred())
			e, err = stream.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.(*models.ActualLRPCreatedEvent).GetActualLrpGroup().GetEvacuating().GetState()).To(Equal(models.ActualLRPStateRunning))
			e, err = stream.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.(*models.ActualLRPChangedEvent).GetAfter().GetInstance().GetState()).To(Equal(models.ActualLRPStateUnclaimed))
		})

		It("serves the first revisions of the three streams, with desired LRPs and Tasks in their first shapes", func() {
			open := func(method, route string) *events.EventSource {
				req, err := http.NewRequestWithContext(ctx, method, server.URL+route, nil)
				Expect(err).NotTo(HaveOccurred())
				resp, err := http.DefaultClient.Do(req)
				Expect(err).NotTo(HaveOccurred())
				Expect(resp.StatusCode).To(Equal(http.StatusOK), route)
				src := events.NewEventSource(resp.Body)
				DeferCleanup(src.Close)
				return src
			}
			groups := open(http.MethodGet, bbs.LRPGroupEventsRouteR0)
			instances := open(http.MethodPost, bbs.LRPInstanceEventsRouteR0)
			tasks := open(http.MethodPost, bbs.TaskEventsRouteR0)
			Eventually(groupHub.SubscriberCount).Should(Equal(1))
			Eventually(lrpHub.SubscriberCount).Should(Equal(1))
			Eventually(taskHub.SubscriberCount).Should(Equal(1))

			d := desired("first", 1)
			d.StartTimeoutMs = 60000
			Expect(client.DesireLRP(ctx, d)).To(Succeed())
			for _, src := range []*events.EventSource{groups, instances} {
				e, err := src.Next()
				Expect(err).NotTo(HaveOccurred())
				Expect(e.(*models.DesiredLRPCreatedEvent).GetDesiredLrp().GetDeprecatedStartTimeoutS()).To(Equal(uint32(60)))
			}
			e, err := groups.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.EventType()).To(Equal(models.EventTypeActualLRPCreated))
			e, err = instances.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.EventType()).To(Equal(models.EventTypeActualLRPInstanceCreated))

			def := taskDef()
			def.ImageLayers = []*models.ImageLayer{{Name: "s", Url: "http://files/s.tgz", DestinationPath: "/s", LayerType: models.ImageLayer_SHARED, MediaType: models.ImageLayer_TGZ}}
			Expect(client.DesireTask(ctx, "first-task", "d", def)).To(Succeed())
			e, err = tasks.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.(*models.TaskCreatedEvent).GetTask().GetTaskDefinition().GetImageLayers()).To(BeEmpty())
			Expect(e.(*models.TaskCreatedEvent).GetTask().GetTaskDefinition().GetCachedDependencies()).To(HaveLen(1))
		})

		It("answers only GET and POST on /v1/events.r1, as upstream's GET with an optional body", func() {
			req, err := http.NewRequest(http.MethodPut, server.URL+bbs.LRPGroupEventsRoute, nil)
			Expect(err).NotTo(HaveOccurred())
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusMethodNotAllowed))
		})

		It("carries the request's X-Vcap-Request-Id as trace_id", func() {
			stream, err := client.SubscribeToLRPInstanceEvents(ctx, "")
			Expect(err).NotTo(HaveOccurred())
			defer stream.Close()
			Eventually(lrpHub.SubscriberCount).Should(Equal(1))

			send := func(route string, m proto.Message, id string) {
				b, err := proto.Marshal(m)
				Expect(err).NotTo(HaveOccurred())
				req, err := http.NewRequest(http.MethodPost, server.URL+route, bytes.NewReader(b))
				Expect(err).NotTo(HaveOccurred())
				req.Header.Set(bbs.RequestIDHeader, id)
				resp, err := http.DefaultClient.Do(req)
				Expect(err).NotTo(HaveOccurred())
				resp.Body.Close()
			}
			send(bbs.DesireDesiredLRPRoute, &models.DesireLRPRequest{DesiredLrp: desired("traced", 1)}, "4f0c3a5e-desire")
			e, err := stream.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.(*models.DesiredLRPCreatedEvent).GetTraceId()).To(Equal("4f0c3a5e-desire"))
			e, err = stream.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.(*models.ActualLRPInstanceCreatedEvent).GetTraceId()).To(Equal("4f0c3a5e-desire"))

			send(bbs.ClaimActualLRPRoute, &models.ClaimActualLRPRequest{ProcessGuid: "traced", ActualLrpInstanceKey: ikey("ig", "cell-1")}, "claim-id")
			e, err = stream.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.(*models.ActualLRPInstanceChangedEvent).GetTraceId()).To(Equal("claim-id"))

			send(bbs.RemoveDesiredLRPRoute, &models.RemoveDesiredLRPRequest{ProcessGuid: "traced"}, "remove-id")
			e, err = stream.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.(*models.DesiredLRPRemovedEvent).GetTraceId()).To(Equal("remove-id"))
		})
	})
})
