package inigo_test

import (
	"fmt"
	"os"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/inigo/world"
)

// benchmarkLRPs is how many LRPs of one instance, each at a hostname of its own, the routing
// benchmark desires at once.
const benchmarkLRPs = 25

// The routing benchmark of docs/performance.md: for each instance, the time from its turning
// RUNNING (the bbs's time of the change, and the moment the spec reads the event) to the first
// request through the router that it answers. It fails when an instance never answers; the
// percentiles are reported, not asserted: on a shared machine they move with the load.
var _ = Describe("from RUNNING to the first answer through the router", Serial, Label("benchmark"), func() {
	It("measures it for 25 instances placed at once", func() {
		if os.Getenv("DIEGO_ROUTING_BENCHMARK") == "" {
			Skip("set DIEGO_ROUTING_BENCHMARK=1 to run the benchmark")
		}
		w.Require("router", "route-emitter")
		r := w.Routers[0]
		events := w.Events()
		waiting := map[string]bool{}
		for range benchmarkLRPs {
			processGuid := w.Guid("bench")
			waiting[processGuid] = true
			w.Desire(world.AppLRP(processGuid, 1, host(processGuid)))
		}

		// each instance is asked for from the moment its event is read, every 2 ms
		type sample struct {
			processGuid         string
			fromBBS, fromStream time.Duration
		}
		samples := make(chan sample, benchmarkLRPs)
		timeout := time.After(5 * time.Minute)
		for len(waiting) > 0 {
			select {
			case e, ok := <-events:
				Expect(ok).To(BeTrue(), "the event stream ended")
				c := world.BecameRoutable(e.Event)
				if c == nil || !waiting[c.GetActualLrpKey().GetProcessGuid()] {
					continue
				}
				processGuid := c.GetActualLrpKey().GetProcessGuid()
				delete(waiting, processGuid)
				since := time.Unix(0, c.GetAfter().GetSince())
				go func() {
					answered := firstAnswer(r, host(processGuid), 30*time.Second)
					if answered.IsZero() {
						samples <- sample{processGuid: processGuid}
						return
					}
					samples <- sample{processGuid, answered.Sub(since), answered.Sub(e.At)}
				}()
			case <-timeout:
				Fail(fmt.Sprintf("%d instances did not turn RUNNING within 5 minutes", len(waiting)))
			}
		}
		var fromBBS, fromStream []time.Duration
		for range benchmarkLRPs {
			s := <-samples
			Expect(s.fromBBS).NotTo(BeZero(), "%s answers through the router", s.processGuid)
			fromBBS = append(fromBBS, s.fromBBS)
			fromStream = append(fromStream, s.fromStream)
		}
		line := fmt.Sprintf("benchmark: %d instances, RUNNING to first answer through the router: from the bbs's change %s; from the spec reading the event %s\n",
			benchmarkLRPs, percentiles(fromBBS), percentiles(fromStream))
		AddReportEntry("RUNNING to first routed answer", line)
		fmt.Fprint(GinkgoWriter, line)
	})
})

// percentiles is "p50 X p90 Y p99 Z max M" of ds (nearest rank).
func percentiles(ds []time.Duration) string {
	slices.Sort(ds)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(ds))+0.5) - 1
		return ds[max(0, min(i, len(ds)-1))]
	}
	round := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("p50 %s p90 %s p99 %s max %s", round(at(0.50)), round(at(0.90)), round(at(0.99)), round(ds[len(ds)-1]))
}
