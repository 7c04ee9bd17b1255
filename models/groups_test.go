package models_test

import (
	"encoding/json"

	"github.com/diego-go/diego/models"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
)

var _ = Describe("ActualLRP groups (the legacy views)", func() {
	lrp := func(index int32, state string, p models.ActualLRP_Presence, cell string) *models.ActualLRP {
		k := actualLRPKey()
		k.Index = index
		ik := &models.ActualLRPInstanceKey{}
		if cell != "" {
			ik = &models.ActualLRPInstanceKey{InstanceGuid: "i-" + cell, CellId: cell}
		}
		return &models.ActualLRP{ActualLrpKey: k, ActualLrpInstanceKey: ik, State: state, Presence: p}
	}
	const (
		U = models.ActualLRPStateUnclaimed
		C = models.ActualLRPStateClaimed
		R = models.ActualLRPStateRunning
		X = models.ActualLRPStateCrashed
	)

	Describe("ResolveActualLRPGroups", func() {
		It("makes one group per slot, in the order slots first appear, with the evacuating record apart", func() {
			ordinary0 := lrp(0, U, models.ActualLRP_ORDINARY, "")
			evac0 := lrp(0, R, models.ActualLRP_EVACUATING, "old")
			ordinary1 := lrp(1, R, models.ActualLRP_ORDINARY, "a")
			groups := models.ResolveActualLRPGroups([]*models.ActualLRP{ordinary1, ordinary0, evac0})
			Expect(groups).To(HaveLen(2))
			Expect(groups[0].GetInstance()).To(BeIdenticalTo(ordinary1))
			Expect(groups[0].GetEvacuating()).To(BeNil())
			Expect(groups[1].GetInstance()).To(BeIdenticalTo(ordinary0))
			Expect(groups[1].GetEvacuating()).To(BeIdenticalTo(evac0))
		})

		DescribeTable("gives a suspect instance the place only while its replacement is not running",
			func(suspectState, ordinaryState string, suspectWins bool) {
				suspect := lrp(0, suspectState, models.ActualLRP_SUSPECT, "gone")
				ordinary := lrp(0, ordinaryState, models.ActualLRP_ORDINARY, "b")
				for _, order := range [][]*models.ActualLRP{{suspect, ordinary}, {ordinary, suspect}} {
					g := models.ResolveActualLRPGroups(order)
					Expect(g).To(HaveLen(1))
					if suspectWins {
						Expect(g[0].GetInstance()).To(BeIdenticalTo(suspect))
					} else {
						Expect(g[0].GetInstance()).To(BeIdenticalTo(ordinary))
					}
				}
			},
			Entry("RUNNING suspect, CLAIMED replacement", R, C, true),
			Entry("RUNNING suspect, RUNNING replacement", R, R, false),
			Entry("CLAIMED suspect, UNCLAIMED replacement", C, U, true),
		)
	})

	DescribeTable("Resolve: the instance a legacy client takes the group for",
		func(instanceState string, hasEvac, wantEvac bool) {
			g := &models.ActualLRPGroup{Instance: lrp(0, instanceState, models.ActualLRP_ORDINARY, "new")}
			if hasEvac {
				g.Evacuating = lrp(0, R, models.ActualLRP_EVACUATING, "old")
			}
			a, evacuating := g.Resolve()
			Expect(evacuating).To(Equal(wantEvac))
			if wantEvac {
				Expect(a).To(BeIdenticalTo(g.Evacuating))
			} else {
				Expect(a).To(BeIdenticalTo(g.Instance))
			}
		},
		Entry("no evacuating record", U, false, false),
		Entry("the replacement is RUNNING", R, true, false),
		Entry("the replacement CRASHED", X, true, false),
		Entry("the replacement is only CLAIMED", C, true, true),
		Entry("the replacement is UNCLAIMED", U, true, true),
	)

	Describe("ActualLRPGroupEvents", func() {
		names := func(evs []models.Event) []string {
			var out []string
			for _, e := range evs {
				out = append(out, e.EventType())
			}
			return out
		}

		It("reports a record appearing or going as created or removed, in the group it belongs in", func() {
			evac := lrp(0, R, models.ActualLRP_EVACUATING, "old")
			created := models.ActualLRPGroupEvents(nil, evac)
			Expect(names(created)).To(Equal([]string{"actual_lrp_created"}))
			Expect(created[0].(*models.ActualLRPCreatedEvent).GetActualLrpGroup().GetEvacuating()).To(BeIdenticalTo(evac))
			removed := models.ActualLRPGroupEvents(evac, nil)
			Expect(names(removed)).To(Equal([]string{"actual_lrp_removed"}))
			Expect(removed[0].Key()).To(Equal("i-old"))
		})

		It("reports nothing when nothing changed", func() {
			Expect(models.ActualLRPGroupEvents(lrp(0, R, models.ActualLRP_ORDINARY, "a"), lrp(0, R, models.ActualLRP_ORDINARY, "a"))).To(BeEmpty())
		})

		DescribeTable("reports a change",
			func(before, after *models.ActualLRP, want []string) {
				Expect(names(models.ActualLRPGroupEvents(before, after))).To(Equal(want))
			},
			Entry("claimed", lrp(0, U, 0, ""), lrp(0, C, 0, "a"), []string{"actual_lrp_changed"}),
			Entry("started", lrp(0, C, 0, "a"), lrp(0, R, 0, "a"), []string{"actual_lrp_changed"}),
			Entry("unclaimed (the legacy stream keeps it one change)", lrp(0, R, 0, "a"), lrp(0, U, 0, ""), []string{"actual_lrp_changed"}),
			Entry("crashed", lrp(0, R, 0, "a"), lrp(0, X, 0, ""), []string{"actual_lrp_changed"}),
			Entry("another container took the slot", lrp(0, R, 0, "a"), lrp(0, R, 0, "b"), []string{"actual_lrp_created", "actual_lrp_removed"}),
		)
	})

	It("orders one change's legacy events as upstream: crashes, then what leaves a RUNNING instance, then the rest", func() {
		running, unclaimed := lrp(0, R, models.ActualLRP_ORDINARY, "a"), lrp(0, U, models.ActualLRP_ORDINARY, "")
		evac := lrp(0, R, models.ActualLRP_EVACUATING, "a")
		removed := &models.ActualLRPRemovedEvent{ActualLrpGroup: running.ActualLRPGroup()}
		toUnclaimed := &models.ActualLRPChangedEvent{Before: running.ActualLRPGroup(), After: unclaimed.ActualLRPGroup()}
		evacCreated := &models.ActualLRPCreatedEvent{ActualLrpGroup: evac.ActualLRPGroup()}
		crashed := models.NewActualLRPCrashedEvent(running, unclaimed)
		evs := []models.Event{removed, toUnclaimed, evacCreated, crashed}
		models.OrderGroupEvents(evs)
		Expect(evs).To(Equal([]models.Event{crashed, evacCreated, removed, toUnclaimed}))
	})

	It("decodes an upstream ActualLRPGroupsResponse written out by hand", func() {
		// field 2 (actual_lrp_groups) holding a group whose field 1 (instance)
		// is an ActualLRP with key {process_guid "p", index 1} and state RUNNING,
		// and whose field 2 (evacuating) has presence EVACUATING (field 10 = 1)
		instance := []byte{0x0a, 0x05, 0x0a, 0x01, 'p', 0x10, 0x01, 0x32, 0x07, 'R', 'U', 'N', 'N', 'I', 'N', 'G'}
		evacuating := []byte{0x0a, 0x05, 0x0a, 0x01, 'p', 0x10, 0x01, 0x50, 0x01}
		group := append(append([]byte{0x0a, byte(len(instance))}, instance...), append([]byte{0x12, byte(len(evacuating))}, evacuating...)...)
		body := append([]byte{0x12, byte(len(group))}, group...)

		var resp models.ActualLRPGroupsResponse
		Expect(proto.Unmarshal(body, &resp)).To(Succeed())
		Expect(resp.GetActualLrpGroups()).To(HaveLen(1))
		g := resp.GetActualLrpGroups()[0]
		Expect(g.GetInstance().GetActualLrpKey().GetProcessGuid()).To(Equal("p"))
		Expect(g.GetInstance().GetActualLrpKey().GetIndex()).To(Equal(int32(1)))
		Expect(g.GetInstance().GetState()).To(Equal(R))
		Expect(g.GetEvacuating().GetPresence()).To(Equal(models.ActualLRP_EVACUATING))
		again, err := proto.Marshal(&resp)
		Expect(err).NotTo(HaveOccurred())
		Expect(again).To(Equal(body))
	})

	It("names the legacy events as upstream's stream does and decodes them by name", func() {
		for name, e := range map[string]models.Event{
			"actual_lrp_created": &models.ActualLRPCreatedEvent{},
			"actual_lrp_changed": &models.ActualLRPChangedEvent{},
			"actual_lrp_removed": &models.ActualLRPRemovedEvent{},
		} {
			Expect(e.EventType()).To(Equal(name))
			decoded, err := models.NewEventByType(name)
			Expect(err).NotTo(HaveOccurred())
			Expect(decoded.EventType()).To(Equal(name))
		}
	})

	It("filters the legacy events by the cell of the instance the group resolves to, before or after a change", func() {
		onA, onB := lrp(0, R, 0, "a"), lrp(0, R, 0, "b")
		Expect(models.EventConcernsCell(&models.ActualLRPCreatedEvent{ActualLrpGroup: onA.ActualLRPGroup()}, "a")).To(BeTrue())
		Expect(models.EventConcernsCell(&models.ActualLRPCreatedEvent{ActualLrpGroup: onA.ActualLRPGroup()}, "b")).To(BeFalse())
		changed := &models.ActualLRPChangedEvent{Before: onA.ActualLRPGroup(), After: onB.ActualLRPGroup()}
		Expect(models.EventConcernsCell(changed, "a")).To(BeTrue())
		Expect(models.EventConcernsCell(changed, "b")).To(BeTrue())
		Expect(models.EventConcernsCell(changed, "c")).To(BeFalse())
		Expect(models.EventConcernsCell(&models.ActualLRPRemovedEvent{ActualLrpGroup: onB.ActualLRPGroup()}, "a")).To(BeFalse())
	})
})

