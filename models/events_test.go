package models_test

import (
	"github.com/diego-go/diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// eventLRP, eventDesiredLRP and eventTask build the records these specs
// put in events.
func eventLRP(guid string, index int32, instance, cell string) *models.ActualLRP {
	return &models.ActualLRP{
		ActualLrpKey:         &models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "d"},
		ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: instance, CellId: cell},
		State:                models.ActualLRPStateRunning,
		Since:                1234,
	}
}

func eventDesiredLRP(guid string) *models.DesiredLRP {
	return &models.DesiredLRP{ProcessGuid: guid, Domain: "d", Instances: 2, RootFs: "preloaded:cflinuxfs4"}
}

func eventTask(guid, cell string) *models.Task {
	return &models.Task{TaskGuid: guid, Domain: "d", CellId: cell, State: models.Task_Running}
}

var _ = Describe("Events", func() {
	It("name every event as the BBS wire does", func() {
		a := eventLRP("pg", 0, "ig", "cell-a")
		d := eventDesiredLRP("pg")
		t := eventTask("tg", "cell-a")
		for _, c := range []struct {
			e    models.Event
			name string
			key  string
		}{
			{models.NewDesiredLRPCreatedEvent(d, "tr"), "desired_lrp_created", "pg"},
			{models.NewDesiredLRPChangedEvent(d, d, "tr"), "desired_lrp_changed", "pg"},
			{models.NewDesiredLRPRemovedEvent(d, "tr"), "desired_lrp_removed", "pg"},
			{models.NewActualLRPInstanceCreatedEvent(a, "tr"), "actual_lrp_instance_created", "ig"},
			{models.NewActualLRPInstanceChangedEvent(a, a, "tr"), "actual_lrp_instance_changed", "ig"},
			{models.NewActualLRPInstanceRemovedEvent(a, "tr"), "actual_lrp_instance_removed", "ig"},
			{models.NewActualLRPCrashedEvent(a, a), "actual_lrp_crashed", "ig"},
			{models.NewTaskCreatedEvent(t), "task_created", "tg"},
			{models.NewTaskChangedEvent(t, t), "task_changed", "tg"},
			{models.NewTaskRemovedEvent(t), "task_removed", "tg"},
			{&models.ActualLRPCreatedEvent{ActualLrpGroup: a.ActualLRPGroup()}, "actual_lrp_created", "ig"},
			{&models.ActualLRPChangedEvent{Before: a.ActualLRPGroup(), After: a.ActualLRPGroup()}, "actual_lrp_changed", "ig"},
			{&models.ActualLRPRemovedEvent{ActualLrpGroup: a.ActualLRPGroup()}, "actual_lrp_removed", "ig"},
		} {
			Expect(c.e.EventType()).To(Equal(c.name))
			Expect(c.e.Key()).To(Equal(c.key), c.name)
			empty, err := models.NewEventByType(c.name)
			Expect(err).NotTo(HaveOccurred())
			Expect(empty.EventType()).To(Equal(c.name))
		}
		_, err := models.NewEventByType("actual_lrp_exploded")
		Expect(err).To(MatchError(`unknown event type "actual_lrp_exploded"`))
	})

	Describe("EventConcernsCell", func() {
		on := func(cell string) *models.ActualLRP { return eventLRP("pg", 0, "ig", cell) }
		unclaimed := &models.ActualLRP{
			ActualLrpKey:         &models.ActualLRPKey{ProcessGuid: "pg"},
			ActualLrpInstanceKey: &models.ActualLRPInstanceKey{},
			State:                models.ActualLRPStateUnclaimed,
		}

		DescribeTable("which cell-filtered streams carry an event",
			func(e models.Event, cell string, carried bool) {
				Expect(models.EventConcernsCell(e, cell)).To(Equal(carried))
			},
			Entry("no filter carries everything", models.NewActualLRPInstanceCreatedEvent(on("a"), ""), "", true),
			Entry("desired created: every cell", models.NewDesiredLRPCreatedEvent(eventDesiredLRP("pg"), ""), "a", true),
			Entry("desired changed: every cell", models.NewDesiredLRPChangedEvent(eventDesiredLRP("pg"), eventDesiredLRP("pg"), ""), "a", true),
			Entry("desired removed: every cell", models.NewDesiredLRPRemovedEvent(eventDesiredLRP("pg"), ""), "a", true),
			Entry("instance created on the cell", models.NewActualLRPInstanceCreatedEvent(on("a"), ""), "a", true),
			Entry("instance created elsewhere", models.NewActualLRPInstanceCreatedEvent(on("b"), ""), "a", false),
			Entry("instance created unclaimed", models.NewActualLRPInstanceCreatedEvent(unclaimed, ""), "a", false),
			Entry("instance changed on the cell", models.NewActualLRPInstanceChangedEvent(on("a"), on("a"), ""), "a", true),
			Entry("instance changed elsewhere", models.NewActualLRPInstanceChangedEvent(on("b"), on("b"), ""), "a", false),
			Entry("instance claimed onto the cell (after)", models.NewActualLRPInstanceChangedEvent(unclaimed, on("a"), ""), "a", true),
			Entry("instance unclaimed off the cell (before)", models.NewActualLRPInstanceChangedEvent(on("a"), unclaimed, ""), "a", true),
			Entry("instance removed from the cell", models.NewActualLRPInstanceRemovedEvent(on("a"), ""), "a", true),
			Entry("instance removed elsewhere", models.NewActualLRPInstanceRemovedEvent(on("b"), ""), "a", false),
			Entry("crash on the cell", models.NewActualLRPCrashedEvent(on("a"), on("a")), "a", true),
			Entry("crash elsewhere", models.NewActualLRPCrashedEvent(on("b"), on("b")), "a", false),
			Entry("task created on the cell", models.NewTaskCreatedEvent(eventTask("t", "a")), "a", true),
			Entry("task created pending", models.NewTaskCreatedEvent(eventTask("t", "")), "a", false),
			Entry("task started on the cell (after)", models.NewTaskChangedEvent(eventTask("t", ""), eventTask("t", "a")), "a", true),
			Entry("task rejected by the cell (before)", models.NewTaskChangedEvent(eventTask("t", "a"), eventTask("t", "")), "a", true),
			Entry("task changed elsewhere", models.NewTaskChangedEvent(eventTask("t", "b"), eventTask("t", "b")), "a", false),
			Entry("task removed from the cell", models.NewTaskRemovedEvent(eventTask("t", "a")), "a", true),
			Entry("task removed elsewhere", models.NewTaskRemovedEvent(eventTask("t", "b")), "a", false),
		)
	})

	It("builds a changed event from the instance's keys and infos", func() {
		before := eventLRP("pg", 3, "ig", "cell-a")
		after := eventLRP("pg", 3, "ig", "cell-a")
		after.State = models.ActualLRPStateCrashed
		after.CrashCount = 2
		e := models.NewActualLRPInstanceChangedEvent(before, after, "trace")
		Expect(e.GetActualLrpKey().GetIndex()).To(BeEquivalentTo(3))
		Expect(e.GetBefore().GetState()).To(Equal(models.ActualLRPStateRunning))
		Expect(e.GetAfter().GetCrashCount()).To(BeEquivalentTo(2))
		Expect(e.GetTraceId()).To(Equal("trace"))
	})
})
