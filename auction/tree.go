package auction

import "math"

// A rank tree answers "which feasible cell has the lowest score" in
// O(log cells) for work whose score on a cell depends only on that cell's
// own state and the work's size:
//
//   - an LRP instance of a process that has no instance anywhere yet (the
//     locality term is 0 on every cell and every zone ties, so the scan
//     visits all zones in zone order), and
//   - a Task (its locality term is the cell's own task count).
//
// Such a score changes only on a cell that gets or loses work, so a tree
// per (constraint, kind, memory, disk) is kept and brought up to date from
// a log of changed cells when it is next used. Its leaves are in the exact
// order the linear scan visits cells and ties go to the leftmost leaf, so
// it returns exactly what the scan would. When no cell fits it defers to
// the scan, which also works out the reason.
type rankTree struct {
	order  []int32 // cells, in scan order
	pos    []int32 // cell -> leaf, -1 if not in order
	size   int     // leaves, a power of two
	val    []float64
	arg    []int32 // leaf with the minimum under each node (leftmost on ties)
	memory int32
	disk   int32
	task   bool
	cursor int // a.changes[:cursor] are reflected
}

type treeKey struct {
	cls          *class
	task         bool
	memory, disk int32
}

// useTrees can be switched off by the specs to compare against the scan.
var useTrees = true

func (a *Auction) tree(cls *class, task bool, memory, disk int32) *rankTree {
	k := treeKey{cls, task, memory, disk}
	if t, ok := a.trees[k]; ok {
		a.catchUp(t)
		return t
	}
	var order []int32
	if task {
		order = cls.all
	} else {
		for _, z := range cls.zones {
			order = append(order, cls.zoneCells[z]...)
		}
	}
	t := &rankTree{order: order, memory: memory, disk: disk, task: task, pos: make([]int32, len(a.hot))}
	for i := range t.pos {
		t.pos[i] = -1
	}
	for i, c := range order {
		t.pos[c] = int32(i)
	}
	t.size = 1
	for t.size < len(order) {
		t.size *= 2
	}
	t.val = make([]float64, 2*t.size)
	t.arg = make([]int32, 2*t.size)
	a.rebuild(t)
	a.trees[k] = t
	return t
}

func (a *Auction) leaf(t *rankTree, c int32) float64 {
	h := &a.hot[c]
	if fit(h, t.memory, t.disk) != 0 {
		return math.Inf(1)
	}
	if t.task {
		return resourceScore(h, t.memory, t.disk) + LocalityWeight*float64(h.tasks)
	}
	return resourceScore(h, t.memory, t.disk) + h.tie
}

func (a *Auction) rebuild(t *rankTree) {
	for i := 0; i < t.size; i++ {
		v := math.Inf(1)
		if i < len(t.order) {
			v = a.leaf(t, t.order[i])
		}
		t.val[t.size+i] = v
		t.arg[t.size+i] = int32(i)
	}
	for n := t.size - 1; n >= 1; n-- {
		t.pull(n)
	}
	t.cursor = len(a.changes)
}

func (t *rankTree) pull(n int) {
	l, r := 2*n, 2*n+1
	if t.val[l] <= t.val[r] {
		t.val[n], t.arg[n] = t.val[l], t.arg[l]
	} else {
		t.val[n], t.arg[n] = t.val[r], t.arg[r]
	}
}

// catchUp applies the cells changed since the tree was last used; when
// more changed than the tree has cells it is cheaper to rebuild it.
func (a *Auction) catchUp(t *rankTree) {
	pending := a.changes[t.cursor:]
	if len(pending) == 0 {
		return
	}
	if len(pending) > len(t.order) {
		a.rebuild(t)
		return
	}
	for _, c := range pending {
		p := t.pos[c]
		if p < 0 {
			continue
		}
		n := t.size + int(p)
		t.val[n] = a.leaf(t, c)
		for n /= 2; n >= 1; n /= 2 {
			t.pull(n)
		}
	}
	t.cursor = len(a.changes)
}

// best is the lowest-scoring cell that fits, or -1.
func (t *rankTree) best() int32 {
	if len(t.order) == 0 || math.IsInf(t.val[1], 1) {
		return -1
	}
	return t.order[t.arg[1]]
}

// fresh reports whether the active process has no instance on any cell.
func (a *Auction) fresh() bool {
	for _, n := range a.zoneCount {
		if n != 0 {
			return false
		}
	}
	return true
}
