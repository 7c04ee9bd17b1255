package models

// The rep's and the auctioneer's API messages. Both APIs carry JSON bodies
// (upstream's wire format), so these are plain structs with snake_case JSON
// tags and deliberately no dependency on the protobuf-generated types of the
// BBS API.

import (
	"sort"
	"strings"
)

// Placement error prefixes. The auction reports every failed placement with
// a message that starts with one of these; the BBS stores it as the
// ActualLRP's placement_error or the Task's failure reason.
const (
	// PlacementErrorInsufficientResources is followed by ": " and the
	// resources no cell had enough of, e.g. "insufficient resources: memory".
	PlacementErrorInsufficientResources = "insufficient resources"
	// PlacementErrorNoCompatibleCell is followed by ": " and what no cell
	// offered, e.g. `found no compatible cell: missing placement tag "gpu"`.
	PlacementErrorNoCompatibleCell = "found no compatible cell"
	// PlacementErrorStartsInFlight: the optional cap on containers starting
	// at once was reached; the work is auctioned again later.
	PlacementErrorStartsInFlight = "too many containers starting"
)

// Resource is what one LRP instance or Task asks for.
type Resource struct {
	MemoryMB int32 `json:"memory_mb"`
	DiskMB   int32 `json:"disk_mb"`
	MaxPids  int32 `json:"max_pids"`
}

// Resources is a cell's capacity (total or still available).
type Resources struct {
	MemoryMB   int32 `json:"memory_mb"`
	DiskMB     int32 `json:"disk_mb"`
	Containers int   `json:"containers"`
}

// PlacementConstraint is what a cell must offer to be eligible for work.
type PlacementConstraint struct {
	PlacementTags []string `json:"placement_tags,omitempty"`
	VolumeDrivers []string `json:"volume_drivers,omitempty"`
	RootFS        string   `json:"rootfs"`
}

// RepLRP is one instance of a long-running process, as the auction and the rep
// see it. The embedded structs flatten into the JSON object.
type RepLRP struct {
	InstanceGUID string `json:"instance_guid"`
	ProcessGUID  string `json:"process_guid"`
	Index        int32  `json:"index"`
	Domain       string `json:"domain"`
	PlacementConstraint
	Resource
}

// RepTask is one task as the auction and the rep see it.
type RepTask struct {
	TaskGUID string `json:"task_guid"`
	Domain   string `json:"domain"`
	PlacementConstraint
	Resource
	Failed bool `json:"failed,omitempty"`
}

// RootFSProviders maps a rootfs URL scheme to the names a cell offers under
// it: {"preloaded": ["cflinuxfs4"], "docker": []}. An empty (or null) list
// means any name of that scheme (an "arbitrary" provider, like docker
// images); a scheme that is absent is not offered at all.
type RootFSProviders map[string][]string

// CellState is the rep's answer to GET /state.
type CellState struct {
	RepURL                 string          `json:"rep_url"`
	CellID                 string          `json:"cell_id"`
	CellIndex              int             `json:"cell_index"`
	Zone                   string          `json:"zone"`
	RootFSProviders        RootFSProviders `json:"rootfs_providers"`
	AvailableResources     Resources       `json:"available_resources"`
	TotalResources         Resources       `json:"total_resources"`
	LRPs                   []RepLRP        `json:"lrps"`
	Tasks                  []RepTask       `json:"tasks"`
	StartingContainerCount int             `json:"starting_container_count"`
	Evacuating             bool            `json:"evacuating"`
	VolumeDrivers          []string        `json:"volume_drivers"`
	PlacementTags          []string        `json:"placement_tags"`
	OptionalPlacementTags  []string        `json:"optional_placement_tags"`
}

