package server

import (
	"sync"

	"github.com/diego-go/diego/models"
)

// Batch is the work of one auction.
type Batch struct {
	LRPs  []models.LRPStartRequest
	Tasks []models.TaskStartRequest
}

// Size counts the LRP instances and tasks in the batch.
func (b Batch) Size() (instances, tasks int) {
	for i := range b.LRPs {
		instances += len(b.LRPs[i].Indices)
	}
	return instances, len(b.Tasks)
}

// Empty reports whether the batch holds no work.
func (b Batch) Empty() bool {
	n, t := b.Size()
	return n == 0 && t == 0
}

// Inbox collects start requests until the runner takes them as a batch. Duplicates are merged:
// an LRP instance (process guid + index) or a task (task guid) already waiting is not added twice.
// For a process already waiting, a newer request's scheduling fields (resources, constraints,
// domain) replace the older ones and its indices are added. It is safe for concurrent use.
type Inbox struct {
	mu        sync.Mutex
	lrps      map[string]*pendingLRP
	lrpOrder  []string
	tasks     map[string]models.TaskStartRequest
	taskOrder []string
	ready     chan struct{}
}

type pendingLRP struct {
	req     models.LRPStartRequest
	indices map[int32]struct{}
}

// NewInbox makes an empty inbox.
func NewInbox() *Inbox {
	return &Inbox{
		lrps:  map[string]*pendingLRP{},
		tasks: map[string]models.TaskStartRequest{},
		ready: make(chan struct{}, 1),
	}
}

// Ready receives a value when work was added since the last Take (it may be stale: Take can
// return an empty batch).
func (in *Inbox) Ready() <-chan struct{} { return in.ready }

// AddLRPs queues LRP start requests for the next batch.
func (in *Inbox) AddLRPs(reqs []models.LRPStartRequest) {
	if len(reqs) == 0 {
		return
	}
	in.mu.Lock()
	added := false
	for _, r := range reqs {
		if len(r.Indices) == 0 {
			continue
		}
		p, ok := in.lrps[r.ProcessGUID]
		if !ok {
			p = &pendingLRP{indices: map[int32]struct{}{}}
			in.lrps[r.ProcessGUID] = p
			in.lrpOrder = append(in.lrpOrder, r.ProcessGUID)
		}
		indices := p.req.Indices
		p.req = r
		p.req.Indices = indices
		for _, i := range r.Indices {
			if _, dup := p.indices[i]; dup {
				continue
			}
			p.indices[i] = struct{}{}
			p.req.Indices = append(p.req.Indices, i)
		}
		added = true
	}
	in.mu.Unlock()
	if added {
		in.notify()
	}
}

// AddTasks queues task start requests for the next batch.
func (in *Inbox) AddTasks(reqs []models.TaskStartRequest) {
	if len(reqs) == 0 {
		return
	}
	in.mu.Lock()
	for _, r := range reqs {
		if _, dup := in.tasks[r.TaskGuid]; dup {
			continue
		}
		in.tasks[r.TaskGuid] = r
		in.taskOrder = append(in.taskOrder, r.TaskGuid)
	}
	in.mu.Unlock()
	in.notify()
}

// Take returns everything waiting, in arrival order, and empties the inbox.
func (in *Inbox) Take() Batch {
	in.mu.Lock()
	defer in.mu.Unlock()
	var b Batch
	if len(in.lrpOrder) > 0 {
		b.LRPs = make([]models.LRPStartRequest, 0, len(in.lrpOrder))
		for _, g := range in.lrpOrder {
			b.LRPs = append(b.LRPs, in.lrps[g].req)
		}
	}
	if len(in.taskOrder) > 0 {
		b.Tasks = make([]models.TaskStartRequest, 0, len(in.taskOrder))
		for _, g := range in.taskOrder {
			b.Tasks = append(b.Tasks, in.tasks[g])
		}
	}
	in.lrps = map[string]*pendingLRP{}
	in.lrpOrder = nil
	in.tasks = map[string]models.TaskStartRequest{}
	in.taskOrder = nil
	return b
}

// Len counts the LRP instances and tasks waiting.
func (in *Inbox) Len() (instances, tasks int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, p := range in.lrps {
		instances += len(p.indices)
	}
	return instances, len(in.tasks)
}

func (in *Inbox) notify() {
	select {
	case in.ready <- struct{}{}:
	default:
	}
}
