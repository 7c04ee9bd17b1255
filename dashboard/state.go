package dashboard

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/models"
)

// View is what a page draws: the whole deployment as the dashboard last saw it. It is the JSON of
// GET /api/state and of every "state" event of GET /api/events.
type View struct {
	// Cells are sorted by zone, then id. A cell that holds instances but has no presence (a lost
	// cell, whose instances are SUSPECT) is listed as missing.
	Cells       []Cell       `json:"cells"`
	DesiredLRPs []DesiredLRP `json:"desired_lrps"`
	// ActualLRPs are sorted by process guid, index, presence.
	ActualLRPs []ActualLRP `json:"actual_lrps"`
	Tasks      []Task      `json:"tasks"`
	// Error says why the view may be stale: the BBS could not be read.
	Error string `json:"error,omitempty"`
}

// Resources are memory and disk in MB and a number of containers.
type Resources struct {
	MemoryMB   int32 `json:"memory_mb"`
	DiskMB     int32 `json:"disk_mb"`
	Containers int32 `json:"containers"`
}

// Cell is a cell's presence and what the BBS places on it.
type Cell struct {
	CellID  string `json:"cell_id"`
	Zone    string `json:"zone"`
	Missing bool   `json:"missing,omitempty"`
	// Capacity is the total the rep announces in its presence.
	Capacity Resources `json:"capacity"`
	// Used is what the claimed and running instances and the running tasks on the cell reserve
	// (an instance's memory and disk are its desired LRP's).
	Used Resources `json:"used"`
	// Rep is the cell's rep's own account, when the dashboard asks it (WithCellStates).
	Rep *RepState `json:"rep,omitempty"`
}

// RepState is what a cell's rep answers to GET /state, or why it did not.
type RepState struct {
	Evacuating bool `json:"evacuating"`
	// Available is what the rep has left to give.
	Available          Resources `json:"available"`
	StartingContainers int       `json:"starting_containers"`
	Error              string    `json:"error,omitempty"`
}

func repStateOf(c models.CellState) RepState {
	a := c.AvailableResources
	return RepState{
		Evacuating:         c.Evacuating,
		Available:          Resources{a.MemoryMB, a.DiskMB, int32(a.Containers)},
		StartingContainers: c.StartingContainerCount,
	}
}

// DesiredLRP is a desired LRP and how many of its instances are in each state.
type DesiredLRP struct {
	ProcessGuid string         `json:"process_guid"`
	Domain      string         `json:"domain"`
	Instances   int32          `json:"instances"`
	MemoryMB    int32          `json:"memory_mb"`
	DiskMB      int32          `json:"disk_mb"`
	RootFS      string         `json:"rootfs"`
	States      map[string]int `json:"states"`
}

// ActualLRP is one instance record.
type ActualLRP struct {
	ProcessGuid  string `json:"process_guid"`
	Index        int32  `json:"index"`
	Domain       string `json:"domain"`
	InstanceGuid string `json:"instance_guid,omitempty"`
	// CellID is set only while the instance holds a container (CLAIMED or RUNNING).
	CellID         string `json:"cell_id,omitempty"`
	Zone           string `json:"zone,omitempty"`
	State          string `json:"state"`
	Presence       string `json:"presence"`
	Address        string `json:"address,omitempty"`
	CrashCount     int32  `json:"crash_count,omitempty"`
	CrashReason    string `json:"crash_reason,omitempty"`
	PlacementError string `json:"placement_error,omitempty"`
	Since          int64  `json:"since"`
}

// Task is one task.
type Task struct {
	TaskGuid      string `json:"task_guid"`
	Domain        string `json:"domain"`
	State         string `json:"state"`
	CellID        string `json:"cell_id,omitempty"`
	MemoryMB      int32  `json:"memory_mb"`
	DiskMB        int32  `json:"disk_mb"`
	Failed        bool   `json:"failed,omitempty"`
	FailureReason string `json:"failure_reason,omitempty"`
}

// actualKey names an instance record as the BBS does: an evacuating or suspect record and the
// ordinary one of the same index live side by side.
type actualKey struct {
	processGuid string
	index       int32
	presence    models.ActualLRP_Presence
}

func keyOf(a *models.ActualLRP) actualKey {
	return actualKey{a.GetActualLrpKey().GetProcessGuid(), a.GetActualLrpKey().GetIndex(), a.GetPresence()}
}

// state is the deployment as read from the BBS and then changed by its events.
type state struct {
	cells   []*models.CellPresence
	desired map[string]*models.DesiredLRP
	actuals map[actualKey]*models.ActualLRP
	tasks   map[string]*models.Task
	// reps are the rep states by cell id, when the dashboard asks the reps
	reps map[string]RepState
	err  string
}

