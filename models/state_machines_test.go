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

		DescribeTable("for the instance holding the slot and for another",
			func(from, to string, sameInstance, allowed bool) {
				lrp := &models.ActualLRP{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey(), State: from}
				requester := instanceKey()
				if !sameInstance {
					requester = other
				}
				Expect(lrp.AllowsTransitionTo(actualLRPKey(), requester, to)).To(Equal(allowed))
			},
			Entry("UNCLAIMED -> UNCLAIMED", U, U, false, true),
			Entry("UNCLAIMED -> CLAIMED", U, C, false, true),
			Entry("UNCLAIMED -> RUNNING", U, R, false, true),
			Entry("UNCLAIMED -> CRASHED is refused", U, X, true, false),

			Entry("CLAIMED -> UNCLAIMED", C, U, false, true),
			Entry("CLAIMED -> CLAIMED by the same instance", C, C, true, true),
			Entry("CLAIMED -> CLAIMED by another instance is refused", C, C, false, false),
			Entry("CLAIMED -> RUNNING by the same instance", C, R, true, true),
			Entry("CLAIMED -> RUNNING by another instance", C, R, false, true),
			Entry("CLAIMED -> CRASHED by the same instance", C, X, true, true),
			Entry("CLAIMED -> CRASHED by another instance is refused", C, X, false, false),

			Entry("RUNNING -> UNCLAIMED", R, U, false, true),
			Entry("RUNNING -> CLAIMED by the same instance is refused", R, C, true, false),
			Entry("RUNNING -> CLAIMED by another instance is refused", R, C, false, false),
			Entry("RUNNING -> RUNNING by the same instance", R, R, true, true),
			Entry("RUNNING -> RUNNING by another instance is refused", R, R, false, false),
			Entry("RUNNING -> CRASHED by the same instance", R, X, true, true),
			Entry("RUNNING -> CRASHED by another instance is refused", R, X, false, false),

			Entry("CRASHED -> UNCLAIMED", X, U, false, true),
			Entry("CRASHED -> CLAIMED by another instance is refused", X, C, false, false),
			Entry("CRASHED -> RUNNING by another instance is refused", X, R, false, false),
			Entry("CRASHED -> CLAIMED by the crashed instance is refused", X, C, true, false),
			Entry("CRASHED -> RUNNING by the crashed instance is refused", X, R, true, false),
			Entry("CRASHED -> CRASHED is refused", X, X, true, false),
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
			Entry("it may be unclaimed", U, true),
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
