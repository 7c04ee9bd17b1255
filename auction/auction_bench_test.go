package auction_test

// Benchmarks of the placement decision alone (auction.New + Place over a
// snapshot of empty cells), using the simulation's scenarios:
//
//	go test -run '^$' -bench . -benchtime 3x ./auction/
//
// Targets: 8,200 instances on 100 cells <= 0.25 s; 250,000 on 1,000 cells
// <= 10 s; memory coefficient of variation <= 0.03. Each benchmark reports
// the memory CV of its plan and fails if it is above 0.03 or anything was
// left unplaced.

import (
	"fmt"
	"math"
	"testing"

	"github.com/diego-go/diego/auction"
	"github.com/diego-go/diego/auction/simulation"
	"github.com/diego-go/diego/models"
)

func benchScenario(b *testing.B, s simulation.Scenario) {
	states := make([]models.CellState, len(s.Cells))
	for i, c := range s.Cells {
		states[i] = c.State()
	}
	want := s.Instances()
	var plan auction.Plan
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		plan = auction.New(states, s.Options).Place(s.LRPs, s.Tasks)
	}
	b.StopTimer()

	placed, _ := plan.Placed()
	if placed != want {
		b.Fatalf("placed %d of %d (first failure: %+v)", placed, want, plan.Failures.FailedLRPs[:1])
	}
	memory := make(map[string]float64, len(states))
	for _, w := range plan.Works {
		for _, l := range w.LRPs {
			memory[w.CellID] += float64(l.MemoryMB)
		}
	}
	perCell := make([]float64, 0, len(states))
	for _, st := range states {
		perCell = append(perCell, memory[st.CellID])
	}
	cv := simulation.CoefficientOfVariation(perCell)
	b.ReportMetric(cv, "memory-cv")
	b.ReportMetric(float64(want)*float64(b.N)/b.Elapsed().Seconds(), "placements/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(want)*1e6, "µs/placement")
	if cv > 0.03 || math.IsNaN(cv) {
		b.Fatalf("memory coefficient of variation %.4f > 0.03", cv)
	}
}

// 8,200 instances of the mixed cold start on 100 SmallCells.
func BenchmarkPlace8200On100(b *testing.B) {
	benchScenario(b, simulation.MixedColdStart(4))
}

// 250,000 instances of the same mix on 1,000 BigCells.
func BenchmarkPlace250000On1000(b *testing.B) {
	benchScenario(b, simulation.Scale(1000))
}

// How the cost grows with the cells at a fixed 250 instances per cell.
func BenchmarkGrowth(b *testing.B) {
	for _, cells := range []int{25, 100, 1000} {
		b.Run(fmt.Sprintf("cells=%d/instances=%d", cells, 250*cells), func(b *testing.B) {
			benchScenario(b, simulation.Scale(cells))
		})
	}
}
