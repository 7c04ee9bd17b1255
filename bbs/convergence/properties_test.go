package convergence_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs/convergence"
	"github.com/diego-go/diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// randomSnapshot draws a small, messy world: fresh and stale domains,
// orphans, extra and missing indices, every state and presence, present and
// vanished cells, times on both sides of every threshold, and tasks in
// every state.
func randomSnapshot(r *rand.Rand) convergence.Snapshot {
	domains := []string{fresh, stale}
	cells := []string{"cell-1", "cell-2", "cell-3", "gone-1", "gone-2", ""}
	states := []string{unclaimed, claimed, running, crashed}
	presences := []models.ActualLRP_Presence{models.ActualLRP_ORDINARY, models.ActualLRP_ORDINARY, models.ActualLRP_ORDINARY, evacuating, suspect}
	someTime := func() int64 {
		choices := []time.Duration{0, time.Second, 30 * time.Second, 30*time.Second + 1, time.Minute, 2 * time.Minute, 121 * time.Second, 16 * time.Minute, 30 * time.Minute, 31 * time.Minute, time.Hour}
		return ago(choices[r.IntN(len(choices))])
	}

	s := convergence.Snapshot{Now: now, FreshDomains: convergence.Set(fresh), Cells: convergence.Set("cell-1", "cell-2", "cell-3")}
	if r.IntN(20) == 0 {
		s.Cells = nil
	}
	nDesired := r.IntN(8)
	var ds []*models.DesiredLRPSchedulingInfo
	var as []*models.ActualLRP
	for i := range nDesired {
		ds = append(ds, desired(fmt.Sprintf("pg-%d", i), domains[r.IntN(2)], int32(r.IntN(5))))
	}
	nActual := r.IntN(30)
	for range nActual {
		guid := fmt.Sprintf("pg-%d", r.IntN(nDesired+2)) // some orphans
		domain := domains[r.IntN(2)]
		for _, d := range ds {
			if d.GetDesiredLrpKey().GetProcessGuid() == guid {
				domain = d.GetDesiredLrpKey().GetDomain()
			}
		}
		state := states[r.IntN(len(states))]
		cell := cells[r.IntN(len(cells))]
		if state == unclaimed && r.IntN(3) > 0 {
			cell = ""
		}
		a := lrp(guid, domain, int32(r.IntN(7))-1, state, cell)
		a.Presence = presences[r.IntN(len(presences))]
		a.Since = someTime()
		a.CrashCount = int32(r.IntN(8))
		as = append(as, a)
	}
	s = withLRPs(s, ds, as)
	taskStates := []models.Task_State{models.Task_Pending, models.Task_Running, models.Task_Completed, models.Task_Resolving}
	for i := range r.IntN(10) {
		t := tsk(fmt.Sprintf("task-%d", i), taskStates[r.IntN(4)], onCell(cells[r.IntN(len(cells))]))
		t.CreatedAt, t.UpdatedAt, t.FirstCompletedAt = someTime(), someTime(), someTime()
		if r.IntN(2) == 0 {
			callback()(t)
		}
		s.Tasks = append(s.Tasks, t)
	}
	return s
}

type slot struct {
	guid  string
	index int32
}

func slotOf(k *models.ActualLRPKey) slot { return slot{k.GetProcessGuid(), k.GetIndex()} }

