package models_test

import (
	"encoding/base64"

	"github.com/diego-go/diego/models"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

var _ = Describe("Wire format", func() {
	fieldNumbers := func(m proto.Message) map[string]protoreflect.FieldNumber {
		out := map[string]protoreflect.FieldNumber{}
		fs := m.ProtoReflect().Descriptor().Fields()
		for i := 0; i < fs.Len(); i++ {
			out[string(fs.Get(i).Name())] = fs.Get(i).Number()
		}
		return out
	}

	It("numbers DesiredLRP's fields as upstream Diego does", func() {
		Expect(fieldNumbers(&models.DesiredLRP{})).To(HaveKeyWithValue("process_guid", protoreflect.FieldNumber(1)))
		for name, number := range map[string]protoreflect.FieldNumber{
			"process_guid": 1, "domain": 2, "root_fs": 3, "instances": 4, "environment_variables": 5, "setup": 6,
			"action": 7, "monitor": 9, "disk_mb": 10, "memory_mb": 11, "cpu_weight": 12, "privileged": 13,
			"ports": 14, "routes": 15, "log_source": 16, "log_guid": 17, "annotation": 19, "egress_rules": 20,
			"modification_tag": 21, "cached_dependencies": 22, "volume_mounts": 25, "network": 26,
			"start_timeout_ms": 27, "placement_tags": 28, "max_pids": 29, "check_definition": 33,
			"image_layers": 34, "metric_tags": 35,
		} {
			Expect(fieldNumbers(&models.DesiredLRP{})).To(HaveKeyWithValue(name, number), name)
		}
	})

	It("puts the Error in field 1 of every response", func() {
		for _, response := range []proto.Message{
			&models.ActualLRPLifecycleResponse{}, &models.ActualLRPsResponse{}, &models.EvacuationResponse{},
			&models.RemoveEvacuatingActualLRPResponse{}, &models.DesiredLRPLifecycleResponse{}, &models.DesiredLRPsResponse{},
			&models.DesiredLRPResponse{}, &models.DesiredLRPSchedulingInfosResponse{}, &models.TaskLifecycleResponse{},
			&models.StartTaskResponse{}, &models.TasksResponse{}, &models.TaskResponse{}, &models.DomainsResponse{},
			&models.UpsertDomainResponse{}, &models.CellsResponse{},
		} {
			field := response.ProtoReflect().Descriptor().Fields().ByNumber(1)
			Expect(field).NotTo(BeNil())
			Expect(string(field.Message().Name())).To(Equal("Error"), string(response.ProtoReflect().Descriptor().Name()))
		}
	})

	It("decodes bytes an upstream client sends: an Error with type 13", func() {
		// field 1 varint 13, field 2 "nope"
		wire := []byte{0x08, 0x0d, 0x12, 0x04, 'n', 'o', 'p', 'e'}
		var e models.Error
		Expect(proto.Unmarshal(wire, &e)).To(Succeed())
		Expect(e.GetType()).To(Equal(models.Error_ResourceNotFound))
		Expect(e.GetMessage()).To(Equal("nope"))
	})

	It("keeps the error types' numbers", func() {
		for t, n := range map[models.Error_Type]int32{
			models.Error_UnknownError: 0, models.Error_InvalidRecord: 3, models.Error_InvalidRequest: 4,
			models.Error_InvalidResponse: 5, models.Error_InvalidProtobufMessage: 6, models.Error_InvalidJSON: 7,
			models.Error_FailedToOpenEnvelope: 8, models.Error_InvalidStateTransition: 9, models.Error_ResourceConflict: 11,
			models.Error_ResourceExists: 12, models.Error_ResourceNotFound: 13, models.Error_RouterError: 14,
			models.Error_ActualLRPCannotBeClaimed: 15, models.Error_ActualLRPCannotBeRemoved: 19,
			models.Error_ActualLRPCannotBeUnclaimed: 21, models.Error_RunningOnDifferentCell: 24,
			models.Error_GUIDGeneration: 26, models.Error_Deserialize: 27, models.Error_Deadlock: 28,
			models.Error_Unrecoverable: 29, models.Error_LockCollision: 30, models.Error_Timeout: 31,
		} {
			Expect(int32(t)).To(Equal(n), t.String())
		}
	})

	DescribeTable("round trips through encode and decode",
		func(m proto.Message) {
			bytes, err := proto.Marshal(m)
			Expect(err).NotTo(HaveOccurred())
			decoded := m.ProtoReflect().New().Interface()
			Expect(proto.Unmarshal(bytes, decoded)).To(Succeed())
			Expect(proto.Equal(m, decoded)).To(BeTrue())
		},
		Entry("DesiredLRP", validDesiredLRP()),
		Entry("Task", &models.Task{TaskGuid: "t", Domain: "d", State: models.Task_Completed, TaskDefinition: validTaskDefinition(), Failed: true, FailureReason: "x", RejectionCount: 2}),
		Entry("ActualLRP", &models.ActualLRP{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey(), ActualLrpNetInfo: netInfo(), State: models.ActualLRPStateRunning, CrashCount: 4, Presence: models.ActualLRP_EVACUATING, Routable: ptr(true), ModificationTag: &models.ModificationTag{Epoch: "e", Index: 7}}),
		Entry("DesiredLRPUpdate", &models.DesiredLRPUpdate{Instances: ptr(int32(0)), Annotation: ptr("")}),
		Entry("CellPresence", &models.CellPresence{CellId: "c", RepAddress: "http://x", Capacity: &models.CellCapacity{MemoryMb: 1, DiskMb: 2, Containers: 3}, RootfsProviders: []*models.Provider{{Name: "preloaded", Properties: []string{"cflinuxfs4"}}}}),
		Entry("ActualLRPInstanceChangedEvent", &models.ActualLRPInstanceChangedEvent{ActualLrpKey: actualLRPKey(), Before: &models.ActualLRPInfo{State: "CLAIMED"}, After: &models.ActualLRPInfo{State: "RUNNING"}}),
		Entry("TaskCallbackResponse", &models.TaskCallbackResponse{TaskGuid: "t", Result: "42", CreatedAt: 99}),
	)

	It("keeps an explicit zero in an update's optional fields", func() {
		bytes, _ := proto.Marshal(&models.DesiredLRPUpdate{Instances: ptr(int32(0))})
		var decoded models.DesiredLRPUpdate
		Expect(proto.Unmarshal(bytes, &decoded)).To(Succeed())
		Expect(decoded.Instances).NotTo(BeNil(), "scaling to zero must differ from not scaling")
		Expect(base64.StdEncoding.EncodeToString(bytes)).To(Equal("CAA="))
	})

	It("splits a DesiredLRP into what each reader needs and back", func() {
		d := validDesiredLRP()
		d.ModificationTag = &models.ModificationTag{Epoch: "abc", Index: 2}
		d.PlacementTags = []string{"gpu"}
		d.VolumeMounts = []*models.VolumeMount{{Driver: "nfs", ContainerDir: "/data", Mode: "rw"}}

		scheduling, run, routing := d.SchedulingInfo(), d.RunInfo(1234), d.RoutingInfo()
		Expect(scheduling.GetInstances()).To(Equal(int32(3)))
		Expect(scheduling.GetDesiredLrpResource().GetMemoryMb()).To(Equal(int32(256)))
		Expect(scheduling.GetVolumePlacement().GetDriverNames()).To(Equal([]string{"nfs"}))
		Expect(run.GetCreatedAt()).To(Equal(int64(1234)))
		Expect(routing.GetRoutes()).To(Equal(d.GetRoutes()))
		Expect(proto.Equal(routing.DesiredLRP(), &models.DesiredLRP{
			ProcessGuid: d.ProcessGuid, Domain: d.Domain, Instances: 3, Routes: d.Routes,
			ModificationTag: d.ModificationTag, MetricTags: d.MetricTags,
		})).To(BeTrue())

		Expect(proto.Equal(models.NewDesiredLRP(scheduling, run), d)).To(BeTrue())
	})
})