var _ = Describe("Upstream-shaped bytes and JSON", func() {
	It("decodes a StartActualLRPRequest as upstream's rep sends it to start.r1, keeping every field", func() {
		key := []byte{0x0a, 0x01, 'p', 0x10, 0x02, 0x1a, 0x01, 'd'}
		ik := []byte{0x0a, 0x01, 'i', 0x12, 0x01, 'c'}
		net := []byte{0x0a, 0x04, '1', '.', '2', '3', 0x2a, 0x02, ':', ':'}
		route := []byte{0x0a, 0x03, 'a', '.', 'b'}
		tag := []byte{0x0a, 0x03, 'a', 'p', 'p', 0x12, 0x01, 'w'}
		var body []byte
		for _, f := range []struct {
			tag byte
			b   []byte
		}{{0x0a, key}, {0x12, ik}, {0x1a, net}, {0x22, route}, {0x2a, tag}} {
			body = append(body, f.tag, byte(len(f.b)))
			body = append(body, f.b...)
		}
		body = append(body, 0x30, 0x00)           // routable (6) = false, present
		body = append(body, 0x3a, 0x02, 'z', '1') // availability_zone (7)
		req := &models.StartActualLRPRequest{}
		Expect(models.DecodeRequest(body, req)).To(BeNil())
		Expect(req.GetActualLrpKey().GetIndex()).To(Equal(int32(2)))
		Expect(req.GetActualLrpNetInfo().GetInstanceIpv6Address()).To(Equal("::"))
		Expect(req.GetActualLrpInternalRoutes()[0].GetHostname()).To(Equal("a.b"))
		Expect(req.GetMetricTags()).To(Equal(map[string]string{"app": "w"}))
		Expect(req.Routable).NotTo(BeNil(), "an explicit false must differ from absent")
		Expect(*req.Routable).To(BeFalse())
		Expect(req.GetAvailabilityZone()).To(Equal("z1"))

		var evac models.EvacuateRunningActualLRPRequest
		// the same fields, one number further from field 4 on (4 is reserved there)
		evacBody := []byte{0x0a, byte(len(key))}
		evacBody = append(evacBody, key...)
		evacBody = append(evacBody, 0x12, byte(len(ik)))
		evacBody = append(evacBody, ik...)
		evacBody = append(evacBody, 0x1a, byte(len(net)))
		evacBody = append(evacBody, net...)
		evacBody = append(evacBody, 0x2a, byte(len(route)))
		evacBody = append(evacBody, route...)
		evacBody = append(evacBody, 0x32, byte(len(tag)))
		evacBody = append(evacBody, tag...)
		evacBody = append(evacBody, 0x38, 0x01, 0x42, 0x02, 'z', '1')
		Expect(models.DecodeRequest(evacBody, &evac)).To(BeNil())
		Expect(evac.GetActualLrpInternalRoutes()[0].GetHostname()).To(Equal("a.b"))
		Expect(evac.GetMetricTags()).To(Equal(map[string]string{"app": "w"}))
		Expect(evac.GetRoutable()).To(BeTrue())
		Expect(evac.GetAvailabilityZone()).To(Equal("z1"))
	})

	It("always encodes a scheduling info's volume_placement, even without volumes", func() {
		s := validDesiredLRP().SchedulingInfo()
		Expect(s.GetVolumePlacement()).NotTo(BeNil())
		b, err := proto.Marshal(&models.DesiredLRPSchedulingInfoByProcessGuidResponse{DesiredLrpSchedulingInfo: s})
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(ContainSubstring("\x3a\x00"), "field 7, empty message")
	})

	DescribeTable("encodes a task callback exactly as upstream's BBS does",
		func(t *models.Task, want string) {
			b, err := json.Marshal(models.NewTaskCallbackResponse(t))
			Expect(err).NotTo(HaveOccurred())
			Expect(string(b)).To(Equal(want))
		},
		Entry("a success, every false and empty field present",
			&models.Task{TaskGuid: "t-1", Result: "", CreatedAt: 1700000000000000000, TaskDefinition: &models.TaskDefinition{}},
			`{"task_guid":"t-1","failed":false,"failure_reason":"","result":"","created_at":1700000000000000000}`),
		Entry("a failure with an annotation",
			&models.Task{TaskGuid: "t-2", Failed: true, FailureReason: "exit 1", Result: "r", CreatedAt: 5, TaskDefinition: &models.TaskDefinition{Annotation: "a"}},
			`{"task_guid":"t-2","failed":true,"failure_reason":"exit 1","result":"r","annotation":"a","created_at":5}`),
	)

	It("decodes upstream's callback JSON into the same fields", func() {
		var r models.TaskCallbackResponse
		Expect(json.Unmarshal([]byte(`{"task_guid":"t","failed":true,"failure_reason":"x","result":"","created_at":7}`), &r)).To(Succeed())
		Expect(r.GetTaskGuid()).To(Equal("t"))
		Expect(r.GetFailed()).To(BeTrue())
		Expect(r.GetCreatedAt()).To(Equal(int64(7)))
	})
})

