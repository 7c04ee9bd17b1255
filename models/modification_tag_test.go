package models_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/models"
)

var _ = Describe("ModificationTag", func() {
	tag := func(epoch string, index uint32) *models.ModificationTag {
		return &models.ModificationTag{Epoch: epoch, Index: index}
	}

	DescribeTable("SucceededBy (upstream's rule)", func(t, other *models.ModificationTag, want bool) {
		Expect(t.SucceededBy(other)).To(Equal(want))
	},
		Entry("a higher index in the same epoch", tag("e", 1), tag("e", 2), true),
		Entry("the same version", tag("e", 2), tag("e", 2), false),
		Entry("a lower index", tag("e", 2), tag("e", 1), false),
		Entry("another epoch: a new record", tag("e", 5), tag("f", 0), true),
		Entry("no tag yet", nil, tag("e", 0), true),
		Entry("an empty epoch", tag("", 3), tag("e", 0), true),
		Entry("against no tag", tag("e", 1), nil, true),
	)

	It("Equal compares epoch and index; two missing tags are equal", func() {
		Expect(tag("e", 1).Equal(tag("e", 1))).To(BeTrue())
		Expect(tag("e", 1).Equal(tag("e", 2))).To(BeFalse())
		Expect(tag("e", 1).Equal(tag("f", 1))).To(BeFalse())
		Expect(tag("e", 1).Equal(nil)).To(BeFalse())
		Expect((*models.ModificationTag)(nil).Equal(nil)).To(BeTrue())
	})
})

var _ = Describe("ActualLRPInfo.ActualLRP", func() {
	It("is the record a change event describes: Info's inverse with the event's keys", func() {
		routable := false
		a := &models.ActualLRP{
			ActualLrpKey:         actualLRPKey(),
			ActualLrpInstanceKey: instanceKey(),
			ActualLrpNetInfo:     netInfo(),
			CrashCount:           2, CrashReason: "oom", State: models.ActualLRPStateRunning,
			PlacementError: "", Since: 99, ModificationTag: &models.ModificationTag{Epoch: "e", Index: 3},
			Presence: models.ActualLRP_EVACUATING, Routable: &routable, AvailabilityZone: "z1",
		}
		Expect(proto.Equal(a.Info().ActualLRP(a.GetActualLrpKey(), a.GetActualLrpInstanceKey()), a)).To(BeTrue())
		Expect((*models.ActualLRPInfo)(nil).ActualLRP(actualLRPKey(), instanceKey())).To(BeNil())
	})
})
