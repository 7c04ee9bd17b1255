// Package convergence decides what one convergence pass must do, as a pure
// function of a snapshot of the BBS's state: no I/O, no clock, no
// randomness. The BBS reads a snapshot, calls Decide, and applies each
// action with a compare-and-swap against the record the action carries, so
// a record that changed since the snapshot is simply left for the next
// pass.
//
// The rules follow upstream Diego's convergence (bbs db/sqldb
// lrp_convergence.go and task_convergence.go): a RUNNING instance whose cell
// vanished becomes SUSPECT (still listed and routable) while a replacement
// is auctioned in the same pass; the SUSPECT goes once the replacement runs,
// or becomes ORDINARY again if its cell comes back first. Two deliberate
// differences: a CLAIMED instance of a vanished cell (nothing of it runs
// yet) is unclaimed and auctioned again rather than kept as a SUSPECT, and a
// RUNNING one whose slot already holds a SUSPECT is auctioned in the same
// pass rather than waiting an interval as a stale UNCLAIMED instance.
package convergence

import (
	"slices"
	"time"

	"github.com/diego-go/diego/models"
)

// Config holds the timings of the rules (DefaultConfig has upstream's).
type Config struct {
	// StaleUnclaimedLRP: an UNCLAIMED instance whose since is older than
	// this is auctioned again (the auction that should place it was lost).
	StaleUnclaimedLRP time.Duration
	// KickTask: a pending Task not updated for this long is auctioned
	// again; a completed Task not updated for this long has its callback
	// sent again (as has a Resolving one stuck for this long).
	KickTask time.Duration
	// ExpireCompletedTask: a completed (or stuck resolving) Task first
	// completed longer ago than this is deleted.
	ExpireCompletedTask time.Duration
	// ExpirePendingTask: a Task still pending this long after its creation
	// fails.
	ExpirePendingTask time.Duration
	// RestartPolicy decides when a CRASHED instance is started again.
	RestartPolicy models.RestartPolicy
}

// DefaultConfig is upstream's: 30 s, 30 s, 120 s, 30 min, and the default
// restart policy.
func DefaultConfig() Config {
	return Config{
		StaleUnclaimedLRP:   30 * time.Second,
		KickTask:            30 * time.Second,
		ExpireCompletedTask: 120 * time.Second,
		ExpirePendingTask:   30 * time.Minute,
		RestartPolicy:       models.DefaultRestartPolicy(),
	}
}

// Snapshot is the state one pass decides on. Sets are maps with empty
// values; a nil set is empty. The snapshot is only read.
type Snapshot struct {
	Now time.Time
	// FreshDomains are the domains whose desired state is complete; only
	// in them are instances ever retired.
	FreshDomains map[string]struct{}
	// DesiredLRPs are the desired LRPs, one per process guid, and
	// ActualLRPs[i] the actual LRPs of DesiredLRPs[i] (as the store's
	// db.ProcessLRPs lists them): grouped so that a pass over a quarter
	// of a million instances looks none up.
	DesiredLRPs []*models.DesiredLRPSchedulingInfo
	ActualLRPs  [][]*models.ActualLRP
	// Orphans are the actual LRPs of process guids that are not desired.
	Orphans []*models.ActualLRP
	// Cells are the ids of the cells present now. An empty set means no
	// cell is present: every claimed or running instance is then on a
	// vanished cell, so the caller must not pass an empty set when it
	// merely failed to list the cells.
	Cells map[string]struct{}
	Tasks []*models.Task
}

// Set builds a set for Snapshot.FreshDomains or Snapshot.Cells.
func Set(members ...string) map[string]struct{} {
	s := make(map[string]struct{}, len(members))
	for _, m := range members {
		s[m] = struct{}{}
	}
	return s
}

