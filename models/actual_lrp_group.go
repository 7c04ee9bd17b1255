package models

import (
	"slices"

	"google.golang.org/protobuf/proto"
)

// ActualLRPGroup is the ordinary (or suspect) instance or the evacuating one
// the record belongs in, as upstream's legacy group views place it.
func (a *ActualLRP) ActualLRPGroup() *ActualLRPGroup {
	if a == nil {
		return nil
	}
	if a.GetPresence() == ActualLRP_EVACUATING {
		return &ActualLRPGroup{Evacuating: a}
	}
	return &ActualLRPGroup{Instance: a}
}

// Resolve is the instance a legacy client takes the group for: the ordinary
// one when it is RUNNING or CRASHED or there is no evacuating one, else the
// evacuating one (evacuating reports true). An empty group resolves to nil.
func (g *ActualLRPGroup) Resolve() (a *ActualLRP, evacuating bool) {
	switch {
	case g.GetInstance() == nil && g.GetEvacuating() == nil:
		return nil, false
	case g.GetInstance() == nil:
		return g.GetEvacuating(), true
	case g.GetEvacuating() == nil:
		return g.GetInstance(), false
	case g.GetInstance().GetState() == ActualLRPStateRunning || g.GetInstance().GetState() == ActualLRPStateCrashed:
		return g.GetInstance(), false
	}
	return g.GetEvacuating(), true
}

// outranks reports whether a takes a group's instance place over b: an
// ordinary instance wins when RUNNING, or when CLAIMED over anything but a
// RUNNING or CLAIMED one; a suspect one wins when RUNNING or CLAIMED over
// anything not RUNNING.
func outranks(a, b *ActualLRP) bool {
	switch {
	case a == nil:
		return false
	case b == nil:
		return true
	}
	switch a.GetPresence() {
	case ActualLRP_ORDINARY:
		switch a.GetState() {
		case ActualLRPStateRunning:
			return true
		case ActualLRPStateClaimed:
			return b.GetState() != ActualLRPStateRunning && b.GetState() != ActualLRPStateClaimed
		}
	case ActualLRP_SUSPECT:
		switch a.GetState() {
		case ActualLRPStateRunning, ActualLRPStateClaimed:
			return b.GetState() != ActualLRPStateRunning
		}
	}
	return false
}

// ResolveActualLRPGroups folds records into one group per slot, in the
// order each slot first appears: the evacuating record in Evacuating, and
// of the ordinary and suspect ones the one that outranks the other in
// Instance.
func ResolveActualLRPGroups(lrps []*ActualLRP) []*ActualLRPGroup {
	type slot struct {
		guid  string
		index int32
	}
	groups := map[slot]*ActualLRPGroup{}
	var out []*ActualLRPGroup
	for _, a := range lrps {
		s := slot{a.GetActualLrpKey().GetProcessGuid(), a.GetActualLrpKey().GetIndex()}
		g := groups[s]
		if g == nil {
			g = &ActualLRPGroup{}
			groups[s] = g
			out = append(out, g)
		}
		if a.GetPresence() == ActualLRP_EVACUATING {
			g.Evacuating = a
		} else if outranks(a, g.Instance) {
			g.Instance = a
		}
	}
	return out
}

// ActualLRPGroupEvents are the legacy events of one record going from
// before to after (nil: absent), as the /v1/events.r1 stream carries them:
// created and removed for a record appearing or going; for a change, a
// created and a removed event when another container took over the slot
// (a suspect replaced), else a changed event. The crash itself is reported
// by the ActualLRPCrashedEvent the caller emits first.
func ActualLRPGroupEvents(before, after *ActualLRP) []Event {
	switch {
	case before == nil && after == nil:
		return nil
	case before == nil:
		return []Event{&ActualLRPCreatedEvent{ActualLrpGroup: after.ActualLRPGroup()}}
	case after == nil:
		return []Event{&ActualLRPRemovedEvent{ActualLrpGroup: before.ActualLRPGroup()}}
	case proto.Equal(before, after):
		return nil
	}
	switch after.GetState() {
	case ActualLRPStateClaimed, ActualLRPStateRunning:
		if bk := before.GetActualLrpInstanceKey(); !bk.Empty() && !bk.Equal(after.GetActualLrpInstanceKey()) {
			return []Event{
				&ActualLRPCreatedEvent{ActualLrpGroup: after.ActualLRPGroup()},
				&ActualLRPRemovedEvent{ActualLrpGroup: before.ActualLRPGroup()},
			}
		}
	}
	return []Event{&ActualLRPChangedEvent{Before: before.ActualLRPGroup(), After: after.ActualLRPGroup()}}
}

// OrderGroupEvents orders the legacy events of one change as upstream's stream sends them:
// crashes first, then the events that leave a RUNNING instance in a group, then the rest
// (removals, changes to other states), each kind in the order given.
func OrderGroupEvents(evs []Event) {
	slices.SortStableFunc(evs, func(a, b Event) int { return groupEventRank(b) - groupEventRank(a) })
}

func groupEventRank(e Event) int {
	var g *ActualLRPGroup
	switch x := e.(type) {
	case *ActualLRPCrashedEvent:
		return 2
	case *ActualLRPCreatedEvent:
		g = x.GetActualLrpGroup()
	case *ActualLRPChangedEvent:
		g = x.GetAfter()
	}
	if a, _ := g.Resolve(); a.GetState() == ActualLRPStateRunning {
		return 1
	}
	return 0
}