var _ = Describe("Decide: properties over random snapshots", func() {
	const runs = 3000

	It("never retires in a stale domain, never auctions a slot twice, and touches LRPs on present cells only by rule", func() {
		cfg := convergence.DefaultConfig()
		for seed := range uint64(runs) {
			r := rand.New(rand.NewPCG(seed, 42))
			s := randomSnapshot(r)
			before := cloneSnapshot(s)
			a := convergence.Decide(s, cfg)
			where := fmt.Sprintf("seed %d", seed)

			// The snapshot is only read, and the decision is deterministic.
			Expect(equalSnapshots(s, before)).To(BeTrue(), where)
			Expect(describe(convergence.Decide(s, cfg))).To(Equal(describe(a)), where)

			isFresh := func(domain string) bool { _, ok := s.FreshDomains[domain]; return ok }
			isPresent := func(cell string) bool { _, ok := s.Cells[cell]; return ok }
			desiredOf := map[string]*models.DesiredLRPSchedulingInfo{}
			for _, d := range s.DesiredLRPs {
				if _, dup := desiredOf[d.GetDesiredLrpKey().GetProcessGuid()]; !dup {
					desiredOf[d.GetDesiredLrpKey().GetProcessGuid()] = d
				}
			}

			// Never retire in a stale domain.
			for _, act := range a.Retire {
				Expect(isFresh(act.Actual.GetActualLrpKey().GetDomain())).To(BeTrue(), where)
			}
			for _, act := range a.RemoveSuspect {
				if act.Reason != convergence.ReasonReplacementRunning {
					Expect(isFresh(act.Actual.GetActualLrpKey().GetDomain())).To(BeTrue(), where)
				}
			}

			// Never auction a slot twice.
			auctioned := map[slot]bool{}
			for _, act := range a.Auctions() {
				Expect(auctioned).NotTo(HaveKey(slotOf(act.Key)), where)
				auctioned[slotOf(act.Key)] = true
				Expect(act.SchedulingInfo).NotTo(BeNil(), where)
			}

			// Each record is acted on at most once.
			touched := map[*models.ActualLRP]string{}
			lists := map[string][]convergence.LRPAction{
				"Reauction": a.Reauction, "SuspectAndReplace": a.SuspectAndReplace, "UnclaimAndAuction": a.UnclaimAndAuction, "RestartCrashed": a.RestartCrashed,
				"Retire": a.Retire, "RemoveEvacuating": a.RemoveEvacuating, "RemoveSuspect": a.RemoveSuspect, "PromoteSuspect": a.PromoteSuspect,
			}
			for list, acts := range lists {
				for _, act := range acts {
					Expect(act.Actual).NotTo(BeNil(), where)
					Expect(touched).NotTo(HaveKey(act.Actual), "%s: %s and %s", where, touched[act.Actual], list)
					touched[act.Actual] = list
				}
			}
			promotedSlot := map[slot]bool{}
			for _, act := range a.PromoteSuspect {
				promotedSlot[slotOf(act.Key)] = true
				if r := act.Replacement; r != nil {
					Expect(r.GetPresence()).To(Equal(models.ActualLRP_ORDINARY), where)
					Expect(slotOf(r.GetActualLrpKey())).To(Equal(slotOf(act.Key)), where)
					Expect(touched).NotTo(HaveKey(r), "%s: a promotion's replacement is also in %s", where, touched[r])
					touched[r] = "PromoteSuspect's replacement"
				}
			}

			// One SUSPECT per slot: a RUNNING instance becomes SUSPECT only in
			// a slot without one.
			for _, act := range a.SuspectAndReplace {
				Expect(act.Actual.GetState()).To(Equal(running), where)
				for _, rec := range allActuals(s) {
					if rec.GetPresence() == suspect {
						Expect(slotOf(rec.GetActualLrpKey())).NotTo(Equal(slotOf(act.Key)), where)
					}
				}
			}

			// An ORDINARY instance on a present cell is touched only by a rule
			// that applies to it regardless of its cell.
			for rec, list := range touched {
				if rec.GetPresence() != models.ActualLRP_ORDINARY || !isPresent(rec.GetActualLrpInstanceKey().GetCellId()) {
					continue
				}
				d := desiredOf[rec.GetActualLrpKey().GetProcessGuid()]
				idx := rec.GetActualLrpKey().GetIndex()
				switch list {
				case "Retire":
					Expect(isFresh(rec.GetActualLrpKey().GetDomain()) && (d == nil || idx < 0 || idx >= d.GetInstances())).To(BeTrue(), where)
				case "Reauction":
					Expect(rec.GetState()).To(Equal(unclaimed), where)
					Expect(now.Sub(time.Unix(0, rec.GetSince()))).To(BeNumerically(">", cfg.StaleUnclaimedLRP), where)
				case "RestartCrashed":
					Expect(rec.GetState()).To(Equal(crashed), where)
					Expect(cfg.RestartPolicy.ShouldRestart(now, time.Unix(0, rec.GetSince()), rec.GetCrashCount())).To(BeTrue(), where)
				case "PromoteSuspect's replacement":
					Expect(rec.GetState()).NotTo(Equal(running), "%s: a replacement running on a present cell is never removed", where)
				default:
					Fail(fmt.Sprintf("%s: %s touched an ORDINARY instance on present cell %q", where, list, rec.GetActualLrpInstanceKey().GetCellId()))
				}
			}

			// Every wanted slot has an ORDINARY record or is created.
			for guid, d := range desiredOf {
				for i := range d.GetInstances() {
					has := false
					for _, rec := range allActuals(s) {
						if rec.GetPresence() == models.ActualLRP_ORDINARY && slotOf(rec.GetActualLrpKey()) == (slot{guid, i}) {
							has = true
						}
					}
					if !has && !promotedSlot[slot{guid, i}] {
						Expect(auctioned).To(HaveKey(slot{guid, i}), where)
					}
				}
			}

			// Every claimed or running ORDINARY instance of a desired LRP on a
			// vanished cell is auctioned in this pass unless it is retired
			// (of two records of one slot, the first is the one acted on).
			firstOfSlot := map[slot]*models.ActualLRP{}
			for _, rec := range allActuals(s) {
				if _, ok := firstOfSlot[slotOf(rec.GetActualLrpKey())]; !ok && rec.GetPresence() == models.ActualLRP_ORDINARY {
					firstOfSlot[slotOf(rec.GetActualLrpKey())] = rec
				}
			}
			for _, rec := range allActuals(s) {
				if firstOfSlot[slotOf(rec.GetActualLrpKey())] != rec {
					continue
				}
				st := rec.GetState()
				if rec.GetPresence() != models.ActualLRP_ORDINARY || (st != claimed && st != running) ||
					isPresent(rec.GetActualLrpInstanceKey().GetCellId()) || desiredOf[rec.GetActualLrpKey().GetProcessGuid()] == nil {
					continue
				}
				Expect(auctioned[slotOf(rec.GetActualLrpKey())] || touched[rec] == "Retire" || promotedSlot[slotOf(rec.GetActualLrpKey())]).To(BeTrue(), where)
			}

			// Tasks: each at most once; failures carry upstream's reasons.
			seen := map[*models.Task]bool{}
			for _, acts := range [][]convergence.TaskAction{a.FailTasks, a.AuctionTasks, a.ResendCallbacks, a.DeleteTasks} {
				for _, act := range acts {
					Expect(seen).NotTo(HaveKey(act.Task), where)
					seen[act.Task] = true
				}
			}
			for _, act := range a.FailTasks {
				if act.Task.GetState() == models.Task_Running {
					Expect(act.Reason).To(Equal(convergence.TaskFailureCellVanished), where)
				}
			}
			for _, act := range a.ResendCallbacks {
				Expect(act.Task.GetTaskDefinition().GetCompletionCallbackUrl()).NotTo(BeEmpty(), where)
			}
		}
	})
})

