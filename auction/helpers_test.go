package auction_test

import (
	"fmt"

	"github.com/diego-go/diego/models"
)

const linux = "preloaded:cflinuxfs4"

func cell(id string, memory, disk int32, containers int) models.CellState {
	return models.CellState{
		CellID:             id,
		Zone:               "z1",
		RootFSProviders:    models.RootFSProviders{"preloaded": models.FixedSetRootFSProvider("cflinuxfs4"), "docker": models.ArbitraryRootFSProvider()},
		AvailableResources: models.Resources{MemoryMB: memory, DiskMB: disk, Containers: containers},
		TotalResources:     models.Resources{MemoryMB: memory, DiskMB: disk, Containers: containers},
	}
}

func inZone(c models.CellState, zone string) models.CellState {
	c.Zone = zone
	return c
}

func withLRPs(c models.CellState, processGUID string, n int, memory int32) models.CellState {
	for i := 0; i < n; i++ {
		c.LRPs = append(c.LRPs, models.RepLRP{LRPKey: models.LRPKey{ProcessGUID: processGUID, Index: int32(i)}, Resource: models.Resource{MemoryMB: memory, DiskMB: 1}})
		c.AvailableResources.MemoryMB -= memory
		c.AvailableResources.DiskMB--
		c.AvailableResources.Containers--
	}
	return c
}

func lrp(processGUID string, memory int32, indices ...int32) models.LRPStartRequest {
	if len(indices) == 0 {
		indices = []int32{0}
	}
	return models.LRPStartRequest{
		ProcessGUID:         processGUID,
		Domain:              "d",
		Indices:             indices,
		PlacementConstraint: models.PlacementConstraint{RootFs: linux},
		Resource:            models.Resource{MemoryMB: memory, DiskMB: 1},
	}
}

func task(guid string, memory int32) models.TaskStartRequest {
	return models.TaskStartRequest{RepTask: models.RepTask{
		TaskGuid:            guid,
		Domain:              "d",
		PlacementConstraint: models.PlacementConstraint{RootFs: linux},
		Resource:            models.Resource{MemoryMB: memory, DiskMB: 1},
	}}
}

func placements(works []models.Work) map[string]string {
	out := map[string]string{}
	for _, w := range works {
		for _, l := range w.LRPs {
			out[fmt.Sprintf("%s/%d", l.ProcessGUID, l.Index)] = w.CellID
		}
		for _, t := range w.Tasks {
			out[t.TaskGuid] = w.CellID
		}
	}
	return out
}

// sequence lists the placed work in the order it was decided, across cells,
// as recorded by a single cell that takes everything.
func sequence(w models.Work) []string {
	var out []string
	for _, l := range w.LRPs {
		out = append(out, fmt.Sprintf("%s/%d", l.ProcessGUID, l.Index))
	}
	return out
}
