package simulation

import (
	"fmt"
	"math/rand"

	"github.com/diego-go/diego/auction"
	"github.com/diego-go/diego/models"
)

// SmallCell is the size of upstream's simulated cell: 100 MB of memory,
// 100 MB of disk, 100 containers. Instances in the scenarios use 1 MB of
// disk and 1, 2, 4 (or 50) MB of memory.
var SmallCell = models.Resources{MemoryMB: 100, DiskMB: 100, Containers: 100}

// NewCells makes n empty cells of one size named cell-000, cell-001 ...,
// with cell indices 0..n-1 and zones z0..z(zones-1) assigned round robin.
func NewCells(n, zones int, total models.Resources) []*Cell {
	cells := make([]*Cell, n)
	for i := range cells {
		cells[i] = NewCell(fmt.Sprintf("cell-%03d", i), i, fmt.Sprintf("z%d", i%zones), total)
	}
	return cells
}

// Start asks for the given indices of a process.
func Start(processGUID string, memoryMB int32, indices ...int32) models.LRPStartRequest {
	return models.LRPStartRequest{
		ProcessGUID:         processGUID,
		Domain:              "simulation",
		Indices:             indices,
		PlacementConstraint: models.PlacementConstraint{RootFs: RootFS},
		Resource:            models.Resource{MemoryMB: memoryMB, DiskMB: 1},
	}
}

