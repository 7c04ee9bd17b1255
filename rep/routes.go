package rep

import "net/url"

// The rep's API routes this project serves and calls (upstream's paths and methods), as
// net/http ServeMux patterns. Bodies are the JSON structs of models/rep.go.
const (
	// StateRoute answers the cell's models.CellState.
	StateRoute = "GET /state"
	// PerformRoute takes a models.Work and answers the models.Work the cell could not take.
	PerformRoute = "POST /work"
	// StopLRPInstanceRoute stops one instance; it answers 202 Accepted.
	StopLRPInstanceRoute = "POST /v1/lrps/{process_guid}/instances/{instance_guid}/stop"
	// CancelTaskRoute cancels a task; it answers 202 Accepted.
	CancelTaskRoute = "POST /v1/tasks/{task_guid}/cancel"
	// UpdateLRPInstanceRoute takes a models.LRPUpdate for a running instance; it answers 202
	// Accepted. UpdateLRPInstanceRouteR0 is its first revision, the same body.
	UpdateLRPInstanceRoute   = "PUT /v2/lrps/{process_guid}/instances/{instance_guid}"
	UpdateLRPInstanceRouteR0 = "PUT /v1/lrps/{process_guid}/instances/{instance_guid}"
	// ContainerMetricsRoute answers a models.ContainerMetricsCollection.
	ContainerMetricsRoute = "GET /container_metrics"
)

// The routes a rep serves only on its loopback listener (an operator's drain script calls them).
const (
	// PingRoute answers 200 while the rep runs.
	PingRoute = "GET /ping"
	// EvacuateRoute starts the cell's evacuation; it answers 202 Accepted with {"ping_path":"/ping"}.
	EvacuateRoute = "POST /evacuate"
)

// Paths of the routes, for a client.
const (
	StatePath            = "/state"
	PerformPath          = "/work"
	ContainerMetricsPath = "/container_metrics"
	PingPath             = "/ping"
	EvacuatePath         = "/evacuate"
)

// StopLRPInstancePath is the path of StopLRPInstanceRoute for one instance.
func StopLRPInstancePath(processGuid, instanceGuid string) string {
	return "/v1/lrps/" + url.PathEscape(processGuid) + "/instances/" + url.PathEscape(instanceGuid) + "/stop"
}

// CancelTaskPath is the path of CancelTaskRoute for one task.
func CancelTaskPath(taskGuid string) string {
	return "/v1/tasks/" + url.PathEscape(taskGuid) + "/cancel"
}

// UpdateLRPInstancePath is the path of UpdateLRPInstanceRoute for one instance.
func UpdateLRPInstancePath(processGuid, instanceGuid string) string {
	return "/v2/lrps/" + url.PathEscape(processGuid) + "/instances/" + url.PathEscape(instanceGuid)
}
