package auction

// fit is the resource step: the problems cell h has taking work of this
// size (0 when it fits).
func fit(h *cellHot, memory, disk int32) uint8 {
	var p uint8
	if h.availM < memory {
		p |= problemMemory
	}
	if h.availD < disk {
		p |= problemDisk
	}
	if h.availC < 1 {
		p |= problemContainers
	}
	return p
}

// resourceScore is the ranking of a cell before locality: the mean of the
// memory, disk and container fractions in use after tentatively placing the
// work, plus the weight of the containers already starting there. The
// per-cell parts are kept precomputed in h (see refresh).
func resourceScore(h *cellHot, memory, disk int32) float64 {
	return (h.base+float64(memory)*h.invM+float64(disk)*h.invD)*third + h.startW
}

const third = 1.0 / 3

// refresh recomputes a cell's precomputed score parts from its counts.
func refresh(h *cellHot, startingWeight float64) {
	h.base = float64(h.usedM)*h.invM + float64(h.usedD)*h.invD + float64(h.usedC+1)*h.invC
	h.startW = startingWeight * float64(h.starting)
}

// ScoreInputs is a cell as the score sees it, for callers (the report, the
// specs) that want to show or check a score.
type ScoreInputs struct {
	Available, Total        [3]int32 // memory MB, disk MB, containers
	Starting, SameProcess   int
	CellIndex               int
	MemoryMB, DiskMB        int32
	StartingContainerWeight float64
	BinPackFirstFitWeight   float64
}

// Score computes an LRP's score on a cell exactly as the ranking step does.
func Score(in ScoreInputs) float64 {
	h := cellHot{
		availM: in.Available[0], availD: in.Available[1], availC: in.Available[2],
		usedM: in.Total[0] - in.Available[0], usedD: in.Total[1] - in.Available[1], usedC: in.Total[2] - in.Available[2],
		invM: inverse(float64(in.Total[0])), invD: inverse(float64(in.Total[1])), invC: inverse(float64(in.Total[2])),
		starting: int32(in.Starting),
		tie:      in.BinPackFirstFitWeight * float64(in.CellIndex),
	}
	refresh(&h, in.StartingContainerWeight)
	return resourceScore(&h, in.MemoryMB, in.DiskMB) + h.tie + LocalityWeight*float64(in.SameProcess)
}
