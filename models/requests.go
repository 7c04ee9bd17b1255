package models

import "google.golang.org/protobuf/proto"

// Request is a BBS request body: a protobuf message that validates itself.
type Request interface {
	proto.Message
	Validator
}

// DecodeRequest fills req from a request body and validates it. The error is
// what the BBS answers with: InvalidProtobufMessage when the body does not
// decode, InvalidRequest naming the fields when it does not validate.
func DecodeRequest(body []byte, req Request) *Error {
	if err := proto.Unmarshal(body, req); err != nil {
		return NewError(Error_InvalidProtobufMessage, "cannot decode %s: %v", req.ProtoReflect().Descriptor().Name(), err)
	}
	if err := req.Validate(); err != nil {
		return NewInvalidRequest(err)
	}
	return nil
}

func requireKey(f fields, key *ActualLRPKey) {
	if key == nil {
		f.check(false, "actual_lrp_key", ruleRequired)
		return
	}
	key.validate(f.in("actual_lrp_key"))
}

func requireInstanceKey(f fields, key *ActualLRPInstanceKey) {
	if key == nil {
		f.check(false, "actual_lrp_instance_key", ruleRequired)
		return
	}
	key.validate(f.in("actual_lrp_instance_key"))
}

func requireNetInfo(f fields, info *ActualLRPNetInfo) {
	if info == nil {
		f.check(false, "actual_lrp_net_info", ruleRequired)
		return
	}
	f.in("actual_lrp_net_info").required("address", info.GetAddress())
}

// ActualLRPsRequest filters are all optional and combine freely (an index
// without a process guid included), as upstream accepts them.
func (r *ActualLRPsRequest) Validate() error { return nil }

func (r *ActualLRPsByProcessGuidsRequest) Validate() error {
	f := newFields()
	f.check(len(r.GetProcessGuids()) > 0, "process_guids", ruleRequired)
	return f.err()
}

// ActualLRPGroupsRequest filters are all optional.
func (r *ActualLRPGroupsRequest) Validate() error { return nil }

func (r *ActualLRPGroupsByProcessGuidRequest) Validate() error {
	f := newFields()
	f.required("process_guid", r.GetProcessGuid())
	return f.err()
}

func (r *ActualLRPGroupByProcessGuidAndIndexRequest) Validate() error {
	f := newFields()
	f.required("process_guid", r.GetProcessGuid())
	f.nonNegative("index", int64(r.GetIndex()))
	return f.err()
}

func (r *ClaimActualLRPRequest) Validate() error {
	f := newFields()
	f.guid("process_guid", r.GetProcessGuid())
	f.nonNegative("index", int64(r.GetIndex()))
	requireInstanceKey(f, r.GetActualLrpInstanceKey())
	return f.err()
}

func (r *StartActualLRPRequest) Validate() error {
	f := newFields()
	requireKey(f, r.GetActualLrpKey())
	requireInstanceKey(f, r.GetActualLrpInstanceKey())
	requireNetInfo(f, r.GetActualLrpNetInfo())
	return f.err()
}

func (r *CrashActualLRPRequest) Validate() error {
	f := newFields()
	requireKey(f, r.GetActualLrpKey())
	requireInstanceKey(f, r.GetActualLrpInstanceKey())
	return f.err()
}

func (r *FailActualLRPRequest) Validate() error {
	f := newFields()
	requireKey(f, r.GetActualLrpKey())
	f.required("error_message", r.GetErrorMessage())
	return f.err()
}

func (r *RetireActualLRPRequest) Validate() error {
	f := newFields()
	requireKey(f, r.GetActualLrpKey())
	return f.err()
}

func (r *RemoveActualLRPRequest) Validate() error {
	f := newFields()
	f.guid("process_guid", r.GetProcessGuid())
	f.nonNegative("index", int64(r.GetIndex()))
	if r.GetActualLrpInstanceKey() != nil {
		requireInstanceKey(f, r.GetActualLrpInstanceKey())
	}
	return f.err()
}

func (r *EvacuateClaimedActualLRPRequest) Validate() error {
	f := newFields()
	requireKey(f, r.GetActualLrpKey())
	requireInstanceKey(f, r.GetActualLrpInstanceKey())
	return f.err()
}

