package convergence_test

import (
	"time"

	"github.com/diego-go/diego/bbs/convergence"
	"github.com/diego-go/diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const (
	unclaimed = models.ActualLRPStateUnclaimed
	claimed   = models.ActualLRPStateClaimed
	running   = models.ActualLRPStateRunning
	crashed   = models.ActualLRPStateCrashed

	evacuating = models.ActualLRP_EVACUATING
	suspect    = models.ActualLRP_SUSPECT
)

// snapshot has cells cell-1 and cell-2 present (cell-gone is not) and the
// domain fresh-domain fresh (stale-domain is not).
func snapshot(d []*models.DesiredLRPSchedulingInfo, actuals []*models.ActualLRP, tasks []*models.Task) convergence.Snapshot {
	return withLRPs(convergence.Snapshot{
		Now:          now,
		FreshDomains: convergence.Set(fresh),
		Cells:        convergence.Set("cell-1", "cell-2"),
		Tasks:        tasks,
	}, d, actuals)
}

func ds(d ...*models.DesiredLRPSchedulingInfo) []*models.DesiredLRPSchedulingInfo { return d }
func as(a ...*models.ActualLRP) []*models.ActualLRP                               { return a }
func ts(t ...*models.Task) []*models.Task                                         { return t }

var _ = Describe("Decide: LRP rules", func() {
	DescribeTable("decides",
		func(d []*models.DesiredLRPSchedulingInfo, actuals []*models.ActualLRP, want []string) {
			got := describe(convergence.Decide(snapshot(d, actuals, nil), convergence.DefaultConfig()))
			Expect(got).To(ConsistOf(want))
		},

		Entry("nothing to do when every instance runs on a present cell",
			ds(desired("pg", fresh, 2)),
			as(lrp("pg", fresh, 0, running, "cell-1"), lrp("pg", fresh, 1, running, "cell-2")),
			[]string{}),

		// missing instances
		Entry("missing: every index of a new LRP",
			ds(desired("pg", fresh, 3)), as(),
			[]string{"CreateAndAuction pg/0 (missing instance)", "CreateAndAuction pg/1 (missing instance)", "CreateAndAuction pg/2 (missing instance)"}),
		Entry("missing: only the indices without a record",
			ds(desired("pg", fresh, 3)), as(lrp("pg", fresh, 1, running, "cell-1")),
			[]string{"CreateAndAuction pg/0 (missing instance)", "CreateAndAuction pg/2 (missing instance)"}),
		Entry("missing: also in a stale domain",
			ds(desired("pg", stale, 1)), as(),
			[]string{"CreateAndAuction pg/0 (missing instance)"}),
		Entry("missing: an EVACUATING record does not fill the slot (upstream counts ORDINARY only)",
			ds(desired("pg", fresh, 1)), as(lrp("pg", fresh, 0, running, "cell-1", presence(evacuating))),
			[]string{"CreateAndAuction pg/0 (missing instance)"}),
		Entry("missing: nor does a SUSPECT one",
			ds(desired("pg", fresh, 1)), as(lrp("pg", fresh, 0, running, "cell-gone", presence(suspect))),
			[]string{"CreateAndAuction pg/0 (missing instance)"}),
		Entry("missing: not created when the slot's SUSPECT is promoted instead",
			ds(desired("pg", fresh, 1)), as(lrp("pg", fresh, 0, running, "cell-1", presence(suspect))),
			[]string{"PromoteSuspect pg/0 (cell present again)"}),
		Entry("missing: nothing for zero instances",
			ds(desired("pg", fresh, 0)), as(),
			[]string{}),

		// stale UNCLAIMED
		Entry("unclaimed: re-auctioned once older than 30 s",
			ds(desired("pg", fresh, 1)), as(lrp("pg", fresh, 0, unclaimed, "", since(30*time.Second+1))),
			[]string{"Reauction pg/0 (unclaimed longer than the re-auction timeout)"}),
		Entry("unclaimed: exactly 30 s old is still waiting for its auction",
			ds(desired("pg", fresh, 1)), as(lrp("pg", fresh, 0, unclaimed, "", since(30*time.Second))),
			[]string{}),
		Entry("unclaimed: a fresh one waiting for its first auction is not auctioned twice",
			ds(desired("pg", fresh, 1)), as(lrp("pg", fresh, 0, unclaimed, "", since(0))),
			[]string{}),
		Entry("unclaimed: also in a stale domain",
			ds(desired("pg", stale, 1)), as(lrp("pg", stale, 0, unclaimed, "", since(time.Minute))),
			[]string{"Reauction pg/0 (unclaimed longer than the re-auction timeout)"}),
		Entry("unclaimed: an EVACUATING unclaimed record is not auctioned",
			ds(desired("pg", fresh, 1)), as(lrp("pg", fresh, 0, running, "cell-1"), lrp("pg", fresh, 0, unclaimed, "cell-1", presence(evacuating), since(time.Hour))),
			[]string{}),

		// vanished cells
		Entry("vanished cell: a RUNNING instance becomes SUSPECT and a replacement is auctioned at once",
			ds(desired("pg", fresh, 1)), as(lrp("pg", fresh, 0, running, "cell-gone", since(0))),
			[]string{"SuspectAndReplace pg/0 (cell vanished)"}),
		Entry("vanished cell: a CLAIMED instance (nothing of it runs) is unclaimed and auctioned",
			ds(desired("pg", fresh, 1)), as(lrp("pg", fresh, 0, claimed, "cell-gone")),
			[]string{"UnclaimAndAuction pg/0 (cell vanished)"}),
		Entry("vanished cell: also in a stale domain",
			ds(desired("pg", stale, 1)), as(lrp("pg", stale, 0, running, "cell-gone")),
			[]string{"SuspectAndReplace pg/0 (cell vanished)"}),
		Entry("vanished cell: a RUNNING replacement of a slot that holds a SUSPECT is unclaimed (one SUSPECT per slot)",
			ds(desired("pg", fresh, 1)),
			as(lrp("pg", fresh, 0, running, "cell-gone", presence(suspect)), lrp("pg", fresh, 0, running, "gone-too")),
			[]string{"UnclaimAndAuction pg/0 (cell vanished; the slot's SUSPECT instance is kept instead)"}),
		Entry("vanished cell: a CRASHED instance follows the restart policy instead",
			ds(desired("pg", fresh, 1)), as(lrp("pg", fresh, 0, crashed, "cell-gone", crashes(5), since(time.Second))),
			[]string{}),
		Entry("vanished cell: a claimed record with no cell id is unclaimed",
			ds(desired("pg", fresh, 1)), as(lrp("pg", fresh, 0, claimed, "")),
			[]string{"UnclaimAndAuction pg/0 (cell vanished)"}),
		Entry("vanished cell: an extra index in a fresh domain is retired, not auctioned",
			ds(desired("pg", fresh, 1)), as(lrp("pg", fresh, 0, running, "cell-1"), lrp("pg", fresh, 1, running, "cell-gone")),
			[]string{"Retire pg/1 (index not below the desired instances)"}),
		Entry("vanished cell: an extra index in a stale domain is cared for (its count may be stale)",
			ds(desired("pg", stale, 1)), as(lrp("pg", stale, 0, running, "cell-1"), lrp("pg", stale, 1, running, "cell-gone")),
			[]string{"SuspectAndReplace pg/1 (cell vanished)"}),

		// extra indices
		Entry("extra: an index at or above instances is retired in a fresh domain",
			ds(desired("pg", fresh, 2)),
			as(lrp("pg", fresh, 0, running, "cell-1"), lrp("pg", fresh, 1, running, "cell-1"), lrp("pg", fresh, 2, running, "cell-1"), lrp("pg", fresh, 7, unclaimed, "")),
			[]string{"Retire pg/2 (index not below the desired instances)", "Retire pg/7 (index not below the desired instances)"}),
		Entry("extra: never in a stale domain",
			ds(desired("pg", stale, 1)),
			as(lrp("pg", stale, 0, running, "cell-1"), lrp("pg", stale, 1, running, "cell-1"), lrp("pg", stale, 2, claimed, "cell-2")),
			[]string{}),
		Entry("extra: everything when scaled to zero",
			ds(desired("pg", fresh, 0)),
			as(lrp("pg", fresh, 0, running, "cell-1"), lrp("pg", fresh, 1, crashed, "")),
			[]string{"Retire pg/0 (index not below the desired instances)", "Retire pg/1 (index not below the desired instances)"}),
		Entry("extra: a negative index",
			ds(desired("pg", fresh, 1)), as(lrp("pg", fresh, 0, running, "cell-1"), lrp("pg", fresh, -1, running, "cell-1")),
			[]string{"Retire pg/-1 (index not below the desired instances)"}),
		Entry("extra: a crashed extra index in a stale domain restarts per policy like a wanted one",
			ds(desired("pg", stale, 1)), as(lrp("pg", stale, 0, running, "cell-1"), lrp("pg", stale, 1, crashed, "", crashes(1))),
			[]string{"RestartCrashed pg/1 (crashed; restart policy restarts it now)"}),

		// orphans
		Entry("orphan: retired in a fresh domain, whatever its state",
			ds(),
			as(lrp("gone", fresh, 0, running, "cell-1"), lrp("gone", fresh, 1, unclaimed, ""), lrp("gone", fresh, 2, running, "cell-gone")),
			[]string{"Retire gone/0 (no desired LRP)", "Retire gone/1 (no desired LRP)", "Retire gone/2 (no desired LRP)"}),
		Entry("orphan: left alone in a stale domain",
			ds(), as(lrp("gone", stale, 0, running, "cell-1"), lrp("gone", stale, 1, running, "cell-gone")),
			[]string{}),
		Entry("orphan: an EVACUATING one on a vanished cell is removed even in a stale domain",
			ds(), as(lrp("gone", stale, 0, running, "cell-gone", presence(evacuating))),
			[]string{"RemoveEvacuating gone/0 (cell vanished)"}),
		Entry("orphan: a SUSPECT one is removed in a fresh domain",
			ds(), as(lrp("gone", fresh, 0, running, "cell-gone", presence(suspect))),
			[]string{"RemoveSuspect gone/0 (no desired LRP)"}),
		Entry("orphan: the domain is the actual LRP's",
			ds(desired("other", stale, 0)), as(lrp("gone", fresh, 0, running, "cell-1")),
			[]string{"Retire gone/0 (no desired LRP)"}),

		// crashed
		Entry("crashed: the first three crashes restart at once",
			ds(desired("pg", fresh, 3)),
			as(lrp("pg", fresh, 0, crashed, "", crashes(0), since(0)), lrp("pg", fresh, 1, crashed, "", crashes(1), since(0)), lrp("pg", fresh, 2, crashed, "", crashes(2), since(0))),
			[]string{"RestartCrashed pg/0 (crashed; restart policy restarts it now)", "RestartCrashed pg/1 (crashed; restart policy restarts it now)", "RestartCrashed pg/2 (crashed; restart policy restarts it now)"}),
		Entry("crashed: the 3rd crash waits 30 s (restarted at exactly 30 s)",
			ds(desired("pg", fresh, 2)),
			as(lrp("pg", fresh, 0, crashed, "", crashes(3), since(30*time.Second)), lrp("pg", fresh, 1, crashed, "", crashes(3), since(30*time.Second-1))),
			[]string{"RestartCrashed pg/0 (crashed; restart policy restarts it now)"}),
		Entry("crashed: the 4th waits 60 s",
			ds(desired("pg", fresh, 2)),
			as(lrp("pg", fresh, 0, crashed, "", crashes(4), since(60*time.Second)), lrp("pg", fresh, 1, crashed, "", crashes(4), since(59*time.Second))),
			[]string{"RestartCrashed pg/0 (crashed; restart policy restarts it now)"}),
		Entry("crashed: the wait is capped at 16 min",
			ds(desired("pg", fresh, 2)),
			as(lrp("pg", fresh, 0, crashed, "", crashes(50), since(16*time.Minute)), lrp("pg", fresh, 1, crashed, "", crashes(50), since(16*time.Minute-time.Second))),
			[]string{"RestartCrashed pg/0 (crashed; restart policy restarts it now)"}),
		Entry("crashed: never restarted from the 200th crash",
			ds(desired("pg", fresh, 2)),
			as(lrp("pg", fresh, 0, crashed, "", crashes(199), since(time.Hour)), lrp("pg", fresh, 1, crashed, "", crashes(200), since(24*time.Hour))),
			[]string{"RestartCrashed pg/0 (crashed; restart policy restarts it now)"}),
		Entry("crashed: an extra index in a fresh domain is retired, not restarted",
			ds(desired("pg", fresh, 1)), as(lrp("pg", fresh, 0, running, "cell-1"), lrp("pg", fresh, 1, crashed, "", crashes(0))),
			[]string{"Retire pg/1 (index not below the desired instances)"}),

		// evacuating
		Entry("evacuating: removed once its cell vanished",
			ds(desired("pg", fresh, 1)),
			as(lrp("pg", fresh, 0, running, "cell-1"), lrp("pg", fresh, 0, running, "cell-gone", presence(evacuating))),
			[]string{"RemoveEvacuating pg/0 (cell vanished)"}),
		Entry("evacuating: kept while its cell is present",
			ds(desired("pg", fresh, 1)),
			as(lrp("pg", fresh, 0, unclaimed, ""), lrp("pg", fresh, 0, running, "cell-2", presence(evacuating))),
			[]string{}),

		// suspect
		Entry("suspect: removed once its replacement runs",
			ds(desired("pg", stale, 1)),
			as(lrp("pg", stale, 0, running, "cell-gone", presence(suspect)), lrp("pg", stale, 0, running, "cell-1")),
			[]string{"RemoveSuspect pg/0 (replacement is running)"}),
		Entry("suspect: promoted when its cell is present again and the replacement is not running",
			ds(desired("pg", fresh, 1)),
			as(lrp("pg", fresh, 0, running, "cell-2", presence(suspect)), lrp("pg", fresh, 0, claimed, "cell-1")),
			[]string{"PromoteSuspect pg/0 (cell present again)"}),
		Entry("suspect: promoted over a stale UNCLAIMED replacement, which is not re-auctioned",
			ds(desired("pg", fresh, 1)),
			as(lrp("pg", fresh, 0, unclaimed, "", since(time.Hour)), lrp("pg", fresh, 0, running, "cell-2", presence(suspect))),
			[]string{"PromoteSuspect pg/0 (cell present again)"}),
		Entry("suspect: promoted over a replacement running on a vanished cell, which is then neither suspected nor unclaimed",
			ds(desired("pg", fresh, 1)),
			as(lrp("pg", fresh, 0, running, "cell-2", presence(suspect)), lrp("pg", fresh, 0, running, "cell-gone")),
			[]string{"PromoteSuspect pg/0 (cell present again)"}),
		Entry("suspect: removed when the replacement runs even if the suspect's cell is back",
			ds(desired("pg", fresh, 1)),
			as(lrp("pg", fresh, 0, running, "cell-2", presence(suspect)), lrp("pg", fresh, 0, running, "cell-1")),
			[]string{"RemoveSuspect pg/0 (replacement is running)"}),
		Entry("suspect: a CLAIMED SUSPECT follows the same rules",
			ds(desired("pg", fresh, 1)),
			as(lrp("pg", fresh, 0, claimed, "cell-2", presence(suspect)), lrp("pg", fresh, 0, unclaimed, "")),
			[]string{"PromoteSuspect pg/0 (cell present again)"}),
		Entry("suspect: kept while its cell is gone and the replacement is not yet running",
			ds(desired("pg", fresh, 1)),
			as(lrp("pg", fresh, 0, running, "cell-gone", presence(suspect)), lrp("pg", fresh, 0, claimed, "cell-1")),
			[]string{}),
		Entry("suspect: an extra index is removed in a fresh domain",
			ds(desired("pg", fresh, 1)),
			as(lrp("pg", fresh, 0, running, "cell-1"), lrp("pg", fresh, 1, running, "cell-2", presence(suspect))),
			[]string{"RemoveSuspect pg/1 (index not below the desired instances)"}),

		// corrupt input
		Entry("two ORDINARY records of one slot: only the first is acted on",
			ds(desired("pg", fresh, 1)),
			as(lrp("pg", fresh, 0, running, "cell-gone"), lrp("pg", fresh, 0, running, "cell-gone")),
			[]string{"SuspectAndReplace pg/0 (cell vanished)"}),
		Entry("two SUSPECT records of one slot: only the first is acted on",
			ds(desired("pg", fresh, 1)),
			as(lrp("pg", fresh, 0, running, "cell-1", presence(suspect)), lrp("pg", fresh, 0, running, "cell-2", presence(suspect))),
			[]string{"PromoteSuspect pg/0 (cell present again)"}),
	)

	It("suspects everything running and unclaims everything claimed when no cell is present", func() {
		s := snapshot(ds(desired("pg", fresh, 3)),
			as(lrp("pg", fresh, 0, running, "cell-1"), lrp("pg", fresh, 1, claimed, "cell-2"), lrp("pg", fresh, 2, unclaimed, "")), nil)
		s.Cells = nil
		a := convergence.Decide(s, convergence.DefaultConfig())
		Expect(describe(a)).To(ConsistOf("SuspectAndReplace pg/0 (cell vanished)", "UnclaimAndAuction pg/1 (cell vanished)"))
		Expect(a.VanishedCells).To(Equal([]string{"cell-1", "cell-2"}))
	})

	It("carries the snapshot's record and the scheduling info for the compare-and-swap and the auction", func() {
		info := desired("pg", fresh, 2)
		running0 := lrp("pg", fresh, 0, running, "cell-gone")
		a := convergence.Decide(snapshot(ds(info), as(running0), nil), convergence.DefaultConfig())
		Expect(a.SuspectAndReplace).To(HaveLen(1))
		Expect(a.SuspectAndReplace[0].Actual).To(BeIdenticalTo(running0))
		Expect(a.SuspectAndReplace[0].SchedulingInfo).To(BeIdenticalTo(info))
		Expect(a.CreateAndAuction).To(HaveLen(1))
		Expect(a.CreateAndAuction[0].Actual).To(BeNil())
		Expect(a.CreateAndAuction[0].Key.GetDomain()).To(Equal(fresh))
		Expect(a.VanishedCells).To(Equal([]string{"cell-gone"}))
		Expect(a.Auctions()).To(HaveLen(2))
		Expect(a.Counts()).To(HaveKeyWithValue("SuspectAndReplace", 1))
	})

	It("carries the replacement a promotion removes", func() {
		replacement := lrp("pg", fresh, 0, claimed, "cell-1")
		s0 := lrp("pg", fresh, 0, running, "cell-2", presence(suspect))
		a := convergence.Decide(snapshot(ds(desired("pg", fresh, 1)), as(replacement, s0), nil), convergence.DefaultConfig())
		Expect(a.PromoteSuspect).To(HaveLen(1))
		Expect(a.PromoteSuspect[0].Actual).To(BeIdenticalTo(s0))
		Expect(a.PromoteSuspect[0].Replacement).To(BeIdenticalTo(replacement))
	})

	It("counts the snapshot as upstream's gauges do", func() {
		s := snapshot(ds(desired("pg", fresh, 4), desired("other", fresh, 2)),
			as(lrp("pg", fresh, 0, running, "cell-1"), lrp("pg", fresh, 1, claimed, "cell-2"), lrp("pg", fresh, 2, crashed, "", since(time.Hour), crashes(300)),
				lrp("pg", fresh, 5, unclaimed, ""), lrp("pg", fresh, 3, running, "cell-gone", presence(suspect)), lrp("pg", fresh, 3, unclaimed, ""),
				lrp("other", fresh, 0, running, "cell-1", presence(evacuating)), lrp("other", fresh, 1, claimed, "gone-2", presence(suspect)),
				lrp("orphan", stale, 0, crashed, "", since(time.Hour), crashes(300)), lrp("orphan", stale, 1, running, "cell-1")),
			ts(tsk("p", models.Task_Pending), tsk("r", models.Task_Running, onCell("cell-1")), tsk("r2", models.Task_Running, onCell("cell-1")),
				tsk("c", models.Task_Completed), tsk("v", models.Task_Resolving)))
		a := convergence.Decide(s, convergence.DefaultConfig())
		Expect(a.Stats).To(Equal(convergence.Stats{
			LRPsDesired:   6,
			LRPsUnclaimed: 2, LRPsClaimed: 1, LRPsRunning: 2, LRPsCrashed: 2,
			CrashingDesiredLRPs: 2,
			LRPsMissing:         2, // other/0 and other/1 (its SUSPECT's cell is gone)
			LRPsExtra:           1, // pg/5
			SuspectRunningLRPs:  1, SuspectClaimedLRPs: 1,
			TasksPending: 1, TasksRunning: 2, TasksCompleted: 1, TasksResolving: 1,
			PresentCells: 2, SuspectCells: 2,
		}))
	})

	It("orders its output by the snapshot", func() {
		a := convergence.Decide(snapshot(
			ds(desired("b", fresh, 2), desired("a", fresh, 1)),
			as(lrp("z", fresh, 0, running, "cell-1"), lrp("y", fresh, 0, running, "cell-1")), nil), convergence.DefaultConfig())
		Expect(describe(a)).To(Equal([]string{
			"CreateAndAuction b/0 (missing instance)", "CreateAndAuction b/1 (missing instance)", "CreateAndAuction a/0 (missing instance)",
			"Retire z/0 (no desired LRP)", "Retire y/0 (no desired LRP)",
		}))
	})

	It("takes its timings from the config", func() {
		c := convergence.DefaultConfig()
		c.StaleUnclaimedLRP = time.Second
		c.RestartPolicy.ImmediateRestarts = 0
		c.RestartPolicy.MinBackoff = time.Minute
		got := describe(convergence.Decide(snapshot(ds(desired("pg", fresh, 2)),
			as(lrp("pg", fresh, 0, unclaimed, "", since(2*time.Second)), lrp("pg", fresh, 1, crashed, "", crashes(0), since(30*time.Second))), nil), c))
		Expect(got).To(ConsistOf("Reauction pg/0 (unclaimed longer than the re-auction timeout)"))
	})
})

