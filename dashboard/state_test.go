package dashboard_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/dashboard"
	"github.com/diego-go/diego/models"
)

func presence(id, zone string, memory, disk, containers int32) *models.CellPresence {
	return &models.CellPresence{CellId: id, Zone: zone, Capacity: &models.CellCapacity{MemoryMb: memory, DiskMb: disk, Containers: containers}}
}

func desired(guid string, instances, memory, disk int32, tag uint32) *models.DesiredLRP {
	return &models.DesiredLRP{ProcessGuid: guid, Domain: "d", Instances: instances, MemoryMb: memory, DiskMb: disk,
		RootFs: "preloaded:busybox", ModificationTag: &models.ModificationTag{Epoch: "e-" + guid, Index: tag}}
}

// actual is an instance record in state on cell (none when ""), at modification index tag.
func actual(guid string, index int32, state, cell string, p models.ActualLRP_Presence, tag uint32) *models.ActualLRP {
	a := &models.ActualLRP{
		ActualLrpKey:    &models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "d"},
		State:           state,
		Presence:        p,
		Since:           1000,
		ModificationTag: &models.ModificationTag{Epoch: "e", Index: tag},
	}
	if cell != "" {
		a.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{InstanceGuid: "ig-" + cell, CellId: cell}
	}
	return a
}

func task(guid string, state models.Task_State, cell string, memory int32, updated int64) *models.Task {
	return &models.Task{TaskGuid: guid, Domain: "d", State: state, CellId: cell, UpdatedAt: updated,
		TaskDefinition: &models.TaskDefinition{MemoryMb: memory, DiskMb: 2 * memory}}
}

// changed is the change event the BBS emits for a record going from before to after.
func changed(before, after *models.ActualLRP) models.Event {
	return models.NewActualLRPInstanceChangedEvent(before, after, "")
}

func find(v dashboard.View, guid string, index int32, p string) *dashboard.ActualLRP {
	for _, a := range v.ActualLRPs {
		if a.ProcessGuid == guid && a.Index == index && a.Presence == p {
			return &a
		}
	}
	return nil
}

func cellOf(v dashboard.View, id string) *dashboard.Cell {
	for _, c := range v.Cells {
		if c.CellID == id {
			return &c
		}
	}
	return nil
}

