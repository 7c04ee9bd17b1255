package models

// The rep's and the auctioneer's API messages, shaped as upstream's Go structs
// (code.cloudfoundry.org/rep resources.go and rootfs_providers.go,
// code.cloudfoundry.org/auctioneer resources.go) so that encoding/json writes
// the same JSON: only the fields upstream tags carry a snake_case name, every
// other field goes under its Go name (MemoryMB, RootFs, TaskGuid, ...), and
// the structs upstream embeds are embedded here, flattening into the same
// object. They deliberately do not reuse the protobuf-generated types, whose
// generated JSON tags differ. What a cell must offer to take the work (the
// feasibility rules) is the auction's business, in package auction.

import (
	"encoding/json"
	"fmt"
)

// Resource is what one LRP instance or Task asks for.
type Resource struct {
	MemoryMB int32
	DiskMB   int32
	MaxPids  int32
}

// Resources is a cell's capacity (total or still available).
type Resources struct {
	MemoryMB   int32
	DiskMB     int32
	Containers int
}

// PlacementConstraint is what a cell must offer to be eligible for work.
type PlacementConstraint struct {
	PlacementTags []string
	VolumeDrivers []string
	RootFs        string
}

// LRPKey names an LRP instance's slot; it has the JSON of upstream's
// models.ActualLRPKey, which upstream's rep.LRP embeds.
type LRPKey struct {
	ProcessGUID string `json:"process_guid"`
	Index       int32  `json:"index"`
	Domain      string `json:"domain"`
}

// RepLRP is one instance of a long-running process, as the auction and the rep
// see it (upstream's rep.LRP).
type RepLRP struct {
	InstanceGUID string `json:"instance_guid"`
	LRPKey
	PlacementConstraint
	Resource
	// State is the instance's ActualLRP state on the cell ("CLAIMED",
	// "RUNNING", ...) in a cell state; empty in work.
	State string `json:"state"`
}

// RepTask is one task as the auction and the rep see it (upstream's rep.Task).
type RepTask struct {
	TaskGuid string
	Domain   string
	PlacementConstraint
	Resource
	// State and Failed describe the task on the cell in a cell state.
	State  Task_State `json:"state"`
	Failed bool       `json:"failed"`
}

// MarshalJSON writes a task state by name ("Pending", "Running", ...), as
// upstream's models.Task_State does in the rep's JSON.
func (s Task_State) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.String())
}

// UnmarshalJSON reads a task state by name.
func (s *Task_State) UnmarshalJSON(data []byte) error {
	var name string
	if err := json.Unmarshal(data, &name); err != nil {
		return fmt.Errorf("task state: want a state name: %w", err)
	}
	v, ok := Task_State_value[name]
	if !ok {
		return fmt.Errorf("task state: unknown state %q", name)
	}
	*s = Task_State(v)
	return nil
}

// RootFSProviderType is how a cell offers the rootfses of one URL scheme.
type RootFSProviderType string

const (
	// RootFSProviderArbitrary offers any rootfs of its scheme (docker images).
	RootFSProviderArbitrary RootFSProviderType = "arbitrary"
	// RootFSProviderFixedSet offers the names in its set (preloaded stacks).
	RootFSProviderFixedSet RootFSProviderType = "fixed_set"
)

// RootFSProvider is what a cell offers under one rootfs URL scheme. Its JSON is
// upstream's: {"type":"arbitrary"} or {"set":{"cflinuxfs4":{}},"type":"fixed_set"}.
// A type this project does not know is kept (and offers nothing).
type RootFSProvider struct {
	Type     RootFSProviderType
	FixedSet map[string]struct{}
}

// ArbitraryRootFSProvider offers any rootfs of its scheme.
func ArbitraryRootFSProvider() RootFSProvider {
	return RootFSProvider{Type: RootFSProviderArbitrary}
}

// FixedSetRootFSProvider offers exactly the named rootfses of its scheme.
func FixedSetRootFSProvider(names ...string) RootFSProvider {
	set := make(map[string]struct{}, len(names))
	for _, n := range names {
		set[n] = struct{}{}
	}
	return RootFSProvider{Type: RootFSProviderFixedSet, FixedSet: set}
}

// MarshalJSON writes the provider as upstream does: {"type":"arbitrary"}, or a
// fixed set with its names, {"set":{"cflinuxfs4":{}},"type":"fixed_set"}.
func (p RootFSProvider) MarshalJSON() ([]byte, error) {
	if p.Type == RootFSProviderFixedSet {
		return json.Marshal(struct {
			Set  map[string]struct{} `json:"set"`
			Type RootFSProviderType  `json:"type"`
		}{p.FixedSet, p.Type})
	}
	return json.Marshal(struct {
		Type RootFSProviderType `json:"type"`
	}{p.Type})
}

