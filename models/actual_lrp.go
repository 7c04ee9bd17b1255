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

// Empty reports whether the key names no container (an UNCLAIMED or
// CRASHED record's).
func (k *ActualLRPInstanceKey) Empty() bool {
	return k.GetInstanceGuid() == "" && k.GetCellId() == ""
}

// AllowsTransitionTo reports whether the instance in slot key may move to
// newState on behalf of instanceKey, by upstream's rules: an UNCLAIMED slot
// may become anything but CRASHED; a CLAIMED, RUNNING or CRASHED one goes
// back to UNCLAIMED only when asked with an empty instance key, and is
// claimed, started again or crashed only by the container holding it,
// except that any container may start a CLAIMED one. A CRASHED record holds
// no container (its key is empty), so no cell can claim or start it: it
// waits until the BBS unclaims it.
func (a *ActualLRP) AllowsTransitionTo(key *ActualLRPKey, instanceKey *ActualLRPInstanceKey, newState string) bool {
	if !a.GetActualLrpKey().Equal(key) {
		return false
	}
	same := a.GetActualLrpInstanceKey().Equal(instanceKey)
	switch a.GetState() {
	case ActualLRPStateUnclaimed:
		return newState == ActualLRPStateUnclaimed || newState == ActualLRPStateClaimed || newState == ActualLRPStateRunning
	case ActualLRPStateClaimed:
		switch newState {
		case ActualLRPStateUnclaimed:
			return instanceKey.Empty()
		case ActualLRPStateRunning:
			return true
		case ActualLRPStateClaimed, ActualLRPStateCrashed:
			return same
		}
	case ActualLRPStateRunning:
		switch newState {
		case ActualLRPStateUnclaimed:
			return instanceKey.Empty()
		case ActualLRPStateClaimed, ActualLRPStateRunning, ActualLRPStateCrashed:
			return same
		}
	case ActualLRPStateCrashed:
		switch newState {
		case ActualLRPStateUnclaimed:
			return instanceKey.Empty()
		case ActualLRPStateClaimed, ActualLRPStateRunning:
			return same
		}
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

// ActualLRP is the instance a change event's before or after describes (the inverse of Info);
// the fields change events leave out (metric tags, internal routes) are empty.
func (i *ActualLRPInfo) ActualLRP(key *ActualLRPKey, instanceKey *ActualLRPInstanceKey) *ActualLRP {
	if i == nil {
		return nil
	}
	return &ActualLRP{
		ActualLrpKey:         key,
		ActualLrpInstanceKey: instanceKey,
		ActualLrpNetInfo:     i.GetActualLrpNetInfo(),
		CrashCount:           i.GetCrashCount(),
		CrashReason:          i.GetCrashReason(),
		State:                i.GetState(),
		PlacementError:       i.GetPlacementError(),
		Since:                i.GetSince(),
		ModificationTag:      i.GetModificationTag(),
		Presence:             i.GetPresence(),
		Routable:             i.Routable,
		AvailabilityZone:     i.GetAvailabilityZone(),
	}
}
