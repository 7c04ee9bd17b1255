package models

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Event names, as they appear in the SSE "event:" field of the BBS streams.
const (
	EventTypeDesiredLRPCreated = "desired_lrp_created"
	EventTypeDesiredLRPChanged = "desired_lrp_changed"
	EventTypeDesiredLRPRemoved = "desired_lrp_removed"

	EventTypeActualLRPInstanceCreated = "actual_lrp_instance_created"
	EventTypeActualLRPInstanceChanged = "actual_lrp_instance_changed"
	EventTypeActualLRPInstanceRemoved = "actual_lrp_instance_removed"
	EventTypeActualLRPCrashed         = "actual_lrp_crashed"

	// The legacy group events of GET /v1/events.r1.
	EventTypeActualLRPCreated = "actual_lrp_created"
	EventTypeActualLRPChanged = "actual_lrp_changed"
	EventTypeActualLRPRemoved = "actual_lrp_removed"

	EventTypeTaskCreated = "task_created"
	EventTypeTaskChanged = "task_changed"
	EventTypeTaskRemoved = "task_removed"
)

// Event is one message of the BBS event streams: a protobuf message that
// knows its SSE event name and the key of the record it is about (a process
// guid, an instance guid or a task guid).
type Event interface {
	proto.Message
	EventType() string
	Key() string
}

// NewEventByType returns an empty event of the named type, for decoding, or
// an error naming the unknown type.
func NewEventByType(eventType string) (Event, error) {
	switch eventType {
	case EventTypeDesiredLRPCreated:
		return &DesiredLRPCreatedEvent{}, nil
	case EventTypeDesiredLRPChanged:
		return &DesiredLRPChangedEvent{}, nil
	case EventTypeDesiredLRPRemoved:
		return &DesiredLRPRemovedEvent{}, nil
	case EventTypeActualLRPInstanceCreated:
		return &ActualLRPInstanceCreatedEvent{}, nil
	case EventTypeActualLRPInstanceChanged:
		return &ActualLRPInstanceChangedEvent{}, nil
	case EventTypeActualLRPInstanceRemoved:
		return &ActualLRPInstanceRemovedEvent{}, nil
	case EventTypeActualLRPCrashed:
		return &ActualLRPCrashedEvent{}, nil
	case EventTypeActualLRPCreated:
		return &ActualLRPCreatedEvent{}, nil
	case EventTypeActualLRPChanged:
		return &ActualLRPChangedEvent{}, nil
	case EventTypeActualLRPRemoved:
		return &ActualLRPRemovedEvent{}, nil
	case EventTypeTaskCreated:
		return &TaskCreatedEvent{}, nil
	case EventTypeTaskChanged:
		return &TaskChangedEvent{}, nil
	case EventTypeTaskRemoved:
		return &TaskRemovedEvent{}, nil
	}
	return nil, fmt.Errorf("unknown event type %q", eventType)
}

// EventConcernsCell reports whether a stream filtered to cellID (an
// EventsByCellId request) carries e. An empty cellID is no filter. Desired
// LRP events concern every cell (upstream's lrp_instances.r1 stream passes
// them through its cell filter unchanged); an ActualLRP event concerns the
// cell of its instance key (for a change, the key after the change, or
// before it when the instance was unclaimed); a Task event concerns the
// Task's cell, before or after a change.
func EventConcernsCell(e Event, cellID string) bool {
	if cellID == "" {
		return true
	}
	switch x := e.(type) {
	case *DesiredLRPCreatedEvent, *DesiredLRPChangedEvent, *DesiredLRPRemovedEvent:
		return true
	case *ActualLRPInstanceCreatedEvent:
		return x.GetActualLrp().GetActualLrpInstanceKey().GetCellId() == cellID
	case *ActualLRPInstanceChangedEvent:
		return x.GetActualLrpInstanceKey().GetCellId() == cellID
	case *ActualLRPInstanceRemovedEvent:
		return x.GetActualLrp().GetActualLrpInstanceKey().GetCellId() == cellID
	case *ActualLRPCrashedEvent:
		return x.GetActualLrpInstanceKey().GetCellId() == cellID
	case *ActualLRPCreatedEvent:
		return groupCellID(x.GetActualLrpGroup()) == cellID
	case *ActualLRPChangedEvent:
		return groupCellID(x.GetBefore()) == cellID || groupCellID(x.GetAfter()) == cellID
	case *ActualLRPRemovedEvent:
		return groupCellID(x.GetActualLrpGroup()) == cellID
	case *TaskCreatedEvent:
		return x.GetTask().GetCellId() == cellID
	case *TaskChangedEvent:
		return x.GetBefore().GetCellId() == cellID || x.GetAfter().GetCellId() == cellID
	case *TaskRemovedEvent:
		return x.GetTask().GetCellId() == cellID
	}
	return false
}

