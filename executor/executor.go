// Package executor runs containers and the actions inside them on one cell. It knows containers,
// resources and actions (models.Action, models.CheckDefinition), never LRPs or Tasks: the rep
// turns those into a RunInfo and reads back State, RunResult and events.
//
// A container moves reserved -> initializing -> created -> running -> completed. Reserved is an
// allocation of the cell's capacity only; RunContainer starts the rest. Every failure lands in
// completed with RunResult.Failed and the reason in upstream's words.
package executor

import (
	"context"
	"errors"
	"time"

	"github.com/diego-go/diego/models"
)

// State is where a container is in its lifecycle.
type State string

const (
	StateReserved     State = "reserved"
	StateInitializing State = "initializing"
	StateCreated      State = "created"
	StateRunning      State = "running"
	StateCompleted    State = "completed"
)

var (
	ErrContainerNotFound         = errors.New("container not found")
	ErrContainerGuidNotAvailable = errors.New("container guid not available")
	ErrInvalidTransition         = errors.New("invalid state transition")
	// ErrInsufficientResources is wrapped by the reason of an allocation that does not fit, which
	// names what ran out: "insufficient resources: memory", "... : disk", "... : containers".
	ErrInsufficientResources = errors.New("insufficient resources")
	ErrNotHealthy            = errors.New("executor is not healthy")
)

// Resource is what one container asks of the cell.
type Resource struct {
	MemoryMB int
	DiskMB   int
	MaxPids  int // 0 = unlimited
}

// Resources is a cell's capacity (total or remaining).
type Resources struct {
	MemoryMB   int
	DiskMB     int
	Containers int
}

// Tags are the rep's labels on a container (its kind, process or task guid, index, domain ...);
// the executor stores and returns them and filters ListContainers by them, nothing else.
type Tags map[string]string

type AllocationRequest struct {
	Guid     string
	Resource Resource
	Tags     Tags
}

type AllocationFailure struct {
	AllocationRequest
	Reason string
	// Err is the failure itself, for errors.Is (ErrInsufficientResources,
	// ErrContainerGuidNotAvailable); Reason is its text.
	Err error
}

// PortMapping: ContainerPort is asked for; HostPort is filled in once the container exists.
type PortMapping struct {
	ContainerPort uint32
	HostPort      uint32
}

// CachedDependency is downloaded through the cell's cache and bind-mounted read-only at To
// before the container is created.
type CachedDependency struct {
	Name              string
	From              string
	To                string
	CacheKey          string
	LogSource         string
	ChecksumAlgorithm string
	ChecksumValue     string
}

// LogConfig says where a container's output goes: Guid is the log guid, Index the instance
// index, SourceName the default source ("APP/PROC/WEB" for LRPs, "TASK" for tasks), Tags extra
// tags on every message. BytesPerSecond > 0 limits this container's log bytes per second.
type LogConfig struct {
	Guid           string
	Index          int
	SourceName     string
	Tags           map[string]string
	BytesPerSecond int64
}

type MetricsConfig struct {
	Guid  string
	Index int
	Tags  map[string]string
}

// Sidecar runs beside the main action for the container's whole life; its exit crashes the
// container as the action's would. Its memory and disk are part of the container's Resource.
type Sidecar struct {
	Action   *models.Action
	MemoryMB int
	DiskMB   int
}

type EnvironmentVariable struct {
	Name  string
	Value string
}

// RunInfo is everything needed to create and run a container. The rep fills it from a
// DesiredLRP or a Task; the executor adds the instance's network variables (CF_INSTANCE_IP,
// CF_INSTANCE_INTERNAL_IP, CF_INSTANCE_PORT, CF_INSTANCE_ADDR, CF_INSTANCE_PORTS) and the
// identity variables (CF_INSTANCE_CERT, CF_INSTANCE_KEY, CF_SYSTEM_CERT_PATH) itself.
type RunInfo struct {
	RootFSPath         string // preloaded:STACK, preloaded+layer:STACK?layer=..., docker:///image#tag
	ImageUsername      string
	ImagePassword      string
	CPUWeight          uint32
	Privileged         bool
	Ports              []PortMapping
	LogConfig          LogConfig
	MetricsConfig      MetricsConfig
	StartTimeoutMs     uint32 // 0 = never time out
	CachedDependencies []CachedDependency
	Setup              *models.Action
	Action             *models.Action
	Monitor            *models.Action
	CheckDefinition    *models.CheckDefinition
	Sidecars           []Sidecar
	EgressRules        []*models.SecurityGroupRule
	Env                []EnvironmentVariable
	// TrustedSystemCertificatesPath is where the cell's trusted CA certificates are mounted in the
	// container (the LRP's or Task's trusted_system_certificates_path); "" mounts none. It is named
	// in CF_SYSTEM_CERT_PATH.
	TrustedSystemCertificatesPath string
	// CertificateOrganizationalUnits go into the instance identity certificate's subject.
	CertificateOrganizationalUnits []string
	// GracePeriod between SIGTERM and SIGKILL when the container is stopped; 0 = the cell's.
	GracePeriod time.Duration
	// ResultFile is read (at most 10 KiB) when the action completes successfully and returned
	// in RunResult.Result.
	ResultFile string
}

