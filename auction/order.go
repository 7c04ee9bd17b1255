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

// item is one LRP instance or Task on its way through the pipeline. It
// points at its request (the auction keeps its own copy of the request
// slices) and the message for the rep is built only when it is placed.
type item struct {
	isTask       bool
	phase        uint8
	memory       int32
	disk         int32
	pid          int32 // interned process guid (LRPs)
	index        int32 // LRP index
	seq          int   // position in the batch, for a stable order
	lrp          *models.LRPStartRequest
	task         *models.RepTask
	instanceGUID string
	class        *class
	cell         int32   // where it is placed, -1 if not
	excluded     []int32 // cells that rejected it
}

// repLRP is the message the rep gets for a placed LRP instance.
func (it *item) repLRP() models.RepLRP {
	return models.RepLRP{
		InstanceGUID:        it.instanceGUID,
		LRPKey:              models.LRPKey{ProcessGUID: it.lrp.ProcessGUID, Index: it.index, Domain: it.lrp.Domain},
		PlacementConstraint: it.lrp.PlacementConstraint,
		Resource:            it.lrp.Resource,
	}
}

// items expands the requests into one item per instance or task, each with
// its feasibility class, in batch order.
func (a *Auction) items(lrps []models.LRPStartRequest, tasks []models.TaskStartRequest) []*item {
	lrps = append([]models.LRPStartRequest(nil), lrps...)
	tasks = append([]models.TaskStartRequest(nil), tasks...)
	n := len(tasks)
	for i := range lrps {
		n += len(lrps[i].Indices)
	}
	store := make([]item, n)
	k := 0
	for i := range lrps {
		r := &lrps[i]
		cls := a.classFor(r.PlacementConstraint)
		pid := a.pid(r.ProcessGUID)
		for _, index := range r.Indices {
			it := &store[k]
			*it = item{
				phase:  phaseOtherInstances,
				memory: r.MemoryMB,
				disk:   r.DiskMB,
				pid:    pid,
				index:  index,
				seq:    k,
				class:  cls,
				cell:   -1,
				lrp:    r,
			}
			if index == 0 {
				it.phase = phaseFirstInstances
			}
			if a.opts.NewInstanceGUID != nil {
				it.instanceGUID = a.opts.NewInstanceGUID(r.ProcessGUID, index)
			}
			k++
		}
	}
	for i := range tasks {
		t := &tasks[i]
		store[k] = item{
			isTask: true,
			phase:  phaseTasks,
			memory: t.MemoryMB,
			disk:   t.DiskMB,
			seq:    k,
			class:  a.classFor(t.PlacementConstraint),
			cell:   -1,
			task:   &t.RepTask,
		}
		k++
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
		if c := cmp.Compare(x.index, y.index); c != 0 {
			return c
		}
		return cmp.Compare(x.seq, y.seq)
	})
}
