package inigo_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/inigo/world"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/routeemitter/cfroutes"
)

// withContainers lists the handles among handles that a garden of the world still holds.
func withContainers(handles []string) []string {
	GinkgoHelper()
	var out []string
	for _, h := range handles {
		if len(containersOf(h)) > 0 {
			out = append(out, h)
		}
	}
	return out
}

// instanceAt is the process's ORDINARY instance at index (nil if there is none).
func instanceAt(processGuid string, index int32) *models.ActualLRP {
	GinkgoHelper()
	for _, a := range w.Actuals(processGuid) {
		if a.GetActualLrpKey().GetIndex() == index && a.GetPresence() == models.ActualLRP_ORDINARY {
			return a
		}
	}
	return nil
}

// convergeEvery makes the bbs run a convergence pass every interval until the spec ends, as a
// converger with that interval does (the world's converger runs one only every few minutes).
func convergeEvery(interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_ = w.BBS.Converge(ctx)
			select {
			case <-ctx.Done():
			case <-time.After(interval):
			}
		}
	}()
	DeferCleanup(func() { cancel(); <-done })
}

var _ = Describe("an LRP scaled 1 -> 10 -> 1", func() {
	It("converges at each step, spreads the 10 instances evenly over the zones and the cells of each zone, and fails no POST while 9 are retired", func() {
		// the app exits at once on SIGTERM and the router never replays a POST: a POST fails
		// unless every retired instance leaves the router before its process is signalled
		processGuid, hostname := desireRouted("scale10", 1, &models.EnvironmentVariable{Name: "TESTAPP_ON_SIGTERM", Value: "exit"})
		load := w.Routers[0].StartLoad(hostname, world.LoadOptions{Method: http.MethodPost, Path: "/record?ms=100", Concurrency: 8})

		w.Scale(processGuid, 10)
		w.WaitRunning(processGuid, 10, 2*time.Minute)
		w.Routers[0].WaitRoutable(hostname, 10, 30*time.Second)
		perCell := w.CellsOf(processGuid)
		perZone := map[string]int{}
		cellsOfZone := map[string][]int{}
		for _, c := range w.Cells {
			perZone[c.Zone] += perCell[c.ID]
			cellsOfZone[c.Zone] = append(cellsOfZone[c.Zone], perCell[c.ID])
		}
		GinkgoWriter.Printf("10 instances: by cell %v, by zone %v\n", perCell, perZone)
		// z1 has two cells, z2 one: the zones first, then the cells of a zone
		Expect(perZone).To(Equal(map[string]int{"z1": 5, "z2": 5}))
		Expect(cellsOfZone["z1"]).To(ConsistOf(3, 2))

		ten := instanceGuids(processGuid)
		w.Scale(processGuid, 1)
		Eventually(func() int { return len(w.Actuals(processGuid)) }, time.Minute, 100*time.Millisecond).Should(Equal(1),
			"the 9 retired instances' records are gone")
		kept := instanceAt(processGuid, 0)
		Expect(kept.GetState()).To(Equal(models.ActualLRPStateRunning))
		var retired []string
		for _, g := range ten {
			if g != kept.GetActualLrpInstanceKey().GetInstanceGuid() {
				retired = append(retired, g)
			}
		}
		Expect(retired).To(HaveLen(9))
		Eventually(func() []string { return withContainers(retired) }, 30*time.Second, 200*time.Millisecond).Should(BeEmpty(),
			"the retired instances' containers are gone")
		w.Routers[0].WaitRoutable(hostname, 1, 10*time.Second)
		time.Sleep(time.Second)
		res := load.Stop()
		GinkgoWriter.Printf("scale 1 -> 10 -> 1: POST: %s\n", res)
		Expect(res.Requests).To(BeNumerically(">=", 100), res.String())
		Expect(res.Failures).To(BeZero(), res.String())
	})
})

