package models

// ActualLRP states.
const (
	ActualLRPStateUnclaimed = "UNCLAIMED"
	ActualLRPStateClaimed   = "CLAIMED"
	ActualLRPStateRunning   = "RUNNING"
	ActualLRPStateCrashed   = "CRASHED"
)

var actualLRPStates = []string{ActualLRPStateUnclaimed, ActualLRPStateClaimed, ActualLRPStateRunning, ActualLRPStateCrashed}

// Equal compares keys by value.
func (k *ActualLRPKey) Equal(o *ActualLRPKey) bool {
	return k.GetProcessGuid() == o.GetProcessGuid() && k.GetIndex() == o.GetIndex() && k.GetDomain() == o.GetDomain()
}

// Equal compares instance keys by value.
func (k *ActualLRPInstanceKey) Equal(o *ActualLRPInstanceKey) bool {
	return k.GetInstanceGuid() == o.GetInstanceGuid() && k.GetCellId() == o.GetCellId()
}

// AllowsTransitionTo reports whether the instance in slot key may move to
// newState on behalf of instanceKey. The rules keep one container per slot:
// a claim or a crash report from a container other than the one holding a
// CLAIMED or RUNNING slot is refused, as is starting over another running
// container; anything may give the slot back (UNCLAIMED). A CRASHED slot
// holds no instance (its instance key is empty), so no cell may claim or
// start it: it waits out the restart policy's backoff until the BBS
// unclaims it and auctions it again (as upstream), and a late or stale
// auction cannot cut the backoff short.
func (a *ActualLRP) AllowsTransitionTo(key *ActualLRPKey, instanceKey *ActualLRPInstanceKey, newState string) bool {
	if !a.GetActualLrpKey().Equal(key) {
		return false
	}
	sameInstance := a.GetActualLrpInstanceKey().Equal(instanceKey)
	switch a.GetState() {
	case ActualLRPStateUnclaimed:
		return newState == ActualLRPStateUnclaimed || newState == ActualLRPStateClaimed || newState == ActualLRPStateRunning
	case ActualLRPStateClaimed:
		switch newState {
		case ActualLRPStateUnclaimed, ActualLRPStateRunning:
			return true
		case ActualLRPStateClaimed, ActualLRPStateCrashed:
			return sameInstance
		}
	case ActualLRPStateRunning:
		switch newState {
		case ActualLRPStateUnclaimed:
			return true
		case ActualLRPStateRunning, ActualLRPStateCrashed:
			return sameInstance
		}
	case ActualLRPStateCrashed:
		return newState == ActualLRPStateUnclaimed
	}
	return false
}

// Info is the part of the instance that change events carry.
func (a *ActualLRP) Info() *ActualLRPInfo {
	return &ActualLRPInfo{
		ActualLrpNetInfo: a.GetActualLrpNetInfo(),
		CrashCount:       a.GetCrashCount(),
		CrashReason:      a.GetCrashReason(),
		State:            a.GetState(),
		PlacementError:   a.GetPlacementError(),
		Since:            a.GetSince(),
		ModificationTag:  a.GetModificationTag(),
		Presence:         a.GetPresence(),
		Routable:         a.Routable,
		AvailabilityZone: a.GetAvailabilityZone(),
	}
}
