package inigo_test

import (
	"fmt"
	"os"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/inigo/world"
	"github.com/diego-go/diego/models"
)

// benchmarkLRPs is how many LRPs of one instance, each at a hostname of its own, the routing
// benchmark desires, one after the other.
const benchmarkLRPs = 25

// The routing benchmark of docs/performance.md: for each instance, the time from its turning
// RUNNING (the bbs's time of the change, and the moment the spec reads the event) to the first
// request through the router that it answers. The LRPs are desired one at a time, the next once
// the last answered, so that what is measured is the way from the bbs to the router, not a
// machine busy starting containers. It fails when an instance never answers; the percentiles
// are reported, not asserted: on a shared machine they move with the load.
var _ = Describe("from RUNNING to the first answer through the router", Serial, Label("benchmark"), func() {
	It("measures it for 25 instances", func() {
		if os.Getenv("DIEGO_ROUTING_BENCHMARK") == "" {
			Skip("set DIEGO_ROUTING_BENCHMARK=1 to run the benchmark")
		}
		r := w.Routers[0]
		events := w.Events()
		var fromBBS, fromStream []time.Duration
		for range benchmarkLRPs {
			processGuid := w.Guid("bench")
			w.Desire(world.AppLRP(processGuid, 1, host(processGuid)))
			var change *models.ActualLRPInstanceChangedEvent
			var read time.Time
			timeout := time.After(2 * time.Minute)
			for change == nil {
				select {
				case e, ok := <-events:
					Expect(ok).To(BeTrue(), "the event stream ended")
					if c := world.BecameRoutable(e.Event); c != nil && c.GetActualLrpKey().GetProcessGuid() == processGuid {
						change, read = c, e.At
					}
				case <-timeout:
					Fail(processGuid + " did not turn RUNNING within 2 minutes")
				}
			}
			answered := firstAnswer(r, host(processGuid), 30*time.Second)
			Expect(answered).NotTo(BeZero(), "%s answers through the router", processGuid)
			fromBBS = append(fromBBS, answered.Sub(time.Unix(0, change.GetAfter().GetSince())))
			fromStream = append(fromStream, answered.Sub(read))
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
