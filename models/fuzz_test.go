package models_test

import (
	"testing"

	"github.com/diego-go/diego/models"
)

// everyRequest lists a new empty value of each request the BBS decodes.
var everyRequest = []func() models.Request{
	func() models.Request { return &models.ActualLRPsRequest{} },
	func() models.Request { return &models.ActualLRPsByProcessGuidsRequest{} },
	func() models.Request { return &models.ActualLRPGroupsRequest{} },
	func() models.Request { return &models.ActualLRPGroupsByProcessGuidRequest{} },
	func() models.Request { return &models.ActualLRPGroupByProcessGuidAndIndexRequest{} },
	func() models.Request { return &models.ClaimActualLRPRequest{} },
	func() models.Request { return &models.StartActualLRPRequest{} },
	func() models.Request { return &models.CrashActualLRPRequest{} },
	func() models.Request { return &models.FailActualLRPRequest{} },
	func() models.Request { return &models.RetireActualLRPRequest{} },
	func() models.Request { return &models.RemoveActualLRPRequest{} },
	func() models.Request { return &models.EvacuateClaimedActualLRPRequest{} },
	func() models.Request { return &models.EvacuateRunningActualLRPRequest{} },
	func() models.Request { return &models.EvacuateStoppedActualLRPRequest{} },
	func() models.Request { return &models.EvacuateCrashedActualLRPRequest{} },
	func() models.Request { return &models.RemoveEvacuatingActualLRPRequest{} },
	func() models.Request { return &models.DesiredLRPsRequest{} },
	func() models.Request { return &models.DesiredLRPByProcessGuidRequest{} },
	func() models.Request { return &models.DesireLRPRequest{} },
	func() models.Request { return &models.UpdateDesiredLRPRequest{} },
	func() models.Request { return &models.RemoveDesiredLRPRequest{} },
	func() models.Request { return &models.DesireTaskRequest{} },
	func() models.Request { return &models.StartTaskRequest{} },
	func() models.Request { return &models.FailTaskRequest{} },
	func() models.Request { return &models.RejectTaskRequest{} },
	func() models.Request { return &models.TaskGuidRequest{} },
	func() models.Request { return &models.TaskByGuidRequest{} },
	func() models.Request { return &models.CompleteTaskRequest{} },
	func() models.Request { return &models.TasksRequest{} },
	func() models.Request { return &models.UpsertDomainRequest{} },
	func() models.Request { return &models.EventsByCellId{} },
}

// FuzzDecodeRequest feeds arbitrary bytes to every request's decoder and
// validator: the first byte picks the request, the rest is the body. Whatever
// the bytes, decoding answers a nil or well-formed error and never panics.
// The seed corpus in testdata/fuzz runs with every `go test`.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		req := everyRequest[int(data[0])%len(everyRequest)]()
		err := models.DecodeRequest(data[1:], req)
		if err == nil {
			return
		}
		switch err.GetType() {
		case models.Error_InvalidProtobufMessage, models.Error_InvalidRequest:
			if err.GetMessage() == "" {
				t.Fatalf("%T: error without a message", req)
			}
		default:
			t.Fatalf("%T: unexpected error type %s", req, err.GetType())
		}
	})
}