// load reads the whole state from the BBS.
func load(ctx context.Context, c *bbs.Client) (*state, error) {
	cells, err := c.Cells(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot read the cells: %w", err)
	}
	desired, err := c.DesiredLRPs(ctx, bbs.DesiredLRPFilter{})
	if err != nil {
		return nil, fmt.Errorf("cannot read the desired LRPs: %w", err)
	}
	actuals, err := c.ActualLRPs(ctx, bbs.ActualLRPFilter{})
	if err != nil {
		return nil, fmt.Errorf("cannot read the actual LRPs: %w", err)
	}
	tasks, err := c.Tasks(ctx, bbs.TaskFilter{})
	if err != nil {
		return nil, fmt.Errorf("cannot read the tasks: %w", err)
	}
	return newState(cells, desired, actuals, tasks), nil
}

func newState(cells []*models.CellPresence, desired []*models.DesiredLRP, actuals []*models.ActualLRP, tasks []*models.Task) *state {
	s := &state{
		cells:   cells,
		desired: map[string]*models.DesiredLRP{},
		actuals: map[actualKey]*models.ActualLRP{},
		tasks:   map[string]*models.Task{},
	}
	for _, d := range desired {
		s.desired[d.GetProcessGuid()] = d
	}
	for _, a := range actuals {
		s.actuals[keyOf(a)] = a
	}
	for _, t := range tasks {
		s.tasks[t.GetTaskGuid()] = t
	}
	return s
}

// later says whether a record tagged next may replace one tagged cur: an event read before a
// resync but applied after it must not undo what the resync read.
func later(cur, next *models.ModificationTag) bool {
	return cur.Equal(next) || cur.SucceededBy(next)
}

// apply changes the state by one event of the LRP instance or task streams.
func (s *state) apply(e models.Event) {
	switch e := e.(type) {
	case *models.DesiredLRPCreatedEvent:
		s.putDesired(e.GetDesiredLrp())
	case *models.DesiredLRPChangedEvent:
		s.putDesired(e.GetAfter())
	case *models.DesiredLRPRemovedEvent:
		d := e.GetDesiredLrp()
		if cur := s.desired[d.GetProcessGuid()]; cur != nil && later(cur.GetModificationTag(), d.GetModificationTag()) {
			delete(s.desired, d.GetProcessGuid())
		}
	case *models.ActualLRPInstanceCreatedEvent:
		s.putActual(e.GetActualLrp())
	case *models.ActualLRPInstanceChangedEvent:
		after := e.GetAfter().ActualLRP(e.GetActualLrpKey(), e.GetActualLrpInstanceKey())
		before := e.GetBefore().ActualLRP(e.GetActualLrpKey(), e.GetActualLrpInstanceKey())
		if before != nil && after != nil && keyOf(before) != keyOf(after) {
			// a record that changed presence (an ordinary instance turned SUSPECT) is no longer
			// under its old key
			s.removeActual(before)
		}
		s.putActual(after)
	case *models.ActualLRPInstanceRemovedEvent:
		s.removeActual(e.GetActualLrp())
	case *models.TaskCreatedEvent:
		s.putTask(e.GetTask())
	case *models.TaskChangedEvent:
		s.putTask(e.GetAfter())
	case *models.TaskRemovedEvent:
		t := e.GetTask()
		if cur := s.tasks[t.GetTaskGuid()]; cur != nil && cur.GetUpdatedAt() <= t.GetUpdatedAt() {
			delete(s.tasks, t.GetTaskGuid())
		}
	}
	// a crash is also an instance change event, which carries the crash count and reason
}

func (s *state) putDesired(d *models.DesiredLRP) {
	if d == nil {
		return
	}
	if cur := s.desired[d.GetProcessGuid()]; cur == nil || later(cur.GetModificationTag(), d.GetModificationTag()) {
		s.desired[d.GetProcessGuid()] = d
	}
}

func (s *state) putActual(a *models.ActualLRP) {
	if a == nil {
		return
	}
	if cur := s.actuals[keyOf(a)]; cur == nil || later(cur.GetModificationTag(), a.GetModificationTag()) {
		s.actuals[keyOf(a)] = a
	}
}

func (s *state) removeActual(a *models.ActualLRP) {
	if cur := s.actuals[keyOf(a)]; cur != nil && later(cur.GetModificationTag(), a.GetModificationTag()) {
		delete(s.actuals, keyOf(a))
	}
}

func (s *state) putTask(t *models.Task) {
	if t == nil {
		return
	}
	if cur := s.tasks[t.GetTaskGuid()]; cur == nil || cur.GetUpdatedAt() <= t.GetUpdatedAt() {
		s.tasks[t.GetTaskGuid()] = t
	}
}

// holdsContainer says whether an instance in this state has a container on its cell: an
// unclaimed or crashed record keeps no cell (a change event still names the cell it left).
func holdsContainer(state string) bool {
	return state == models.ActualLRPStateClaimed || state == models.ActualLRPStateRunning
}

