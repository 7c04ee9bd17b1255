package models

// Validate checks an LRP start request as the auctioneer's API receives it. A negative resource
// would make the auction add capacity to the cell it "reserves" on, so it is refused here, before
// the request reaches a batch.
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
	f.guid("task_guid", r.TaskGUID)
	f.required("domain", r.Domain)
	validateAuctionWork(f, r.PlacementConstraint, r.Resource)
	return f.err()
}

func validateAuctionWork(f fields, pc PlacementConstraint, res Resource) {
	f.rootFS("rootfs", pc.RootFS)
	f.nonNegative("memory_mb", int64(res.MemoryMB))
	f.nonNegative("disk_mb", int64(res.DiskMB))
	f.nonNegative("max_pids", int64(res.MaxPids))
}