// Reasons, as carried by actions (for logs; a failed Task's reason is
// its failure_reason instead).
const (
	ReasonMissingInstance     = "missing instance"
	ReasonStaleUnclaimed      = "unclaimed longer than the re-auction timeout"
	ReasonCellVanished        = "cell vanished"
	ReasonCrashRestart        = "crashed; restart policy restarts it now"
	ReasonExtraIndex          = "index not below the desired instances"
	ReasonOrphaned            = "no desired LRP"
	ReasonReplacementRunning  = "replacement is running"
	ReasonCellPresentAgain    = "cell present again"
	ReasonSuspectHeldSlot     = "cell vanished; the slot's SUSPECT instance is kept instead"
	ReasonPendingTaskKick     = "pending longer than the kick timeout"
	ReasonCallbackKick        = "completed; callback not acknowledged within the kick timeout"
	ReasonResolvingStuck      = "resolving longer than the kick timeout"
	ReasonCompletedTaskExpiry = "completed longer than the expiry timeout"
	// TaskFailureNotStarted is the failure_reason of a Task that stayed
	// pending too long (upstream's words).
	TaskFailureNotStarted = "not started within time limit"

	// TaskFailureCellVanished is the failure_reason of a running Task
	// whose cell vanished (upstream's words; the cell is in the log line).
	TaskFailureCellVanished = "cell disappeared before completion"
)

// LRPAction is one decision about one instance slot.
type LRPAction struct {
	// Key is the slot: process guid, index, domain.
	Key *models.ActualLRPKey
	// Actual is the record as the snapshot holds it, for the
	// compare-and-swap; nil when the slot has no record yet
	// (CreateAndAuction).
	Actual *models.ActualLRP
	// SchedulingInfo is the desired LRP's, for the auction; nil for an
	// orphan.
	SchedulingInfo *models.DesiredLRPSchedulingInfo
	// Replacement, for PromoteSuspect only, is the slot's ORDINARY record
	// as the snapshot holds it (nil when there is none): the promotion
	// removes it, and only if it is still that record.
	Replacement *models.ActualLRP
	Reason      string
}

// TaskAction is one decision about one Task.
type TaskAction struct {
	Task *models.Task
	// Reason says why; for FailTasks it is the failure_reason to record.
	Reason string
}

// Actions is the outcome of one pass. Each ActualLRP record and each Task
// appears in at most one list, and each slot (process guid, index) in at
// most one of the four auction lists.
type Actions struct {
	// CreateAndAuction: an index below the desired instances has no
	// ORDINARY record. Create it UNCLAIMED and auction it.
	CreateAndAuction []LRPAction
	// Reauction: an ORDINARY UNCLAIMED instance older than
	// StaleUnclaimedLRP. Auction it again; the record stays as it is. A
	// younger one is still waiting for its first auction and is left alone.
	Reauction []LRPAction
	// SuspectAndReplace: an ORDINARY RUNNING instance whose cell is not
	// present, in a slot without a SUSPECT record. Make it SUSPECT (it stays
	// listed and routable), create an UNCLAIMED ORDINARY replacement and
	// auction it in this same pass.
	SuspectAndReplace []LRPAction
	// UnclaimAndAuction: an ORDINARY CLAIMED instance whose cell is not
	// present, or a RUNNING one whose slot already holds a SUSPECT record
	// (there is one SUSPECT per slot). Make it UNCLAIMED and auction it in
	// this same pass.
	UnclaimAndAuction []LRPAction
	// RestartCrashed: an ORDINARY CRASHED instance the restart policy
	// restarts now. Make it UNCLAIMED (keeping its crash count) and auction
	// it.
	RestartCrashed []LRPAction
	// Retire: an ORDINARY instance in a fresh domain whose index is not
	// below the desired instances, or whose desired LRP is gone. Stop it
	// (or remove the record when no cell runs it).
	Retire []LRPAction
	// RemoveEvacuating: an EVACUATING instance whose cell is not present.
	RemoveEvacuating []LRPAction
	// RemoveSuspect: a SUSPECT instance whose ORDINARY replacement is
	// RUNNING on a present cell, or, in a fresh domain, one whose index is
	// extra or whose desired LRP is gone.
	RemoveSuspect []LRPAction
	// PromoteSuspect: a SUSPECT instance whose cell is present again (and
	// whose replacement is not RUNNING on a present cell). Make it ORDINARY
	// again, removing the replacement (Replacement); the replacement gets no
	// other action, nor is a missing one created.
	PromoteSuspect []LRPAction

	// FailTasks: a pending Task older than ExpirePendingTask, or a running
	// Task whose cell is not present. Complete it as failed with Reason.
	FailTasks []TaskAction
	// AuctionTasks: a pending Task not updated for KickTask. Auction it
	// again.
	AuctionTasks []TaskAction
	// ResendCallbacks: a Task with a completion callback URL that is
	// completed and not updated for KickTask, or resolving and stuck for
	// KickTask. (Re)send its callback, resolving it first.
	ResendCallbacks []TaskAction
	// DeleteTasks: a completed Task, or a resolving one stuck for KickTask,
	// first completed longer ago than ExpireCompletedTask.
	DeleteTasks []TaskAction

	// VanishedCells are the ids of cells named by an instance or a running
	// Task but not present, sorted; for the log line.
	VanishedCells []string

	// Stats counts the snapshot, for the BBS's gauges.
	Stats Stats
}