var _ = Describe("The .r2 views", func() {
	layers := []*models.ImageLayer{
		{Name: "shared", Url: "http://x/s.tgz", DestinationPath: "/s", LayerType: models.ImageLayer_SHARED, MediaType: models.ImageLayer_TGZ, DigestAlgorithm: models.ImageLayer_SHA256, DigestValue: "abc"},
		{Name: "plain", Url: "http://x/p.tgz", DestinationPath: "/p", LayerType: models.ImageLayer_SHARED, MediaType: models.ImageLayer_TGZ},
		{Name: "excl", Url: "http://x/e.tgz", DestinationPath: "/e", LayerType: models.ImageLayer_EXCLUSIVE, MediaType: models.ImageLayer_TGZ, DigestAlgorithm: models.ImageLayer_SHA512, DigestValue: "def"},
	}
	download := &models.Action{Value: &models.Action_DownloadAction{DownloadAction: &models.DownloadAction{
		Artifact: "excl", From: "http://x/e.tgz", To: "/e", CacheKey: "sha512:def", User: "root", ChecksumAlgorithm: "sha512", ChecksumValue: "def",
	}}}
	dependencies := []*models.CachedDependency{
		{Name: "shared", From: "http://x/s.tgz", To: "/s", CacheKey: "sha256:abc", ChecksumAlgorithm: "sha256", ChecksumValue: "abc"},
		{Name: "plain", From: "http://x/p.tgz", To: "/p", CacheKey: "http://x/p.tgz"},
	}
	own := &models.CachedDependency{Name: "own", From: "http://x/o", To: "/o", CacheKey: "o"}

	It("turns an LRP's layers into cached dependencies and downloads before its setup, leaving the stored record alone", func() {
		d := validDesiredLRP()
		d.ImageLayers, d.LegacyDownloadUser, d.Setup, d.CachedDependencies = layers, "root", runAction(), []*models.CachedDependency{own}
		v2 := d.WithoutImageLayers()
		Expect(v2.GetImageLayers()).To(BeEmpty())
		Expect(d.GetImageLayers()).To(HaveLen(3))
		Expect(v2.GetCachedDependencies()).To(HaveLen(3))
		for i, want := range append(dependencies, own) {
			Expect(proto.Equal(v2.GetCachedDependencies()[i], want)).To(BeTrue(), "dependency %d", i)
		}
		Expect(proto.Equal(v2.GetSetup(), &models.Action{Value: &models.Action_SerialAction{SerialAction: &models.SerialAction{Actions: []*models.Action{
			{Value: &models.Action_ParallelAction{ParallelAction: &models.ParallelAction{Actions: []*models.Action{download}}}},
			runAction(),
		}}}})).To(BeTrue())
	})

	It("puts a Task's exclusive layers alone before its action when it has no other", func() {
		t := &models.Task{TaskGuid: "t", TaskDefinition: validTaskDefinition()}
		t.TaskDefinition.ImageLayers, t.TaskDefinition.LegacyDownloadUser = layers[2:], "root"
		v2 := t.WithoutImageLayers()
		Expect(v2.GetTaskDefinition().GetImageLayers()).To(BeEmpty())
		Expect(v2.GetTaskDefinition().GetAction().GetSerialAction().GetActions()).To(HaveLen(2))
		Expect(proto.Equal(v2.GetTaskDefinition().GetAction().GetSerialAction().GetActions()[0].GetParallelAction().GetActions()[0], download)).To(BeTrue())
		Expect(v2.GetTaskDefinition().GetCachedDependencies()).To(BeEmpty())
	})

	It("fills in metrics_guid and the source_id tag from each other", func() {
		d := validDesiredLRP()
		d.MetricTags = map[string]*models.MetricTagValue{"source_id": {Static: "src"}}
		Expect(d.WithMetricsGuid().GetMetricsGuid()).To(Equal("src"))
		d.MetricTags, d.MetricsGuid = nil, "guid"
		Expect(d.WithMetricsGuid().GetMetricTags()["source_id"].GetStatic()).To(Equal("guid"))
		Expect(d.GetMetricTags()).To(BeNil())
	})
})

