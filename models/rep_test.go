package models_test

// Specs of the rep's and auctioneer's API messages in rep.go: each body is written out by hand as
// upstream's Go structs encode it (code.cloudfoundry.org/rep resources.go and rootfs_providers.go,
// code.cloudfoundry.org/auctioneer resources.go), decoded, and encoded back byte for byte.

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/models"
)

// roundTrip decodes upstream's JSON into v and returns v encoded again.
func roundTrip(upstream string, v any) string {
	GinkgoHelper()
	Expect(json.Unmarshal([]byte(upstream), v)).To(Succeed())
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

var _ = Describe("the rep's and auctioneer's JSON", func() {
	It("reads and writes a cell state (GET /state) as upstream's rep does", func() {
		const upstream = `{"rep_url":"https://cell-1.cell.service.cf.internal:1801","cell_id":"cell-1","cell_index":3,` +
			`"RootFSProviders":{"docker":{"type":"arbitrary"},"preloaded":{"set":{"cflinuxfs4":{}},"type":"fixed_set"}},` +
			`"AvailableResources":{"MemoryMB":1024,"DiskMB":2048,"Containers":250},` +
			`"TotalResources":{"MemoryMB":4096,"DiskMB":8192,"Containers":256},` +
			`"LRPs":[{"instance_guid":"ig","process_guid":"pg","index":2,"domain":"cf-apps",` +
			`"PlacementTags":["gpu"],"VolumeDrivers":null,"RootFs":"preloaded:cflinuxfs4","MemoryMB":256,"DiskMB":512,"MaxPids":1024,"state":"RUNNING"}],` +
			`"Tasks":[{"TaskGuid":"tg","Domain":"cf-tasks","PlacementTags":null,"VolumeDrivers":["nfs"],"RootFs":"docker:///busybox",` +
			`"MemoryMB":64,"DiskMB":64,"MaxPids":0,"state":"Completed","failed":true}],` +
			`"StartingContainerCount":2,"Zone":"z1","Evacuating":true,"VolumeDrivers":["nfs"],"PlacementTags":["gpu"],` +
			`"OptionalPlacementTags":["ssd"],"ProxyMemoryAllocationMB":32}`
		var s models.CellState
		Expect(roundTrip(upstream, &s)).To(Equal(upstream))

		Expect(s.RepURL).To(Equal("https://cell-1.cell.service.cf.internal:1801"))
		Expect(s.CellIndex).To(Equal(3))
		Expect(s.RootFSProviders).To(Equal(models.RootFSProviders{
			"preloaded": models.FixedSetRootFSProvider("cflinuxfs4"),
			"docker":    models.ArbitraryRootFSProvider(),
		}))
		Expect(s.AvailableResources).To(Equal(models.Resources{MemoryMB: 1024, DiskMB: 2048, Containers: 250}))
		Expect(s.LRPs).To(Equal([]models.RepLRP{{
			InstanceGUID:        "ig",
			LRPKey:              models.LRPKey{ProcessGUID: "pg", Index: 2, Domain: "cf-apps"},
			PlacementConstraint: models.PlacementConstraint{RootFs: "preloaded:cflinuxfs4", PlacementTags: []string{"gpu"}},
			Resource:            models.Resource{MemoryMB: 256, DiskMB: 512, MaxPids: 1024},
			State:               "RUNNING",
		}}))
		Expect(s.Tasks[0].State).To(Equal(models.Task_Completed))
		Expect(s.Tasks[0].Failed).To(BeTrue())
		Expect(s.StartingContainerCount).To(Equal(2))
		Expect(s.Evacuating).To(BeTrue())
		Expect(s.OptionalPlacementTags).To(Equal([]string{"ssd"}))
		Expect(s.ProxyMemoryAllocationMB).To(Equal(32))
	})

	It("reads and writes a work body (POST /work, and its answer) as upstream's rep does", func() {
		const upstream = `{"LRPs":[{"instance_guid":"ig","process_guid":"pg","index":0,"domain":"cf-apps",` +
			`"PlacementTags":null,"VolumeDrivers":null,"RootFs":"preloaded:cflinuxfs4","MemoryMB":128,"DiskMB":256,"MaxPids":0,"state":""}],` +
			`"Tasks":[{"TaskGuid":"tg","Domain":"cf-tasks","PlacementTags":["gpu"],"VolumeDrivers":[],"RootFs":"docker:///busybox",` +
			`"MemoryMB":64,"DiskMB":64,"MaxPids":100,"state":"Invalid","failed":false}],"cell_id":"cell-1"}`
		var w models.Work
		Expect(roundTrip(upstream, &w)).To(Equal(upstream))
		Expect(w.LRPs[0].Index).To(Equal(int32(0)))
		Expect(w.Tasks[0].TaskGuid).To(Equal("tg"))
		Expect(w.Tasks[0].MaxPids).To(Equal(int32(100)))

		// Nothing rejected: the rep answers the empty work without a cell id.
		b, err := json.Marshal(models.Work{})
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(Equal(`{"LRPs":null,"Tasks":null}`))
	})

	It("reads and writes LRP start requests (POST /v1/lrps) as upstream's auctioneer does", func() {
		const upstream = `[{"process_guid":"pg","domain":"cf-apps","indices":[0,2],"PlacementTags":["gpu"],"VolumeDrivers":["nfs"],` +
			`"RootFs":"preloaded:cflinuxfs4","MemoryMB":256,"DiskMB":512,"MaxPids":1024}]`
		var reqs []models.LRPStartRequest
		Expect(roundTrip(upstream, &reqs)).To(Equal(upstream))
		Expect(reqs[0].Indices).To(Equal([]int32{0, 2}))
		Expect(reqs[0].RootFs).To(Equal("preloaded:cflinuxfs4"))
	})

	It("reads and writes task start requests (POST /v1/tasks) as upstream's auctioneer does", func() {
		const upstream = `[{"TaskGuid":"tg","Domain":"cf-tasks","PlacementTags":null,"VolumeDrivers":[],"RootFs":"docker:///busybox",` +
			`"MemoryMB":64,"DiskMB":64,"MaxPids":0,"state":"Invalid","failed":false}]`
		var reqs []models.TaskStartRequest
		Expect(roundTrip(upstream, &reqs)).To(Equal(upstream))
		Expect(reqs[0].TaskGuid).To(Equal("tg"))
	})

	It("writes the start requests the BBS sends with upstream's empty volume driver list", func() {
		b, err := json.Marshal(models.NewTaskStartRequest(&models.Task{TaskGuid: "tg", Domain: "d", TaskDefinition: &models.TaskDefinition{RootFs: "docker:///busybox", MemoryMb: 64}}))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(Equal(`{"TaskGuid":"tg","Domain":"d","PlacementTags":null,"VolumeDrivers":[],"RootFs":"docker:///busybox",` +
			`"MemoryMB":64,"DiskMB":0,"MaxPids":0,"state":"Invalid","failed":false}`))
	})

	Describe("rootfs providers", func() {
		It("express this project's layered preloaded rootfs as one more fixed set", func() {
			const upstream = `{"preloaded":{"set":{"cflinuxfs4":{}},"type":"fixed_set"},"preloaded+layer":{"set":{"cflinuxfs4":{}},"type":"fixed_set"}}`
			var p models.RootFSProviders
			Expect(roundTrip(upstream, &p)).To(Equal(upstream))
			Expect(p["preloaded+layer"]).To(Equal(models.FixedSetRootFSProvider("cflinuxfs4")))
		})

		It("keep a provider type they do not know, offering nothing under it", func() {
			var p models.RootFSProviders
			Expect(roundTrip(`{"oci":{"type":"sideloaded","set":{"x":{}}}}`, &p)).To(Equal(`{"oci":{"type":"sideloaded"}}`))
		})

		It("refuse a provider that is not an object", func() {
			var p models.RootFSProviders
			Expect(json.Unmarshal([]byte(`{"preloaded":["cflinuxfs4"]}`), &p)).To(MatchError(ContainSubstring("rootfs provider")))
		})
	})

	It("refuses a task state that is not one of upstream's names", func() {
		var t models.RepTask
		Expect(json.Unmarshal([]byte(`{"state":"Done"}`), &t)).To(MatchError(`task state: unknown state "Done"`))
		Expect(json.Unmarshal([]byte(`{"state":2}`), &t)).To(MatchError(ContainSubstring("task state: want a state name")))
	})
})
