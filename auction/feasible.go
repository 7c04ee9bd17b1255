package auction

import (
	"slices"
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

// constraintKey identifies a constraint's class. The volume drivers are a set, so they are
// sorted; the placement tags keep the order asked for, since the placement error lists them in it.
func constraintKey(pc models.PlacementConstraint) string {
	if len(pc.VolumeDrivers) == 0 && len(pc.PlacementTags) == 0 {
		return pc.RootFs
	}
	var b strings.Builder
	b.WriteString(pc.RootFs)
	b.WriteByte(0)
	for _, d := range slices.Sorted(slices.Values(pc.VolumeDrivers)) {
		b.WriteString(d)
		b.WriteByte(1)
	}
	b.WriteByte(0)
	for _, t := range pc.PlacementTags {
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
		cls.err = a.explain(pc)
	}
	a.classes[key] = cls
	return cls
}

// explain is the placement error of a constraint no cell meets: the furthest of upstream's checks
// (rootfs, then volume drivers, then placement tags) that some cell passed.
func (a *Auction) explain(pc models.PlacementConstraint) string {
	if len(a.meta) == 0 {
		return PlacementErrorCellCommunication
	}
	err := PlacementErrorRootFS
	for c := range a.meta {
		s := a.meta[c].state
		if !MatchRootFS(s, pc.RootFs) {
			continue
		}
		if !MatchVolumeDrivers(s, pc.VolumeDrivers) {
			err = PlacementErrorVolumeDrivers
			continue
		}
		return PlacementTagsError(pc.PlacementTags)
	}
	return err
}
