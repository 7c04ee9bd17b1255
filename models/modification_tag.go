package models

// SucceededBy says whether other is a later version of the record t tags, by upstream's rule: a
// missing tag or epoch succeeds and is succeeded by anything, another epoch is a new record, and in
// one epoch a higher index is later.
func (t *ModificationTag) SucceededBy(other *ModificationTag) bool {
	if t.GetEpoch() == "" || other.GetEpoch() == "" {
		return true
	}
	return t.GetEpoch() != other.GetEpoch() || t.GetIndex() < other.GetIndex()
}

// Equal says whether both tags name the same version (two missing tags are equal).
func (t *ModificationTag) Equal(other *ModificationTag) bool {
	if t == nil || other == nil {
		return t == other
	}
	return t.GetEpoch() == other.GetEpoch() && t.GetIndex() == other.GetIndex()
}
