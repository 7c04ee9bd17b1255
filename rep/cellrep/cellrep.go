// Package cellrep is the auction side of a cell: it reports the cell's state and takes the work
// an auction gives it, against the executor. What fits is allocated (the processor then claims
// and runs it); what does not is answered back as rejected, as upstream's auction cell rep.
//
//	rep := cellrep.New(cellrep.Config{CellID: ..., RepURL: ..., Zone: ..., RootFSProviders: ...,
//		Evacuating: flag.Evacuating}, executorClient, logger)
//	state, healthy, err := rep.State(ctx)   // healthy false: answer 503 with the same body
//	rejected, err := rep.Perform(ctx, work) // err: the work names another cell (ErrCellIDMismatch)
//	metrics, err := rep.Metrics(ctx)
package cellrep

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/diego-go/diego/auction"
	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/convert"
)

// ErrCellIDMismatch: the work was meant for another cell (upstream's words).
var ErrCellIDMismatch = errors.New("workload cell ID does not match this cell")

// Config describes the cell as auctions see it.
type Config struct {
	CellID                string
	CellIndex             int
	RepURL                string
	Zone                  string
	RootFSProviders       models.RootFSProviders
	PlacementTags         []string
	OptionalPlacementTags []string
	VolumeDrivers         []string
	// Evacuating reports whether the cell is leaving (it then takes no work); nil: never.
	Evacuating func() bool
	// NewInstanceGuid makes the guid of a new instance (default: a random UUID).
	NewInstanceGuid func() string
}

// CellRep answers auctions for one cell. It is safe for concurrent use.
type CellRep struct {
	cfg    Config
	exec   executor.Client
	logger *slog.Logger

	mu      sync.Mutex
	cpuSeen map[string]cpuSample // the last CPU time seen of each container, for its usage fraction
}

type cpuSample struct {
	at  time.Time
	cpu time.Duration
}

// New makes the cell rep.
func New(cfg Config, exec executor.Client, logger *slog.Logger) *CellRep {
	if cfg.NewInstanceGuid == nil {
		cfg.NewInstanceGuid = uuid.NewString
	}
	if cfg.Evacuating == nil {
		cfg.Evacuating = func() bool { return false }
	}
	return &CellRep{cfg: cfg, exec: exec, logger: logger, cpuSeen: map[string]cpuSample{}}
}

// State is the cell's state as GET /state answers it; healthy is the executor's last garden
// health check (a cell that is not healthy answers 503 with the same state, so auctions skip it).
func (c *CellRep) State(ctx context.Context) (models.CellState, bool, error) {
	containers, err := c.exec.ListContainers(ctx, nil)
	if err != nil {
		return models.CellState{}, false, fmt.Errorf("listing containers: %w", err)
	}
	total, err := c.exec.TotalResources(ctx)
	if err != nil {
		return models.CellState{}, false, fmt.Errorf("reading total resources: %w", err)
	}
	remaining, err := c.exec.RemainingResources(ctx)
	if err != nil {
		return models.CellState{}, false, fmt.Errorf("reading remaining resources: %w", err)
	}
	s := c.emptyState()
	s.AvailableResources = resources(remaining)
	s.TotalResources = resources(total)
	for _, ctr := range containers {
		switch ctr.State {
		case executor.StateReserved, executor.StateInitializing, executor.StateCreated:
			s.StartingContainerCount++
		}
		tags, drivers, err := convert.PlacementFromTags(ctr.Tags)
		if err != nil {
			// still counted: its resources are taken whatever it asked of the cell
			c.logger.Error("cell state: container's placement tags", "container", ctr.Guid, "error", err)
		}
		pc := models.PlacementConstraint{RootFs: ctr.RunInfo.RootFSPath, PlacementTags: tags, VolumeDrivers: drivers}
		res := models.Resource{MemoryMB: int32(ctr.Resource.MemoryMB), DiskMB: int32(ctr.Resource.DiskMB), MaxPids: int32(ctr.Resource.MaxPids)}
		switch ctr.Tags[convert.LifecycleTag] {
		case convert.LRPLifecycle:
			key, err := convert.ActualLRPKeyFromTags(ctr.Tags)
			if err != nil {
				c.logger.Error("cell state: container without an instance's tags", "container", ctr.Guid, "error", err)
				continue
			}
			s.LRPs = append(s.LRPs, models.RepLRP{
				InstanceGUID:        ctr.Tags[convert.InstanceGuidTag],
				LRPKey:              models.LRPKey{ProcessGUID: key.ProcessGuid, Index: key.Index, Domain: key.Domain},
				PlacementConstraint: pc,
				Resource:            res,
				State:               lrpState(ctr),
			})
		case convert.TaskLifecycle:
			state := models.Task_Running
			if ctr.State == executor.StateCompleted {
				state = models.Task_Completed
			}
			s.Tasks = append(s.Tasks, models.RepTask{
				TaskGuid: ctr.Guid, Domain: ctr.Tags[convert.DomainTag], PlacementConstraint: pc, Resource: res,
				State: state, Failed: ctr.RunResult.Failed,
			})
		}
	}
	healthy := c.exec.Healthy(ctx)
	if !healthy {
		c.logger.Error("cell state: the garden health check fails; the cell answers 503")
	}
	return s, healthy, nil
}

