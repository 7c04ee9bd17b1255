package simulation

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/diego-go/diego/auction"
	"github.com/diego-go/diego/models"
)

// Scenario is a set of cells and one batch of work to auction on them.
type Scenario struct {
	Name    string
	Cells   []*Cell
	LRPs    []models.LRPStartRequest
	Tasks   []models.TaskStartRequest
	Options auction.Options
}

// Instances counts the LRP instances the scenario asks for.
func (s *Scenario) Instances() int {
	n := 0
	for i := range s.LRPs {
		n += len(s.LRPs[i].Indices)
	}
	return n
}

// Result is what happened to a scenario's batch.
type Result struct {
	Scenario string
	Cells    []*Cell
	// Placed counts the LRP instances and tasks that cells took.
	Placed int
	// Failures are the placements the auction could not make.
	Failures auction.AuctionResults
	// Rounds is 1 plus the number of re-plans of rejected work.
	Rounds int
	// Decide is the time spent in the auction itself (New, Place and
	// Replan); Total adds reading cell states and submitting work.
	Decide, Total time.Duration
	// Waits holds, for each placed LRP instance and task, the time from
	// the start of the auction until its cell took it.
	Waits []time.Duration
}

// MaxRounds bounds how often rejected work is re-planned in one batch.
const MaxRounds = 5

var stillRejected = auction.NoCompatibleCellError(fmt.Sprintf("still rejected after %d rounds", MaxRounds))

// Run auctions the scenario's batch: read every cell's state, place, submit
// each cell's work, and re-plan what cells reject until nothing is rejected.
func Run(s Scenario) Result {
	res := Result{Scenario: s.Name, Cells: s.Cells}
	start := time.Now()
	states := make([]models.CellState, len(s.Cells))
	byID := make(map[string]*Cell, len(s.Cells))
	for i, c := range s.Cells {
		states[i] = c.State()
		byID[c.ID] = c
	}

	t := time.Now()
	a := auction.New(states, s.Options)
	plan := a.Place(s.LRPs, s.Tasks)
	res.Decide += time.Since(t)

	for res.Rounds = 1; ; res.Rounds++ {
		res.Failures.FailedLRPs = append(res.Failures.FailedLRPs, plan.Failures.FailedLRPs...)
		res.Failures.FailedTasks = append(res.Failures.FailedTasks, plan.Failures.FailedTasks...)
		var rejected []models.Work
		for _, w := range plan.Works {
			r := byID[w.CellID].Perform(w)
			took := len(w.LRPs) + len(w.Tasks) - len(r.LRPs) - len(r.Tasks)
			wait := time.Since(start)
			for i := 0; i < took; i++ {
				res.Waits = append(res.Waits, wait)
			}
			res.Placed += took
			if !r.Empty() {
				rejected = append(rejected, r)
			}
		}
		if len(rejected) == 0 {
			break
		}
		if res.Rounds == MaxRounds {
			for _, r := range rejected {
				for _, l := range r.LRPs {
					res.Failures.FailedLRPs = append(res.Failures.FailedLRPs, auction.LRPPlacementFailure{RepLRP: l, PlacementError: stillRejected})
				}
				for _, tk := range r.Tasks {
					res.Failures.FailedTasks = append(res.Failures.FailedTasks, auction.TaskPlacementFailure{RepTask: tk, PlacementError: stillRejected})
				}
			}
			break
		}
		t = time.Now()
		plan = a.Replan(rejected)
		res.Decide += time.Since(t)
	}
	res.Total = time.Since(start)
	return res
}

// PlacedPerCell counts the LRP instances each cell took in this auction.
func (r *Result) PlacedPerCell() []float64 {
	out := make([]float64, len(r.Cells))
	for i, c := range r.Cells {
		out[i] = float64(len(c.Placed.LRPs))
	}
	return out
}

// MemoryPerCell is the memory in use on each cell after the auction.
func (r *Result) MemoryPerCell() []float64 {
	out := make([]float64, len(r.Cells))
	for i, c := range r.Cells {
		out[i] = float64(c.MemoryUsedMB())
	}
	return out
}

// PlacementsPerSecond is the placed work over the whole auction's time.
func (r *Result) PlacementsPerSecond() float64 {
	if r.Total <= 0 {
		return 0
	}
	return float64(r.Placed) / r.Total.Seconds()
}

// Mean of a sample.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// MaxDeviation is the largest distance of a sample from its mean.
func MaxDeviation(xs []float64) float64 {
	m, d := Mean(xs), 0.0
	for _, x := range xs {
		d = math.Max(d, math.Abs(x-m))
	}
	return d
}

// CoefficientOfVariation is the population standard deviation over the mean.
func CoefficientOfVariation(xs []float64) float64 {
	m := Mean(xs)
	if m == 0 {
		return 0
	}
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return math.Sqrt(v/float64(len(xs))) / m
}

// WaitStats summarises the waits: mean, median, 95th percentile and max.
type WaitStats struct {
	Mean, P50, P95, Max time.Duration
}

// Waits summarises r.Waits.
func (r *Result) WaitStats() WaitStats {
	if len(r.Waits) == 0 {
		return WaitStats{}
	}
	w := append([]time.Duration(nil), r.Waits...)
	sort.Slice(w, func(i, j int) bool { return w[i] < w[j] })
	var sum time.Duration
	for _, d := range w {
		sum += d
	}
	at := func(q float64) time.Duration { return w[int(q*float64(len(w)-1))] }
	return WaitStats{Mean: sum / time.Duration(len(w)), P50: at(0.5), P95: at(0.95), Max: w[len(w)-1]}
}
