package models_test

import (
	"errors"

	"github.com/diego-go/diego/models"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("State machines", func() {
	Describe("ActualLRP.AllowsTransitionTo", func() {
		const (
			U = models.ActualLRPStateUnclaimed
			C = models.ActualLRPStateClaimed
			R = models.ActualLRPStateRunning
			X = models.ActualLRPStateCrashed
		)
		other := &models.ActualLRPInstanceKey{InstanceGuid: "instance-2", CellId: "cell-2"}

		empty := &models.ActualLRPInstanceKey{}

		// upstream's models/actual_lrp.go AllowsTransitionTo, cell by cell:
		// the requester is the instance holding the record, another one, or
		// the empty key (the BBS unclaiming)
		const (
			same    = "the same instance"
			another = "another instance"
			none    = "an empty instance key"
		)
		DescribeTable("allows exactly upstream's transitions",
			func(from, to, who string, allowed bool) {
				lrp := &models.ActualLRP{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey(), State: from}
				if from == U {
					lrp.ActualLrpInstanceKey = empty
				}
				requester := map[string]*models.ActualLRPInstanceKey{same: instanceKey(), another: other, none: empty}[who]
				Expect(lrp.AllowsTransitionTo(actualLRPKey(), requester, to)).To(Equal(allowed))
			},
			Entry(nil, U, U, none, true),
			Entry(nil, U, U, another, true),
			Entry(nil, U, C, another, true),
			Entry(nil, U, R, another, true),
			Entry(nil, U, X, another, false),
			Entry(nil, U, X, none, false),

			Entry(nil, C, U, none, true),
			Entry(nil, C, U, same, false),
			Entry(nil, C, U, another, false),
			Entry(nil, C, C, same, true),
			Entry(nil, C, C, another, false),
			Entry(nil, C, R, same, true),
			Entry(nil, C, R, another, true),
			Entry(nil, C, X, same, true),
			Entry(nil, C, X, another, false),

			Entry(nil, R, U, none, true),
			Entry(nil, R, U, same, false),
			Entry(nil, R, U, another, false),
			Entry(nil, R, C, same, true),
			Entry(nil, R, C, another, false),
			Entry(nil, R, R, same, true),
			Entry(nil, R, R, another, false),
			Entry(nil, R, X, same, true),
			Entry(nil, R, X, another, false),

			Entry(nil, X, U, none, true),
			Entry(nil, X, U, same, false),
			Entry(nil, X, C, same, true),
			Entry(nil, X, C, another, false),
			Entry(nil, X, R, same, true),
			Entry(nil, X, R, another, false),
			Entry(nil, X, X, same, false),
		)

		// A crash clears the instance key, so during its backoff a CRASHED
		// instance can only be restarted by the BBS unclaiming it.
		DescribeTable("a CRASHED instance as the BBS stores it (no instance key)",
			func(to string, allowed bool) {
				lrp := &models.ActualLRP{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: &models.ActualLRPInstanceKey{}, State: X}
				Expect(lrp.AllowsTransitionTo(actualLRPKey(), instanceKey(), to)).To(Equal(allowed))
			},
			Entry("a cell may not claim it", C, false),
			Entry("a cell may not start it", R, false),
			Entry("a cell may not crash it again", X, false),
			Entry("a cell may not unclaim it", U, false),
		)

		It("refuses any transition asked for another slot", func() {
			lrp := &models.ActualLRP{ActualLrpKey: actualLRPKey(), State: U}
			otherSlot := actualLRPKey()
			otherSlot.Index = 1
			Expect(lrp.AllowsTransitionTo(otherSlot, instanceKey(), C)).To(BeFalse())
		})

		It("refuses a transition to an unknown state", func() {
			lrp := &models.ActualLRP{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey(), State: R}
			Expect(lrp.AllowsTransitionTo(actualLRPKey(), instanceKey(), "STOPPED")).To(BeFalse())
		})
	})

	Describe("Task.ValidateTransitionTo", func() {
		states := []models.Task_State{models.Task_Invalid, models.Task_Pending, models.Task_Running, models.Task_Completed, models.Task_Resolving}
		allowed := map[[2]models.Task_State]bool{
			{models.Task_Pending, models.Task_Running}:     true,
			{models.Task_Pending, models.Task_Completed}:   true,
			{models.Task_Running, models.Task_Pending}:     true,
			{models.Task_Running, models.Task_Completed}:   true,
			{models.Task_Completed, models.Task_Resolving}: true,
		}

		It("allows exactly the lifecycle's transitions among all 25 pairs", func() {
			for _, from := range states {
				for _, to := range states {
					err := (&models.Task{State: from}).ValidateTransitionTo(to)
					if allowed[[2]models.Task_State{from, to}] {
						Expect(err).NotTo(HaveOccurred(), "%s -> %s", from, to)
					} else {
						Expect(err).To(MatchError(models.NewInvalidStateTransition(from.String(), to.String())), "%s -> %s", from, to)
						Expect(errors.Is(err, &models.Error{Type: models.Error_InvalidStateTransition})).To(BeTrue())
					}
				}
			}
		})

		It("names both states in the error", func() {
			err := (&models.Task{State: models.Task_Resolving}).ValidateTransitionTo(models.Task_Running)
			Expect(err.Error()).To(Equal("InvalidStateTransition: cannot transition from Resolving to Running"))
		})
	})
})
