package simulation_test

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/auction"
	"github.com/diego-go/diego/auction/simulation"
)

func run(s simulation.Scenario) simulation.Result {
	r := simulation.Run(s)
	mem := r.MemoryPerCell()
	w := r.WaitStats()
	GinkgoWriter.Printf("%s: placed %d, failed %d, rounds %d, memory CV %.4f, %.0f placements/s, wait p50 %s max %s\n",
		s.Name, r.Placed, len(r.Failures.FailedLRPs)+len(r.Failures.FailedTasks), r.Rounds,
		simulation.CoefficientOfVariation(mem), r.PlacementsPerSecond(), w.P50, w.Max)
	return r
}

var _ = Describe("Auction simulation", func() {
	Describe("small cold starts", func() {
		for _, c := range []struct{ cells, instances int }{{4, 8}, {10, 40}, {20, 200}, {40, 800}} {
			It(fmt.Sprintf("puts %d instances on %d cells within +-1 of the mean", c.instances, c.cells), func() {
				r := run(simulation.ColdStart(c.cells, c.instances))
				Expect(r.Placed).To(Equal(c.instances))
				Expect(r.Failures.FailedLRPs).To(BeEmpty())
				per := r.PlacedPerCell()
				Expect(simulation.Mean(per)).To(BeNumerically("==", float64(c.instances)/float64(c.cells)))
				Expect(simulation.MaxDeviation(per)).To(BeNumerically("<=", 1))
			})
		}
	})

	Describe("large cold starts of mixed sizes", func() {
		for _, scale := range []int{1, 4} {
			It(fmt.Sprintf("puts %d instances on %d cells within +-10 of the mean", 2050*scale, 25*scale), func() {
				s := simulation.MixedColdStart(scale)
				Expect(s.Instances()).To(Equal(2050 * scale))
				r := run(s)
				Expect(r.Placed).To(Equal(2050 * scale))
				Expect(r.Failures.FailedLRPs).To(BeEmpty())
				per := r.PlacedPerCell()
				Expect(simulation.Mean(per)).To(BeNumerically("==", 82))
				Expect(simulation.MaxDeviation(per)).To(BeNumerically("<=", 10))
				Expect(simulation.CoefficientOfVariation(r.MemoryPerCell())).To(BeNumerically("<=", 0.03))

				By("splitting every multi-instance process evenly over the two zones")
				perZone := map[string]map[string]int{}
				for _, c := range r.Cells {
					for _, l := range c.Placed.LRPs {
						if strings.HasPrefix(l.ProcessGUID, "single-") {
							continue
						}
						if perZone[l.ProcessGUID] == nil {
							perZone[l.ProcessGUID] = map[string]int{}
						}
						perZone[l.ProcessGUID][c.Zone]++
					}
				}
				Expect(perZone).To(HaveLen(12))
				for guid, zones := range perZone {
					Expect(zones["z0"]-zones["z1"]).To(BeNumerically("~", 0, 1), guid)
				}
			})
		}
	})

	Describe("zones", func() {
		It("splits a process equally across zones, even when one zone is loaded", func() {
			r := run(simulation.ZoneSpread())
			Expect(r.Placed).To(Equal(300))
			perZone := map[string]int{}
			for _, c := range r.Cells {
				for _, l := range c.Placed.LRPs {
					if l.ProcessGUID == "red" {
						perZone[c.Zone]++
					}
				}
			}
			Expect(perZone).To(Equal(map[string]int{"z0": 80, "z1": 80, "z2": 80}))
		})

		It("fills the lone, loaded cell of a zone with half of the process", func() {
			r := run(simulation.LoneZone())
			Expect(r.Placed).To(Equal(40))
			z0 := len(r.Cells[0].Placed.LRPs) + len(r.Cells[2].Placed.LRPs)
			z1 := len(r.Cells[1].Placed.LRPs)
			Expect(z0).To(Equal(20))
			Expect(z1).To(Equal(20))
		})
	})

	Describe("one small cell offered 82 instances", func() {
		It("places 51 and rejects 31 with the reason, boulders before pebbles", func() {
			r := run(simulation.Boulders())
			Expect(r.Placed).To(Equal(51))
			Expect(r.Failures.FailedLRPs).To(HaveLen(31))

			var placed []string
			for _, l := range r.Cells[0].Placed.LRPs {
				placed = append(placed, fmt.Sprintf("%s/%d", l.ProcessGUID, l.Index))
			}
			Expect(placed).To(ContainElement("red/0"))
			Expect(placed[0]).To(Equal("red/0"))

			pebblesFailed := 0
			for _, f := range r.Failures.FailedLRPs {
				Expect(f.PlacementError).To(Equal("insufficient resources: memory"))
				if strings.HasPrefix(f.ProcessGUID, "pebble-") {
					pebblesFailed++
				} else {
					Expect(f.ProcessGUID).To(Equal("red"))
					Expect(f.Index).To(Equal(int32(1)))
				}
			}
			Expect(pebblesFailed).To(Equal(30))
			Expect(r.Cells[0].MemoryUsedMB()).To(Equal(int32(100)))
		})
	})

	Describe("work a cell rejects at submission", func() {
		It("lands on the other cells in the same batch", func() {
			r := run(simulation.Rejecting())
			Expect(r.Placed).To(Equal(200))
			Expect(r.Failures.FailedLRPs).To(BeEmpty())
			Expect(r.Rounds).To(Equal(2))
			Expect(r.Cells[0].Placed.LRPs).To(BeEmpty())
			per := r.PlacedPerCell()[1:]
			Expect(simulation.MaxDeviation(per)).To(BeNumerically("<=", 1))
		})

		It("is reported when no other cell can take it", func() {
			s := simulation.Rejecting()
			s.Cells = s.Cells[:1]
			s.LRPs = s.LRPs[:3]
			r := run(s)
			Expect(r.Placed).To(Equal(0))
			Expect(r.Failures.FailedLRPs).To(HaveLen(3))
			for _, f := range r.Failures.FailedLRPs {
				Expect(f.PlacementError).To(HavePrefix(auction.PlacementErrorNoCompatibleCell))
			}
		})
	})
})

var _ = Describe("the report", func() {
	It("draws one bar per cell for each scenario and sums it up", func() {
		var results []simulation.Result
		var sums []simulation.Summary
		for _, f := range []func() simulation.Scenario{simulation.Boulders, func() simulation.Scenario { return simulation.ColdStart(10, 40) }} {
			s := f()
			r := simulation.Run(s)
			results = append(results, r)
			sums = append(sums, simulation.Summarize(&s, &r))
		}
		Expect(sums[0].Placed).To(Equal(51))
		Expect(sums[0].Failed).To(Equal(31))
		Expect(sums[1].MemoryCV).To(BeNumerically("==", 0))
		Expect(sums[1].MinPerCell).To(BeNumerically("==", 4))
		Expect(sums[1].MaxPerCell).To(BeNumerically("==", 4))

		var svg, text strings.Builder
		simulation.WriteSVG(&svg, results, sums)
		simulation.WriteText(&text, sums)
		Expect(svg.String()).To(HavePrefix("<svg"))
		Expect(strings.Count(svg.String(), `class="placed"`)).To(Equal(1 + 10))
		Expect(strings.Count(svg.String(), `class="scenario"`)).To(Equal(2))
		Expect(text.String()).To(ContainSubstring("one small cell offered 82 instances"))
	})
})