var _ = Describe("The first revisions' view (upstream's first event streams)", func() {
	timeout := func(ms int64, inner *models.Action) *models.Action {
		return &models.Action{Value: &models.Action_TimeoutAction{TimeoutAction: &models.TimeoutAction{TimeoutMs: ms, Action: inner}}}
	}

	It("adds deprecated timeouts, drops emit-progress and try wrappers as upstream does, and turns cached dependencies into setup downloads", func() {
		d := validDesiredLRP()
		d.StartTimeoutMs = 61500
		d.LegacyDownloadUser = "vcap"
		d.Action = &models.Action{Value: &models.Action_EmitProgressAction{EmitProgressAction: &models.EmitProgressAction{
			StartMessage: "go", Action: timeout(2000, runAction()),
		}}}
		d.Monitor = &models.Action{Value: &models.Action_TryAction{TryAction: &models.TryAction{Action: runAction()}}}
		d.Setup = &models.Action{Value: &models.Action_SerialAction{SerialAction: &models.SerialAction{Actions: []*models.Action{timeout(5, runAction())}}}}
		d.CachedDependencies = []*models.CachedDependency{{Name: "lifecycle", From: "http://x/l.tgz", To: "/tmp/l", CacheKey: "lc", LogSource: "LC"}}

		v0 := d.AsFirstRevision()
		Expect(v0.GetDeprecatedStartTimeoutS()).To(Equal(uint32(61)))
		Expect(v0.GetAction().GetTimeoutAction().GetDeprecatedTimeoutNs()).To(Equal(int64(2000_000_000)))
		Expect(v0.GetAction().GetTimeoutAction().GetTimeoutMs()).To(Equal(int64(2000)))
		Expect(proto.Equal(v0.GetMonitor(), runAction())).To(BeTrue())
		Expect(v0.GetCachedDependencies()).To(BeEmpty())
		setup := v0.GetSetup().GetSerialAction().GetActions()
		Expect(setup).To(HaveLen(2))
		Expect(proto.Equal(setup[0], &models.Action{Value: &models.Action_ParallelAction{ParallelAction: &models.ParallelAction{Actions: []*models.Action{
			{Value: &models.Action_DownloadAction{DownloadAction: &models.DownloadAction{Artifact: "lifecycle", From: "http://x/l.tgz", To: "/tmp/l", CacheKey: "lc", LogSource: "LC", User: "vcap"}}},
		}}}})).To(BeTrue())
		Expect(setup[1].GetSerialAction().GetActions()[0].GetTimeoutAction().GetDeprecatedTimeoutNs()).To(Equal(int64(5_000_000)))

		Expect(d.GetDeprecatedStartTimeoutS()).To(BeZero(), "the stored record is left alone")
		Expect(d.GetAction().GetEmitProgressAction()).NotTo(BeNil())
	})

	It("revises desired LRP events and task events, and passes the others through", func() {
		d := validDesiredLRP()
		d.StartTimeoutMs = 3000
		e := models.FirstRevisionLRPEvent(models.NewDesiredLRPChangedEvent(d, d, "t")).(*models.DesiredLRPChangedEvent)
		Expect(e.GetAfter().GetDeprecatedStartTimeoutS()).To(Equal(uint32(3)))
		Expect(e.GetTraceId()).To(Equal("t"))
		crashed := models.NewActualLRPCrashedEvent(&models.ActualLRP{}, &models.ActualLRP{})
		Expect(models.FirstRevisionLRPEvent(crashed)).To(BeIdenticalTo(crashed))

		def := validTaskDefinition()
		def.ImageLayers = []*models.ImageLayer{{Name: "s", Url: "http://x/s", DestinationPath: "/s", LayerType: models.ImageLayer_SHARED, MediaType: models.ImageLayer_TGZ}}
		te := models.FirstRevisionTaskEvent(models.NewTaskCreatedEvent(&models.Task{TaskGuid: "t", TaskDefinition: def})).(*models.TaskCreatedEvent)
		Expect(te.GetTask().GetTaskDefinition().GetImageLayers()).To(BeEmpty())
		Expect(te.GetTask().GetTaskDefinition().GetCachedDependencies()).To(HaveLen(1))
	})
})
