package auction

// The feasibility rules (what a cell must offer to take work) and the placement errors the
// auction reports. The cell state and the work are the rep's wire structs of models/rep.go.

import (
	"net/url"
	"sort"
	"strings"

	"github.com/diego-go/diego/models"
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

// LRPPlacementFailure is an LRP instance the auction could not place.
type LRPPlacementFailure struct {
	models.RepLRP
	PlacementError string
}

// TaskPlacementFailure is a Task the auction could not place.
type TaskPlacementFailure struct {
	models.RepTask
	PlacementError string
}

// AuctionResults is what one auction decided that could not be placed; the
// auctioneer reports these to the BBS.
type AuctionResults struct {
	FailedLRPs  []LRPPlacementFailure
	FailedTasks []TaskPlacementFailure
}

// MatchRootFS reports whether the cell offers the rootfs URL, as upstream
// decides it: the provider of the URL's scheme takes any URL if arbitrary,
// and a URL whose opaque part is in its set if a fixed set. The query is not
// part of the opaque part, so Cloud Controller's layered droplets
// ("preloaded+layer:cflinuxfs4?layer=...") go to cells whose
// "preloaded+layer" set holds "cflinuxfs4".
func MatchRootFS(c *models.CellState, rootFS string) bool {
	u, err := url.Parse(rootFS)
	if err != nil {
		return false
	}
	p, ok := c.RootFSProviders[u.Scheme]
	if !ok {
		return false
	}
	switch p.Type {
	case models.RootFSProviderArbitrary:
		return true
	case models.RootFSProviderFixedSet:
		_, ok := p.FixedSet[u.Opaque]
		return ok
	}
	return false
}

// MatchVolumeDrivers reports whether the cell has every driver asked for.
func MatchVolumeDrivers(c *models.CellState, drivers []string) bool {
	for _, d := range drivers {
		if !has(c.VolumeDrivers, d) {
			return false
		}
	}
	return true
}

// MatchPlacementTags reports whether work asking for tags may run on the
// cell: every tag asked for is among the cell's required or optional tags,
// and every one of the cell's required tags is asked for.
func MatchPlacementTags(c *models.CellState, tags []string) bool {
	for _, t := range tags {
		if !has(c.PlacementTags, t) && !has(c.OptionalPlacementTags, t) {
			return false
		}
	}
	for _, t := range c.PlacementTags {
		if !has(tags, t) {
			return false
		}
	}
	return true
}

// InsufficientResourcesError formats the placement error for the listed
// problems ("containers", "disk", "memory", in that order as upstream's).
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

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sortedCopy returns a sorted copy of list (nil for an empty list).
func sortedCopy(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}
