package auction

import "math"

// selectForLRP picks the lowest-scoring cell for an LRP instance. Zones are
// visited from the one holding the fewest instances of the process; zones
// with equal counts are ranked together, and the search stops at the first
// group of zones that has a cell with room. It returns the cell (or -1) and
// the resource problems every cell without room shared (or, if they shared
// none, any of them had).
func (a *Auction) selectForLRP(it *item, cls *class) (int32, uint8) {
	order := append(a.zoneOrder[:0], cls.zones...)
	// insertion sort: a handful of zones, by instance count then name
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && a.zoneCount[order[j]] < a.zoneCount[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	a.zoneOrder = order

	memory, disk := it.memory, it.disk
	checkBanned := len(it.excluded) > 0
	best, bestScore := int32(-1), math.Inf(1)
	shared, any := allProblems, uint8(0)
	for i, z := range order {
		for _, c := range cls.zoneCells[z] {
			if checkBanned && a.banned[c] {
				continue
			}
			h := &a.hot[c]
			if p := fit(h, memory, disk); p != 0 {
				shared &= p
				any |= p
				continue
			}
			s := resourceScore(h, memory, disk) + h.tie + LocalityWeight*float64(h.same)
			if s < bestScore {
				best, bestScore = c, s
			}
		}
		if i+1 < len(order) && a.zoneCount[order[i+1]] == a.zoneCount[z] {
			continue
		}
		if best >= 0 {
			break
		}
	}
	return best, reasonBits(shared, any)
}

// selectForTask picks the lowest-scoring cell for a Task among all eligible
// cells; tasks spread by the number of tasks a cell already holds.
func (a *Auction) selectForTask(it *item, cls *class) (int32, uint8) {
	memory, disk := it.memory, it.disk
	checkBanned := len(it.excluded) > 0
	best, bestScore := int32(-1), math.Inf(1)
	shared, any := allProblems, uint8(0)
	for _, c := range cls.all {
		if checkBanned && a.banned[c] {
			continue
		}
		h := &a.hot[c]
		if p := fit(h, memory, disk); p != 0 {
			shared &= p
			any |= p
			continue
		}
		s := resourceScore(h, memory, disk) + LocalityWeight*float64(h.tasks)
		if s < bestScore {
			best, bestScore = c, s
		}
	}
	return best, reasonBits(shared, any)
}

func reasonBits(shared, any uint8) uint8 {
	if any == 0 {
		return 0
	}
	if shared != 0 {
		return shared
	}
	return any
}
