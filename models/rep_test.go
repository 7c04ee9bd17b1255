package models_test

// Specs of the rep's and auctioneer's API messages in rep.go.

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/models"
)

var _ = Describe("the rep's API messages", func() {
	It("reads a cell state in snake_case JSON", func() {
		var s models.CellState
		Expect(json.Unmarshal([]byte(`{
			"rep_url": "https://cell-1.cell.service.cf.internal:1801",
			"cell_id": "cell-1", "cell_index": 3, "zone": "z1",
			"rootfs_providers": {"preloaded": ["cflinuxfs4"], "docker": []},
			"available_resources": {"memory_mb": 1024, "disk_mb": 2048, "containers": 250},
			"total_resources": {"memory_mb": 4096, "disk_mb": 8192, "containers": 256},
			"lrps": [{"instance_guid": "ig", "process_guid": "pg", "index": 2, "domain": "cf-apps",
			          "rootfs": "preloaded:cflinuxfs4", "placement_tags": ["gpu"], "memory_mb": 256, "disk_mb": 512, "max_pids": 1024}],
			"tasks": [{"task_guid": "tg", "domain": "cf-tasks", "rootfs": "docker:///busybox", "memory_mb": 64, "disk_mb": 64, "failed": true}],
			"starting_container_count": 2, "evacuating": true,
			"volume_drivers": ["nfs"], "placement_tags": ["gpu"], "optional_placement_tags": ["ssd"]
		}`), &s)).To(Succeed())

		Expect(s.RepURL).To(Equal("https://cell-1.cell.service.cf.internal:1801"))
		Expect(s.CellIndex).To(Equal(3))
		Expect(s.AvailableResources).To(Equal(models.Resources{MemoryMB: 1024, DiskMB: 2048, Containers: 250}))
		Expect(s.LRPs).To(Equal([]models.RepLRP{{
			InstanceGUID: "ig", ProcessGUID: "pg", Index: 2, Domain: "cf-apps",
			PlacementConstraint: models.PlacementConstraint{RootFS: "preloaded:cflinuxfs4", PlacementTags: []string{"gpu"}},
			Resource:            models.Resource{MemoryMB: 256, DiskMB: 512, MaxPids: 1024},
		}}))
		Expect(s.Tasks[0].Failed).To(BeTrue())
		Expect(s.StartingContainerCount).To(Equal(2))
		Expect(s.Evacuating).To(BeTrue())
		Expect(s.OptionalPlacementTags).To(Equal([]string{"ssd"}))
		Expect(s.MatchRootFS("preloaded:cflinuxfs4")).To(BeTrue())
		Expect(s.MatchRootFS("preloaded:cflinuxfs3")).To(BeFalse())
		Expect(s.MatchRootFS("docker:///busybox#1.36")).To(BeTrue())
		Expect(s.MatchRootFS("oci:///busybox")).To(BeFalse())
	})

	It("matches a layered preloaded rootfs by its stack, not its query (Cloud Controller's layered droplets)", func() {
		s := models.CellState{RootFSProviders: models.RootFSProviders{"preloaded": {"cflinuxfs4"}, "preloaded+layer": {"cflinuxfs4"}}}
		Expect(s.MatchRootFS("preloaded+layer:cflinuxfs4?layer=https://blobstore/droplet.tgz&layer_path=/home/vcap&layer_digest=abc")).To(BeTrue())
		Expect(s.MatchRootFS("preloaded+layer:cflinuxfs3?layer=https://blobstore/droplet.tgz")).To(BeFalse())
		Expect(s.MatchRootFS("preloaded:cflinuxfs4?anything")).To(BeTrue())
		scheme, name := models.SplitRootFS("preloaded+layer:cflinuxfs4?layer=x")
		Expect([]string{scheme, name}).To(Equal([]string{"preloaded+layer", "cflinuxfs4"}))
		scheme, name = models.SplitRootFS("docker:///busybox#1.36")
		Expect([]string{scheme, name}).To(Equal([]string{"docker", "busybox#1.36"}))
	})

	It("writes work and start requests with upstream's field names", func() {
		b, err := json.Marshal(models.Work{CellID: "cell-1", LRPs: []models.RepLRP{{ProcessGUID: "pg", Index: 1, Resource: models.Resource{MemoryMB: 128}}}})
		Expect(err).NotTo(HaveOccurred())
		var m map[string]any
		Expect(json.Unmarshal(b, &m)).To(Succeed())
		Expect(m).To(HaveKeyWithValue("cell_id", "cell-1"))
		lrp := m["lrps"].([]any)[0].(map[string]any)
		Expect(lrp).To(HaveKeyWithValue("process_guid", "pg"))
		Expect(lrp).To(HaveKeyWithValue("memory_mb", 128.0))
		Expect(lrp).To(HaveKey("rootfs"))

		b, err = json.Marshal(models.LRPStartRequest{ProcessGUID: "pg", Domain: "d", Indices: []int32{0, 2}})
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(ContainSubstring(`"process_guid":"pg","domain":"d","indices":[0,2]`))

		b, err = json.Marshal(models.TaskStartRequest{RepTask: models.RepTask{TaskGUID: "tg"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(ContainSubstring(`"task_guid":"tg"`))

		b, err = json.Marshal(models.AuctionResults{FailedLRPs: []models.LRPPlacementFailure{{RepLRP: models.RepLRP{ProcessGUID: "pg"}, PlacementError: "insufficient resources: memory"}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(ContainSubstring(`"placement_error":"insufficient resources: memory"`))
	})

	It("matches placement tags both ways", func() {
		s := models.CellState{PlacementTags: []string{"gpu"}, OptionalPlacementTags: []string{"ssd"}}
		Expect(s.MatchPlacementTags([]string{"gpu"})).To(BeTrue())
		Expect(s.MatchPlacementTags([]string{"gpu", "ssd"})).To(BeTrue())
		Expect(s.MatchPlacementTags([]string{"ssd"})).To(BeFalse())
		Expect(s.MatchPlacementTags(nil)).To(BeFalse())
		Expect(s.MatchPlacementTags([]string{"gpu", "arm"})).To(BeFalse())
	})

	It("lists resource problems in the order memory, disk, containers", func() {
		s := models.CellState{AvailableResources: models.Resources{MemoryMB: 1, DiskMB: 1, Containers: 0}}
		Expect(s.ResourceProblems(models.Resource{MemoryMB: 2, DiskMB: 2})).To(Equal([]string{"memory", "disk", "containers"}))
		Expect(models.InsufficientResourcesError(s.ResourceProblems(models.Resource{MemoryMB: 2}))).To(Equal("insufficient resources: memory, containers"))
	})
})