// Stats are the counts upstream's BBS reports after each pass (its
// LRPsDesired, LRPsRunning, ..., TasksPending, ... metrics), taken from the
// snapshot the pass decided on.
type Stats struct {
	// LRPsDesired is the sum of the desired LRPs' instances.
	LRPsDesired int
	// ORDINARY instances by state.
	LRPsUnclaimed, LRPsClaimed, LRPsRunning, LRPsCrashed int
	// CrashingDesiredLRPs is how many desired LRPs have a CRASHED ORDINARY
	// instance (orphans included, as upstream counts by process guid).
	CrashingDesiredLRPs int
	// LRPsMissing: slots this pass creates; LRPsExtra: instances it retires.
	LRPsMissing, LRPsExtra int
	// SUSPECT instances by state (upstream's SuspectRunningActualLRPs and
	// SuspectClaimedActualLRPs).
	SuspectRunningLRPs, SuspectClaimedLRPs int
	// Tasks by state.
	TasksPending, TasksRunning, TasksCompleted, TasksResolving int
	// PresentCells is the number of cells present; SuspectCells the number
	// named by an instance or a running Task but not present.
	PresentCells, SuspectCells int
}

// Auctions lists the slots this pass auctions, in the order
// CreateAndAuction, Reauction, SuspectAndReplace, UnclaimAndAuction,
// RestartCrashed.
func (a *Actions) Auctions() []LRPAction {
	out := make([]LRPAction, 0, len(a.CreateAndAuction)+len(a.Reauction)+len(a.SuspectAndReplace)+len(a.UnclaimAndAuction)+len(a.RestartCrashed))
	out = append(out, a.CreateAndAuction...)
	out = append(out, a.Reauction...)
	out = append(out, a.SuspectAndReplace...)
	out = append(out, a.UnclaimAndAuction...)
	return append(out, a.RestartCrashed...)
}

// Counts is the length of every list, by the field's name, for logs and
// metrics.
func (a *Actions) Counts() map[string]int {
	return map[string]int{
		"CreateAndAuction":  len(a.CreateAndAuction),
		"Reauction":         len(a.Reauction),
		"SuspectAndReplace": len(a.SuspectAndReplace),
		"UnclaimAndAuction": len(a.UnclaimAndAuction),
		"RestartCrashed":    len(a.RestartCrashed),
		"Retire":            len(a.Retire),
		"RemoveEvacuating":  len(a.RemoveEvacuating),
		"RemoveSuspect":     len(a.RemoveSuspect),
		"PromoteSuspect":    len(a.PromoteSuspect),
		"FailTasks":         len(a.FailTasks),
		"AuctionTasks":      len(a.AuctionTasks),
		"ResendCallbacks":   len(a.ResendCallbacks),
		"DeleteTasks":       len(a.DeleteTasks),
	}
}

// Decide computes the actions of one pass over s. Actions come out in the
// order of the snapshot's slices (desired LRPs, then within each its
// missing indices in ascending order and its actual LRPs in snapshot order;
// then orphans; then Tasks), so the same snapshot always gives the same
// Actions.
func Decide(s Snapshot, c Config) Actions {
	d := decider{s: s, c: c, now: s.Now.UnixNano()}
	d.lrps()
	d.tasks()
	if len(d.vanished) > 0 {
		d.out.VanishedCells = make([]string, 0, len(d.vanished))
		for id := range d.vanished {
			d.out.VanishedCells = append(d.out.VanishedCells, id)
		}
		slices.Sort(d.out.VanishedCells)
	}
	st := &d.out.Stats
	st.LRPsMissing, st.LRPsExtra = len(d.out.CreateAndAuction), len(d.out.Retire)
	st.PresentCells, st.SuspectCells = len(s.Cells), len(d.out.VanishedCells)
	return d.out
}

type decider struct {
	s        Snapshot
	c        Config
	now      int64
	out      Actions
	vanished map[string]struct{}
}

