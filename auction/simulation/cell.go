// Package simulation runs the auction against in-process cells: fake reps
// that hold resources, take work and may reject it. Its scenarios are shared
// by the simulation specs, the auction benchmarks and cmd/auction-report.
package simulation

import (
	"github.com/diego-go/diego/models"
)

// RootFS is the rootfs every simulated cell offers.
const RootFS = "preloaded:cflinuxfs4"

// Cell is a fake rep: it reports its state and takes work while it has the
// resources, like the rep's GET /state and POST /work.
type Cell struct {
	ID    string
	Index int
	Zone  string
	Total models.Resources

	// Reject, when set, makes the cell refuse work it would otherwise take
	// (a cell whose state changed since the auction read it).
	Reject func(lrp *models.RepLRP, task *models.RepTask) bool

	avail models.Resources
	lrps  []models.RepLRP
	tasks []models.RepTask
	// Placed is the work this cell took through Perform.
	Placed models.Work
}

// NewCell makes an empty cell.
func NewCell(id string, index int, zone string, total models.Resources) *Cell {
	return &Cell{ID: id, Index: index, Zone: zone, Total: total, avail: total}
}

// Preload puts LRPs on the cell as if they were already running.
func (c *Cell) Preload(lrps ...models.RepLRP) {
	for _, l := range lrps {
		c.avail.MemoryMB -= l.MemoryMB
		c.avail.DiskMB -= l.DiskMB
		c.avail.Containers--
		c.lrps = append(c.lrps, l)
	}
}

// State is the rep's GET /state.
func (c *Cell) State() models.CellState {
	return models.CellState{
		RepURL:             "inprocess://" + c.ID,
		CellID:             c.ID,
		CellIndex:          c.Index,
		Zone:               c.Zone,
		RootFSProviders:    models.RootFSProviders{"preloaded": models.FixedSetRootFSProvider("cflinuxfs4"), "docker": models.ArbitraryRootFSProvider()},
		AvailableResources: c.avail,
		TotalResources:     c.Total,
		LRPs:               append([]models.RepLRP(nil), c.lrps...),
		Tasks:              append([]models.RepTask(nil), c.tasks...),
	}
}

// Perform is the rep's POST /work: it takes what fits and answers with the
// work it could not take.
func (c *Cell) Perform(w models.Work) models.Work {
	rejected := models.Work{CellID: c.ID}
	for i := range w.LRPs {
		l := &w.LRPs[i]
		if !c.fits(l.Resource) || (c.Reject != nil && c.Reject(l, nil)) {
			rejected.LRPs = append(rejected.LRPs, *l)
			continue
		}
		c.take(l.Resource)
		c.lrps = append(c.lrps, *l)
		c.Placed.LRPs = append(c.Placed.LRPs, *l)
	}
	for i := range w.Tasks {
		t := &w.Tasks[i]
		if !c.fits(t.Resource) || (c.Reject != nil && c.Reject(nil, t)) {
			rejected.Tasks = append(rejected.Tasks, *t)
			continue
		}
		c.take(t.Resource)
		c.tasks = append(c.tasks, *t)
		c.Placed.Tasks = append(c.Placed.Tasks, *t)
	}
	return rejected
}

func (c *Cell) fits(r models.Resource) bool {
	return c.avail.MemoryMB >= r.MemoryMB && c.avail.DiskMB >= r.DiskMB && c.avail.Containers >= 1
}

func (c *Cell) take(r models.Resource) {
	c.avail.MemoryMB -= r.MemoryMB
	c.avail.DiskMB -= r.DiskMB
	c.avail.Containers--
}

// MemoryUsedMB is the memory in use on the cell, preloaded work included.
func (c *Cell) MemoryUsedMB() int32 { return c.Total.MemoryMB - c.avail.MemoryMB }

// Instances counts the LRP instances on the cell, preloaded ones included.
func (c *Cell) Instances() int { return len(c.lrps) }