var _ = Describe("Decide: Task rules", func() {
	DescribeTable("decides",
		func(t *models.Task, want ...string) {
			got := describe(convergence.Decide(snapshot(nil, nil, ts(t)), convergence.DefaultConfig()))
			Expect(got).To(ConsistOf(want))
		},
		Entry("pending, recently updated: left alone", tsk("t", models.Task_Pending, updated(30*time.Second))),
		Entry("pending, not updated for more than 30 s: kicked to the auction",
			tsk("t", models.Task_Pending, updated(30*time.Second+1)),
			"AuctionTasks t (pending longer than the kick timeout)"),
		Entry("pending for exactly 30 min: still kicked, not failed",
			tsk("t", models.Task_Pending, created(30*time.Minute), updated(time.Minute)),
			"AuctionTasks t (pending longer than the kick timeout)"),
		Entry("pending for more than 30 min: failed",
			tsk("t", models.Task_Pending, created(30*time.Minute+1), updated(time.Minute)),
			"FailTasks t (not started within time limit)"),
		Entry("pending for more than 30 min, even if just updated: failed",
			tsk("t", models.Task_Pending, created(time.Hour), updated(0)),
			"FailTasks t (not started within time limit)"),
		Entry("running on a present cell: left alone", tsk("t", models.Task_Running, onCell("cell-1"), updated(time.Hour))),
		Entry("running on a vanished cell: failed, naming the cell",
			tsk("t", models.Task_Running, onCell("cell-gone")),
			`FailTasks t (cell disappeared before completion)`),
		Entry("completed with a callback, recently updated: left alone",
			tsk("t", models.Task_Completed, callback(), updated(30*time.Second), completed(30*time.Second))),
		Entry("completed with a callback, not updated for more than 30 s: callback resent",
			tsk("t", models.Task_Completed, callback(), updated(30*time.Second+1), completed(time.Minute)),
			"ResendCallbacks t (completed; callback not acknowledged within the kick timeout)"),
		Entry("completed without a callback: waits for its client",
			tsk("t", models.Task_Completed, updated(time.Minute), completed(time.Minute))),
		Entry("completed exactly 120 s ago: kept",
			tsk("t", models.Task_Completed, updated(10*time.Second), completed(120*time.Second))),
		Entry("completed more than 120 s ago: deleted",
			tsk("t", models.Task_Completed, updated(10*time.Second), completed(120*time.Second+1)),
			"DeleteTasks t (completed longer than the expiry timeout)"),
		Entry("completed more than 120 s ago with a callback: deleted, not resent",
			tsk("t", models.Task_Completed, callback(), updated(time.Hour), completed(time.Hour)),
			"DeleteTasks t (completed longer than the expiry timeout)"),
		Entry("completed, first completion unrecorded: expires by its last update",
			tsk("t", models.Task_Completed, updated(121*time.Second)),
			"DeleteTasks t (completed longer than the expiry timeout)"),
		Entry("resolving, recently updated: left alone even when expired",
			tsk("t", models.Task_Resolving, callback(), updated(10*time.Second), completed(time.Hour))),
		Entry("resolving, stuck, with a callback: callback resent",
			tsk("t", models.Task_Resolving, callback(), updated(31*time.Second), completed(time.Minute)),
			"ResendCallbacks t (resolving longer than the kick timeout)"),
		Entry("resolving, stuck and expired: deleted",
			tsk("t", models.Task_Resolving, callback(), updated(31*time.Second), completed(121*time.Second)),
			"DeleteTasks t (completed longer than the expiry timeout)"),
		Entry("resolving, stuck, no callback, not expired: left for its client",
			tsk("t", models.Task_Resolving, updated(31*time.Second), completed(time.Minute))),
	)

	It("lists the vanished cells of running tasks", func() {
		a := convergence.Decide(snapshot(nil, nil, ts(
			tsk("a", models.Task_Running, onCell("cell-x")),
			tsk("b", models.Task_Running, onCell("cell-1")),
			tsk("c", models.Task_Running, onCell("cell-x")))), convergence.DefaultConfig())
		Expect(a.VanishedCells).To(Equal([]string{"cell-x"}))
		Expect(a.FailTasks).To(HaveLen(2))
		Expect(a.FailTasks[0].Task.GetTaskGuid()).To(Equal("a"))
	})
})
