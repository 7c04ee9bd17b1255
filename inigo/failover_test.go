package inigo_test

import (
	"context"
	"maps"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/inigo/world"
	"github.com/diego-go/diego/models"
)

// desiredNow is every desired LRP's instances and every Task's state, by guid, as the bbs holding
// the lock answers.
type desiredNow struct {
	LRPs  map[string]int32
	Tasks map[string]models.Task_State
}

func snapshot(g Gomega) desiredNow {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lrps, err := w.BBS.DesiredLRPs(ctx, bbs.DesiredLRPFilter{})
	g.Expect(err).NotTo(HaveOccurred())
	tasks, err := w.BBS.Tasks(ctx, bbs.TaskFilter{})
	g.Expect(err).NotTo(HaveOccurred())
	d := desiredNow{LRPs: map[string]int32{}, Tasks: map[string]models.Task_State{}}
	for _, l := range lrps {
		d.LRPs[l.ProcessGuid] = l.Instances
	}
	for _, t := range tasks {
		d.Tasks[t.TaskGuid] = t.State
	}
	return d
}

// instanceGuids are the RUNNING instances' guids of the process.
func instanceGuids(processGuid string) []string {
	GinkgoHelper()
	var out []string
	for _, a := range w.Running(processGuid) {
		out = append(out, a.GetActualLrpInstanceKey().GetInstanceGuid())
	}
	slices.Sort(out)
	return out
}

var _ = Describe("the locked daemons under steady traffic", func() {
	It("fail over to their standbys when each leader is killed -9 in turn: nothing desired is lost, what is desired next runs and is routed, no request fails", func() {
		r := w.Routers[0]
		processGuid, hostname := desireRouted("failover", 2)
		instances := instanceGuids(processGuid)
		task := desireTask("failover-task", shTask("sleep 600"))
		running := taskIn(task, models.Task_Running, time.Minute)
		load := r.StartLoad(hostname, world.LoadOptions{})
		time.Sleep(time.Second)

		roles := []struct {
			name   string
			leader func() *world.Process
		}{
			{"bbs", w.BBSLeader},
			{"auctioneer", w.AuctioneerLeader},
			{"converger", w.ConvergerLeader},
			{"route-emitter", w.EmitterLeader},
		}
		for _, role := range roles {
			By("killing the leading " + role.name)
			before := snapshot(Default)
			Expect(before.LRPs).To(HaveKey(processGuid))
			Expect(before.Tasks).To(HaveKeyWithValue(task, models.Task_Running))
			old := role.leader()
			Expect(old).NotTo(BeNil(), "a %s holds the lock", role.name)
			DeferCleanup(func() {
				if !old.Running() {
					old.Start()
				}
			})

			killed := time.Now()
			old.Kill9()
			var standby *world.Process
			Eventually(func() *world.Process { standby = role.leader(); return standby }, 4*w.Options.LockTTL+5*time.Second, 20*time.Millisecond).
				ShouldNot(BeNil(), "a standby %s takes the lock", role.name)
			tookOver := time.Since(killed)
			Expect(standby).NotTo(BeIdenticalTo(old))

			// the new leader has every record the old one had: nothing desired, no instance
			// and no task lost or restarted
			Eventually(func(g Gomega) {
				now := snapshot(g)
				for guid, n := range before.LRPs {
					g.Expect(now.LRPs).To(HaveKeyWithValue(guid, n), "desired LRP %s", guid)
				}
				for guid, s := range before.Tasks {
					g.Expect(now.Tasks).To(HaveKeyWithValue(guid, s), "task %s", guid)
				}
			}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
			Expect(instanceGuids(processGuid)).To(Equal(instances), "the routed app's instances run on, none replaced")
			t, err := w.BBS.TaskByGuid(world.Ctx(), task)
			Expect(err).NotTo(HaveOccurred())
			Expect(t.CellId).To(Equal(running.CellId), "the task runs on where it ran")

			after := w.Guid("failover-after-" + role.name)
			w.Desire(world.AppLRP(after, 1, host(after)))
			w.WaitRunning(after, 1, time.Minute)
			r.WaitRoutable(host(after), 1, 30*time.Second)
			placed := time.Since(killed)
			GinkgoWriter.Printf("%s killed -9: a standby held the lock %s later; an LRP desired then answered through the router %s after the kill; %s\n",
				role.name, tookOver, placed, load.Result())

			// the killed one comes back as a standby
			old.Start()
			Consistently(role.leader, time.Second, 100*time.Millisecond).Should(BeIdenticalTo(standby), "the %s that took over keeps the lock", role.name)
		}

		time.Sleep(time.Second)
		res := load.Stop()
		GinkgoWriter.Printf("failover of the bbs, the auctioneer, the converger and the route-emitter: %s\n", res)
		Expect(res.Requests).To(BeNumerically(">=", 200), res.String())
		Expect(res.Failures).To(BeZero(), res.String())
		Expect(slices.Sorted(maps.Keys(res.Instances))).To(Equal(instances), "the app's two instances answered throughout")
	})
})