func (d *decider) present(cellID string) bool {
	if _, ok := d.s.Cells[cellID]; ok {
		return true
	}
	if d.vanished == nil {
		d.vanished = map[string]struct{}{}
	}
	d.vanished[cellID] = struct{}{}
	return false
}

func (d *decider) fresh(domain string) bool {
	_, ok := d.s.FreshDomains[domain]
	return ok
}

// olderThan reports whether the instant at unix nanoseconds t lies more
// than age before now (upstream's strict "since < now - age").
func (d *decider) olderThan(t int64, age time.Duration) bool {
	return t < d.now-int64(age)
}

// countActual adds an actual LRP to the stats and reports whether it is
// an ORDINARY CRASHED one.
func (d *decider) countActual(a *models.ActualLRP) (crashed bool) {
	st := &d.out.Stats
	switch a.GetPresence() {
	case models.ActualLRP_ORDINARY:
		switch a.GetState() {
		case models.ActualLRPStateUnclaimed:
			st.LRPsUnclaimed++
		case models.ActualLRPStateClaimed:
			st.LRPsClaimed++
		case models.ActualLRPStateRunning:
			st.LRPsRunning++
		case models.ActualLRPStateCrashed:
			st.LRPsCrashed++
			return true
		}
	case models.ActualLRP_SUSPECT:
		switch a.GetState() {
		case models.ActualLRPStateRunning:
			st.SuspectRunningLRPs++
		case models.ActualLRPStateClaimed:
			st.SuspectClaimedLRPs++
		}
	}
	return false
}

func (d *decider) lrps() {
	var ordinary []*models.ActualLRP // scratch: ORDINARY record by index below instances
	for i, info := range d.s.DesiredLRPs {
		d.out.Stats.LRPsDesired += int(info.GetInstances())
		var group []*models.ActualLRP
		if i < len(d.s.ActualLRPs) {
			group = d.s.ActualLRPs[i]
		}
		n := max(int(info.GetInstances()), 0)
		if cap(ordinary) < n {
			ordinary = make([]*models.ActualLRP, n)
		}
		ordinary = ordinary[:n]
		clear(ordinary)
		d.desiredLRP(info, group, ordinary)
	}
	var crashing map[string]struct{} // orphans' process guids with a CRASHED instance
	for _, a := range d.s.Orphans {
		if d.countActual(a) {
			if crashing == nil {
				crashing = map[string]struct{}{}
			}
			crashing[a.GetActualLrpKey().GetProcessGuid()] = struct{}{}
		}
		d.orphan(a)
	}
	d.out.Stats.CrashingDesiredLRPs += len(crashing)
}

// slots indexes one desired LRP's actual LRPs: the first ORDINARY and the
// first SUSPECT record of each index (the ones acted on).
type slots struct {
	ordinary []*models.ActualLRP         // by index below the desired instances
	extras   map[int32]*models.ActualLRP // ORDINARY by any other index
	suspects map[int32]*models.ActualLRP // SUSPECT by index; nil when none
}

func (s *slots) firstOrdinary(i int32) *models.ActualLRP {
	if i >= 0 && i < int32(len(s.ordinary)) {
		return s.ordinary[i]
	}
	return s.extras[i]
}

// suspectFate is what becomes of the SUSPECT record s of a slot.
type suspectFate int

const (
	suspectKept suspectFate = iota
	suspectRemovedExtra
	suspectRemovedReplaced
	suspectPromoted
)

// fateOf decides about the SUSPECT record s of slot index: its replacement
// (the slot's ORDINARY record) running on a present cell supersedes it;
// else its own cell present again makes it ORDINARY again.
func (d *decider) fateOf(sl *slots, s *models.ActualLRP, extraInFresh bool) suspectFate {
	if extraInFresh {
		return suspectRemovedExtra
	}
	o := sl.firstOrdinary(s.GetActualLrpKey().GetIndex())
	if o.GetState() == models.ActualLRPStateRunning && d.present(o.GetActualLrpInstanceKey().GetCellId()) {
		return suspectRemovedReplaced
	}
	if d.present(s.GetActualLrpInstanceKey().GetCellId()) {
		return suspectPromoted
	}
	return suspectKept
}