var _ = Describe("a crashing LRP", func() {
	It("restarts at once, then after a backoff that doubles up to its cap, then stays CRASHED, as the bbs's crash_restart_policy says", func() {
		p := w.Options.CrashRestartPolicy
		Expect(p.MaxRestarts).To(BeNumerically(">", p.ImmediateRestarts+2), "the suite's policy shows a doubling and a cap")
		convergeEvery(200 * time.Millisecond)

		processGuid := w.Guid("crash")
		lrp := world.AppLRP(processGuid, 1)
		lrp.Action = sh("sleep 0.2; exit 3")
		lrp.CheckDefinition = nil
		events := w.Events()
		w.Desire(lrp)

		// crashAt[n] is the bbs's time of the n-th crash (the record's since) and its state
		// after it; restartAt[n] when the bbs restarted the instance CRASHED by the n-th crash
		crashState := map[int32]string{}
		crashAt := map[int32]time.Time{}
		restartAt := map[int32]time.Time{}
		read := func() {
			for {
				select {
				case e, ok := <-events:
					Expect(ok).To(BeTrue(), "the event stream ended")
					switch c := e.Event.(type) {
					case *models.ActualLRPInstanceChangedEvent:
						before, after := c.GetBefore(), c.GetAfter()
						if n := after.GetCrashCount(); c.GetActualLrpKey().GetProcessGuid() == processGuid && n > before.GetCrashCount() {
							crashState[n], crashAt[n] = after.GetState(), time.Unix(0, after.GetSince())
						}
					case *models.ActualLRPInstanceCreatedEvent:
						// a restart after a backoff: a new UNCLAIMED instance in the CRASHED one's slot
						if a := c.GetActualLrp(); a.GetActualLrpKey().GetProcessGuid() == processGuid && a.GetCrashCount() > 0 {
							restartAt[a.GetCrashCount()] = time.Unix(0, a.GetSince())
						}
					}
				default:
					return
				}
			}
		}
		Eventually(func() int { read(); return len(crashAt) }, 2*time.Minute, 50*time.Millisecond).Should(BeEquivalentTo(p.MaxRestarts),
			"the instance crashes %d times", p.MaxRestarts)
		// no restart after the last: it stays CRASHED past the longest backoff
		Consistently(func() int32 {
			read()
			a := instanceAt(processGuid, 0)
			Expect(a.GetState()).To(Equal(models.ActualLRPStateCrashed))
			return a.GetCrashCount()
		}, p.MaxBackoff+time.Second, 100*time.Millisecond).Should(Equal(p.MaxRestarts))
		Expect(restartAt).NotTo(HaveKey(p.MaxRestarts))

		for n := int32(1); n <= p.MaxRestarts; n++ {
			wait, restarts := p.Backoff(n)
			switch {
			case n < p.ImmediateRestarts:
				Expect(crashState[n]).To(Equal(models.ActualLRPStateUnclaimed), "crash %d restarts at once", n)
			case restarts:
				Expect(crashState[n]).To(Equal(models.ActualLRPStateCrashed), "crash %d waits", n)
				Expect(restartAt).To(HaveKey(n), "crash %d is restarted", n)
				took := restartAt[n].Sub(crashAt[n])
				GinkgoWriter.Printf("crash %d: restarted %s after (backoff %s)\n", n, took, wait)
				// a pass every 200 ms restarts it soon after the backoff; an uncapped backoff
				// (twice the last) would be twice as long
				Expect(took).To(BeNumerically(">=", wait), "crash %d", n)
				Expect(took).To(BeNumerically("<", wait+wait/2+time.Second), "crash %d", n)
			default:
				Expect(crashState[n]).To(Equal(models.ActualLRPStateCrashed), "crash %d is the last", n)
			}
		}
	})
})

var _ = Describe("an LRP removed", func() {
	It("leaves no container on any garden", func() {
		processGuid := w.Guid("remove")
		w.Desire(world.AppLRP(processGuid, 3))
		w.WaitRunning(processGuid, 3, 2*time.Minute)
		guids := instanceGuids(processGuid)
		Expect(withContainers(guids)).To(HaveLen(3))

		Expect(w.BBS.RemoveDesiredLRP(world.Ctx(), processGuid)).To(Succeed())
		Eventually(func() []*models.ActualLRP { return w.Actuals(processGuid) }, time.Minute, 100*time.Millisecond).Should(BeEmpty())
		Eventually(func() []string { return withContainers(guids) }, 30*time.Second, 200*time.Millisecond).Should(BeEmpty())
	})
})

var _ = Describe("an LRP updated", func() {
	It("runs the new number of instances and answers at its new route, no more at its old one", func() {
		r := w.Routers[0]
		processGuid, oldHost := desireRouted("update", 1)
		newHost := host(w.Guid("update-new"))
		instances := int32(2)
		Expect(w.BBS.UpdateDesiredLRP(world.Ctx(), processGuid, &models.DesiredLRPUpdate{
			Instances: &instances,
			Routes:    cfroutes.Encode([]cfroutes.Route{{Hostnames: []string{newHost}, Port: world.AppPort}}),
		})).To(Succeed())

		w.WaitRunning(processGuid, 2, 2*time.Minute)
		r.WaitRoutable(newHost, 2, 30*time.Second)
		Eventually(func() error { return r.Get(oldHost, "/").Err }, 10*time.Second, 50*time.Millisecond).Should(
			MatchError(ContainSubstring("404 unknown_route")), "the old route is gone")
	})
})

