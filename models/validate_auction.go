package models

// Validate checks an LRP start request as the auctioneer's API receives it; problems name the
// fields as the JSON does. A negative resource would make the auction add capacity to the cell it
// "reserves" on, so it is refused here, before the request reaches a batch.
func (r LRPStartRequest) Validate() error {
	f := newFields()
	f.guid("process_guid", r.ProcessGUID)
	f.required("domain", r.Domain)
	f.check(len(r.Indices) > 0, "indices", ruleRequired)
	for i, index := range r.Indices {
		f.nonNegative(indexed("indices", i), int64(index))
	}
	validateAuctionWork(f, r.PlacementConstraint, r.Resource)
	return f.err()
}

// Validate checks a Task start request as the auctioneer's API receives it.
func (r TaskStartRequest) Validate() error {
	f := newFields()
	f.guid("TaskGuid", r.TaskGuid)
	f.required("Domain", r.Domain)
	validateAuctionWork(f, r.PlacementConstraint, r.Resource)
	return f.err()
}

func validateAuctionWork(f fields, pc PlacementConstraint, res Resource) {
	f.rootFS("RootFs", pc.RootFs)
	f.nonNegative("MemoryMB", int64(res.MemoryMB))
	f.nonNegative("DiskMB", int64(res.DiskMB))
	f.nonNegative("MaxPids", int64(res.MaxPids))
}
