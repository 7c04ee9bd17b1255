package convergence_test

import (
	"fmt"
	"time"

	"github.com/diego-go/diego/bbs/convergence"
	"github.com/diego-go/diego/models"
)

var now = time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)

const (
	fresh = "fresh-domain"
	stale = "stale-domain"
)

func ago(d time.Duration) int64 { return now.Add(-d).UnixNano() }

func desired(guid, domain string, instances int32) *models.DesiredLRPSchedulingInfo {
	return &models.DesiredLRPSchedulingInfo{
		DesiredLrpKey: &models.DesiredLRPKey{ProcessGuid: guid, Domain: domain},
		Instances:     instances,
	}
}

// lrp is an ActualLRP; options adjust it.
func lrp(guid, domain string, index int32, state, cell string, opts ...func(*models.ActualLRP)) *models.ActualLRP {
	a := &models.ActualLRP{
		ActualLrpKey: &models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: domain},
		State:        state,
		Since:        ago(time.Second),
	}
	if cell != "" {
		a.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("%s-%d-%s", guid, index, cell), CellId: cell}
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

func since(d time.Duration) func(*models.ActualLRP) {
	return func(a *models.ActualLRP) { a.Since = ago(d) }
}

func crashes(n int32) func(*models.ActualLRP) {
	return func(a *models.ActualLRP) { a.CrashCount = n }
}

func presence(p models.ActualLRP_Presence) func(*models.ActualLRP) {
	return func(a *models.ActualLRP) { a.Presence = p }
}

type taskOpt func(*models.Task)

func tsk(guid string, state models.Task_State, opts ...taskOpt) *models.Task {
	t := &models.Task{
		TaskGuid:       guid,
		Domain:         fresh,
		State:          state,
		CreatedAt:      ago(time.Second),
		UpdatedAt:      ago(time.Second),
		TaskDefinition: &models.TaskDefinition{RootFs: "preloaded:cflinuxfs4"},
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

func created(d time.Duration) taskOpt   { return func(t *models.Task) { t.CreatedAt = ago(d) } }
func updated(d time.Duration) taskOpt   { return func(t *models.Task) { t.UpdatedAt = ago(d) } }
func completed(d time.Duration) taskOpt { return func(t *models.Task) { t.FirstCompletedAt = ago(d) } }
func onCell(cell string) taskOpt        { return func(t *models.Task) { t.CellId = cell } }
func callback() taskOpt {
	return func(t *models.Task) { t.TaskDefinition.CompletionCallbackUrl = "http://cc/callback" }
}

// withLRPs sets s's desired LRPs (the first of a process guid rules) and
// groups the actual LRPs under them as the store lists them; those of other
// process guids become orphans. The order given is kept.
func withLRPs(s convergence.Snapshot, d []*models.DesiredLRPSchedulingInfo, actuals []*models.ActualLRP) convergence.Snapshot {
	at := map[string]int{}
	s.DesiredLRPs, s.ActualLRPs, s.Orphans = nil, nil, nil
	for _, info := range d {
		guid := info.GetDesiredLrpKey().GetProcessGuid()
		if _, dup := at[guid]; dup {
			continue
		}
		at[guid] = len(s.DesiredLRPs)
		s.DesiredLRPs = append(s.DesiredLRPs, info)
		s.ActualLRPs = append(s.ActualLRPs, nil)
	}
	for _, a := range actuals {
		if i, ok := at[a.GetActualLrpKey().GetProcessGuid()]; ok {
			s.ActualLRPs[i] = append(s.ActualLRPs[i], a)
		} else {
			s.Orphans = append(s.Orphans, a)
		}
	}
	return s
}

// allActuals lists every actual LRP of s: grouped ones, then orphans.
func allActuals(s convergence.Snapshot) []*models.ActualLRP {
	var out []*models.ActualLRP
	for _, g := range s.ActualLRPs {
		out = append(out, g...)
	}
	return append(out, s.Orphans...)
}

// describe renders every action as "List guid/index (reason)" or
// "List task-guid (reason)", for readable expectations.
func describe(a convergence.Actions) []string {
	out := []string{}
	lrps := func(list string, acts []convergence.LRPAction) {
		for _, act := range acts {
			out = append(out, fmt.Sprintf("%s %s/%d (%s)", list, act.Key.GetProcessGuid(), act.Key.GetIndex(), act.Reason))
		}
	}
	tasks := func(list string, acts []convergence.TaskAction) {
		for _, act := range acts {
			out = append(out, fmt.Sprintf("%s %s (%s)", list, act.Task.GetTaskGuid(), act.Reason))
		}
	}
	lrps("CreateAndAuction", a.CreateAndAuction)
	lrps("Reauction", a.Reauction)
	lrps("SuspectAndReplace", a.SuspectAndReplace)
	lrps("UnclaimAndAuction", a.UnclaimAndAuction)
	lrps("RestartCrashed", a.RestartCrashed)
	lrps("Retire", a.Retire)
	lrps("RemoveEvacuating", a.RemoveEvacuating)
	lrps("RemoveSuspect", a.RemoveSuspect)
	lrps("PromoteSuspect", a.PromoteSuspect)
	tasks("FailTasks", a.FailTasks)
	tasks("AuctionTasks", a.AuctionTasks)
	tasks("ResendCallbacks", a.ResendCallbacks)
	tasks("DeleteTasks", a.DeleteTasks)
	return out
}