// Work is the body of the rep's POST /work, and of its answer (the work the
// cell could not take).
type Work struct {
	LRPs   []RepLRP  `json:"lrps"`
	Tasks  []RepTask `json:"tasks"`
	CellID string    `json:"cell_id,omitempty"`
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

// LRPPlacementFailure is an LRP instance the auction could not place.
type LRPPlacementFailure struct {
	RepLRP
	PlacementError string `json:"placement_error"`
}

// TaskPlacementFailure is a Task the auction could not place.
type TaskPlacementFailure struct {
	RepTask
	PlacementError string `json:"placement_error"`
}

// AuctionResults is what one auction decided that could not be placed; the
// auctioneer reports these to the BBS.
type AuctionResults struct {
	FailedLRPs  []LRPPlacementFailure  `json:"failed_lrps"`
	FailedTasks []TaskPlacementFailure `json:"failed_tasks"`
}

// SplitRootFS splits a rootfs URL into its scheme and the name a provider
// lists: "preloaded:cflinuxfs4" -> ("preloaded", "cflinuxfs4"),
// "docker:///busybox#latest" -> ("docker", "busybox#latest"). The query of an
// opaque URL is not part of the name, as upstream matches only the URL's
// opaque part: Cloud Controller's layered droplets ask for
// "preloaded+layer:cflinuxfs4?layer=...&layer_digest=...", which a cell
// offering "preloaded+layer": ["cflinuxfs4"] takes.
func SplitRootFS(rootFS string) (scheme, name string) {
	scheme, rest, ok := strings.Cut(rootFS, ":")
	if !ok {
		return "", rootFS
	}
	if !strings.HasPrefix(rest, "/") {
		rest, _, _ = strings.Cut(rest, "?")
	}
	return scheme, strings.TrimLeft(rest, "/")
}

// MatchRootFS reports whether the cell offers the rootfs URL.
func (c *CellState) MatchRootFS(rootFS string) bool {
	scheme, name := SplitRootFS(rootFS)
	names, ok := c.RootFSProviders[scheme]
	if !ok {
		return false
	}
	if len(names) == 0 {
		return true
	}
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// MatchVolumeDrivers reports whether the cell has every driver asked for.
func (c *CellState) MatchVolumeDrivers(drivers []string) bool {
	for _, d := range drivers {
		if !contains(c.VolumeDrivers, d) {
			return false
		}
	}
	return true
}

// MatchPlacementTags reports whether work asking for tags may run on the
// cell: every tag asked for is among the cell's required or optional tags,
// and every one of the cell's required tags is asked for.
func (c *CellState) MatchPlacementTags(tags []string) bool {
	for _, t := range tags {
		if !contains(c.PlacementTags, t) && !contains(c.OptionalPlacementTags, t) {
			return false
		}
	}
	for _, t := range c.PlacementTags {
		if !contains(tags, t) {
			return false
		}
	}
	return true
}

// ResourceProblems lists what the cell lacks to take work of this size, in
// the order memory, disk, containers; nil when it fits.
func (c *CellState) ResourceProblems(r Resource) []string {
	var p []string
	if c.AvailableResources.MemoryMB < r.MemoryMB {
		p = append(p, "memory")
	}
	if c.AvailableResources.DiskMB < r.DiskMB {
		p = append(p, "disk")
	}
	if c.AvailableResources.Containers < 1 {
		p = append(p, "containers")
	}
	return p
}

// InsufficientResourcesError formats the placement error for the listed
// problems ("memory", "disk", "containers").
func InsufficientResourcesError(problems []string) string {
	if len(problems) == 0 {
		return PlacementErrorInsufficientResources
	}
	return PlacementErrorInsufficientResources + ": " + strings.Join(problems, ", ")
}

// NoCompatibleCellError formats the placement error with what was missing.
func NoCompatibleCellError(what string) string {
	if what == "" {
		return PlacementErrorNoCompatibleCell
	}
	return PlacementErrorNoCompatibleCell + ": " + what
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// SortedCopy returns a sorted copy of list (nil for an empty list).
func SortedCopy(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}