// desiredLRP decides about one desired LRP and its actual LRPs.
func (d *decider) desiredLRP(info *models.DesiredLRPSchedulingInfo, group, ordinary []*models.ActualLRP) {
	key := info.GetDesiredLrpKey()
	n := int32(len(ordinary))
	// the domain is read only for an extra index: most passes never need it,
	// and touching every desired LRP's key costs a cache miss each
	extraInFresh := func(i int32) bool { return (i < 0 || i >= n) && d.fresh(key.GetDomain()) }

	// Index the slots first: missing indices and a SUSPECT's fate depend
	// only on which records a slot holds.
	sl := slots{ordinary: ordinary}
	crashing := false
	for _, a := range group {
		crashing = d.countActual(a) || crashing
		i := a.GetActualLrpKey().GetIndex()
		switch a.GetPresence() {
		case models.ActualLRP_ORDINARY:
			if i >= 0 && i < n {
				if ordinary[i] == nil {
					ordinary[i] = a
				}
				continue
			}
			if sl.extras == nil {
				sl.extras = map[int32]*models.ActualLRP{}
			}
			if _, seen := sl.extras[i]; !seen {
				sl.extras[i] = a
			}
		case models.ActualLRP_SUSPECT:
			if sl.suspects == nil {
				sl.suspects = map[int32]*models.ActualLRP{}
			}
			if _, seen := sl.suspects[i]; !seen {
				sl.suspects[i] = a
			}
		}
	}
	if crashing {
		d.out.Stats.CrashingDesiredLRPs++
	}
	// promoted reports whether slot i's SUSPECT becomes ORDINARY again this
	// pass, which removes the slot's ORDINARY record.
	promoted := func(i int32) bool {
		s := sl.suspects[i]
		return s != nil && d.fateOf(&sl, s, extraInFresh(i)) == suspectPromoted
	}
	for i, a := range ordinary {
		if a == nil && !promoted(int32(i)) {
			d.out.CreateAndAuction = append(d.out.CreateAndAuction, LRPAction{
				Key:            &models.ActualLRPKey{ProcessGuid: key.GetProcessGuid(), Index: int32(i), Domain: key.GetDomain()},
				SchedulingInfo: info,
				Reason:         ReasonMissingInstance,
			})
		}
	}

	for _, a := range group {
		index := a.GetActualLrpKey().GetIndex()
		act := LRPAction{Key: a.GetActualLrpKey(), Actual: a, SchedulingInfo: info}
		switch a.GetPresence() {
		case models.ActualLRP_EVACUATING:
			if !d.present(a.GetActualLrpInstanceKey().GetCellId()) {
				act.Reason = ReasonCellVanished
				d.out.RemoveEvacuating = append(d.out.RemoveEvacuating, act)
			}
		case models.ActualLRP_SUSPECT:
			if sl.suspects[index] != a {
				continue // a second SUSPECT record for one slot: never acted on twice
			}
			switch d.fateOf(&sl, a, extraInFresh(index)) {
			case suspectRemovedExtra:
				act.Reason = ReasonExtraIndex
				d.out.RemoveSuspect = append(d.out.RemoveSuspect, act)
			case suspectRemovedReplaced:
				act.Reason = ReasonReplacementRunning
				d.out.RemoveSuspect = append(d.out.RemoveSuspect, act)
			case suspectPromoted:
				act.Reason = ReasonCellPresentAgain
				act.Replacement = sl.firstOrdinary(index)
				d.out.PromoteSuspect = append(d.out.PromoteSuspect, act)
			}
		default: // ORDINARY
			if sl.firstOrdinary(index) != a {
				continue // a second ORDINARY record for one slot: never acted on twice
			}
			if extraInFresh(index) {
				act.Reason = ReasonExtraIndex
				d.out.Retire = append(d.out.Retire, act)
				continue
			}
			if promoted(index) {
				continue // the promotion removes it
			}
			// In a stale domain an extra index is cared for like a wanted one
			// (upstream): its desired instance count may be out of date.
			switch a.GetState() {
			case models.ActualLRPStateUnclaimed:
				if d.olderThan(a.GetSince(), d.c.StaleUnclaimedLRP) {
					act.Reason = ReasonStaleUnclaimed
					d.out.Reauction = append(d.out.Reauction, act)
				}
			case models.ActualLRPStateClaimed, models.ActualLRPStateRunning:
				if d.present(a.GetActualLrpInstanceKey().GetCellId()) {
					continue
				}
				switch {
				case a.GetState() == models.ActualLRPStateClaimed:
					act.Reason = ReasonCellVanished
					d.out.UnclaimAndAuction = append(d.out.UnclaimAndAuction, act)
				case sl.suspects[index] != nil:
					act.Reason = ReasonSuspectHeldSlot
					d.out.UnclaimAndAuction = append(d.out.UnclaimAndAuction, act)
				default:
					act.Reason = ReasonCellVanished
					d.out.SuspectAndReplace = append(d.out.SuspectAndReplace, act)
				}
			case models.ActualLRPStateCrashed:
				if d.c.RestartPolicy.ShouldRestart(d.s.Now, time.Unix(0, a.GetSince()), a.GetCrashCount()) {
					act.Reason = ReasonCrashRestart
					d.out.RestartCrashed = append(d.out.RestartCrashed, act)
				}
			}
		}
	}
}

