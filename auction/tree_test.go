package auction_test

import (
	"fmt"
	"math/rand"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/auction"
	"github.com/diego-go/diego/models"
)

// randomCase builds a random snapshot, batch and options from a seed.
func randomCase(seed int64) ([]models.CellState, []models.LRPStartRequest, []models.TaskStartRequest, auction.Options) {
	r := rand.New(rand.NewSource(seed))
	pick := func(tags ...string) []string {
		var out []string
		for _, t := range tags {
			if r.Intn(4) == 0 {
				out = append(out, t)
			}
		}
		return out
	}
	zones := 1 + r.Intn(3)
	var cells []models.CellState
	for i, n := 0, 1+r.Intn(30); i < n; i++ {
		c := inZone(cell(fmt.Sprintf("cell-%02d", i), int32(50+r.Intn(150)), int32(50+r.Intn(150)), 5+r.Intn(45)), fmt.Sprintf("z%d", r.Intn(zones)))
		c.CellIndex = r.Intn(n)
		c.StartingContainerCount = r.Intn(3)
		c.PlacementTags, c.OptionalPlacementTags = pick("gpu"), pick("ssd", "arm")
		for j, m := 0, r.Intn(6); j < m; j++ {
			c = withLRPs(c, fmt.Sprintf("p%d", r.Intn(10)), 1, int32(1+r.Intn(8)))
		}
		for j, m := 0, r.Intn(3); j < m; j++ {
			c.Tasks = append(c.Tasks, models.RepTask{TaskGuid: fmt.Sprintf("old-%d-%d", i, j)})
		}
		cells = append(cells, c)
	}
	sizes := []int32{1, 2, 4, 8, 16}
	var lrps []models.LRPStartRequest
	for i, n := 0, r.Intn(40); i < n; i++ {
		var indices []int32
		for k := int32(0); k < 6; k++ {
			if r.Intn(3) == 0 {
				indices = append(indices, k)
			}
		}
		req := lrp(fmt.Sprintf("p%d", r.Intn(20)), sizes[r.Intn(len(sizes))], indices...)
		req.DiskMB = int32(1 + r.Intn(3))
		req.PlacementTags = pick("gpu", "ssd")
		lrps = append(lrps, req)
	}
	var tasks []models.TaskStartRequest
	for i, n := 0, r.Intn(15); i < n; i++ {
		t := task(fmt.Sprintf("t%d", i), sizes[r.Intn(len(sizes))])
		t.PlacementTags = pick("gpu")
		tasks = append(tasks, t)
	}
	opts := auction.DefaultOptions()
	if r.Intn(2) == 0 {
		opts.BinPackFirstFitWeight = 0.5
	}
	if r.Intn(4) == 0 {
		opts.MaxStartsInFlight = 20 + r.Intn(40)
	}
	return cells, lrps, tasks, opts
}

// rejectSome picks a deterministic part of each cell's work as rejected.
func rejectSome(works []models.Work, seed int64) []models.Work {
	r := rand.New(rand.NewSource(seed))
	var out []models.Work
	for _, w := range works {
		rej := models.Work{CellID: w.CellID}
		for _, l := range w.LRPs {
			if r.Intn(3) == 0 {
				rej.LRPs = append(rej.LRPs, l)
			}
		}
		for _, t := range w.Tasks {
			if r.Intn(3) == 0 {
				rej.Tasks = append(rej.Tasks, t)
			}
		}
		if !rej.Empty() {
			out = append(out, rej)
		}
	}
	return out
}

var _ = Describe("rank trees", func() {
	// plans runs a batch, two rounds of rejections and a second batch.
	plans := func(seed int64, trees bool) []auction.Plan {
		defer auction.UseRankTrees(trees)()
		cells, lrps, tasks, opts := randomCase(seed)
		a := auction.New(cells, opts)
		first := a.Place(lrps, tasks)
		retry := a.Replan(rejectSome(first.Works, seed))
		again := a.Replan(rejectSome(retry.Works, seed+1))
		_, more, moreTasks, _ := randomCase(seed + 1000)
		return []auction.Plan{first, retry, again, a.Place(more, moreTasks)}
	}

	It("decide exactly what the plain scan decides", func() {
		placed := 0
		for seed := int64(1); seed <= 400; seed++ {
			withTrees := plans(seed, true)
			Expect(withTrees).To(Equal(plans(seed, false)), "seed %d", seed)
			for _, p := range withTrees {
				l, t := p.Placed()
				placed += l + t
			}
		}
		Expect(placed).To(BeNumerically(">", 5000), "the random cases place real work")
	})
})
