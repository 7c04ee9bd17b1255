package models

import "encoding/json"

// NewLRPStartRequest asks the auctioneer to place the given indices of a desired LRP.
func NewLRPStartRequest(s *DesiredLRPSchedulingInfo, indices ...int32) LRPStartRequest {
	return LRPStartRequest{
		ProcessGUID: s.GetDesiredLrpKey().GetProcessGuid(),
		Domain:      s.GetDesiredLrpKey().GetDomain(),
		Indices:     indices,
		PlacementConstraint: PlacementConstraint{
			PlacementTags: s.GetPlacementTags(),
			VolumeDrivers: s.GetVolumePlacement().GetDriverNames(),
			RootFs:        s.GetDesiredLrpResource().GetRootFs(),
		},
		Resource: Resource{
			MemoryMB: s.GetDesiredLrpResource().GetMemoryMb(),
			DiskMB:   s.GetDesiredLrpResource().GetDiskMb(),
			MaxPids:  s.GetDesiredLrpResource().GetMaxPids(),
		},
	}
}

// NewTaskStartRequest asks the auctioneer to place a Task.
func NewTaskStartRequest(t *Task) TaskStartRequest {
	d := t.GetTaskDefinition()
	drivers := []string{} // upstream sends [] for a task without volume mounts
	for _, m := range d.GetVolumeMounts() {
		drivers = append(drivers, m.GetDriver())
	}
	return TaskStartRequest{RepTask: RepTask{
		TaskGuid: t.GetTaskGuid(),
		Domain:   t.GetDomain(),
		PlacementConstraint: PlacementConstraint{
			PlacementTags: d.GetPlacementTags(),
			VolumeDrivers: drivers,
			RootFs:        d.GetRootFs(),
		},
		Resource: Resource{MemoryMB: d.GetMemoryMb(), DiskMB: d.GetDiskMb(), MaxPids: d.GetMaxPids()},
	}}
}

// NewTaskCallbackResponse is the JSON body POSTed to a Task's completion_callback_url.
func NewTaskCallbackResponse(t *Task) *TaskCallbackResponse {
	return &TaskCallbackResponse{
		TaskGuid:      t.GetTaskGuid(),
		Failed:        t.GetFailed(),
		FailureReason: t.GetFailureReason(),
		Result:        t.GetResult(),
		Annotation:    t.GetTaskDefinition().GetAnnotation(),
		CreatedAt:     t.GetCreatedAt(),
	}
}

// MarshalJSON encodes the callback as upstream's BBS does: every field but
// the annotation always present (false and "" included), created_at a
// number of Unix nanoseconds.
func (r *TaskCallbackResponse) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		TaskGuid      string `json:"task_guid"`
		Failed        bool   `json:"failed"`
		FailureReason string `json:"failure_reason"`
		Result        string `json:"result"`
		Annotation    string `json:"annotation,omitempty"`
		CreatedAt     int64  `json:"created_at"`
	}{r.GetTaskGuid(), r.GetFailed(), r.GetFailureReason(), r.GetResult(), r.GetAnnotation(), r.GetCreatedAt()})
}
