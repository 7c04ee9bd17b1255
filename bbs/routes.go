package bbs

// The BBS's route paths: the client calls them and bbs/handlers serves them. They live here, not
// beside the handlers, so a user of the client links nothing of the server.
const (
	PingRoute = "/v1/ping"

	DomainsRoute      = "/v1/domains/list"
	UpsertDomainRoute = "/v1/domains/upsert"

	ActualLRPsRoute               = "/v1/actual_lrps/list"
	ActualLRPsByProcessGuidsRoute = "/v1/actual_lrps/list_by_process_guids"
	// The .r1 start and evacuate_running keep the internal routes and metric tags a cell
	// reports; the first revisions (no suffix) drop them, as upstream's do.
	StartActualLRPRouteR1             = "/v1/actual_lrps/start.r1"
	EvacuateRunningRouteR1            = "/v1/actual_lrps/evacuate_running.r1"
	ActualLRPGroupsRoute              = "/v1/actual_lrp_groups/list"
	ActualLRPGroupsByProcessGuidRoute = "/v1/actual_lrp_groups/list_by_process_guid"
	ActualLRPGroupRoute               = "/v1/actual_lrp_groups/get_by_process_guid_and_index"
	ClaimActualLRPRoute               = "/v1/actual_lrps/claim"
	StartActualLRPRoute               = "/v1/actual_lrps/start"
	CrashActualLRPRoute               = "/v1/actual_lrps/crash"
	FailActualLRPRoute                = "/v1/actual_lrps/fail"
	RemoveActualLRPRoute              = "/v1/actual_lrps/remove"
	RetireActualLRPRoute              = "/v1/actual_lrps/retire"
	EvacuateClaimedRoute              = "/v1/actual_lrps/evacuate_claimed"
	EvacuateCrashedRoute              = "/v1/actual_lrps/evacuate_crashed"
	EvacuateStoppedRoute              = "/v1/actual_lrps/evacuate_stopped"
	EvacuateRunningRoute              = "/v1/actual_lrps/evacuate_running"
	RemoveEvacuatingActualLRPRte      = "/v1/actual_lrps/remove_evacuating"

	DesiredLRPsRoute               = "/v1/desired_lrps/list.r3"
	DesiredLRPByProcessGuidRoute   = "/v1/desired_lrps/get_by_process_guid.r3"
	DesiredLRPSchedulingInfosRoute = "/v1/desired_lrp_scheduling_infos/list"
	// DesiredLRPSchedulingInfoRoute looks one scheduling info up by process guid.
	DesiredLRPSchedulingInfoRoute  = "/v1/desired_lrp_scheduling_infos/get_by_process_guid"
	DesiredLRPsRouteR2             = "/v1/desired_lrps/list.r2"
	DesiredLRPByProcessGuidRouteR2 = "/v1/desired_lrps/get_by_process_guid.r2"
	DesiredLRPRoutingInfosRoute    = "/v1/desired_lrp_routing_infos/list"
	DesireDesiredLRPRoute          = "/v1/desired_lrp/desire.r2"
	UpdateDesiredLRPRoute          = "/v1/desired_lrp/update"
	RemoveDesiredLRPRoute          = "/v1/desired_lrp/remove"

	TasksRoute         = "/v1/tasks/list.r3"
	TaskByGuidRoute    = "/v1/tasks/get_by_task_guid.r3"
	TasksRouteR2       = "/v1/tasks/list.r2"
	TaskByGuidRouteR2  = "/v1/tasks/get_by_task_guid.r2"
	DesireTaskRoute    = "/v1/tasks/desire.r2"
	StartTaskRoute     = "/v1/tasks/start"
	CancelTaskRoute    = "/v1/tasks/cancel"
	FailTaskRoute      = "/v1/tasks/fail"
	RejectTaskRoute    = "/v1/tasks/reject"
	CompleteTaskRoute  = "/v1/tasks/complete"
	ResolvingTaskRoute = "/v1/tasks/resolving"
	DeleteTaskRoute    = "/v1/tasks/delete"

	CellsRoute = "/v1/cells/list.r1"

	LRPInstanceEventsRoute = "/v1/events/lrp_instances.r1"
	TaskEventsRoute        = "/v1/events/tasks.r1"
	// LRPGroupEventsRoute is the legacy stream (GET, with an optional EventsByCellId body):
	// desired LRP events and ActualLRPGroup events.
	LRPGroupEventsRoute = "/v1/events.r1"
	// The first revisions of the three streams (upstream still serves them) send desired LRPs
	// and Tasks in their first shapes (models.FirstRevisionLRPEvent, FirstRevisionTaskEvent).
	LRPGroupEventsRouteR0    = "/v1/events"
	LRPInstanceEventsRouteR0 = "/v1/events/lrp_instances"
	TaskEventsRouteR0        = "/v1/events/tasks"

	// ConvergeRoute runs one convergence pass now (the converger calls it every interval).
	// Request: empty body; response: a message with the Error in field 1.
	ConvergeRoute = "/v1/converge"
)

// RequestIDHeader carries a request's id (upstream's clients send it); the events of the changes
// the request makes carry it as their trace_id.
const RequestIDHeader = "X-Vcap-Request-Id"
