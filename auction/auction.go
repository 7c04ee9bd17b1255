package auction

import (
	"sort"

	"github.com/diego-go/diego/models"
)

const (
	// DefaultStartingContainerWeight is upstream's weight of a container
	// that is still starting on a cell.
	DefaultStartingContainerWeight = 0.25
	// LocalityWeight is added to a cell's score per instance of the same
	// process it already holds (per task, for tasks), so instances spread.
	LocalityWeight = 1000.0
)

// Options tune the auction. Start from DefaultOptions.
type Options struct {
	// StartingContainerWeight x the containers starting on a cell is added
	// to its score.
	StartingContainerWeight float64
	// BinPackFirstFitWeight x the cell's index is added to an LRP's score:
	// 0 spreads (upstream's default); a positive weight fills cells with a
	// lower index first.
	BinPackFirstFitWeight float64
	// MaxStartsInFlight caps the containers starting at once across all
	// cells (those starting in the snapshot plus those placed by this
	// auction); work beyond it fails with PlacementErrorStartsInFlight.
	// 0 means no cap.
	MaxStartsInFlight int
	// NewInstanceGUID, when set, names each placed LRP instance. The
	// algorithm stays deterministic as long as this function is.
	NewInstanceGUID func(processGUID string, index int32) string
}

// DefaultOptions are upstream's: spread, starting containers weigh 0.25, no
// cap on starts in flight.
func DefaultOptions() Options {
	return Options{StartingContainerWeight: DefaultStartingContainerWeight}
}

// Plan is the outcome of one placement round: the work to submit, one Work
// per cell that got any (in cell order, CellID set), and what could not be
// placed, with the reason.
type Plan struct {
	Works    []models.Work
	Failures AuctionResults
}

// Placed counts the LRP instances and Tasks the plan places.
func (p Plan) Placed() (lrps, tasks int) {
	for _, w := range p.Works {
		lrps += len(w.LRPs)
		tasks += len(w.Tasks)
	}
	return lrps, tasks
}

// cellHot holds what the ranking loop reads for every candidate cell, in a
// dense slice; the fields the loop reads fill the first 64 bytes.
type cellHot struct {
	availM, availD, availC int32
	same                   int32 // instances of the active process (see activate)
	tasks                  int32
	invM, invD             float64 // 1/total, 0 when the total is 0
	base                   float64 // fractions in use with one more container
	startW                 float64 // StartingContainerWeight x starting
	tie                    float64 // BinPackFirstFitWeight x CellIndex

	usedM, usedD, usedC int32
	starting            int32
	invC                float64
}

type cellMeta struct {
	id     string
	zone   int32
	state  *models.CellState
	placed []*item // everything this auction placed here
}

// Auction holds a snapshot of the cells and everything placed on them so
// far. It is not safe for concurrent use.
type Auction struct {
	opts Options

	hot    []cellHot
	meta   []cellMeta
	cellOf map[string]int32
	zones  []string

	// per-process instance counts; see activate.
	procs     []proc
	pidOf     map[string]int32
	active    int32
	zoneCount []int32 // instances of the active process, by zone

	classes  map[string]*class
	inFlight int

	banned    []bool // cells excluded for the item being placed
	zoneOrder []int32

	trees   map[treeKey]*rankTree
	changes []int32 // cells whose state changed, in order (see tree.go)
}

type proc struct {
	pairs []pair
}

type pair struct {
	cell, n int32
}

