package models_test

import (
	"errors"

	"github.com/diego-go/diego/models"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
)

var _ = Describe("Requests", func() {
	DescribeTable("accepts a well-formed request",
		func(r models.Request) { Expect(r.Validate()).To(Succeed()) },
		Entry("ActualLRPsRequest, empty", &models.ActualLRPsRequest{}),
		Entry("ActualLRPsRequest, by process and index", &models.ActualLRPsRequest{ProcessGuid: "p", Index: ptr(int32(2))}),
		Entry("ActualLRPsRequest, an index without a process (upstream accepts it)", &models.ActualLRPsRequest{Index: ptr(int32(0))}),
		Entry("ActualLRPsRequest, a process guid no LRP can have", &models.ActualLRPsRequest{ProcessGuid: "a/b"}),
		Entry("ActualLRPsByProcessGuidsRequest", &models.ActualLRPsByProcessGuidsRequest{ProcessGuids: []string{"a", "b"}}),
		Entry("ActualLRPGroupsRequest", &models.ActualLRPGroupsRequest{Domain: "d", CellId: "c"}),
		Entry("ActualLRPGroupsByProcessGuidRequest", &models.ActualLRPGroupsByProcessGuidRequest{ProcessGuid: "p"}),
		Entry("ActualLRPGroupByProcessGuidAndIndexRequest", &models.ActualLRPGroupByProcessGuidAndIndexRequest{ProcessGuid: "p", Index: 0}),
		Entry("ClaimActualLRPRequest", &models.ClaimActualLRPRequest{ProcessGuid: "p", Index: 1, ActualLrpInstanceKey: instanceKey()}),
		Entry("StartActualLRPRequest", &models.StartActualLRPRequest{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey(), ActualLrpNetInfo: netInfo()}),
		Entry("CrashActualLRPRequest", &models.CrashActualLRPRequest{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey(), ErrorMessage: "exit 1"}),
		Entry("FailActualLRPRequest", &models.FailActualLRPRequest{ActualLrpKey: actualLRPKey(), ErrorMessage: "no cell"}),
		Entry("RetireActualLRPRequest", &models.RetireActualLRPRequest{ActualLrpKey: actualLRPKey()}),
		Entry("RemoveActualLRPRequest", &models.RemoveActualLRPRequest{ProcessGuid: "p", Index: 0}),
		Entry("EvacuateClaimedActualLRPRequest", &models.EvacuateClaimedActualLRPRequest{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey()}),
		Entry("EvacuateRunningActualLRPRequest", &models.EvacuateRunningActualLRPRequest{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey(), ActualLrpNetInfo: netInfo()}),
		Entry("EvacuateStoppedActualLRPRequest", &models.EvacuateStoppedActualLRPRequest{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey()}),
		Entry("EvacuateCrashedActualLRPRequest", &models.EvacuateCrashedActualLRPRequest{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey(), ErrorMessage: "oom"}),
		Entry("RemoveEvacuatingActualLRPRequest", &models.RemoveEvacuatingActualLRPRequest{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey()}),
		Entry("DesiredLRPsRequest", &models.DesiredLRPsRequest{Domain: "d", ProcessGuids: []string{"a", "b"}, AppGuids: []string{"a"}}),
		Entry("DesiredLRPsRequest, a guid no LRP can have", &models.DesiredLRPsRequest{ProcessGuids: []string{"not ok"}}),
		Entry("DesiredLRPByProcessGuidRequest", &models.DesiredLRPByProcessGuidRequest{ProcessGuid: "p"}),
		Entry("DesiredLRPByProcessGuidRequest, a guid no LRP can have", &models.DesiredLRPByProcessGuidRequest{ProcessGuid: "no such/guid"}),
		Entry("DesireLRPRequest", &models.DesireLRPRequest{DesiredLrp: validDesiredLRP()}),
		Entry("UpdateDesiredLRPRequest", &models.UpdateDesiredLRPRequest{ProcessGuid: "p", Update: &models.DesiredLRPUpdate{Instances: ptr(int32(2))}}),
		Entry("RemoveDesiredLRPRequest", &models.RemoveDesiredLRPRequest{ProcessGuid: "p"}),
		Entry("DesireTaskRequest", &models.DesireTaskRequest{TaskGuid: "t", Domain: "d", TaskDefinition: validTaskDefinition()}),
		Entry("StartTaskRequest", &models.StartTaskRequest{TaskGuid: "t", CellId: "c"}),
		Entry("FailTaskRequest", &models.FailTaskRequest{TaskGuid: "t", FailureReason: "why"}),
		Entry("RejectTaskRequest", &models.RejectTaskRequest{TaskGuid: "t", RejectionReason: "full"}),
		Entry("TaskGuidRequest", &models.TaskGuidRequest{TaskGuid: "t"}),
		Entry("TaskByGuidRequest", &models.TaskByGuidRequest{TaskGuid: "t"}),
		Entry("TaskByGuidRequest, a guid no Task can have", &models.TaskByGuidRequest{TaskGuid: "../etc"}),
		Entry("CompleteTaskRequest, succeeded", &models.CompleteTaskRequest{TaskGuid: "t", CellId: "c", Result: "ok"}),
		Entry("CompleteTaskRequest, failed", &models.CompleteTaskRequest{TaskGuid: "t", CellId: "c", Failed: true, FailureReason: "exit 2"}),
		Entry("TasksRequest", &models.TasksRequest{Domain: "d", CellId: "c"}),
		Entry("UpsertDomainRequest", &models.UpsertDomainRequest{Domain: "d", Ttl: 120}),
		Entry("EventsByCellId", &models.EventsByCellId{CellId: "c"}),
	)

	DescribeTable("refuses a malformed request, naming the field",
		func(r models.Request, want string) {
			err := r.Validate()
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(want))
		},
		Entry("ActualLRPsByProcessGuidsRequest without guids", &models.ActualLRPsByProcessGuidsRequest{}, "process_guids: is required"),
		Entry("ActualLRPGroupsByProcessGuidRequest without a guid", &models.ActualLRPGroupsByProcessGuidRequest{}, "process_guid: is required"),
		Entry("ActualLRPGroupByProcessGuidAndIndexRequest with a negative index", &models.ActualLRPGroupByProcessGuidAndIndexRequest{ProcessGuid: "p", Index: -1}, "index: must not be negative"),
		Entry("ClaimActualLRPRequest without a process", &models.ClaimActualLRPRequest{ActualLrpInstanceKey: instanceKey()}, "process_guid: is required"),
		Entry("ClaimActualLRPRequest with a negative index", &models.ClaimActualLRPRequest{ProcessGuid: "p", Index: -1, ActualLrpInstanceKey: instanceKey()}, "index: must not be negative"),
		Entry("ClaimActualLRPRequest without an instance", &models.ClaimActualLRPRequest{ProcessGuid: "p"}, "actual_lrp_instance_key: is required"),
		Entry("ClaimActualLRPRequest without a cell", &models.ClaimActualLRPRequest{ProcessGuid: "p", ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "i"}}, "actual_lrp_instance_key.cell_id: is required"),
		Entry("StartActualLRPRequest without a key", &models.StartActualLRPRequest{ActualLrpInstanceKey: instanceKey(), ActualLrpNetInfo: netInfo()}, "actual_lrp_key: is required"),
		Entry("StartActualLRPRequest without net info", &models.StartActualLRPRequest{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey()}, "actual_lrp_net_info: is required"),
		Entry("StartActualLRPRequest without an address", &models.StartActualLRPRequest{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey(), ActualLrpNetInfo: &models.ActualLRPNetInfo{}}, "actual_lrp_net_info.address: is required"),
		Entry("CrashActualLRPRequest without an instance", &models.CrashActualLRPRequest{ActualLrpKey: actualLRPKey()}, "actual_lrp_instance_key: is required"),
		Entry("FailActualLRPRequest without a message", &models.FailActualLRPRequest{ActualLrpKey: actualLRPKey()}, "error_message: is required"),
		Entry("RetireActualLRPRequest without a key", &models.RetireActualLRPRequest{}, "actual_lrp_key: is required"),
		Entry("RemoveActualLRPRequest with a bad guid", &models.RemoveActualLRPRequest{ProcessGuid: "p q"}, "process_guid: "+guidRule),
		Entry("RemoveActualLRPRequest with a broken instance", &models.RemoveActualLRPRequest{ProcessGuid: "p", ActualLrpInstanceKey: &models.ActualLRPInstanceKey{CellId: "c"}}, "actual_lrp_instance_key.instance_guid: is required"),
		Entry("EvacuateClaimedActualLRPRequest without a key", &models.EvacuateClaimedActualLRPRequest{ActualLrpInstanceKey: instanceKey()}, "actual_lrp_key: is required"),
		Entry("EvacuateRunningActualLRPRequest without net info", &models.EvacuateRunningActualLRPRequest{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey()}, "actual_lrp_net_info: is required"),
		Entry("EvacuateStoppedActualLRPRequest without an instance", &models.EvacuateStoppedActualLRPRequest{ActualLrpKey: actualLRPKey()}, "actual_lrp_instance_key: is required"),
		Entry("EvacuateCrashedActualLRPRequest without a message", &models.EvacuateCrashedActualLRPRequest{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey()}, "error_message: is required"),
		Entry("RemoveEvacuatingActualLRPRequest without a key", &models.RemoveEvacuatingActualLRPRequest{ActualLrpInstanceKey: instanceKey()}, "actual_lrp_key: is required"),
		Entry("DesiredLRPByProcessGuidRequest without a guid", &models.DesiredLRPByProcessGuidRequest{}, "process_guid: is required"),
		Entry("DesireLRPRequest without an LRP", &models.DesireLRPRequest{}, "desired_lrp: is required"),
		Entry("DesireLRPRequest with a broken LRP", &models.DesireLRPRequest{DesiredLrp: &models.DesiredLRP{ProcessGuid: "p"}}, "desired_lrp.domain: is required"),
		Entry("UpdateDesiredLRPRequest without an update", &models.UpdateDesiredLRPRequest{ProcessGuid: "p"}, "update: is required"),
		Entry("UpdateDesiredLRPRequest with negative instances", &models.UpdateDesiredLRPRequest{ProcessGuid: "p", Update: &models.DesiredLRPUpdate{Instances: ptr(int32(-1))}}, "update.instances: must not be negative"),
		Entry("RemoveDesiredLRPRequest without a guid", &models.RemoveDesiredLRPRequest{}, "process_guid: is required"),
		Entry("DesireTaskRequest with a bad guid", &models.DesireTaskRequest{TaskGuid: "t!", Domain: "d", TaskDefinition: validTaskDefinition()}, "task_guid: "+guidRule),
		Entry("DesireTaskRequest without a domain", &models.DesireTaskRequest{TaskGuid: "t", TaskDefinition: validTaskDefinition()}, "domain: is required"),
		Entry("DesireTaskRequest without a definition", &models.DesireTaskRequest{TaskGuid: "t", Domain: "d"}, "task_definition: is required"),
		Entry("DesireTaskRequest with a broken definition", &models.DesireTaskRequest{TaskGuid: "t", Domain: "d", TaskDefinition: &models.TaskDefinition{RootFs: "preloaded:x"}}, "task_definition.action: is required"),
		Entry("StartTaskRequest without a cell", &models.StartTaskRequest{TaskGuid: "t"}, "cell_id: is required"),
		Entry("FailTaskRequest without a reason", &models.FailTaskRequest{TaskGuid: "t"}, "failure_reason: is required"),
		Entry("RejectTaskRequest without a guid", &models.RejectTaskRequest{}, "task_guid: is required"),
		Entry("TaskGuidRequest with a bad guid", &models.TaskGuidRequest{TaskGuid: "../etc"}, "task_guid: "+guidRule),
		Entry("TaskByGuidRequest without a guid", &models.TaskByGuidRequest{}, "task_guid: is required"),
		Entry("CompleteTaskRequest without a cell", &models.CompleteTaskRequest{TaskGuid: "t"}, "cell_id: is required"),
		Entry("CompleteTaskRequest failed without a reason", &models.CompleteTaskRequest{TaskGuid: "t", CellId: "c", Failed: true}, "failure_reason: is required"),
		Entry("UpsertDomainRequest without a domain", &models.UpsertDomainRequest{Ttl: 10}, "domain: is required"),
	)

	Describe("DecodeRequest", func() {
		It("decodes and validates a good body", func() {
			body, err := proto.Marshal(&models.DesireLRPRequest{DesiredLrp: validDesiredLRP()})
			Expect(err).NotTo(HaveOccurred())
			req := &models.DesireLRPRequest{}
			Expect(models.DecodeRequest(body, req)).To(BeNil())
			Expect(proto.Equal(req.DesiredLrp, validDesiredLRP())).To(BeTrue())
		})

		It("answers InvalidProtobufMessage for bytes that do not decode", func() {
			err := models.DecodeRequest([]byte{0xff, 0xff, 0xff}, &models.StartTaskRequest{})
			Expect(err.GetType()).To(Equal(models.Error_InvalidProtobufMessage))
			Expect(err.GetMessage()).To(ContainSubstring("StartTaskRequest"))
		})

		It("answers InvalidRequest naming the field for a body that does not validate", func() {
			body, _ := proto.Marshal(&models.StartTaskRequest{TaskGuid: "t"})
			err := models.DecodeRequest(body, &models.StartTaskRequest{})
			Expect(err.GetType()).To(Equal(models.Error_InvalidRequest))
			Expect(err.GetMessage()).To(Equal("cell_id: is required"))
			Expect(errors.Is(err, models.ErrBadRequest)).To(BeTrue())
		})
	})
})