// UnmarshalJSON reads the provider; a "set" is read only for a fixed set.
func (p *RootFSProvider) UnmarshalJSON(data []byte) error {
	var j struct {
		Set  map[string]struct{} `json:"set"`
		Type RootFSProviderType  `json:"type"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("rootfs provider: %w", err)
	}
	*p = RootFSProvider{Type: j.Type}
	if j.Type == RootFSProviderFixedSet {
		p.FixedSet = j.Set
	}
	return nil
}

// RootFSProviders maps a rootfs URL scheme to what the cell offers under it:
// {"preloaded": FixedSetRootFSProvider("cflinuxfs4"), "docker":
// ArbitraryRootFSProvider()}. A scheme that is absent is not offered at all.
type RootFSProviders map[string]RootFSProvider

// CellState is the rep's answer to GET /state (upstream's rep.CellState).
type CellState struct {
	RepURL                 string `json:"rep_url"`
	CellID                 string `json:"cell_id"`
	CellIndex              int    `json:"cell_index"`
	RootFSProviders        RootFSProviders
	AvailableResources     Resources
	TotalResources         Resources
	LRPs                   []RepLRP
	Tasks                  []RepTask
	StartingContainerCount int
	Zone                   string
	Evacuating             bool
	VolumeDrivers          []string
	PlacementTags          []string
	OptionalPlacementTags  []string
	// ProxyMemoryAllocationMB is the memory the cell sets aside per container
	// for its proxy; carried as upstream's rep reports it, not used by this
	// project's auction.
	ProxyMemoryAllocationMB int
}

// Work is the body of the rep's POST /work, and of its answer (the work the
// cell could not take).
type Work struct {
	LRPs   []RepLRP
	Tasks  []RepTask
	CellID string `json:"cell_id,omitempty"`
}

// Empty reports whether there is no work at all.
func (w Work) Empty() bool { return len(w.LRPs) == 0 && len(w.Tasks) == 0 }

// LRPStartRequest is one element of the auctioneer's POST /v1/lrps body:
// start these indices of this process.
type LRPStartRequest struct {
	ProcessGUID string  `json:"process_guid"`
	Domain      string  `json:"domain"`
	Indices     []int32 `json:"indices"`
	PlacementConstraint
	Resource
}

// TaskStartRequest is one element of the auctioneer's POST /v1/tasks body.
type TaskStartRequest struct {
	RepTask
}

// InternalRoute is one of an instance's internal (container-to-container) hostnames, as
// upstream's routing-info internalroutes.InternalRoute.
type InternalRoute struct {
	Hostname string `json:"hostname"`
}

// LRPUpdate is the body of the rep's PUT /v2/lrps/:process_guid/instances/:instance_guid
// (upstream's rep.LRPUpdate): what changed of a running instance that needs no restart.
type LRPUpdate struct {
	InstanceGUID string `json:"instance_guid"`
	LRPKey
	InternalRoutes []InternalRoute   `json:"internal_routes"`
	MetricTags     map[string]string `json:"metric_tags"`
}

// CachedContainerMetrics is one container's usage as the rep's GET /container_metrics reports
// it (upstream's executor containermetrics.CachedContainerMetrics).
type CachedContainerMetrics struct {
	MetricGUID       string  `json:"metric_guid"`
	CPUUsageFraction float64 `json:"cpu_usage_fraction"`
	DiskUsageBytes   uint64  `json:"disk_usage_bytes"`
	DiskQuotaBytes   uint64  `json:"disk_quota_bytes"`
	MemoryUsageBytes uint64  `json:"memory_usage_bytes"`
	MemoryQuotaBytes uint64  `json:"memory_quota_bytes"`
	RxBytes          *uint64 `json:"rx_bytes,omitempty"`
	TxBytes          *uint64 `json:"tx_bytes,omitempty"`
}

// LRPMetric is an instance's usage.
type LRPMetric struct {
	InstanceGUID string `json:"instance_guid"`
	ProcessGUID  string `json:"process_guid"`
	Index        int32  `json:"index"`
	CachedContainerMetrics
}

// TaskMetric is a task's usage.
type TaskMetric struct {
	TaskGUID string `json:"task_guid"`
	CachedContainerMetrics
}

// ContainerMetricsCollection is the answer of the rep's GET /container_metrics.
type ContainerMetricsCollection struct {
	CellID string       `json:"cell_id"`
	LRPs   []LRPMetric  `json:"lrps"`
	Tasks  []TaskMetric `json:"tasks"`
}
