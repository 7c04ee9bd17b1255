package auction

import (
	"fmt"
	"sort"
	"strings"

	"github.com/diego-go/diego/models"
)

// class is the feasibility of one distinct placement constraint: the cells
// that may take such work, by zone, or why none may.
type class struct {
	zoneCells [][]int32 // eligible cells of each zone, in cell order
	zones     []int32   // zones with at least one eligible cell
	all       []int32   // every eligible cell, in cell order
	err       string    // set when no cell is eligible
}

func constraintKey(pc models.PlacementConstraint) string {
	if len(pc.VolumeDrivers) == 0 && len(pc.PlacementTags) == 0 {
		return pc.RootFs
	}
	var b strings.Builder
	b.WriteString(pc.RootFs)
	b.WriteByte(0)
	for _, d := range sortedCopy(pc.VolumeDrivers) {
		b.WriteString(d)
		b.WriteByte(1)
	}
	b.WriteByte(0)
	for _, t := range sortedCopy(pc.PlacementTags) {
		b.WriteString(t)
		b.WriteByte(1)
	}
	return b.String()
}

// classFor runs the feasibility step for a constraint, once per distinct
// constraint per Auction.
func (a *Auction) classFor(pc models.PlacementConstraint) *class {
	key := constraintKey(pc)
	if cls, ok := a.classes[key]; ok {
		return cls
	}
	cls := &class{zoneCells: make([][]int32, len(a.zones))}
	for c := range a.meta {
		s := a.meta[c].state
		if MatchRootFS(s, pc.RootFs) && MatchVolumeDrivers(s, pc.VolumeDrivers) && MatchPlacementTags(s, pc.PlacementTags) {
			z := a.meta[c].zone
			cls.zoneCells[z] = append(cls.zoneCells[z], int32(c))
			cls.all = append(cls.all, int32(c))
		}
	}
	for z, cells := range cls.zoneCells {
		if len(cells) > 0 {
			cls.zones = append(cls.zones, int32(z))
		}
	}
	if len(cls.all) == 0 {
		cls.err = NoCompatibleCellError(a.explain(pc))
	}
	a.classes[key] = cls
	return cls
}

// explain says what no cell offered, checking rootfs, then volume drivers,
// then placement tags, each among the cells that passed the checks before.
func (a *Auction) explain(pc models.PlacementConstraint) string {
	if len(a.meta) == 0 {
		return "no cells"
	}
	var rootOK []*models.CellState
	for c := range a.meta {
		if MatchRootFS(a.meta[c].state, pc.RootFs) {
			rootOK = append(rootOK, a.meta[c].state)
		}
	}
	if len(rootOK) == 0 {
		return fmt.Sprintf("missing rootfs %q", pc.RootFs)
	}

	var driversOK []*models.CellState
	for _, s := range rootOK {
		if MatchVolumeDrivers(s, pc.VolumeDrivers) {
			driversOK = append(driversOK, s)
		}
	}
	if len(driversOK) == 0 {
		for _, d := range sortedCopy(pc.VolumeDrivers) {
			if !anyCell(rootOK, func(s *models.CellState) bool { return MatchVolumeDrivers(s, []string{d}) }) {
				return fmt.Sprintf("missing volume driver %q", d)
			}
		}
		return fmt.Sprintf("no cell has all volume drivers %q", sortedCopy(pc.VolumeDrivers))
	}

	for _, t := range sortedCopy(pc.PlacementTags) {
		if !anyCell(driversOK, func(s *models.CellState) bool {
			return has(s.PlacementTags, t) || has(s.OptionalPlacementTags, t)
		}) {
			return fmt.Sprintf("missing placement tag %q", t)
		}
	}
	// Every tag asked for is offered somewhere, so the cells that offer them
	// also require tags the work did not ask for (or offer them apart).
	unasked := map[string]struct{}{}
	for _, s := range driversOK {
		for _, t := range s.PlacementTags {
			if !has(pc.PlacementTags, t) {
				unasked[t] = struct{}{}
			}
		}
	}
	if len(unasked) > 0 {
		list := make([]string, 0, len(unasked))
		for t := range unasked {
			list = append(list, t)
		}
		sort.Strings(list)
		return fmt.Sprintf("cells require placement tags %q not asked for", list)
	}
	return fmt.Sprintf("no cell has all placement tags %q", sortedCopy(pc.PlacementTags))
}

func anyCell(cells []*models.CellState, f func(*models.CellState) bool) bool {
	for _, s := range cells {
		if f(s) {
			return true
		}
	}
	return false
}