// Indices returns 0..n-1.
func Indices(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

// Unique asks for n single-instance processes named prefix-0 ... of one size.
func Unique(prefix string, n int, memoryMB int32) []models.LRPStartRequest {
	out := make([]models.LRPStartRequest, n)
	for i := range out {
		out[i] = Start(fmt.Sprintf("%s-%d", prefix, i), memoryMB, 0)
	}
	return out
}

// ColdStart is upstream's "small cold start": n single-instance 1 MB
// processes on empty SmallCells in one zone.
func ColdStart(cells, instances int) Scenario {
	return Scenario{
		Name:    fmt.Sprintf("cold start: %d instances on %d cells", instances, cells),
		Cells:   NewCells(cells, 1, SmallCell),
		LRPs:    Unique("app", instances, 1),
		Options: auction.DefaultOptions(),
	}
}

// Mixed is upstream's "large cold start" mix, scaled to any size: of every
// 41 instances 36 use 1 MB, 4 use 2 MB and 1 uses 4 MB (upstream's 1800 :
// 200 : 50 per 25 cells); within each size half are single-instance
// processes and half are instances of one of four multi-instance processes
// per size (12 "colors"), picked at random with a fixed seed; the requests
// are shuffled. Cells are empty, of the given size, in two zones.
func Mixed(name string, cells, instances int, cell models.Resources, seed int64) Scenario {
	r := rand.New(rand.NewSource(seed))
	n4 := instances / 41
	n2 := instances * 4 / 41
	n1 := instances - n2 - n4
	colors := []string{"purple", "red", "orange", "teal", "gray", "blue", "pink", "green", "lime", "cyan", "lightseagreen", "brown"}
	var lrps []models.LRPStartRequest
	for k, size := range []struct {
		n      int
		memory int32
	}{{n1, 1}, {n2, 2}, {n4, 4}} {
		unique := size.n / 2
		lrps = append(lrps, Unique(fmt.Sprintf("single-%dmb", size.memory), unique, size.memory)...)
		perColor := make([]int32, 4)
		for i := 0; i < size.n-unique; i++ {
			perColor[r.Intn(4)]++
		}
		for c, n := range perColor {
			guid := colors[4*k+c]
			for i := int32(0); i < n; i++ {
				lrps = append(lrps, Start(guid, size.memory, i))
			}
		}
	}
	r.Shuffle(len(lrps), func(i, j int) { lrps[i], lrps[j] = lrps[j], lrps[i] })
	return Scenario{
		Name:    name,
		Cells:   NewCells(cells, 2, cell),
		LRPs:    lrps,
		Options: auction.DefaultOptions(),
	}
}

// MixedColdStart is upstream's large cold start: 2,050 instances on 25
// SmallCells at scale 1, 8,200 on 100 at scale 4.
func MixedColdStart(scale int) Scenario {
	return Mixed(fmt.Sprintf("mixed cold start: %d instances on %d cells", 2050*scale, 25*scale), 25*scale, 2050*scale, SmallCell, 1)
}

// BigCell holds 400 MB, 400 MB of disk and 400 containers: room for the
// 250 instances per cell of the 250,000-on-1,000 scale run (about 293 MB of
// the mix per cell).
var BigCell = models.Resources{MemoryMB: 400, DiskMB: 400, Containers: 400}

// Scale is the mix on many cells: 250 instances per BigCell.
func Scale(cells int) Scenario {
	return Mixed(fmt.Sprintf("scale: %d instances on %d cells", 250*cells, cells), cells, 250*cells, BigCell, 1)
}

// ZoneSpread has 12 SmallCells in 3 zones; the 4 cells of zone z0 already
// run 40 unrelated instances each. One process asks for 240 instances and
// 60 single-instance processes come with it: the process must still split
// 80 / 80 / 80 across the zones.
func ZoneSpread() Scenario {
	cells := NewCells(12, 3, SmallCell)
	for _, c := range cells {
		if c.Zone == "z0" {
			for i := 0; i < 40; i++ {
				c.Preload(models.RepLRP{LRPKey: models.LRPKey{ProcessGUID: fmt.Sprintf("old-%s-%d", c.ID, i)}, PlacementConstraint: models.PlacementConstraint{RootFs: RootFS}, Resource: models.Resource{MemoryMB: 1, DiskMB: 1}})
			}
		}
	}
	lrps := append([]models.LRPStartRequest{Start("red", 1, Indices(240)...)}, Unique("single", 60, 1)...)
	return Scenario{Name: "zones: 240 instances of one process on 3 zones, one loaded", Cells: cells, LRPs: lrps, Options: auction.DefaultOptions()}
}

// LoneZone is upstream's AZ scenario: three cells, two zones; the only cell
// of zone z1 already runs 50 instances, yet it gets half of a 40-instance
// process.
func LoneZone() Scenario {
	cells := NewCells(3, 2, SmallCell) // cell-000 z0, cell-001 z1, cell-002 z0
	for i := 0; i < 50; i++ {
		cells[1].Preload(models.RepLRP{LRPKey: models.LRPKey{ProcessGUID: fmt.Sprintf("old-%d", i)}, PlacementConstraint: models.PlacementConstraint{RootFs: RootFS}, Resource: models.Resource{MemoryMB: 1, DiskMB: 1}})
	}
	return Scenario{Name: "zones: 40 instances, the lone cell of one zone loaded", Cells: cells, LRPs: []models.LRPStartRequest{Start("red", 1, Indices(40)...)}, Options: auction.DefaultOptions()}
}

// Boulders is upstream's "packing optimally when memory is low": one
// SmallCell (100 MB) is offered 82 instances, 80 single-instance 1 MB
// processes (pebbles) and 2 instances of a 50 MB process "red" (boulders).
// Batch order puts the index-0 boulder first (index 0, largest memory), then
// the pebbles until memory runs out, then red's index 1: 50 MB + 50 x 1 MB
// fill the cell, so 51 are placed and 31 (30 pebbles and red/1) fail with
// "insufficient resources: memory". Disk (82 MB) and containers (82) fit.
func Boulders() Scenario {
	lrps := append(Unique("pebble", 80, 1), Start("red", 50, 0, 1))
	return Scenario{Name: "one small cell offered 82 instances", Cells: NewCells(1, 1, SmallCell), LRPs: lrps, Options: auction.DefaultOptions()}
}

// Rejecting has 10 SmallCells of which cell-000 rejects all work at
// submission (its state changed after the auction read it): 200 instances
// must all land on the other nine in a second round.
func Rejecting() Scenario {
	cells := NewCells(10, 1, SmallCell)
	cells[0].Reject = func(*models.RepLRP, *models.RepTask) bool { return true }
	return Scenario{Name: "one cell rejects everything", Cells: cells, LRPs: Unique("app", 200, 1), Options: auction.DefaultOptions()}
}

// BinPack is the small cold start of 800 instances on 40 cells with a
// bin-pack weight: cells with a lower index fill first.
func BinPack(weight float64) Scenario {
	s := ColdStart(40, 800)
	s.Name = fmt.Sprintf("bin-pack weight %.2f: 800 instances on 40 cells", weight)
	s.Options.BinPackFirstFitWeight = weight
	return s
}

// ReportScenarios are the scenarios cmd/auction-report runs, as functions
// because a run changes its cells. large adds the 250,000-on-1,000 run.
func ReportScenarios(large bool) []func() Scenario {
	out := []func() Scenario{
		func() Scenario { return ColdStart(4, 8) },
		func() Scenario { return ColdStart(10, 40) },
		func() Scenario { return ColdStart(20, 200) },
		func() Scenario { return ColdStart(40, 800) },
		func() Scenario { return MixedColdStart(1) },
		func() Scenario { return MixedColdStart(4) },
		ZoneSpread,
		LoneZone,
		Boulders,
		Rejecting,
		func() Scenario { return BinPack(0.5) },
	}
	if large {
		out = append(out, func() Scenario { return Scale(1000) })
	}
	return out
}
