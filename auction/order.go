package auction

import (
	"cmp"
	"slices"

	"github.com/diego-go/diego/models"
)

// Batch order phases.
const (
	phaseFirstInstances = iota // LRP instances with index 0
	phaseTasks
	phaseOtherInstances
)

// item is one LRP instance or Task on its way through the pipeline.
type item struct {
	isTask   bool
	phase    uint8
	memory   int32
	disk     int32
	pid      int32 // interned process guid (LRPs)
	seq      int   // position in the batch, for a stable order
	lrp      models.RepLRP
	task     models.RepTask
	class    *class
	cell     int32   // where it is placed, -1 if not
	excluded []int32 // cells that rejected it
}

// items expands the requests into one item per instance or task, each with
// its feasibility class, in batch order.
func (a *Auction) items(lrps []models.LRPStartRequest, tasks []models.TaskStartRequest) []*item {
	n := len(tasks)
	for i := range lrps {
		n += len(lrps[i].Indices)
	}
	store := make([]item, 0, n)
	for i := range lrps {
		r := &lrps[i]
		cls := a.classFor(r.PlacementConstraint)
		pid := a.pid(r.ProcessGUID)
		for _, index := range r.Indices {
			it := item{
				phase:  phaseOtherInstances,
				memory: r.MemoryMB,
				disk:   r.DiskMB,
				pid:    pid,
				seq:    len(store),
				class:  cls,
				cell:   -1,
				lrp: models.RepLRP{
					ProcessGUID:         r.ProcessGUID,
					Index:               index,
					Domain:              r.Domain,
					PlacementConstraint: r.PlacementConstraint,
					Resource:            r.Resource,
				},
			}
			if index == 0 {
				it.phase = phaseFirstInstances
			}
			if a.opts.NewInstanceGUID != nil {
				it.lrp.InstanceGUID = a.opts.NewInstanceGUID(r.ProcessGUID, index)
			}
			store = append(store, it)
		}
	}
	for i := range tasks {
		t := &tasks[i]
		store = append(store, item{
			isTask: true,
			phase:  phaseTasks,
			memory: t.MemoryMB,
			disk:   t.DiskMB,
			seq:    len(store),
			class:  a.classFor(t.PlacementConstraint),
			cell:   -1,
			task:   t.RepTask,
		})
	}
	out := make([]*item, len(store))
	for i := range store {
		out[i] = &store[i]
	}
	sortItems(out)
	return out
}

// sortItems puts items in batch order: LRP index 0 first, then Tasks, then
// the other LRP instances; larger memory first within each. Instances of
// equal memory are grouped by process (then index), which makes the result
// independent of the order requests arrived in and lets ranking load one
// process's counts once; tasks of equal memory keep their arrival order.
// The order is total (the batch position breaks every tie), so an unstable
// sort gives one answer.
func sortItems(items []*item) {
	slices.SortFunc(items, func(x, y *item) int {
		if c := cmp.Compare(x.phase, y.phase); c != 0 {
			return c
		}
		if c := cmp.Compare(y.memory, x.memory); c != 0 {
			return c
		}
		if x.isTask || y.isTask {
			return cmp.Compare(x.seq, y.seq)
		}
		if c := cmp.Compare(x.lrp.ProcessGUID, y.lrp.ProcessGUID); c != 0 {
			return c
		}
		if c := cmp.Compare(x.lrp.Index, y.lrp.Index); c != 0 {
			return c
		}
		return cmp.Compare(x.seq, y.seq)
	})
}