// lrpState is the instance's state as upstream's cell state names it.
func lrpState(ctr executor.Container) string {
	switch ctr.State {
	case executor.StateRunning:
		return models.ActualLRPStateRunning
	case executor.StateCompleted:
		if ctr.RunResult.Failed {
			return models.ActualLRPStateCrashed
		}
		return "SHUTDOWN"
	}
	return models.ActualLRPStateClaimed
}

func (c *CellRep) emptyState() models.CellState {
	return models.CellState{
		RepURL:                c.cfg.RepURL,
		CellID:                c.cfg.CellID,
		CellIndex:             c.cfg.CellIndex,
		RootFSProviders:       c.cfg.RootFSProviders,
		LRPs:                  []models.RepLRP{},
		Tasks:                 []models.RepTask{},
		Zone:                  c.cfg.Zone,
		Evacuating:            c.cfg.Evacuating(),
		VolumeDrivers:         c.cfg.VolumeDrivers,
		PlacementTags:         c.cfg.PlacementTags,
		OptionalPlacementTags: c.cfg.OptionalPlacementTags,
	}
}

func resources(r executor.Resources) models.Resources {
	return models.Resources{MemoryMB: int32(r.MemoryMB), DiskMB: int32(r.DiskMB), Containers: r.Containers}
}

// Perform allocates a container for each piece of work that fits and answers the rest. An
// evacuating cell answers all of it; work for another cell is an error.
func (c *CellRep) Perform(ctx context.Context, work models.Work) (models.Work, error) {
	if work.CellID != "" && work.CellID != c.cfg.CellID {
		return models.Work{}, fmt.Errorf("%w: work for %q, this is %q", ErrCellIDMismatch, work.CellID, c.cfg.CellID)
	}
	if c.cfg.Evacuating() {
		c.logger.Info("perform: evacuating, rejecting all work", "lrps", len(work.LRPs), "tasks", len(work.Tasks))
		return models.Work{LRPs: work.LRPs, Tasks: work.Tasks}, nil
	}
	offered := c.emptyState()
	var rejected models.Work

	// Larger instances first, as upstream's: they are the hardest to fit.
	lrps := slices.Clone(work.LRPs)
	slices.SortStableFunc(lrps, func(a, b models.RepLRP) int { return cmp.Compare(b.MemoryMB, a.MemoryMB) })
	var reqs []executor.AllocationRequest
	byGuid := map[string]any{}
	for _, l := range lrps {
		if !auction.MatchRootFS(&offered, l.RootFs) {
			c.logger.Info("perform: rootfs not offered", "process_guid", l.ProcessGUID, "index", l.Index, "rootfs", l.RootFs)
			rejected.LRPs = append(rejected.LRPs, l)
			continue
		}
		ig := c.cfg.NewInstanceGuid()
		guid := convert.LRPContainerGuid(l.ProcessGUID, ig)
		byGuid[guid] = l
		reqs = append(reqs, executor.AllocationRequest{Guid: guid, Resource: resource(l.Resource), Tags: convert.LRPTags(l, ig)})
	}
	for _, t := range work.Tasks {
		if !auction.MatchRootFS(&offered, t.RootFs) {
			c.logger.Info("perform: rootfs not offered", "task_guid", t.TaskGuid, "rootfs", t.RootFs)
			rejected.Tasks = append(rejected.Tasks, t)
			continue
		}
		byGuid[t.TaskGuid] = t
		reqs = append(reqs, executor.AllocationRequest{Guid: t.TaskGuid, Resource: resource(t.Resource), Tags: convert.TaskTags(t)})
	}
	if len(reqs) == 0 {
		return rejected, nil
	}
	for _, f := range c.exec.AllocateContainers(ctx, reqs) {
		switch w := byGuid[f.Guid].(type) {
		case models.RepLRP:
			c.logger.Info("perform: allocation failed", "guid", f.Guid, "reason", f.Reason)
			rejected.LRPs = append(rejected.LRPs, w)
		case models.RepTask:
			// A task sent again to the cell that already holds it is not answered back: the
			// auctioneer would report it unplaceable, and the BBS's reject would put a task this
			// cell runs back to pending, to be run a second time elsewhere.
			if errors.Is(f.Err, executor.ErrContainerGuidNotAvailable) {
				c.logger.Info("perform: task already on this cell", "task_guid", f.Guid)
				continue
			}
			c.logger.Info("perform: allocation failed", "guid", f.Guid, "reason", f.Reason)
			rejected.Tasks = append(rejected.Tasks, w)
		}
	}
	return rejected, nil
}