// RunResult is how a container ended. Stopped is true when StopContainer ended it (not a crash).
type RunResult struct {
	Failed        bool
	FailureReason string
	Stopped       bool
	// Retryable: the failure came before the action's process ran (container creation, a
	// download, a mount), so the work may be placed again.
	Retryable bool
	Result    string
}

// Container is a snapshot of one container.
type Container struct {
	Guid        string
	Resource    Resource
	RunInfo     RunInfo
	Tags        Tags
	State       State
	AllocatedAt time.Time
	ExternalIP  string
	InternalIP  string
	// Ports with their host ports once created.
	Ports []PortMapping
	// Ready is false while a readiness check fails; true when it passes or there is none.
	Ready       bool
	RunResult   RunResult
	MemoryLimit uint64 // bytes
	DiskLimit   uint64 // bytes
	// Adopted: this container was found running when the executor started and taken over.
	Adopted bool
}

// ContainerMetrics is one container's usage.
type ContainerMetrics struct {
	MemoryUsageInBytes                  uint64
	DiskUsageInBytes                    uint64
	MemoryLimitInBytes                  uint64
	DiskLimitInBytes                    uint64
	TimeSpentInCPU                      time.Duration
	AbsoluteCPUEntitlementInNanoseconds uint64
	ContainerAgeInNanoseconds           uint64
}

// EventType names a lifecycle event.
type EventType string

const (
	EventTypeContainerReserved         EventType = "container_reserved"
	EventTypeContainerRunning          EventType = "container_running"
	EventTypeContainerComplete         EventType = "container_complete"
	EventTypeContainerReadinessChanged EventType = "container_readiness_changed"
)

// Event carries a snapshot of the container as it was when the event happened.
type Event struct {
	Type      EventType
	Container Container
}

// Client is the executor as the rep uses it. Implementations are safe for concurrent use.
type Client interface {
	// Ping fails when the garden server cannot be reached.
	Ping(ctx context.Context) error
	AllocateContainers(ctx context.Context, reqs []AllocationRequest) []AllocationFailure
	// RunContainer moves a reserved container to initializing and runs it in the background.
	RunContainer(ctx context.Context, guid string, info RunInfo) error
	GetContainer(ctx context.Context, guid string) (Container, error)
	// ListContainers lists every container whose tags include all of filter (nil: all).
	ListContainers(ctx context.Context, filter Tags) ([]Container, error)
	// StopContainer ends the container's processes gracefully (SIGTERM, then SIGKILL after the
	// grace period); it completes with RunResult.Stopped.
	StopContainer(ctx context.Context, guid string) error
	// UpdateContainer replaces the container's MetricsConfig.Tags: its metrics are published with
	// metricTags from then on (and after the container is adopted). ErrContainerNotFound for an
	// unknown guid.
	UpdateContainer(ctx context.Context, guid string, metricTags map[string]string) error
	// DeleteContainer stops it if needed, destroys the garden container, and frees its resources.
	DeleteContainer(ctx context.Context, guid string) error
	RemainingResources(ctx context.Context) (Resources, error)
	TotalResources(ctx context.Context) (Resources, error)
	GetBulkMetrics(ctx context.Context) (map[string]ContainerMetrics, error)
	// SubscribeToEvents delivers every event after the call until ctx ends.
	SubscribeToEvents(ctx context.Context) (<-chan Event, error)
	// Healthy is the last periodic garden health check's result (create a container, run a process).
	Healthy(ctx context.Context) bool
}