var _ = Describe("an LRP no cell can take", func() {
	// placementError waits until the process's instance 0 has a placement error and returns it.
	placementError := func(lrp *models.DesiredLRP) string {
		GinkgoHelper()
		w.Desire(lrp)
		var a *models.ActualLRP
		Eventually(func() string {
			a = instanceAt(lrp.ProcessGuid, 0)
			return a.GetPlacementError()
		}, time.Minute, 100*time.Millisecond).ShouldNot(BeEmpty())
		Expect(a.GetState()).To(Equal(models.ActualLRPStateUnclaimed))
		return a.GetPlacementError()
	}

	It("reports insufficient resources on the instance when it needs more memory than any cell has", func() {
		lrp := world.AppLRP(w.Guid("too-big"), 1)
		lrp.MemoryMb = 1 << 24 // 16 TiB
		Expect(placementError(lrp)).To(Equal("insufficient resources: memory"))
	})

	It("reports no compatible cell on the instance when no cell has its stack", func() {
		lrp := world.AppLRP(w.Guid("no-stack"), 1)
		lrp.RootFs = "preloaded:no-such-stack"
		Expect(placementError(lrp)).To(Equal("found no compatible cell for required rootfs"))
	})
})

var _ = Describe("a domain that is not fresh", func() {
	It("keeps an extra instance convergence finds, and stops it once the domain is fresh", func() {
		domain := w.Guid("stale-domain") // never upserted: not fresh
		processGuid := w.Guid("stale")
		lrp := world.AppLRP(processGuid, 2, host(processGuid))
		lrp.Domain = domain
		w.Desire(lrp)
		w.WaitRunning(processGuid, 2, 2*time.Minute)
		extra := instanceAt(processGuid, 1)
		extraGuid := extra.GetActualLrpInstanceKey().GetInstanceGuid()
		cell := cellOf(extra.GetActualLrpInstanceKey().GetCellId())

		// An extra instance, as upstream's inigo makes one: its rep is away when the LRP is
		// scaled down, so the retirement does not reach it, and comes back with it. Convergence
		// alone may then stop it; no converger may pass while the cell is away (its instances
		// would turn SUSPECT), so the spec runs the passes itself.
		for _, c := range w.Convergers {
			if c.Running() {
				c.Kill9()
				DeferCleanup(c.Start)
			}
		}
		cell.Kill9Rep()
		killed := time.Now()
		DeferCleanup(func() {
			if !cell.Rep.Running() {
				cell.Restart()
			}
		})
		w.Scale(processGuid, 1)
		Consistently(func() string { return instanceAt(processGuid, 1).GetActualLrpInstanceKey().GetInstanceGuid() },
			time.Second, 100*time.Millisecond).Should(Equal(extraGuid), "the retirement cannot reach the rep")
		cell.Rep.Start() // the same cell id: it adopts the container
		// its presence returns once the killed rep's Consul session has expired (within 2
		// TTLs); a pass while the cell is absent would make its instance SUSPECT
		time.Sleep(time.Until(killed.Add(2*w.Options.LockTTL + w.Options.LockTTL/2)))
		Eventually(func() []string { return daemontest.CellIDs(w.BBS) }, 10*time.Second, 100*time.Millisecond).Should(ContainElement(cell.ID))
		Expect(instanceAt(processGuid, 1).GetState()).To(Equal(models.ActualLRPStateRunning))

		Consistently(func() []string {
			Expect(w.BBS.Converge(world.Ctx())).To(Succeed())
			return instanceGuids(processGuid)
		}, 2*time.Second, 200*time.Millisecond).Should(ContainElement(extraGuid), "convergence leaves the extra instance of a stale domain")
		Expect(containersOf(extraGuid)).To(HaveLen(1))
		// the router no longer routes an index beyond the desired count; its own port still
		// reaches it
		net := instanceAt(processGuid, 1).GetActualLrpNetInfo()
		resp, err := http.Get(fmt.Sprintf("http://%s:%d/", net.GetAddress(), net.GetPorts()[0].GetHostPort()))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.Header.Get("X-Testapp-Instance")).To(HaveSuffix(" "+extraGuid), "the extra instance still runs")

		Expect(w.BBS.UpsertDomain(world.Ctx(), domain, 0)).To(Succeed())
		Expect(w.BBS.Converge(world.Ctx())).To(Succeed())
		Eventually(func() []string { return withContainers([]string{extraGuid}) }, 30*time.Second, 200*time.Millisecond).Should(BeEmpty(),
			"once the domain is fresh, convergence stops the extra instance")
		Expect(instanceGuids(processGuid)).NotTo(ContainElement(extraGuid))
	})
})