// New takes a snapshot of cell states. Evacuating cells take no work and
// are left out. The states are read, never modified.
func New(cells []models.CellState, opts Options) *Auction {
	idx := make([]int, 0, len(cells))
	for i := range cells {
		if !cells[i].Evacuating {
			idx = append(idx, i)
		}
	}
	// Cell order decides ties: lower cell index first, then cell id.
	sort.SliceStable(idx, func(x, y int) bool {
		a, b := &cells[idx[x]], &cells[idx[y]]
		if a.CellIndex != b.CellIndex {
			return a.CellIndex < b.CellIndex
		}
		return a.CellID < b.CellID
	})

	zoneSet := map[string]struct{}{}
	for _, i := range idx {
		zoneSet[cells[i].Zone] = struct{}{}
	}
	zones := make([]string, 0, len(zoneSet))
	for z := range zoneSet {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	zoneID := make(map[string]int32, len(zones))
	for i, z := range zones {
		zoneID[z] = int32(i)
	}

	a := &Auction{
		opts:      opts,
		hot:       make([]cellHot, len(idx)),
		meta:      make([]cellMeta, len(idx)),
		cellOf:    make(map[string]int32, len(idx)),
		zones:     zones,
		pidOf:     map[string]int32{},
		active:    -1,
		zoneCount: make([]int32, len(zones)),
		classes:   map[string]*class{},
		banned:    make([]bool, len(idx)),
		trees:     map[treeKey]*rankTree{},
	}

	for c, i := range idx {
		s := &cells[i]
		h := &a.hot[c]
		h.availM, h.availD, h.availC = s.AvailableResources.MemoryMB, s.AvailableResources.DiskMB, int32(s.AvailableResources.Containers)
		h.usedM = s.TotalResources.MemoryMB - h.availM
		h.usedD = s.TotalResources.DiskMB - h.availD
		h.usedC = int32(s.TotalResources.Containers) - h.availC
		h.invM = inverse(float64(s.TotalResources.MemoryMB))
		h.invD = inverse(float64(s.TotalResources.DiskMB))
		h.invC = inverse(float64(s.TotalResources.Containers))
		h.starting = int32(s.StartingContainerCount)
		h.tasks = int32(len(s.Tasks))
		h.tie = opts.BinPackFirstFitWeight * float64(s.CellIndex)
		refresh(h, opts.StartingContainerWeight)
		a.inFlight += s.StartingContainerCount

		a.meta[c] = cellMeta{id: s.CellID, zone: zoneID[s.Zone], state: s}
		a.cellOf[s.CellID] = int32(c)

		// Count the instances each process already has on the cell. LRPs
		// of one process are usually listed together, so one pair per run.
		for j := range s.LRPs {
			pid := a.pid(s.LRPs[j].ProcessGUID)
			p := &a.procs[pid]
			if n := len(p.pairs); n > 0 && p.pairs[n-1].cell == int32(c) {
				p.pairs[n-1].n++
			} else {
				p.pairs = append(p.pairs, pair{cell: int32(c), n: 1})
			}
		}
	}
	return a
}

func inverse(total float64) float64 {
	if total <= 0 {
		return 0
	}
	return 1 / total
}

// pid interns a process guid.
func (a *Auction) pid(guid string) int32 {
	if id, ok := a.pidOf[guid]; ok {
		return id
	}
	id := int32(len(a.procs))
	a.procs = append(a.procs, proc{})
	a.pidOf[guid] = id
	return id
}

// activate loads the per-cell and per-zone instance counts of one process
// into the cells' hot fields, so ranking reads them without map lookups. Instances of
// one process are placed consecutively (see order.go), so this happens about
// once per process and batch.
func (a *Auction) activate(pid int32) {
	if a.active == pid {
		return
	}
	a.deactivate()
	for _, pr := range a.procs[pid].pairs {
		a.hot[pr.cell].same += pr.n
		a.zoneCount[a.meta[pr.cell].zone] += pr.n
	}
	a.active = pid
}

// deactivate writes the cells' counts back into the active process's pairs.
func (a *Auction) deactivate() {
	if a.active < 0 {
		return
	}
	p := &a.procs[a.active]
	kept := p.pairs[:0]
	for _, pr := range p.pairs {
		if n := a.hot[pr.cell].same; n > 0 {
			kept = append(kept, pair{cell: pr.cell, n: n})
			a.hot[pr.cell].same = 0 // a repeated pair then reads 0 and is dropped
		}
	}
	p.pairs = kept
	for z := range a.zoneCount {
		a.zoneCount[z] = 0
	}
	a.active = -1
}

// addInstance counts one more (delta 1) or one fewer (-1) instance of the
// active process on cell c.
func (a *Auction) addInstance(c int32, delta int32) {
	if delta > 0 && a.hot[c].same == 0 {
		p := &a.procs[a.active]
		p.pairs = append(p.pairs, pair{cell: c})
	}
	a.hot[c].same += delta
	a.zoneCount[a.meta[c].zone] += delta
}

// Place decides a batch. Its placements are reserved in the snapshot, so a
// later Place or Replan on the same Auction sees them.
func (a *Auction) Place(lrps []models.LRPStartRequest, tasks []models.TaskStartRequest) Plan {
	return a.placeAll(a.items(lrps, tasks))
}

// Replan takes the work cells rejected at submission (each Work's CellID
// names the rejecting cell), frees what it had reserved there, and places
// that work again on the next best cell, never on a cell that rejected it
// before. Work that is not from this auction's plans is ignored.
func (a *Auction) Replan(rejected []models.Work) Plan {
	var retry []*item
	for _, w := range rejected {
		c, ok := a.cellOf[w.CellID]
		if !ok {
			continue
		}
		for i := range w.LRPs {
			if it := a.takeBack(c, func(it *item) bool {
				return !it.isTask && it.lrp.ProcessGUID == w.LRPs[i].ProcessGUID && it.index == w.LRPs[i].Index
			}); it != nil {
				retry = append(retry, it)
			}
		}
		for i := range w.Tasks {
			if it := a.takeBack(c, func(it *item) bool {
				return it.isTask && it.task.TaskGuid == w.Tasks[i].TaskGuid
			}); it != nil {
				retry = append(retry, it)
			}
		}
	}
	sortItems(retry)
	return a.placeAll(retry)
}

// takeBack removes the first item placed on cell c that matches, undoes its
// reservation and bars the cell for it.
func (a *Auction) takeBack(c int32, match func(*item) bool) *item {
	m := &a.meta[c]
	for i, it := range m.placed {
		if !match(it) {
			continue
		}
		last := len(m.placed) - 1
		m.placed[i] = m.placed[last]
		m.placed = m.placed[:last]
		a.unreserve(c, it)
		it.excluded = append(it.excluded, c)
		return it
	}
	return nil
}

func (a *Auction) placeAll(items []*item) Plan {
	var plan Plan
	placed := make([]*item, 0, len(items))
	for _, it := range items {
		c, reason := a.placeOne(it)
		if c >= 0 {
			placed = append(placed, it)
			continue
		}
		if it.isTask {
			plan.Failures.FailedTasks = append(plan.Failures.FailedTasks, TaskPlacementFailure{RepTask: *it.task, PlacementError: reason})
		} else {
			plan.Failures.FailedLRPs = append(plan.Failures.FailedLRPs, LRPPlacementFailure{RepLRP: it.repLRP(), PlacementError: reason})
		}
	}
	a.deactivate()
	plan.Works = a.works(placed)
	return plan
}

// works builds one Work per cell from the placed items, in cell order and,
// within a cell, in the order they were placed; every slice is allocated at
// its final size.
func (a *Auction) works(placed []*item) []models.Work {
	lrpCount := make([]int, len(a.hot))
	taskCount := make([]int, len(a.hot))
	var cells []int32
	for _, it := range placed {
		if lrpCount[it.cell] == 0 && taskCount[it.cell] == 0 {
			cells = append(cells, it.cell)
		}
		if it.isTask {
			taskCount[it.cell]++
		} else {
			lrpCount[it.cell]++
		}
	}
	sort.Slice(cells, func(i, j int) bool { return cells[i] < cells[j] })
	works := make([]models.Work, len(cells))
	slot := make([]int, len(a.hot))
	for i, c := range cells {
		slot[c] = i
		works[i].CellID = a.meta[c].id
		if n := lrpCount[c]; n > 0 {
			works[i].LRPs = make([]models.RepLRP, 0, n)
		}
		if n := taskCount[c]; n > 0 {
			works[i].Tasks = make([]models.RepTask, 0, n)
		}
	}
	for _, it := range placed {
		w := &works[slot[it.cell]]
		if it.isTask {
			w.Tasks = append(w.Tasks, *it.task)
		} else {
			w.LRPs = append(w.LRPs, it.repLRP())
		}
	}
	return works
}

// placeOne runs the pipeline for one item: cap, feasibility, fit and rank,
// select, reserve. It returns the cell or -1 and the reason.
func (a *Auction) placeOne(it *item) (int32, string) {
	if a.opts.MaxStartsInFlight > 0 && a.inFlight >= a.opts.MaxStartsInFlight {
		return -1, PlacementErrorStartsInFlight
	}
	cls := it.class
	if cls.err != "" {
		return -1, cls.err
	}
	for _, c := range it.excluded {
		a.banned[c] = true
	}
	best, problems := int32(-1), uint8(0)
	if !it.isTask {
		a.activate(it.pid)
	}
	if useTrees && len(it.excluded) == 0 && (it.isTask || a.fresh()) {
		best = a.tree(cls, it.isTask, it.memory, it.disk).best()
	}
	if best < 0 {
		if it.isTask {
			best, problems = a.selectForTask(it, cls)
		} else {
			best, problems = a.selectForLRP(it, cls)
		}
	}
	for _, c := range it.excluded {
		a.banned[c] = false
	}
	if best < 0 {
		if problems == 0 {
			return -1, NoCompatibleCellError("every compatible cell rejected the work")
		}
		return -1, InsufficientResourcesError(problemNames(problems))
	}
	a.reserve(best, it)
	return best, ""
}

func (a *Auction) reserve(c int32, it *item) {
	h := &a.hot[c]
	h.availM -= it.memory
	h.usedM += it.memory
	h.availD -= it.disk
	h.usedD += it.disk
	h.availC--
	h.usedC++
	h.starting++
	refresh(h, a.opts.StartingContainerWeight)
	a.changes = append(a.changes, c)
	a.inFlight++
	if it.isTask {
		h.tasks++
	} else {
		a.addInstance(c, 1)
	}
	it.cell = c
	a.meta[c].placed = append(a.meta[c].placed, it)
}

func (a *Auction) unreserve(c int32, it *item) {
	h := &a.hot[c]
	h.availM += it.memory
	h.usedM -= it.memory
	h.availD += it.disk
	h.usedD -= it.disk
	h.availC++
	h.usedC--
	h.starting--
	refresh(h, a.opts.StartingContainerWeight)
	a.changes = append(a.changes, c)
	a.inFlight--
	if it.isTask {
		h.tasks--
	} else {
		a.activate(it.pid)
		a.addInstance(c, -1)
	}
	it.cell = -1
}

const (
	problemMemory uint8 = 1 << iota
	problemDisk
	problemContainers
	allProblems = problemMemory | problemDisk | problemContainers
)

// problemNames lists the problems in upstream's order (alphabetical), so the placement error reads
// as upstream's does, e.g. "insufficient resources: disk, memory".
func problemNames(p uint8) []string {
	var names []string
	if p&problemContainers != 0 {
		names = append(names, "containers")
	}
	if p&problemDisk != 0 {
		names = append(names, "disk")
	}
	if p&problemMemory != 0 {
		names = append(names, "memory")
	}
	return names
}