func resource(r models.Resource) executor.Resource {
	return executor.Resource{MemoryMB: int(r.MemoryMB), DiskMB: int(r.DiskMB), MaxPids: int(r.MaxPids)}
}

// Metrics is every container's usage, as GET /container_metrics answers it. The CPU fraction is
// the CPU time used since the previous call over the time passed (0 the first time).
func (c *CellRep) Metrics(ctx context.Context) (models.ContainerMetricsCollection, error) {
	containers, err := c.exec.ListContainers(ctx, nil)
	if err != nil {
		return models.ContainerMetricsCollection{}, fmt.Errorf("listing containers: %w", err)
	}
	metrics, err := c.exec.GetBulkMetrics(ctx)
	if err != nil {
		return models.ContainerMetricsCollection{}, fmt.Errorf("reading container metrics: %w", err)
	}
	out := models.ContainerMetricsCollection{CellID: c.cfg.CellID, LRPs: []models.LRPMetric{}, Tasks: []models.TaskMetric{}}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[string]cpuSample, len(metrics))
	for _, ctr := range containers {
		m, ok := metrics[ctr.Guid]
		if !ok {
			continue
		}
		cm := models.CachedContainerMetrics{
			MetricGUID:       ctr.RunInfo.MetricsConfig.Guid,
			DiskUsageBytes:   m.DiskUsageInBytes,
			DiskQuotaBytes:   m.DiskLimitInBytes,
			MemoryUsageBytes: m.MemoryUsageInBytes,
			MemoryQuotaBytes: m.MemoryLimitInBytes,
		}
		if prev, ok := c.cpuSeen[ctr.Guid]; ok && now.After(prev.at) && m.TimeSpentInCPU >= prev.cpu {
			cm.CPUUsageFraction = float64(m.TimeSpentInCPU-prev.cpu) / float64(now.Sub(prev.at))
		}
		seen[ctr.Guid] = cpuSample{at: now, cpu: m.TimeSpentInCPU}
		switch ctr.Tags[convert.LifecycleTag] {
		case convert.LRPLifecycle:
			key, err := convert.ActualLRPKeyFromTags(ctr.Tags)
			if err != nil {
				continue
			}
			out.LRPs = append(out.LRPs, models.LRPMetric{InstanceGUID: ctr.Tags[convert.InstanceGuidTag], ProcessGUID: key.ProcessGuid, Index: key.Index, CachedContainerMetrics: cm})
		case convert.TaskLifecycle:
			out.Tasks = append(out.Tasks, models.TaskMetric{TaskGUID: ctr.Guid, CachedContainerMetrics: cm})
		}
	}
	c.cpuSeen = seen
	return out, nil
}