func cloneSnapshot(s convergence.Snapshot) convergence.Snapshot {
	c := s
	c.DesiredLRPs, c.ActualLRPs, c.Orphans, c.Tasks = nil, nil, nil, nil
	for _, d := range s.DesiredLRPs {
		c.DesiredLRPs = append(c.DesiredLRPs, proto.Clone(d).(*models.DesiredLRPSchedulingInfo))
	}
	for _, g := range s.ActualLRPs {
		var cg []*models.ActualLRP
		for _, a := range g {
			cg = append(cg, proto.Clone(a).(*models.ActualLRP))
		}
		c.ActualLRPs = append(c.ActualLRPs, cg)
	}
	for _, a := range s.Orphans {
		c.Orphans = append(c.Orphans, proto.Clone(a).(*models.ActualLRP))
	}
	for _, t := range s.Tasks {
		c.Tasks = append(c.Tasks, proto.Clone(t).(*models.Task))
	}
	return c
}

func equalSnapshots(a, b convergence.Snapshot) bool {
	if len(a.DesiredLRPs) != len(b.DesiredLRPs) || len(a.ActualLRPs) != len(b.ActualLRPs) || len(a.Orphans) != len(b.Orphans) || len(a.Tasks) != len(b.Tasks) {
		return false
	}
	for i := range a.ActualLRPs {
		if len(a.ActualLRPs[i]) != len(b.ActualLRPs[i]) {
			return false
		}
	}
	for i := range a.DesiredLRPs {
		if !proto.Equal(a.DesiredLRPs[i], b.DesiredLRPs[i]) {
			return false
		}
	}
	aa, ba := allActuals(a), allActuals(b)
	for i := range aa {
		if !proto.Equal(aa[i], ba[i]) {
			return false
		}
	}
	for i := range a.Tasks {
		if !proto.Equal(a.Tasks[i], b.Tasks[i]) {
			return false
		}
	}
	return true
}
