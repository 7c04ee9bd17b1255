package auction_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/auction"
	"github.com/diego-go/diego/models"
)

var _ = Describe("Auction", func() {
	var opts auction.Options

	BeforeEach(func() {
		opts = auction.DefaultOptions()
	})

	place := func(cells []models.CellState, lrps []models.LRPStartRequest, tasks ...models.TaskStartRequest) auction.Plan {
		return auction.New(cells, opts).Place(lrps, tasks)
	}

	Describe("the score", func() {
		It("is the mean fraction in use after placing, + 0.25 x starting, + 1000 x same process", func() {
			// 100/100/100 total; 40 MB, 20 MB and 10 containers in use; placing
			// 10 MB / 10 MB: (0.50 + 0.30 + 0.11) / 3 + 0.25 x 2 + 1000 x 1.
			s := auction.Score(auction.ScoreInputs{
				Available: [3]int32{60, 80, 90}, Total: [3]int32{100, 100, 100},
				Starting: 2, SameProcess: 1, MemoryMB: 10, DiskMB: 10,
				StartingContainerWeight: auction.DefaultStartingContainerWeight,
			})
			Expect(s).To(BeNumerically("~", 0.91/3+0.5+1000, 1e-9))
		})

		It("adds the bin-pack weight x the cell index", func() {
			in := auction.ScoreInputs{Available: [3]int32{100, 100, 100}, Total: [3]int32{100, 100, 100}, MemoryMB: 1, DiskMB: 1, CellIndex: 3}
			spread := auction.Score(in)
			in.BinPackFirstFitWeight = 0.5
			Expect(auction.Score(in) - spread).To(BeNumerically("~", 1.5, 1e-9))
		})
	})

	Describe("ranking and selection", func() {
		It("picks the cell with the lowest score", func() {
			busy := withLRPs(cell("busy", 100, 100, 100), "other", 5, 10)
			plan := place([]models.CellState{busy, cell("idle", 100, 100, 100)}, []models.LRPStartRequest{lrp("p", 10)})
			Expect(placements(plan.Works)).To(Equal(map[string]string{"p/0": "idle"}))
		})

		It("avoids a cell that already holds an instance of the process", func() {
			holder := withLRPs(cell("holder", 100, 100, 100), "p", 1, 1) // index 0 exists there
			busy := withLRPs(cell("busy", 100, 100, 100), "other", 50, 1)
			plan := place([]models.CellState{holder, busy}, []models.LRPStartRequest{lrp("p", 1, 1)})
			Expect(placements(plan.Works)).To(Equal(map[string]string{"p/1": "busy"}))
		})

		It("weighs containers that are still starting", func() {
			a, b := cell("a", 100, 100, 100), cell("b", 100, 100, 100)
			a.StartingContainerCount = 4
			plan := place([]models.CellState{a, b}, []models.LRPStartRequest{lrp("p", 1)})
			Expect(placements(plan.Works)).To(Equal(map[string]string{"p/0": "b"}))

			opts.StartingContainerWeight = 0
			plan = place([]models.CellState{a, b}, []models.LRPStartRequest{lrp("p", 1)})
			Expect(placements(plan.Works)).To(Equal(map[string]string{"p/0": "a"}), "ties go to the first cell")
		})

		It("spreads the instances of one process over the cells", func() {
			cells := []models.CellState{cell("a", 100, 100, 100), cell("b", 100, 100, 100), cell("c", 100, 100, 100)}
			plan := place(cells, []models.LRPStartRequest{lrp("p", 1, 0, 1, 2, 3, 4, 5)})
			per := map[string]int{}
			for _, w := range plan.Works {
				per[w.CellID] = len(w.LRPs)
			}
			Expect(per).To(Equal(map[string]int{"a": 2, "b": 2, "c": 2}))
		})

		It("spreads tasks by the tasks a cell holds", func() {
			a := cell("a", 100, 100, 100)
			a.Tasks = []models.RepTask{{TaskGuid: "old"}}
			plan := place([]models.CellState{a, withLRPs(cell("b", 100, 100, 100), "x", 30, 1)}, nil, task("t1", 1), task("t2", 1))
			Expect(placements(plan.Works)).To(Equal(map[string]string{"t1": "b", "t2": "a"}))
		})

		Context("with a bin-pack weight", func() {
			count := func(plan auction.Plan, n int) []int {
				per := make([]int, n)
				for _, w := range plan.Works {
					var i int
					fmt.Sscanf(w.CellID, "cell-%d", &i)
					per[i] = len(w.LRPs)
				}
				return per
			}
			cells := func() []models.CellState {
				var out []models.CellState
				for i := 0; i < 4; i++ {
					c := cell(fmt.Sprintf("cell-%d", i), 100, 100, 100)
					c.CellIndex = i
					out = append(out, c)
				}
				return out
			}
			unique := func(n int) []models.LRPStartRequest {
				var out []models.LRPStartRequest
				for i := 0; i < n; i++ {
					out = append(out, lrp(fmt.Sprintf("app-%02d", i), 1))
				}
				return out
			}

			It("spreads at weight 0 and fills lower cell indices first at a positive weight", func() {
				Expect(count(place(cells(), unique(8)), 4)).To(Equal([]int{2, 2, 2, 2}))

				opts.BinPackFirstFitWeight = 1
				// cell-0 scores 0.01(k+1) + 0.25k with k instances placed, cell-1
				// 1 + 0.01(j+1) + 0.25j: cell-0 takes 4, then the two alternate.
				Expect(count(place(cells(), unique(8)), 4)).To(Equal([]int{6, 2, 0, 0}))
			})
		})
	})

	Describe("batch order", func() {
		It("places index 0 first, then tasks, then other instances, larger memory first", func() {
			lrps := []models.LRPStartRequest{lrp("p", 60, 1), lrp("q", 10), lrp("r", 50)}
			plan := place([]models.CellState{cell("only", 100, 100, 100)}, lrps, task("t", 30))
			Expect(plan.Works).To(HaveLen(1))
			Expect(sequence(plan.Works[0])).To(Equal([]string{"r/0", "q/0"}))
			Expect(plan.Works[0].Tasks).To(HaveLen(1))
			Expect(plan.Failures.FailedLRPs).To(HaveLen(1))
			Expect(plan.Failures.FailedLRPs[0].ProcessGUID).To(Equal("p"))
			Expect(plan.Failures.FailedLRPs[0].PlacementError).To(Equal("insufficient resources: memory"))
		})

		It("lets larger instances in before smaller ones", func() {
			plan := place([]models.CellState{cell("only", 60, 100, 100)}, []models.LRPStartRequest{lrp("a", 10), lrp("b", 50), lrp("c", 20)})
			Expect(sequence(plan.Works[0])).To(Equal([]string{"b/0", "a/0"}))
			Expect(plan.Failures.FailedLRPs).To(HaveLen(1))
			Expect(plan.Failures.FailedLRPs[0].ProcessGUID).To(Equal("c"))
		})

		It("gives the same plan whatever order the requests arrive in", func() {
			cells := []models.CellState{cell("a", 100, 100, 100), cell("b", 100, 100, 100), inZone(cell("c", 100, 100, 100), "z2")}
			reqs := []models.LRPStartRequest{lrp("x", 3, 0, 1, 2), lrp("y", 5, 2, 1), lrp("z", 1, 0), lrp("w", 5, 0, 3)}
			reversed := []models.LRPStartRequest{reqs[3], reqs[2], reqs[1], reqs[0]}
			shuffledCells := []models.CellState{cells[2], cells[0], cells[1]}
			Expect(place(shuffledCells, reversed)).To(Equal(place(cells, reqs)))
		})
	})

	Describe("placement errors", func() {
		one := func(c models.CellState, r models.LRPStartRequest) string {
			plan := place([]models.CellState{c}, []models.LRPStartRequest{r})
			Expect(plan.Works).To(BeEmpty())
			Expect(plan.Failures.FailedLRPs).To(HaveLen(1))
			return plan.Failures.FailedLRPs[0].PlacementError
		}

		It("names the missing resource", func() {
			Expect(one(cell("c", 10, 100, 100), lrp("p", 20))).To(Equal("insufficient resources: memory"))
			r := lrp("p", 1)
			r.DiskMB = 5
			Expect(one(cell("c", 100, 1, 100), r)).To(Equal("insufficient resources: disk"))
			Expect(one(cell("c", 100, 100, 0), lrp("p", 1))).To(Equal("insufficient resources: containers"))
		})

		It("names what every cell lacked, or else what any cell lacked", func() {
			r := lrp("p", 20)
			r.DiskMB = 20
			plan := place([]models.CellState{cell("a", 10, 10, 100), cell("b", 10, 100, 100)}, []models.LRPStartRequest{r})
			Expect(plan.Failures.FailedLRPs[0].PlacementError).To(Equal("insufficient resources: memory"))
			plan = place([]models.CellState{cell("a", 10, 100, 100), cell("b", 100, 10, 100)}, []models.LRPStartRequest{r})
			Expect(plan.Failures.FailedLRPs[0].PlacementError).To(Equal("insufficient resources: disk, memory"))
		})

		It("says no cell offers the rootfs, as upstream words it", func() {
			r := lrp("p", 1)
			r.RootFs = "preloaded:cflinuxfs3"
			Expect(one(cell("c", 100, 100, 100), r)).To(Equal("found no compatible cell for required rootfs"))
			r.RootFs = "docker:///busybox#latest"
			Expect(place([]models.CellState{cell("c", 100, 100, 100)}, []models.LRPStartRequest{r}).Works).To(HaveLen(1), "docker is an arbitrary provider")
		})

		It("says no cell with the rootfs has the volume drivers, as upstream words it", func() {
			r := lrp("p", 1)
			r.VolumeDrivers = []string{"nfs"}
			Expect(one(cell("c", 100, 100, 100), r)).To(Equal("found no compatible cell with required volume drivers"))
			other := r
			other.RootFs = "preloaded:cflinuxfs3"
			Expect(one(cell("c", 100, 100, 100), other)).To(Equal("found no compatible cell for required rootfs"), "the rootfs is checked first")
			c := cell("c", 100, 100, 100)
			c.VolumeDrivers = []string{"nfs", "smb"}
			Expect(place([]models.CellState{c}, []models.LRPStartRequest{r}).Works).To(HaveLen(1))
		})

		It("names the placement tags asked for, in their order, when no cell with the rootfs and drivers matches them", func() {
			r := lrp("p", 1)
			r.PlacementTags = []string{"gpu"}
			Expect(one(cell("c", 100, 100, 100), r)).To(Equal(`found no compatible cell with placement tag "gpu"`))
			r.PlacementTags = []string{"ssd", "gpu", "arm"}
			Expect(one(cell("c", 100, 100, 100), r)).To(Equal(`found no compatible cell with placement tags "ssd", "gpu" and "arm"`))
			c := cell("c", 100, 100, 100)
			c.PlacementTags = []string{"gpu"}
			Expect(one(c, lrp("p", 1))).To(Equal("found no compatible cell with no placement tags"))
		})

		It("words the tags of each request as it asked, even when another asked for the same tags in another order", func() {
			a, b := lrp("a", 1), lrp("b", 1)
			a.PlacementTags, b.PlacementTags = []string{"x", "y"}, []string{"y", "x"}
			plan := place([]models.CellState{cell("c", 100, 100, 100)}, []models.LRPStartRequest{a, b})
			Expect(plan.Failures.FailedLRPs).To(ConsistOf(
				HaveField("PlacementError", `found no compatible cell with placement tags "x" and "y"`),
				HaveField("PlacementError", `found no compatible cell with placement tags "y" and "x"`),
			))
		})

		It("fails everything as upstream does when there are no cells", func() {
			plan := place(nil, []models.LRPStartRequest{lrp("p", 1)}, task("t", 1))
			Expect(plan.Failures.FailedLRPs[0].PlacementError).To(Equal("unable to communicate to compatible cells"))
			Expect(plan.Failures.FailedTasks[0].PlacementError).To(Equal("unable to communicate to compatible cells"))
		})
	})

	Describe("placement tags", func() {
		tagged := func(id string, required, optional []string) models.CellState {
			c := cell(id, 100, 100, 100)
			c.PlacementTags, c.OptionalPlacementTags = required, optional
			return c
		}
		DescribeTable("matching both ways",
			func(ask []string, placed bool) {
				r := lrp("p", 1)
				r.PlacementTags = ask
				plan := place([]models.CellState{tagged("c", []string{"gpu"}, []string{"ssd"})}, []models.LRPStartRequest{r})
				if placed {
					Expect(plan.Works).To(HaveLen(1))
				} else {
					Expect(plan.Failures.FailedLRPs).To(HaveLen(1))
					Expect(plan.Failures.FailedLRPs[0].PlacementError).To(HavePrefix(auction.PlacementErrorNoCompatibleCell))
				}
			},
			Entry("required and optional asked", []string{"gpu", "ssd"}, true),
			Entry("required asked, optional not", []string{"gpu"}, true),
			Entry("required not asked", []string{"ssd"}, false),
			Entry("nothing asked", nil, false),
			Entry("a tag the cell lacks", []string{"gpu", "arm"}, false),
		)

		It("lets untagged work onto cells with only optional tags", func() {
			plan := place([]models.CellState{tagged("c", nil, []string{"ssd"})}, []models.LRPStartRequest{lrp("p", 1)})
			Expect(plan.Works).To(HaveLen(1))
		})

		It("sends tagged work to the cell with the tag", func() {
			r := lrp("p", 1)
			r.PlacementTags = []string{"gpu"}
			plan := place([]models.CellState{cell("plain", 100, 100, 100), tagged("gpu-cell", []string{"gpu"}, nil)}, []models.LRPStartRequest{r, lrp("q", 1)})
			Expect(placements(plan.Works)).To(Equal(map[string]string{"p/0": "gpu-cell", "q/0": "plain"}))
		})
	})

	Describe("zones", func() {
		It("spreads a process equally over zones even when a zone is loaded", func() {
			cells := []models.CellState{
				inZone(cell("a", 1000, 1000, 1000), "z0"),
				inZone(withLRPs(cell("b", 1000, 1000, 1000), "other", 50, 1), "z1"),
				inZone(cell("c", 1000, 1000, 1000), "z0"),
			}
			indices := make([]int32, 40)
			for i := range indices {
				indices[i] = int32(i)
			}
			plan := place(cells, []models.LRPStartRequest{lrp("red", 1, indices...)})
			per := map[string]int{}
			for _, w := range plan.Works {
				per[w.CellID] = len(w.LRPs)
			}
			Expect(per["a"] + per["c"]).To(Equal(20))
			Expect(per["b"]).To(Equal(20))
		})

		It("starts from the zone with the fewest instances of the process", func() {
			cells := []models.CellState{
				inZone(withLRPs(cell("a", 1000, 1000, 1000), "p", 2, 1), "z0"),
				inZone(withLRPs(cell("b", 1000, 1000, 1000), "other", 200, 1), "z1"),
			}
			plan := place(cells, []models.LRPStartRequest{lrp("p", 1, 2)})
			Expect(placements(plan.Works)).To(Equal(map[string]string{"p/2": "b"}))
		})

		It("moves on to the next zone when the emptiest one has no room", func() {
			cells := []models.CellState{
				inZone(withLRPs(cell("a", 100, 100, 100), "p", 2, 1), "z0"),
				inZone(cell("b", 1, 100, 100), "z1"),
			}
			plan := place(cells, []models.LRPStartRequest{lrp("p", 10, 2)})
			Expect(placements(plan.Works)).To(Equal(map[string]string{"p/2": "a"}))
		})
	})

	Describe("successive batches on one snapshot", func() {
		It("see the instances and resources placed by earlier batches", func() {
			a := auction.New([]models.CellState{cell("a", 100, 100, 100), cell("b", 100, 100, 100)}, opts)
			first := a.Place([]models.LRPStartRequest{lrp("p", 1, 0)}, nil)
			Expect(placements(first.Works)).To(Equal(map[string]string{"p/0": "a"}))
			// q is placed in between, so p's counts are written back and read again
			Expect(placements(a.Place([]models.LRPStartRequest{lrp("q", 1, 0)}, nil).Works)).To(Equal(map[string]string{"q/0": "b"}))
			second := a.Place([]models.LRPStartRequest{lrp("p", 1, 1), lrp("q", 1, 1)}, nil)
			Expect(placements(second.Works)).To(Equal(map[string]string{"p/1": "b", "q/1": "a"}))
		})
	})

	Describe("the cap on starts in flight", func() {
		It("fails work beyond it, counting containers already starting", func() {
			opts.MaxStartsInFlight = 3
			c := cell("c", 100, 100, 100)
			c.StartingContainerCount = 1
			plan := place([]models.CellState{c}, []models.LRPStartRequest{lrp("p", 1, 0, 1, 2, 3)})
			Expect(plan.Works[0].LRPs).To(HaveLen(2))
			Expect(plan.Failures.FailedLRPs).To(HaveLen(2))
			for _, f := range plan.Failures.FailedLRPs {
				Expect(f.PlacementError).To(Equal(auction.PlacementErrorStartsInFlight))
			}
		})
	})

	It("frees a start in flight when a cell rejects the work", func() {
		opts.MaxStartsInFlight = 1
		a := auction.New([]models.CellState{cell("a", 100, 100, 100), cell("b", 100, 100, 100)}, opts)
		plan := a.Place([]models.LRPStartRequest{lrp("p", 1, 0, 1)}, nil)
		Expect(plan.Works).To(HaveLen(1))
		Expect(plan.Failures.FailedLRPs).To(HaveLen(1))
		Expect(plan.Failures.FailedLRPs[0].PlacementError).To(Equal("waiting to start instance: reached in-flight start limit"))
		retry := a.Replan([]models.Work{{CellID: "a", LRPs: plan.Works[0].LRPs}})
		Expect(placements(retry.Works)).To(Equal(map[string]string{"p/0": "b"}))
	})

	It("never places work on an evacuating cell", func() {
		leaving := cell("leaving", 1000, 1000, 1000)
		leaving.Evacuating = true
		plan := place([]models.CellState{leaving, withLRPs(cell("staying", 100, 100, 100), "x", 90, 1)}, []models.LRPStartRequest{lrp("p", 1)})
		Expect(placements(plan.Works)).To(Equal(map[string]string{"p/0": "staying"}))
	})

	It("names instances with the given generator", func() {
		opts.NewInstanceGUID = func(p string, i int32) string { return fmt.Sprintf("%s-ig-%d", p, i) }
		plan := place([]models.CellState{cell("c", 100, 100, 100)}, []models.LRPStartRequest{lrp("p", 1, 0, 1)})
		Expect(plan.Works[0].LRPs[0].InstanceGUID).To(Equal("p-ig-0"))
		Expect(plan.Works[0].LRPs[1].InstanceGUID).To(Equal("p-ig-1"))
	})

	Describe("rejected work", func() {
		var a *auction.Auction
		var cells []models.CellState

		BeforeEach(func() {
			cells = []models.CellState{
				cell("first", 100, 100, 100),
				withLRPs(cell("second", 100, 100, 100), "x", 10, 1),
				withLRPs(cell("third", 100, 100, 100), "x", 20, 1),
			}
		})

		JustBeforeEach(func() {
			a = auction.New(cells, opts)
		})

		It("is placed on the next best cell, never back on the cell that rejected it", func() {
			plan := a.Place([]models.LRPStartRequest{lrp("p", 1)}, []models.TaskStartRequest{task("t", 1)})
			Expect(placements(plan.Works)).To(Equal(map[string]string{"p/0": "first", "t": "second"}))

			// "second" now has t starting (0.11 + 0.25 + its 10%), so "third" is next best
			retry := a.Replan([]models.Work{{CellID: "first", LRPs: plan.Works[0].LRPs}})
			Expect(placements(retry.Works)).To(Equal(map[string]string{"p/0": "third"}))
			Expect(retry.Failures.FailedLRPs).To(BeEmpty())

			retry = a.Replan([]models.Work{{CellID: "third", LRPs: retry.Works[0].LRPs}, {CellID: "second", Tasks: plan.Works[1].Tasks}})
			Expect(placements(retry.Works)).To(Equal(map[string]string{"p/0": "second", "t": "first"}))

			retry = a.Replan([]models.Work{{CellID: "second", LRPs: retry.Works[1].LRPs}})
			Expect(retry.Works).To(BeEmpty())
			Expect(retry.Failures.FailedLRPs).To(HaveLen(1))
			Expect(retry.Failures.FailedLRPs[0].PlacementError).To(Equal("found no compatible cell: every compatible cell rejected the work"))
		})

		It("frees what the rejecting cell had reserved", func() {
			plan := a.Place([]models.LRPStartRequest{lrp("big", 95)}, nil)
			Expect(placements(plan.Works)).To(Equal(map[string]string{"big/0": "first"}))
			// "first" is now fuller than the others
			next := a.Place([]models.LRPStartRequest{lrp("small", 1)}, nil)
			Expect(placements(next.Works)).To(Equal(map[string]string{"small/0": "second"}))

			retry := a.Replan([]models.Work{{CellID: "first", LRPs: plan.Works[0].LRPs}})
			Expect(retry.Failures.FailedLRPs).To(HaveLen(1))
			Expect(retry.Failures.FailedLRPs[0].PlacementError).To(Equal("insufficient resources: memory"))

			// with "big" gone, "first" is again the emptiest cell
			last := a.Place([]models.LRPStartRequest{lrp("another", 1)}, nil)
			Expect(placements(last.Works)).To(Equal(map[string]string{"another/0": "first"}))
		})

		It("ignores work it did not place", func() {
			retry := a.Replan([]models.Work{{CellID: "first", LRPs: []models.RepLRP{{LRPKey: models.LRPKey{ProcessGUID: "nope"}}}}, {CellID: "unknown"}})
			Expect(retry.Works).To(BeEmpty())
			Expect(retry.Failures.FailedLRPs).To(BeEmpty())
		})
	})
})
