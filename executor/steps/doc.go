// Package steps runs a container's actions (models.Action) as a tree of steps, and its health
// monitoring, the way upstream's executor does.
//
// Every action kind has a step: Download (through the cell's cache, streamed into the container
// as the action's user), Upload (a file streamed out of the container and POSTed to the URL),
// Run, Timeout, Try, EmitProgress, Serial, Parallel and Codependent, nested to any depth.
// Cancelling a step's context reaches every step still running: a Run step sends its process
// SIGTERM, then SIGKILL after the grace period (RunInfo.GracePeriod, else the cell's).
//
// Health, as upstream. With neither a monitor nor a CheckDefinition the instance is running as
// soon as its processes start, and any exit ends the run step. With a Monitor action or checks
// it is running once they pass; the action exiting non-zero fails it at once, exiting 0 does
// not. TCP and HTTP checks run inside the container as cmd/healthcheck's binary (at
// Deps.HealthCheckPath; with none, the Monitor action is used instead): one process per check loops until the instance is healthy (the
// unhealthy interval; start_timeout_ms 0 never gives up), then one per check loops until it
// fails (the check's interval_ms, else the healthy interval). A failing check's own output is
// the crash reason ("Instance never healthy after 1.002s: ...", "Instance became unhealthy:
// Liveness check unsuccessful: ..."). Readiness checks only report readiness changes.
//
// Process ids. A Run step's garden process id is ProcessIDPrefix and its position in the tree:
// "<guid>-action", "<guid>-action-1-0" (first child of the second child), "<guid>-sidecar-0",
// "<guid>-setup"; the checks' are "<guid>-startup-healthcheck-N" and
// "<guid>-liveness-healthcheck-N" as upstream's. Processes that repeat (a Monitor action's runs,
// readiness checks) get fresh ids each time.
//
// Adopt mode (Deps.Adopt: the executor restarted and the container kept running). The setup
// runs first in the run step, and Build returns no setup step: the earlier executor may have died
// during the setup, so it is only skipped when a process of the action or a sidecar still runs
// (as a serial step resumes, below). A Run step first attaches to the process of its id (its output goes to the log
// stream again; garden replays what it still holds) and starts a new one only when garden has
// none of that id and the container's properties do not mark it started (StartedProperty, set
// before every process of the setup, the action and the sidecars starts). A process marked
// started that garden no longer knows (garden forgets exited processes after a while) is never
// run again: the step fails with ReasonExitedWhileAway, as its outcome is lost and a Task must not
// run twice. A Serial step resumes at its last child that has a process started and skips the
// children before it: a serial step only starts a child after the ones before it succeeded, so
// those Downloads already put their files in place, and downloading them again would overwrite
// files the running process uses. When no child has a process started (the serial step had not
// got that far) it runs from the start, its Downloads included, which is what the earlier
// executor would have done. Readiness check processes left by the earlier executor are killed
// and started afresh.
package steps