func (r *EvacuateRunningActualLRPRequest) Validate() error {
	f := newFields()
	requireKey(f, r.GetActualLrpKey())
	requireInstanceKey(f, r.GetActualLrpInstanceKey())
	requireNetInfo(f, r.GetActualLrpNetInfo())
	return f.err()
}

func (r *EvacuateStoppedActualLRPRequest) Validate() error {
	f := newFields()
	requireKey(f, r.GetActualLrpKey())
	requireInstanceKey(f, r.GetActualLrpInstanceKey())
	return f.err()
}

func (r *EvacuateCrashedActualLRPRequest) Validate() error {
	f := newFields()
	requireKey(f, r.GetActualLrpKey())
	requireInstanceKey(f, r.GetActualLrpInstanceKey())
	f.required("error_message", r.GetErrorMessage())
	return f.err()
}

func (r *RemoveEvacuatingActualLRPRequest) Validate() error {
	f := newFields()
	requireKey(f, r.GetActualLrpKey())
	requireInstanceKey(f, r.GetActualLrpInstanceKey())
	return f.err()
}

// DesiredLRPsRequest filters are all optional; a guid no LRP can have
// matches nothing.
func (r *DesiredLRPsRequest) Validate() error { return nil }

// A lookup needs a guid; one no LRP can have is not found, as upstream.
func (r *DesiredLRPByProcessGuidRequest) Validate() error {
	f := newFields()
	f.required("process_guid", r.GetProcessGuid())
	return f.err()
}

func (r *DesireLRPRequest) Validate() error {
	f := newFields()
	if r.GetDesiredLrp() == nil {
		f.check(false, "desired_lrp", ruleRequired)
	} else {
		r.GetDesiredLrp().validate(f.in("desired_lrp"))
	}
	return f.err()
}

func (r *UpdateDesiredLRPRequest) Validate() error {
	f := newFields()
	f.guid("process_guid", r.GetProcessGuid())
	if r.GetUpdate() == nil {
		f.check(false, "update", ruleRequired)
	} else {
		r.GetUpdate().validate(f.in("update"))
	}
	return f.err()
}

func (r *RemoveDesiredLRPRequest) Validate() error {
	f := newFields()
	f.guid("process_guid", r.GetProcessGuid())
	return f.err()
}

func (r *DesireTaskRequest) Validate() error {
	f := newFields()
	f.guid("task_guid", r.GetTaskGuid())
	f.required("domain", r.GetDomain())
	if r.GetTaskDefinition() == nil {
		f.check(false, "task_definition", ruleRequired)
	} else {
		r.GetTaskDefinition().validate(f.in("task_definition"))
	}
	return f.err()
}

func (r *StartTaskRequest) Validate() error {
	f := newFields()
	f.guid("task_guid", r.GetTaskGuid())
	f.required("cell_id", r.GetCellId())
	return f.err()
}

func (r *FailTaskRequest) Validate() error {
	f := newFields()
	f.guid("task_guid", r.GetTaskGuid())
	f.required("failure_reason", r.GetFailureReason())
	return f.err()
}

func (r *RejectTaskRequest) Validate() error {
	f := newFields()
	f.guid("task_guid", r.GetTaskGuid())
	return f.err()
}

func (r *TaskGuidRequest) Validate() error {
	f := newFields()
	f.guid("task_guid", r.GetTaskGuid())
	return f.err()
}

// A lookup needs a guid; one no Task can have is not found, as upstream.
func (r *TaskByGuidRequest) Validate() error {
	f := newFields()
	f.required("task_guid", r.GetTaskGuid())
	return f.err()
}

func (r *CompleteTaskRequest) Validate() error {
	f := newFields()
	f.guid("task_guid", r.GetTaskGuid())
	f.required("cell_id", r.GetCellId())
	if r.GetFailed() {
		f.required("failure_reason", r.GetFailureReason())
	}
	return f.err()
}

// TasksRequest filters are all optional.
func (r *TasksRequest) Validate() error { return nil }

func (r *UpsertDomainRequest) Validate() error {
	f := newFields()
	f.required("domain", r.GetDomain())
	return f.err()
}

// EventsByCellId's cell_id is an optional filter.
func (r *EventsByCellId) Validate() error { return nil }