// orphan decides about an actual LRP whose desired LRP is gone: retired in
// a fresh domain, left alone in a stale one (nothing to auction it with),
// except that an EVACUATING one on a vanished cell is always removed.
func (d *decider) orphan(a *models.ActualLRP) {
	act := LRPAction{Key: a.GetActualLrpKey(), Actual: a, Reason: ReasonOrphaned}
	fresh := d.fresh(a.GetActualLrpKey().GetDomain())
	switch a.GetPresence() {
	case models.ActualLRP_EVACUATING:
		if !d.present(a.GetActualLrpInstanceKey().GetCellId()) {
			act.Reason = ReasonCellVanished
			d.out.RemoveEvacuating = append(d.out.RemoveEvacuating, act)
		}
	case models.ActualLRP_SUSPECT:
		if fresh {
			d.out.RemoveSuspect = append(d.out.RemoveSuspect, act)
		}
	default:
		if fresh {
			d.out.Retire = append(d.out.Retire, act)
		}
	}
}

func (d *decider) tasks() {
	c := d.c
	st := &d.out.Stats
	for _, t := range d.s.Tasks {
		switch t.GetState() {
		case models.Task_Pending:
			st.TasksPending++
			switch {
			case d.olderThan(t.GetCreatedAt(), c.ExpirePendingTask):
				d.out.FailTasks = append(d.out.FailTasks, TaskAction{Task: t, Reason: TaskFailureNotStarted})
			case d.olderThan(t.GetUpdatedAt(), c.KickTask):
				d.out.AuctionTasks = append(d.out.AuctionTasks, TaskAction{Task: t, Reason: ReasonPendingTaskKick})
			}
		case models.Task_Running:
			st.TasksRunning++
			if !d.present(t.GetCellId()) {
				d.out.FailTasks = append(d.out.FailTasks, TaskAction{Task: t, Reason: TaskFailureCellVanished})
			}
		case models.Task_Completed:
			st.TasksCompleted++
			switch {
			case d.olderThan(firstCompleted(t), c.ExpireCompletedTask):
				d.out.DeleteTasks = append(d.out.DeleteTasks, TaskAction{Task: t, Reason: ReasonCompletedTaskExpiry})
			case t.GetTaskDefinition().GetCompletionCallbackUrl() != "" && d.olderThan(t.GetUpdatedAt(), c.KickTask):
				d.out.ResendCallbacks = append(d.out.ResendCallbacks, TaskAction{Task: t, Reason: ReasonCallbackKick})
			}
		case models.Task_Resolving:
			st.TasksResolving++
			// Someone is resolving it (sending the callback, or a client
			// that will delete it); only once that is stuck does
			// convergence step in.
			if !d.olderThan(t.GetUpdatedAt(), c.KickTask) {
				continue
			}
			switch {
			case d.olderThan(firstCompleted(t), c.ExpireCompletedTask):
				d.out.DeleteTasks = append(d.out.DeleteTasks, TaskAction{Task: t, Reason: ReasonCompletedTaskExpiry})
			case t.GetTaskDefinition().GetCompletionCallbackUrl() != "":
				d.out.ResendCallbacks = append(d.out.ResendCallbacks, TaskAction{Task: t, Reason: ReasonResolvingStuck})
			}
		}
	}
}

// firstCompleted is when the Task first completed, or its last update
// for a record that never recorded it.
func firstCompleted(t *models.Task) int64 {
	if at := t.GetFirstCompletedAt(); at != 0 {
		return at
	}
	return t.GetUpdatedAt()
}
