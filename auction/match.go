package auction

// The feasibility rules (what a cell must offer to take work) and the placement errors the
// auction reports. The cell state and the work are the rep's wire structs of models/rep.go.

import (
	"net/url"
	"slices"
	"strings"

	"github.com/diego-go/diego/models"
)

// Placement errors. The auction reports every failed placement with one of these texts, worded as
// upstream's auction words them; the BBS stores it as the ActualLRP's placement_error or the Task's
// rejection reason.
const (
	// PlacementErrorInsufficientResources is followed by ": " and the resources every compatible
	// cell lacked, e.g. "insufficient resources: disk, memory" (InsufficientResourcesError).
	PlacementErrorInsufficientResources = "insufficient resources"
	// PlacementErrorNoCompatibleCell begins every error of work no cell may take: the three below,
	// PlacementTagsError's, and NoCompatibleCellError's for the cases upstream has no text for.
	PlacementErrorNoCompatibleCell = "found no compatible cell"
	// PlacementErrorRootFS: no cell offers the rootfs.
	PlacementErrorRootFS = "found no compatible cell for required rootfs"
	// PlacementErrorVolumeDrivers: no cell with the rootfs has every volume driver.
	PlacementErrorVolumeDrivers = "found no compatible cell with required volume drivers"
	// PlacementErrorCellCommunication: the auction had no cell at all (none present, or none
	// answered with its state).
	PlacementErrorCellCommunication = "unable to communicate to compatible cells"
	// PlacementErrorStartsInFlight: the optional cap on containers starting at once was reached;
	// the auctioneer auctions the work again later.
	PlacementErrorStartsInFlight = "waiting to start instance: reached in-flight start limit"
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
		if !slices.Contains(c.VolumeDrivers, d) {
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
		if !slices.Contains(c.PlacementTags, t) && !slices.Contains(c.OptionalPlacementTags, t) {
			return false
		}
	}
	for _, t := range c.PlacementTags {
		if !slices.Contains(tags, t) {
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

// PlacementTagsError is the placement error of work whose placement tags (in the order asked)
// match no cell that has its rootfs and volume drivers, e.g.
// `found no compatible cell with placement tags "a", "b" and "c"`. The tags are quoted without
// escaping, as upstream's are.
func PlacementTagsError(tags []string) string {
	quoted := make([]string, len(tags))
	for i, t := range tags {
		quoted[i] = `"` + t + `"`
	}
	switch len(tags) {
	case 0:
		return PlacementErrorNoCompatibleCell + " with no placement tags"
	case 1:
		return PlacementErrorNoCompatibleCell + " with placement tag " + quoted[0]
	}
	last := len(quoted) - 1
	return PlacementErrorNoCompatibleCell + " with placement tags " + strings.Join(quoted[:last], ", ") + " and " + quoted[last]
}

// NoCompatibleCellError formats the placement error of a case upstream has no text for (work
// every cell rejected), saying what happened.
func NoCompatibleCellError(what string) string {
	return PlacementErrorNoCompatibleCell + ": " + what
}