// groupCellID is the cell of the instance a legacy client takes the group for.
func groupCellID(g *ActualLRPGroup) string {
	a, _ := g.Resolve()
	return a.GetActualLrpInstanceKey().GetCellId()
}

// NewDesiredLRPCreatedEvent reports a newly desired LRP.
func NewDesiredLRPCreatedEvent(d *DesiredLRP, traceID string) *DesiredLRPCreatedEvent {
	return &DesiredLRPCreatedEvent{DesiredLrp: d, TraceId: traceID}
}

// NewDesiredLRPChangedEvent reports an update of a desired LRP.
func NewDesiredLRPChangedEvent(before, after *DesiredLRP, traceID string) *DesiredLRPChangedEvent {
	return &DesiredLRPChangedEvent{Before: before, After: after, TraceId: traceID}
}

// NewDesiredLRPRemovedEvent reports a removed desired LRP.
func NewDesiredLRPRemovedEvent(d *DesiredLRP, traceID string) *DesiredLRPRemovedEvent {
	return &DesiredLRPRemovedEvent{DesiredLrp: d, TraceId: traceID}
}

// NewActualLRPInstanceCreatedEvent reports a new ActualLRP record.
func NewActualLRPInstanceCreatedEvent(a *ActualLRP, traceID string) *ActualLRPInstanceCreatedEvent {
	return &ActualLRPInstanceCreatedEvent{ActualLrp: a, TraceId: traceID}
}

// NewActualLRPInstanceChangedEvent reports a change of one ActualLRP record.
// The keys are after's, or before's where after's are empty (an unclaimed
// instance keeps the cell it left, so a cell-filtered stream sees it go).
func NewActualLRPInstanceChangedEvent(before, after *ActualLRP, traceID string) *ActualLRPInstanceChangedEvent {
	key := after.GetActualLrpKey()
	if key.GetProcessGuid() == "" {
		key = before.GetActualLrpKey()
	}
	instanceKey := after.GetActualLrpInstanceKey()
	if instanceKey.GetInstanceGuid() == "" && instanceKey.GetCellId() == "" {
		instanceKey = before.GetActualLrpInstanceKey()
	}
	return &ActualLRPInstanceChangedEvent{
		ActualLrpKey:         key,
		ActualLrpInstanceKey: instanceKey,
		Before:               infoOf(before),
		After:                infoOf(after),
		TraceId:              traceID,
	}
}

func infoOf(a *ActualLRP) *ActualLRPInfo {
	if a == nil {
		return nil
	}
	return a.Info()
}

// NewActualLRPInstanceRemovedEvent reports a removed ActualLRP record.
func NewActualLRPInstanceRemovedEvent(a *ActualLRP, traceID string) *ActualLRPInstanceRemovedEvent {
	return &ActualLRPInstanceRemovedEvent{ActualLrp: a, TraceId: traceID}
}

// NewActualLRPCrashedEvent reports a crash: the slot and the container that
// crashed (before's instance key) with the crash count, reason and time
// recorded in after.
func NewActualLRPCrashedEvent(before, after *ActualLRP) *ActualLRPCrashedEvent {
	return &ActualLRPCrashedEvent{
		ActualLrpKey:         after.GetActualLrpKey(),
		ActualLrpInstanceKey: before.GetActualLrpInstanceKey(),
		CrashCount:           after.GetCrashCount(),
		CrashReason:          after.GetCrashReason(),
		Since:                after.GetSince(),
	}
}

// NewTaskCreatedEvent reports a newly desired Task.
func NewTaskCreatedEvent(t *Task) *TaskCreatedEvent { return &TaskCreatedEvent{Task: t} }

// NewTaskChangedEvent reports a change of a Task.
func NewTaskChangedEvent(before, after *Task) *TaskChangedEvent {
	return &TaskChangedEvent{Before: before, After: after}
}

// NewTaskRemovedEvent reports a deleted Task.
func NewTaskRemovedEvent(t *Task) *TaskRemovedEvent { return &TaskRemovedEvent{Task: t} }

