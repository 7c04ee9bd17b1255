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
			PlacementConstraint: models.PlacementConstraint{RootFs: "preloaded:cflinuxfs4"},
			Resource:            models.Resource{MemoryMB: 256, DiskMB: 1024, MaxPids: 100},
		}
	}
	validTask := func() models.TaskStartRequest {
		return models.TaskStartRequest{RepTask: models.RepTask{
			TaskGuid: "task-1", Domain: "cf-tasks",
			PlacementConstraint: models.PlacementConstraint{RootFs: "docker:///busybox#latest"},
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
		Entry("missing rootfs", func(r *models.LRPStartRequest) { r.RootFs = "" }, "RootFs: is required"),
		Entry("rootfs without a scheme", func(r *models.LRPStartRequest) { r.RootFs = "cflinuxfs4" }, "RootFs: must be a URL with a scheme (preloaded:NAME or docker:///IMAGE)"),
		Entry("negative memory", func(r *models.LRPStartRequest) { r.MemoryMB = -1 }, "MemoryMB: must not be negative"),
		Entry("negative disk", func(r *models.LRPStartRequest) { r.DiskMB = -1 }, "DiskMB: must not be negative"),
		Entry("negative max_pids", func(r *models.LRPStartRequest) { r.MaxPids = -1 }, "MaxPids: must not be negative"),
		Entry("every broken field at once, in field order", func(r *models.LRPStartRequest) {
			r.ProcessGUID, r.MemoryMB = "", -5
		}, "process_guid: is required; MemoryMB: must not be negative"),
	)

	DescribeTable("a Task start request: refuses a broken field, naming it and the rule",
		func(mutate func(*models.TaskStartRequest), want string) {
			r := validTask()
			mutate(&r)
			Expect(r.Validate()).To(MatchError(want))
		},
		Entry("missing TaskGuid", func(r *models.TaskStartRequest) { r.TaskGuid = "" }, "TaskGuid: is required"),
		Entry("TaskGuid with a space", func(r *models.TaskStartRequest) { r.TaskGuid = "a b" }, "TaskGuid: "+guidRule),
		Entry("missing Domain", func(r *models.TaskStartRequest) { r.Domain = "" }, "Domain: is required"),
		Entry("missing rootfs", func(r *models.TaskStartRequest) { r.RootFs = "" }, "RootFs: is required"),
		Entry("negative memory", func(r *models.TaskStartRequest) { r.MemoryMB = -1 }, "MemoryMB: must not be negative"),
		Entry("negative disk", func(r *models.TaskStartRequest) { r.DiskMB = -1 }, "DiskMB: must not be negative"),
	)
})