var _ = Describe("the view", func() {
	const ordinary, suspect, evacuating = models.ActualLRP_ORDINARY, models.ActualLRP_SUSPECT, models.ActualLRP_EVACUATING

	It("lists the cells by zone with what their instances and running tasks reserve, and each instance where it is", func() {
		s := dashboard.NewState(
			[]*models.CellPresence{presence("c2", "z2", 1000, 2000, 10), presence("c1", "z1", 1024, 4096, 250), presence("c0", "z2", 512, 512, 5)},
			[]*models.DesiredLRP{desired("web", 3, 64, 128, 1), desired("idle", 0, 32, 32, 1)},
			[]*models.ActualLRP{
				actual("web", 0, models.ActualLRPStateRunning, "c1", ordinary, 3),
				actual("web", 1, models.ActualLRPStateClaimed, "c1", ordinary, 2),
				actual("web", 2, models.ActualLRPStateUnclaimed, "", ordinary, 1),
			},
			[]*models.Task{task("t-run", models.Task_Running, "c1", 100, 1), task("t-done", models.Task_Completed, "c2", 100, 1)},
		)
		v := s.View()

		Expect(v.Cells).To(HaveLen(3))
		Expect([]string{v.Cells[0].CellID, v.Cells[1].CellID, v.Cells[2].CellID}).To(Equal([]string{"c1", "c0", "c2"}), "by zone, then id")
		Expect(*cellOf(v, "c1")).To(Equal(dashboard.Cell{CellID: "c1", Zone: "z1",
			Capacity: dashboard.Resources{MemoryMB: 1024, DiskMB: 4096, Containers: 250},
			Used:     dashboard.Resources{MemoryMB: 2*64 + 100, DiskMB: 2*128 + 200, Containers: 3}}))
		Expect(cellOf(v, "c2").Used).To(Equal(dashboard.Resources{}), "a completed task reserves nothing")

		Expect(find(v, "web", 0, "ORDINARY").CellID).To(Equal("c1"))
		Expect(find(v, "web", 0, "ORDINARY").State).To(Equal("RUNNING"))
		Expect(find(v, "web", 2, "ORDINARY").CellID).To(BeEmpty())
		Expect(v.DesiredLRPs).To(HaveLen(2))
		Expect(v.DesiredLRPs[0].ProcessGuid).To(Equal("idle"))
		Expect(v.DesiredLRPs[0].States).To(BeEmpty())
		Expect(v.DesiredLRPs[1].States).To(Equal(map[string]int{"RUNNING": 1, "CLAIMED": 1, "UNCLAIMED": 1}))
		Expect(v.Tasks).To(HaveLen(2))
		Expect(v.Tasks[1]).To(Equal(dashboard.Task{TaskGuid: "t-run", Domain: "d", State: "Running", CellID: "c1", MemoryMB: 100, DiskMB: 200}))
	})

	It("is JSON with the record's snake_case field names, and empty lists rather than null", func() {
		s := dashboard.NewState([]*models.CellPresence{presence("c1", "z1", 1, 2, 3)}, nil,
			[]*models.ActualLRP{actual("web", 0, models.ActualLRPStateRunning, "c1", ordinary, 1)}, nil)
		data, err := json.Marshal(s.View())
		Expect(err).NotTo(HaveOccurred())
		Expect(data).To(MatchJSON(`{
			"cells": [{"cell_id": "c1", "zone": "z1", "capacity": {"memory_mb": 1, "disk_mb": 2, "containers": 3},
			           "used": {"memory_mb": 0, "disk_mb": 0, "containers": 1}}],
			"desired_lrps": [],
			"actual_lrps": [{"process_guid": "web", "index": 0, "domain": "d", "instance_guid": "ig-c1", "cell_id": "c1",
			                 "state": "RUNNING", "presence": "ORDINARY", "since": 1000}],
			"tasks": []
		}`))
	})

	It("follows an instance's events from unclaimed to running, to a crash and away", func() {
		s := dashboard.NewState([]*models.CellPresence{presence("c1", "z1", 1024, 1024, 10)}, []*models.DesiredLRP{desired("web", 1, 64, 64, 1)}, nil, nil)
		unclaimed := actual("web", 0, models.ActualLRPStateUnclaimed, "", ordinary, 1)
		s.Apply(models.NewActualLRPInstanceCreatedEvent(unclaimed, ""))
		Expect(find(s.View(), "web", 0, "ORDINARY").State).To(Equal("UNCLAIMED"))

		claimed := actual("web", 0, models.ActualLRPStateClaimed, "c1", ordinary, 2)
		s.Apply(changed(unclaimed, claimed))
		Expect(find(s.View(), "web", 0, "ORDINARY").CellID).To(Equal("c1"))
		Expect(cellOf(s.View(), "c1").Used.Containers).To(BeEquivalentTo(1))

		running := actual("web", 0, models.ActualLRPStateRunning, "c1", ordinary, 3)
		running.ActualLrpNetInfo = &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61000}}}
		s.Apply(changed(claimed, running))
		a := find(s.View(), "web", 0, "ORDINARY")
		Expect(a.State).To(Equal("RUNNING"))
		Expect(a.Address).To(Equal("10.0.0.1:61000"))

		// a crash: the record is unclaimed again, and the change event still names the cell it left
		crashed := actual("web", 0, models.ActualLRPStateUnclaimed, "", ordinary, 4)
		crashed.CrashCount, crashed.CrashReason = 1, "exited with status 1"
		s.Apply(models.NewActualLRPCrashedEvent(running, crashed))
		s.Apply(changed(running, crashed))
		a = find(s.View(), "web", 0, "ORDINARY")
		Expect(a.State).To(Equal("UNCLAIMED"))
		Expect(a.CellID).To(BeEmpty(), "an unclaimed instance is on no cell")
		Expect(a.CrashCount).To(BeEquivalentTo(1))
		Expect(a.CrashReason).To(Equal("exited with status 1"))
		Expect(cellOf(s.View(), "c1").Used.Containers).To(BeZero())

		s.Apply(models.NewActualLRPInstanceRemovedEvent(crashed, ""))
		Expect(s.View().ActualLRPs).To(BeEmpty())
	})

	It("shows a lost cell's instances as SUSPECT on that cell, missing its presence, beside their replacements", func() {
		s := dashboard.NewState([]*models.CellPresence{presence("c2", "z2", 1024, 1024, 10)}, []*models.DesiredLRP{desired("web", 1, 64, 64, 1)},
			[]*models.ActualLRP{actual("web", 0, models.ActualLRPStateRunning, "c1", ordinary, 3)}, nil)
		before := actual("web", 0, models.ActualLRPStateRunning, "c1", ordinary, 3)
		suspected := actual("web", 0, models.ActualLRPStateRunning, "c1", suspect, 4)
		s.Apply(changed(before, suspected))
		s.Apply(models.NewActualLRPInstanceCreatedEvent(actual("web", 0, models.ActualLRPStateUnclaimed, "", ordinary, 1), ""))

		v := s.View()
		Expect(v.ActualLRPs).To(HaveLen(2))
		Expect(find(v, "web", 0, "SUSPECT").CellID).To(Equal("c1"))
		Expect(find(v, "web", 0, "ORDINARY").State).To(Equal("UNCLAIMED"))
		lost := cellOf(v, "c1")
		Expect(lost).NotTo(BeNil())
		Expect(lost.Missing).To(BeTrue())
		Expect(lost.Used.Containers).To(BeEquivalentTo(1))
		Expect(cellOf(v, "c2").Missing).To(BeFalse())
	})

	It("keeps an evacuating instance beside its replacement", func() {
		s := dashboard.NewState(nil, nil, []*models.ActualLRP{actual("web", 0, models.ActualLRPStateRunning, "c1", ordinary, 3)}, nil)
		s.Apply(models.NewActualLRPInstanceCreatedEvent(actual("web", 0, models.ActualLRPStateRunning, "c1", evacuating, 1), ""))
		s.Apply(changed(actual("web", 0, models.ActualLRPStateRunning, "c1", ordinary, 3), actual("web", 0, models.ActualLRPStateClaimed, "c2", ordinary, 4)))
		v := s.View()
		Expect(find(v, "web", 0, "EVACUATING").CellID).To(Equal("c1"))
		Expect(find(v, "web", 0, "ORDINARY").CellID).To(Equal("c2"))
	})

	It("ignores events older than what it read (events read before a resync, applied after it)", func() {
		cur := actual("web", 0, models.ActualLRPStateRunning, "c1", ordinary, 5)
		s := dashboard.NewState(nil, []*models.DesiredLRP{desired("web", 3, 64, 64, 7)}, []*models.ActualLRP{cur}, []*models.Task{task("t", models.Task_Running, "c1", 1, 50)})
		s.Apply(changed(actual("web", 0, models.ActualLRPStateUnclaimed, "", ordinary, 1), actual("web", 0, models.ActualLRPStateClaimed, "c1", ordinary, 2)))
		s.Apply(models.NewActualLRPInstanceRemovedEvent(actual("web", 0, models.ActualLRPStateClaimed, "c1", ordinary, 2), ""))
		s.Apply(models.NewDesiredLRPChangedEvent(desired("web", 1, 64, 64, 5), desired("web", 2, 64, 64, 6), ""))
		s.Apply(models.NewDesiredLRPRemovedEvent(desired("web", 2, 64, 64, 6), ""))
		s.Apply(models.NewTaskChangedEvent(task("t", models.Task_Pending, "", 1, 10), task("t", models.Task_Running, "c1", 1, 20)))
		s.Apply(models.NewTaskRemovedEvent(task("t", models.Task_Pending, "", 1, 10)))

		v := s.View()
		Expect(v.ActualLRPs).To(HaveLen(1))
		Expect(v.ActualLRPs[0].State).To(Equal("RUNNING"))
		Expect(v.DesiredLRPs).To(HaveLen(1))
		Expect(v.DesiredLRPs[0].Instances).To(BeEquivalentTo(3))
		Expect(v.Tasks).To(HaveLen(1))

		// a record of a new epoch (desired again) is newer whatever its index
		s.Apply(models.NewActualLRPInstanceCreatedEvent(&models.ActualLRP{ActualLrpKey: cur.ActualLrpKey, State: models.ActualLRPStateUnclaimed,
			ModificationTag: &models.ModificationTag{Epoch: "other", Index: 0}}, ""))
		Expect(s.View().ActualLRPs[0].State).To(Equal("UNCLAIMED"))
	})

	It("follows desired LRPs and tasks through their events", func() {
		s := dashboard.NewState(nil, nil, nil, nil)
		s.Apply(models.NewDesiredLRPCreatedEvent(desired("web", 1, 64, 64, 0), ""))
		s.Apply(models.NewDesiredLRPChangedEvent(desired("web", 1, 64, 64, 0), desired("web", 5, 64, 64, 1), ""))
		s.Apply(models.NewTaskCreatedEvent(task("t1", models.Task_Pending, "", 10, 1)))
		s.Apply(models.NewTaskCreatedEvent(task("t2", models.Task_Pending, "", 10, 1)))
		s.Apply(models.NewTaskChangedEvent(task("t1", models.Task_Pending, "", 10, 1), task("t1", models.Task_Running, "c1", 10, 2)))
		v := s.View()
		Expect(v.DesiredLRPs).To(HaveLen(1))
		Expect(v.DesiredLRPs[0].Instances).To(BeEquivalentTo(5))
		Expect(v.Tasks).To(HaveLen(2))
		Expect(v.Tasks[0].State).To(Equal("Running"))
		Expect(cellOf(v, "c1").Used.MemoryMB).To(BeEquivalentTo(10), "a task's cell without presence is listed too")

		s.Apply(models.NewDesiredLRPRemovedEvent(desired("web", 5, 64, 64, 1), ""))
		s.Apply(models.NewTaskRemovedEvent(task("t2", models.Task_Pending, "", 10, 1)))
		v = s.View()
		Expect(v.DesiredLRPs).To(BeEmpty())
		Expect(v.Tasks).To(HaveLen(1))
	})
})
