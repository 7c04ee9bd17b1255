package models_test

import (
	"github.com/diego-go/diego/models"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Auction start requests' validation", func() {
	validLRP := func() models.LRPStartRequest {
		return models.LRPStartRequest{
			ProcessGUID: "pg-1", Domain: "cf-apps", Indices: []int32{0, 3},
			PlacementConstraint: models.PlacementConstraint{RootFS: "preloaded:cflinuxfs4"},
			Resource:            models.Resource{MemoryMB: 256, DiskMB: 1024, MaxPids: 100},
		}
	}
	validTask := func() models.TaskStartRequest {
		return models.TaskStartRequest{RepTask: models.RepTask{
			TaskGUID: "task-1", Domain: "cf-tasks",
			PlacementConstraint: models.PlacementConstraint{RootFS: "docker:///busybox#latest"},
			Resource:            models.Resource{MemoryMB: 64, DiskMB: 128},
		}}
	}

	It("accepts complete requests, and zero resources", func() {
		Expect(validLRP().Validate()).To(Succeed())
		Expect(validTask().Validate()).To(Succeed())
		l := validLRP()
		l.Resource = models.Resource{}
		Expect(l.Validate()).To(Succeed())
	})

	DescribeTable("an LRP start request: refuses a broken field, naming it and the rule",
		func(mutate func(*models.LRPStartRequest), want string) {
			r := validLRP()
			mutate(&r)
			Expect(r.Validate()).To(MatchError(want))
		},
		Entry("missing process_guid", func(r *models.LRPStartRequest) { r.ProcessGUID = "" }, "process_guid: is required"),
		Entry("process_guid with a slash", func(r *models.LRPStartRequest) { r.ProcessGUID = "a/b" }, "process_guid: "+guidRule),
		Entry("missing domain", func(r *models.LRPStartRequest) { r.Domain = "" }, "domain: is required"),
		Entry("no indices", func(r *models.LRPStartRequest) { r.Indices = nil }, "indices: is required"),
		Entry("a negative index", func(r *models.LRPStartRequest) { r.Indices = []int32{0, -1} }, "indices[1]: must not be negative"),
		Entry("missing rootfs", func(r *models.LRPStartRequest) { r.RootFS = "" }, "rootfs: is required"),
		Entry("rootfs without a scheme", func(r *models.LRPStartRequest) { r.RootFS = "cflinuxfs4" }, "rootfs: must be a URL with a scheme (preloaded:NAME or docker:///IMAGE)"),
		Entry("negative memory", func(r *models.LRPStartRequest) { r.MemoryMB = -1 }, "memory_mb: must not be negative"),
		Entry("negative disk", func(r *models.LRPStartRequest) { r.DiskMB = -1 }, "disk_mb: must not be negative"),
		Entry("negative max_pids", func(r *models.LRPStartRequest) { r.MaxPids = -1 }, "max_pids: must not be negative"),
		Entry("every broken field at once, in field order", func(r *models.LRPStartRequest) {
			r.ProcessGUID, r.MemoryMB = "", -5
		}, "process_guid: is required; memory_mb: must not be negative"),
	)

	DescribeTable("a Task start request: refuses a broken field, naming it and the rule",
		func(mutate func(*models.TaskStartRequest), want string) {
			r := validTask()
			mutate(&r)
			Expect(r.Validate()).To(MatchError(want))
		},
		Entry("missing task_guid", func(r *models.TaskStartRequest) { r.TaskGUID = "" }, "task_guid: is required"),
		Entry("task_guid with a space", func(r *models.TaskStartRequest) { r.TaskGUID = "a b" }, "task_guid: "+guidRule),
		Entry("missing domain", func(r *models.TaskStartRequest) { r.Domain = "" }, "domain: is required"),
		Entry("missing rootfs", func(r *models.TaskStartRequest) { r.RootFS = "" }, "rootfs: is required"),
		Entry("negative memory", func(r *models.TaskStartRequest) { r.MemoryMB = -1 }, "memory_mb: must not be negative"),
		Entry("negative disk", func(r *models.TaskStartRequest) { r.DiskMB = -1 }, "disk_mb: must not be negative"),
	)
})
