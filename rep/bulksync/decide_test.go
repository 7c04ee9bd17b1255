package bulksync_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/bulksync"
)

func lrpContainer(ig string, s executor.State) executor.Container {
	return executor.Container{Guid: ig, State: s, Tags: executor.Tags{"lifecycle": "lrp", "process-guid": "pg", "process-index": "0", "domain": "d", "instance-guid": ig}}
}

func taskContainer(guid string, s executor.State) executor.Container {
	return executor.Container{Guid: guid, State: s, Tags: executor.Tags{"lifecycle": "task", "domain": "d"}}
}

func actual(ig string, presence models.ActualLRP_Presence) *models.ActualLRP {
	return &models.ActualLRP{ActualLrpKey: &models.ActualLRPKey{ProcessGuid: "pg", Domain: "d"},
		ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: ig, CellId: "cell-1"}, State: models.ActualLRPStateRunning, Presence: presence}
}

func task(guid string, s models.Task_State, cell string) *models.Task {
	return &models.Task{TaskGuid: guid, State: s, CellId: cell}
}

func kinds(as []bulksync.Action) map[string]bulksync.Kind {
	out := map[string]bulksync.Kind{}
	for _, a := range as {
		Expect(out).NotTo(HaveKey(a.Guid), "one action per guid")
		out[a.Guid] = a.Kind
	}
	return out
}

var _ = DescribeTable("Decide",
	func(s bulksync.Snapshot, want map[string]bulksync.Kind) {
		s.CellID = "cell-1"
		Expect(kinds(bulksync.Decide(s))).To(Equal(want))
	},
	Entry("nothing on either side: nothing to do", bulksync.Snapshot{}, map[string]bulksync.Kind{}),
	Entry("an instance's container with its record: the processor handles it (a restarted rep adopts it)",
		bulksync.Snapshot{Containers: []executor.Container{lrpContainer("a", executor.StateRunning)}, ActualLRPs: []*models.ActualLRP{actual("a", models.ActualLRP_ORDINARY)}},
		map[string]bulksync.Kind{"a": bulksync.Process}),
	Entry("a suspect or evacuating record counts as the BBS knowing the container",
		bulksync.Snapshot{Containers: []executor.Container{lrpContainer("s", executor.StateRunning), lrpContainer("e", executor.StateRunning)},
			ActualLRPs: []*models.ActualLRP{actual("s", models.ActualLRP_SUSPECT), actual("e", models.ActualLRP_EVACUATING)}},
		map[string]bulksync.Kind{"s": bulksync.Process, "e": bulksync.Process}),
	Entry("a starting container whose claim is not seen yet: the processor handles it",
		bulksync.Snapshot{Containers: []executor.Container{lrpContainer("r", executor.StateReserved), lrpContainer("i", executor.StateInitializing)}},
		map[string]bulksync.Kind{"r": bulksync.Process, "i": bulksync.Process}),
	Entry("a created, running or completed instance's container the BBS does not know on this cell: discarded; one without tags: destroyed",
		bulksync.Snapshot{Containers: []executor.Container{lrpContainer("c", executor.StateCreated), lrpContainer("r", executor.StateRunning),
			lrpContainer("x", executor.StateCompleted), {Guid: "no-tags", State: executor.StateRunning}}},
		map[string]bulksync.Kind{"c": bulksync.DiscardInstance, "r": bulksync.DiscardInstance, "x": bulksync.DiscardInstance, "no-tags": bulksync.DeleteContainer}),
	Entry("records whose container is gone: ordinary removed, suspect crashed, evacuating removed",
		bulksync.Snapshot{ActualLRPs: []*models.ActualLRP{actual("o", models.ActualLRP_ORDINARY), actual("s", models.ActualLRP_SUSPECT), actual("e", models.ActualLRP_EVACUATING)}},
		map[string]bulksync.Kind{"o": bulksync.RemoveActualLRP, "s": bulksync.CrashSuspect, "e": bulksync.RemoveEvacuating}),
	Entry("a task running here whose container is gone fails; a completed or other cell's task is left alone",
		bulksync.Snapshot{Tasks: []*models.Task{task("gone", models.Task_Running, "cell-1"), task("done", models.Task_Completed, "cell-1"), task("there", models.Task_Running, "cell-2")}},
		map[string]bulksync.Kind{"gone": bulksync.FailTask}),
	Entry("a completed task container whose completion the BBS never heard of is reported",
		bulksync.Snapshot{Containers: []executor.Container{taskContainer("t", executor.StateCompleted)}, Tasks: []*models.Task{task("t", models.Task_Running, "cell-1")}},
		map[string]bulksync.Kind{"t": bulksync.Process}),
	Entry("a running task container: nothing to do while the BBS has it running here",
		bulksync.Snapshot{Containers: []executor.Container{taskContainer("t", executor.StateRunning)}, Tasks: []*models.Task{task("t", models.Task_Running, "cell-1")}},
		map[string]bulksync.Kind{}),
	Entry("a task container whose task is done, cancelled, elsewhere or gone: destroyed",
		bulksync.Snapshot{Containers: []executor.Container{taskContainer("done", executor.StateRunning), taskContainer("gone", executor.StateCompleted), taskContainer("there", executor.StateCreated)},
			Tasks: []*models.Task{task("done", models.Task_Completed, "cell-1"), task("there", models.Task_Running, "cell-2")}},
		map[string]bulksync.Kind{"done": bulksync.DeleteContainer, "gone": bulksync.DeleteContainer, "there": bulksync.DeleteContainer}),
	Entry("a starting task container: the processor asks the BBS whether to start it",
		bulksync.Snapshot{Containers: []executor.Container{taskContainer("t", executor.StateReserved)}},
		map[string]bulksync.Kind{"t": bulksync.Process}),
)