// view is the state as a page draws it.
func (s *state) view() View {
	v := View{Cells: []Cell{}, DesiredLRPs: []DesiredLRP{}, ActualLRPs: []ActualLRP{}, Tasks: []Task{}, Error: s.err}
	cells := map[string]*Cell{}
	cellOf := func(id, zone string) *Cell {
		if c := cells[id]; c != nil {
			return c
		}
		c := &Cell{CellID: id, Zone: zone, Missing: true}
		cells[id] = c
		return c
	}
	for _, p := range s.cells {
		c := cellOf(p.GetCellId(), p.GetZone())
		c.Missing = false
		c.Capacity = Resources{p.GetCapacity().GetMemoryMb(), p.GetCapacity().GetDiskMb(), p.GetCapacity().GetContainers()}
		if r, ok := s.reps[p.GetCellId()]; ok {
			c.Rep = &r
		}
	}

	states := map[string]map[string]int{}
	for _, a := range s.actuals {
		va := ActualLRP{
			ProcessGuid:    a.GetActualLrpKey().GetProcessGuid(),
			Index:          a.GetActualLrpKey().GetIndex(),
			Domain:         a.GetActualLrpKey().GetDomain(),
			Zone:           a.GetAvailabilityZone(),
			State:          a.GetState(),
			Presence:       a.GetPresence().String(),
			CrashCount:     a.GetCrashCount(),
			CrashReason:    a.GetCrashReason(),
			PlacementError: a.GetPlacementError(),
			Since:          a.GetSince(),
		}
		if states[va.ProcessGuid] == nil {
			states[va.ProcessGuid] = map[string]int{}
		}
		states[va.ProcessGuid][va.State]++
		if holdsContainer(va.State) {
			va.InstanceGuid = a.GetActualLrpInstanceKey().GetInstanceGuid()
			va.CellID = a.GetActualLrpInstanceKey().GetCellId()
			if ni := a.GetActualLrpNetInfo(); ni.GetAddress() != "" && len(ni.GetPorts()) > 0 {
				va.Address = fmt.Sprintf("%s:%d", ni.GetAddress(), ni.GetPorts()[0].GetHostPort())
			}
		}
		if va.CellID != "" {
			c := cellOf(va.CellID, va.Zone)
			d := s.desired[va.ProcessGuid]
			c.Used.MemoryMB += d.GetMemoryMb()
			c.Used.DiskMB += d.GetDiskMb()
			c.Used.Containers++
		}
		v.ActualLRPs = append(v.ActualLRPs, va)
	}
	for _, t := range s.tasks {
		def := t.GetTaskDefinition()
		vt := Task{
			TaskGuid: t.GetTaskGuid(), Domain: t.GetDomain(), State: t.GetState().String(), CellID: t.GetCellId(),
			MemoryMB: def.GetMemoryMb(), DiskMB: def.GetDiskMb(), Failed: t.GetFailed(), FailureReason: t.GetFailureReason(),
		}
		if t.GetState() == models.Task_Running && vt.CellID != "" {
			c := cellOf(vt.CellID, "")
			c.Used.MemoryMB += vt.MemoryMB
			c.Used.DiskMB += vt.DiskMB
			c.Used.Containers++
		}
		v.Tasks = append(v.Tasks, vt)
	}
	for _, d := range s.desired {
		n := states[d.GetProcessGuid()]
		if n == nil {
			n = map[string]int{}
		}
		v.DesiredLRPs = append(v.DesiredLRPs, DesiredLRP{
			ProcessGuid: d.GetProcessGuid(), Domain: d.GetDomain(), Instances: d.GetInstances(),
			MemoryMB: d.GetMemoryMb(), DiskMB: d.GetDiskMb(), RootFS: d.GetRootFs(), States: n,
		})
	}
	for _, c := range cells {
		v.Cells = append(v.Cells, *c)
	}

	slices.SortFunc(v.Cells, func(a, b Cell) int {
		return cmp.Or(cmp.Compare(a.Zone, b.Zone), cmp.Compare(a.CellID, b.CellID))
	})
	slices.SortFunc(v.DesiredLRPs, func(a, b DesiredLRP) int { return cmp.Compare(a.ProcessGuid, b.ProcessGuid) })
	slices.SortFunc(v.ActualLRPs, func(a, b ActualLRP) int {
		return cmp.Or(cmp.Compare(a.ProcessGuid, b.ProcessGuid), cmp.Compare(a.Index, b.Index),
			cmp.Compare(models.ActualLRP_Presence_value[a.Presence], models.ActualLRP_Presence_value[b.Presence]))
	})
	slices.SortFunc(v.Tasks, func(a, b Task) int { return cmp.Compare(a.TaskGuid, b.TaskGuid) })
	return v
}
