package db

import (
	"context"

	"github.com/diego-go/diego/models"
)

// A SUSPECT record (key digit 2) is a RUNNING instance whose cell's presence vanished: it stays
// listed and routable under the slot's SUSPECT key while an UNCLAIMED ORDINARY replacement is
// placed. A slot holds at most one SUSPECT record.

func suspect(k *models.ActualLRPKey) Slot {
	return Slot{ProcessGuid: k.GetProcessGuid(), Index: k.GetIndex(), Presence: models.ActualLRP_SUSPECT}
}

// suspectOf returns the SUSPECT record s if the container ik holds it, else nil: a call about the
// SUSPECT's own container, from its cell come back.
func suspectOf(s *models.ActualLRP, ik *models.ActualLRPInstanceKey) *models.ActualLRP {
	if s != nil && s.GetActualLrpInstanceKey().Equal(ik) {
		return s
	}
	return nil
}

// sameRecord reports whether cur is still the record a snapshot read as want (nil: absent).
func sameRecord(cur, want *models.ActualLRP) bool {
	if cur == nil || want == nil {
		return cur == want
	}
	return proto_equal(cur.GetModificationTag(), want.GetModificationTag())
}

// SuspectAndReplace moves the ORDINARY record a (as a snapshot read it) to the slot's SUSPECT key
// and puts an UNCLAIMED ORDINARY replacement in its place, in one transaction. It does nothing
// (ok false) if the record changed since or the slot already holds a SUSPECT record.
func (db *DB) SuspectAndReplace(ctx context.Context, a *models.ActualLRP) (before, suspected, replacement *models.ActualLRP, ok bool, err error) {
	k := a.GetActualLrpKey()
	cur, ch, err := db.MutateActual(ctx, []Slot{OrdinarySlot(k), suspect(k)}, func(cur []*models.ActualLRP) (Change, error) {
		if !sameRecord(cur[0], a) || cur[1] != nil {
			return Change{}, nil
		}
		// only the presence changes (as upstream's): since stays the time it started running
		s := protoClone(cur[0])
		s.Presence = models.ActualLRP_SUSPECT
		s.ModificationTag = nextTag(cur[0].GetModificationTag())
		r := NewUnclaimed(k.GetProcessGuid(), k.GetIndex(), k.GetDomain(), db.now().UnixNano())
		return Change{Put: []*models.ActualLRP{s, r}}, nil
	})
	if err != nil || len(ch.Put) == 0 {
		return nil, nil, nil, false, err
	}
	return cur[0], ch.Put[0], ch.Put[1], true, nil
}

// PromoteSuspect makes the SUSPECT record s ORDINARY again, replacing the slot's ORDINARY record,
// if both are still what a snapshot read (replacement nil: the slot had none). It returns the
// SUSPECT record before, the ORDINARY one after, and the replacement it removed (if any).
func (db *DB) PromoteSuspect(ctx context.Context, s, replacement *models.ActualLRP) (before, after, removed *models.ActualLRP, ok bool, err error) {
	k := s.GetActualLrpKey()
	cur, ch, err := db.MutateActual(ctx, []Slot{OrdinarySlot(k), suspect(k)}, func(cur []*models.ActualLRP) (Change, error) {
		if !sameRecord(cur[1], s) || !sameRecord(cur[0], replacement) {
			return Change{}, nil
		}
		n := protoClone(cur[1])
		n.Presence = models.ActualLRP_ORDINARY
		n.ModificationTag = nextTag(cur[1].GetModificationTag())
		// the put overwrites the replacement: etcd refuses a delete and a put of one key in a
		// transaction
		return Change{Delete: []*models.ActualLRP{cur[1]}, Put: []*models.ActualLRP{n}}, nil
	})
	if err != nil || len(ch.Put) == 0 {
		return nil, nil, nil, false, err
	}
	return cur[1], ch.Put[0], cur[0], true, nil
}