// EventType is "desired_lrp_created".
func (*DesiredLRPCreatedEvent) EventType() string { return EventTypeDesiredLRPCreated }

// Key is the process guid.
func (e *DesiredLRPCreatedEvent) Key() string { return e.GetDesiredLrp().GetProcessGuid() }

// EventType is "desired_lrp_changed".
func (*DesiredLRPChangedEvent) EventType() string { return EventTypeDesiredLRPChanged }

// Key is the process guid.
func (e *DesiredLRPChangedEvent) Key() string {
	if g := e.GetBefore().GetProcessGuid(); g != "" {
		return g
	}
	return e.GetAfter().GetProcessGuid()
}

// EventType is "desired_lrp_removed".
func (*DesiredLRPRemovedEvent) EventType() string { return EventTypeDesiredLRPRemoved }

// Key is the process guid.
func (e *DesiredLRPRemovedEvent) Key() string { return e.GetDesiredLrp().GetProcessGuid() }

// EventType is "actual_lrp_instance_created".
func (*ActualLRPInstanceCreatedEvent) EventType() string { return EventTypeActualLRPInstanceCreated }

// Key is the instance guid.
func (e *ActualLRPInstanceCreatedEvent) Key() string {
	return e.GetActualLrp().GetActualLrpInstanceKey().GetInstanceGuid()
}

// EventType is "actual_lrp_instance_changed".
func (*ActualLRPInstanceChangedEvent) EventType() string { return EventTypeActualLRPInstanceChanged }

// Key is the instance guid.
func (e *ActualLRPInstanceChangedEvent) Key() string {
	return e.GetActualLrpInstanceKey().GetInstanceGuid()
}

// EventType is "actual_lrp_instance_removed".
func (*ActualLRPInstanceRemovedEvent) EventType() string { return EventTypeActualLRPInstanceRemoved }

// Key is the instance guid.
func (e *ActualLRPInstanceRemovedEvent) Key() string {
	return e.GetActualLrp().GetActualLrpInstanceKey().GetInstanceGuid()
}

// EventType is "actual_lrp_crashed".
func (*ActualLRPCrashedEvent) EventType() string { return EventTypeActualLRPCrashed }

// Key is the instance guid of the container that crashed.
func (e *ActualLRPCrashedEvent) Key() string { return e.GetActualLrpInstanceKey().GetInstanceGuid() }

// EventType is "actual_lrp_created".
func (*ActualLRPCreatedEvent) EventType() string { return EventTypeActualLRPCreated }

// Key is the instance guid of the instance the group resolves to.
func (e *ActualLRPCreatedEvent) Key() string { return groupInstanceGuid(e.GetActualLrpGroup()) }

// EventType is "actual_lrp_changed".
func (*ActualLRPChangedEvent) EventType() string { return EventTypeActualLRPChanged }

// Key is the instance guid of the instance the group after the change resolves to.
func (e *ActualLRPChangedEvent) Key() string { return groupInstanceGuid(e.GetAfter()) }

// EventType is "actual_lrp_removed".
func (*ActualLRPRemovedEvent) EventType() string { return EventTypeActualLRPRemoved }

// Key is the instance guid of the instance the group resolves to.
func (e *ActualLRPRemovedEvent) Key() string { return groupInstanceGuid(e.GetActualLrpGroup()) }

func groupInstanceGuid(g *ActualLRPGroup) string {
	a, _ := g.Resolve()
	return a.GetActualLrpInstanceKey().GetInstanceGuid()
}

// EventType is "task_created".
func (*TaskCreatedEvent) EventType() string { return EventTypeTaskCreated }

// Key is the task guid.
func (e *TaskCreatedEvent) Key() string { return e.GetTask().GetTaskGuid() }

// EventType is "task_changed".
func (*TaskChangedEvent) EventType() string { return EventTypeTaskChanged }

// Key is the task guid.
func (e *TaskChangedEvent) Key() string {
	if g := e.GetBefore().GetTaskGuid(); g != "" {
		return g
	}
	return e.GetAfter().GetTaskGuid()
}

// EventType is "task_removed".
func (*TaskRemovedEvent) EventType() string { return EventTypeTaskRemoved }

// Key is the task guid.
func (e *TaskRemovedEvent) Key() string { return e.GetTask().GetTaskGuid() }
