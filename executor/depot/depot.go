// Package depot is the executor as the rep uses it: Executor implements executor.Client over a
// garden server, and is an ifrit.Runner that, when it starts, adopts the containers an earlier
// executor of this cell left running, then reaps expired reservations and containers garden
// lost, runs the periodic garden health check and publishes each container's metrics.
package depot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/garden"
	"github.com/google/uuid"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/allocation"
	"github.com/diego-go/diego/executor/containerstore"
	"github.com/diego-go/diego/executor/logstream"
)

// MetricsSubjectPrefix: a container's metrics are published on MetricsSubjectPrefix + its
// metrics guid (with the characters NATS gives a meaning replaced as in log subjects).
const MetricsSubjectPrefix = "metrics."

var (
	_ executor.Client = (*Executor)(nil)
	_ ifrit.Runner    = (*Executor)(nil)
)

// Executor runs the cell's containers.
type Executor struct {
	cfg     Config
	logger  *slog.Logger
	garden  garden.Client
	pub     logstream.Publisher
	pool    *allocation.Pool
	store   *containerstore.Store
	hub     *hub
	healthy atomic.Bool

	rootFSMu    sync.Mutex
	rootFSSizes map[string]uint64

	cpuMu   sync.Mutex
	lastCPU map[string]cpuSample
}

type cpuSample struct {
	at    time.Time
	usage time.Duration
}

// parts are what New builds from the configuration; the specs give their own.
type parts struct {
	build       containerstore.BuildFunc
	fetchDir    func(ctx context.Context, dep executor.CachedDependency) (string, func(), error)
	fetch       func(ctx context.Context, dep executor.CachedDependency) (io.ReadCloser, error)
	hold        func(dep executor.CachedDependency) (func(), bool)
	credentials func(guid, ip string, orgUnits []string) ([]byte, []byte, error)
	retryable   func(error) bool
	// rotation is how often credentials are signed afresh.
	rotation time.Duration
}

func newExecutor(cfg Config, logger *slog.Logger, gc garden.Client, pub logstream.Publisher, p parts) (*Executor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.CellID == "" {
		return nil, errors.New("executor: the cell id is required")
	}
	gcap, err := gc.Capacity()
	if err != nil {
		return nil, fmt.Errorf("executor: garden's capacity: %w", err)
	}
	total, err := cfg.capacity(gcap)
	if err != nil {
		return nil, fmt.Errorf("executor: %w", err)
	}
	e := &Executor{cfg: cfg, logger: logger, garden: gc, pub: pub, pool: allocation.New(total), hub: newHub(),
		rootFSSizes: map[string]uint64{}, lastCPU: map[string]cpuSample{}}
	limits := logstream.Limits{LinesPerSecond: cfg.MaxLogLinesPerSecond}
	sc := containerstore.Config{
		CellID:   cfg.CellID,
		Garden:   gc,
		Pool:     e.pool,
		Logger:   logger,
		Build:    p.build,
		NewLogs:  func(lc executor.LogConfig) logstream.Streamer { return logstream.New(pub, lc, limits) },
		Emit:     e.hub.emit,
		FetchDir: p.fetchDir, Fetch: p.fetch, Hold: p.hold, Credentials: p.credentials, Retryable: p.retryable,
		CredentialsDir: cfg.InstanceIdentityCredDir, CredentialsRotation: p.rotation,
		TrustedCertsDir: cfg.TrustedSystemCertificatesPath,
		HealthCheckDir:  cfg.DeclarativeHealthcheckPath,
		InodeLimit:      cfg.ContainerInodeLimit,
		MaxCPUShares:    cfg.ContainerMaxCPUShares,
		RootFSSize:      e.rootFSSize,
	}
	e.store = containerstore.New(sc)
	return e, nil
}

func (e *Executor) rootFSSize(stack string) uint64 {
	e.rootFSMu.Lock()
	defer e.rootFSMu.Unlock()
	return e.rootFSSizes[stack]
}

// Run adopts the containers left by an earlier executor of this cell, checks garden's health
// once, is ready, and then reaps, checks and reports periodically until signalled. Containers
// are left running when it returns: the next executor adopts them.
func (e *Executor) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.measureRootFS()
	e.destroyContainersOf(e.cfg.healthCheckOwner())
	adopted, err := e.store.Adopt(ctx)
	if err != nil {
		return fmt.Errorf("executor: adopting garden's containers: %w", err)
	}
	e.logger.Info("executor-started", "adopted", len(adopted), "total", e.pool.Total())
	e.checkHealth()
	close(ready)

	reap := time.NewTicker(e.cfg.ContainerReapInterval.D())
	defer reap.Stop()
	health := time.NewTicker(e.cfg.GardenHealthcheckInterval.D())
	defer health.Stop()
	report := time.NewTicker(e.cfg.ContainerMetricsReportInterval.D())
	defer report.Stop()
	// a check in flight is waited for on the way out (checkHealth gives up after its timeout),
	// so that nothing records a health outcome after Run returned
	var checking atomic.Bool
	var checks sync.WaitGroup
	defer checks.Wait()
	for {
		select {
		case <-signals:
			return nil
		case <-reap.C:
			e.store.ReapExpired(e.cfg.ReservedExpirationTime.D())
			if err := e.store.ReapMissing(); err != nil {
				e.logger.Error("reap-missing-failed", "error", err)
			}
		case <-health.C:
			// a check may take long (a stuck garden); the next waits for it
			if checking.CompareAndSwap(false, true) {
				checks.Go(func() {
					defer checking.Store(false)
					e.checkHealth()
				})
			}
		case <-report.C:
			e.reportMetrics(ctx)
		}
	}
}

// measureRootFS learns, as upstream does, how much of a container's disk garden counts for each
// preloaded stack's rootfs alone (total less exclusive bytes of an empty container); the disk
// limit adds it to disk_mb.
func (e *Executor) measureRootFS() {
	for _, stack := range e.cfg.PreloadedRootFS {
		handle := "rootfs-c-" + uuid.NewString()
		_, err := e.garden.Create(garden.ContainerSpec{Handle: handle, Image: garden.ImageRef{URI: "preloaded:" + stack},
			Properties: garden.Properties{containerstore.OwnerProperty: e.cfg.healthCheckOwner()}})
		if err != nil {
			e.logger.Error("measure-rootfs-failed", "stack", stack, "error", err)
			continue
		}
		m, err := e.garden.BulkMetrics([]string{handle})
		if err == nil && m[handle].Err == nil {
			d := m[handle].Metrics.DiskStat
			e.rootFSMu.Lock()
			e.rootFSSizes[stack] = d.TotalBytesUsed - min(d.TotalBytesUsed, d.ExclusiveBytesUsed)
			e.rootFSMu.Unlock()
		}
		if err := e.garden.Destroy(handle); err != nil {
			e.logger.Error("destroy-failed", "handle", handle, "error", err)
		}
	}
}

// destroyContainersOf destroys the garden containers of owner (health checks a killed executor
// left behind).
func (e *Executor) destroyContainersOf(owner string) {
	list, err := e.garden.Containers(garden.Properties{containerstore.OwnerProperty: owner})
	if err != nil {
		e.logger.Error("list-containers-failed", "owner", owner, "error", err)
		return
	}
	for _, c := range list {
		if err := e.garden.Destroy(c.Handle()); err != nil {
			e.logger.Error("destroy-failed", "handle", c.Handle(), "error", err)
		}
	}
}

// checkHealth runs the garden health check within its timeout and records the outcome.
func (e *Executor) checkHealth() {
	done := make(chan error, 1)
	go func() { done <- e.gardenHealthCheck() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(e.cfg.GardenHealthcheckTimeout.D()):
		err = fmt.Errorf("timed out after %s", e.cfg.GardenHealthcheckTimeout.D())
	}
	if err != nil {
		e.logger.Error("garden-healthcheck-failed", "error", err)
	} else if !e.healthy.Load() {
		e.logger.Info("garden-healthcheck-passed")
	}
	e.healthy.Store(err == nil)
}

// gardenHealthCheck creates a container and runs the configured process in it (three tries,
// as upstream's), and destroys the container.
func (e *Executor) gardenHealthCheck() error {
	rootfs := ""
	if len(e.cfg.PreloadedRootFS) > 0 {
		rootfs = "preloaded:" + e.cfg.PreloadedRootFS[0]
	}
	handle := "executor-healthcheck-" + uuid.NewString()
	c, err := e.garden.Create(garden.ContainerSpec{Handle: handle, Image: garden.ImageRef{URI: rootfs},
		Properties: garden.Properties{containerstore.OwnerProperty: e.cfg.healthCheckOwner()}})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	defer func() {
		if err := e.garden.Destroy(handle); err != nil {
			e.logger.Error("destroy-failed", "handle", handle, "error", err)
		}
	}()
	spec := garden.ProcessSpec{Path: e.cfg.GardenHealthcheckProcessPath, Args: e.cfg.GardenHealthcheckProcessArgs,
		User: e.cfg.GardenHealthcheckProcessUser, Dir: e.cfg.GardenHealthcheckProcessDir, Env: e.cfg.GardenHealthcheckProcessEnv}
	for try := 1; ; try++ {
		err = runOnce(c, spec)
		if err == nil || try == 3 {
			return err
		}
		time.Sleep(e.cfg.GardenHealthcheckCommandRetryPause.D())
	}
}

func runOnce(c garden.Container, spec garden.ProcessSpec) error {
	p, err := c.Run(spec, garden.ProcessIO{})
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	status, err := p.Wait()
	if err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	if status != 0 {
		return fmt.Errorf("%s exited with status %d", spec.Path, status)
	}
	return nil
}

// Ping fails when garden cannot be reached.
func (e *Executor) Ping(context.Context) error { return e.garden.Ping() }

// AllocateContainers reserves each request; those that do not fit come back with the reason.
func (e *Executor) AllocateContainers(_ context.Context, reqs []executor.AllocationRequest) []executor.AllocationFailure {
	var failures []executor.AllocationFailure
	for _, r := range reqs {
		if err := e.store.Reserve(r); err != nil {
			failures = append(failures, executor.AllocationFailure{AllocationRequest: r, Reason: err.Error(), Err: err})
		}
	}
	return failures
}

func (e *Executor) RunContainer(_ context.Context, guid string, info executor.RunInfo) error {
	return e.store.Run(guid, info)
}

func (e *Executor) GetContainer(_ context.Context, guid string) (executor.Container, error) {
	return e.store.Get(guid)
}

func (e *Executor) ListContainers(_ context.Context, filter executor.Tags) ([]executor.Container, error) {
	return e.store.List(filter), nil
}

func (e *Executor) StopContainer(_ context.Context, guid string) error { return e.store.Stop(guid) }

func (e *Executor) UpdateContainer(_ context.Context, guid string, metricTags map[string]string) error {
	return e.store.UpdateMetricTags(guid, metricTags)
}

func (e *Executor) DeleteContainer(ctx context.Context, guid string) error {
	return e.store.Delete(ctx, guid)
}

func (e *Executor) RemainingResources(context.Context) (executor.Resources, error) {
	return e.pool.Remaining(), nil
}

func (e *Executor) TotalResources(context.Context) (executor.Resources, error) {
	return e.pool.Total(), nil
}

func (e *Executor) SubscribeToEvents(ctx context.Context) (<-chan executor.Event, error) {
	return e.hub.subscribe(ctx), nil
}

// Healthy is the last garden health check's outcome.
func (e *Executor) Healthy(context.Context) bool { return e.healthy.Load() }

// GetBulkMetrics is every created or running container's usage, as upstream computes it: the
// rootfs's own bytes left out of the disk used and its limit.
func (e *Executor) GetBulkMetrics(context.Context) (map[string]executor.ContainerMetrics, error) {
	byGuid := map[string]executor.Container{}
	var handles []string
	for _, c := range e.store.List(nil) {
		if c.State == executor.StateCreated || c.State == executor.StateRunning {
			byGuid[c.Guid] = c
			handles = append(handles, c.Guid)
		}
	}
	out := map[string]executor.ContainerMetrics{}
	if len(handles) == 0 {
		return out, nil
	}
	gm, err := e.garden.BulkMetrics(handles)
	if err != nil {
		return nil, err
	}
	for guid, entry := range gm {
		c, ok := byGuid[guid]
		if !ok || entry.Err != nil {
			continue
		}
		m := entry.Metrics
		rootfs := uint64(0)
		if c.DiskLimit > 0 {
			rootfs = min(e.rootFSSize(stackOf(c.RunInfo.RootFSPath)), c.DiskLimit)
		}
		out[guid] = executor.ContainerMetrics{
			MemoryUsageInBytes:                  m.MemoryStat.TotalUsageTowardLimit,
			DiskUsageInBytes:                    m.DiskStat.TotalBytesUsed - min(m.DiskStat.TotalBytesUsed, rootfs),
			MemoryLimitInBytes:                  c.MemoryLimit,
			DiskLimitInBytes:                    c.DiskLimit - rootfs,
			TimeSpentInCPU:                      time.Duration(m.CPUStat.Usage),
			AbsoluteCPUEntitlementInNanoseconds: m.CPUEntitlement,
			ContainerAgeInNanoseconds:           uint64(m.Age),
		}
	}
	return out, nil
}

// stackOf is the preloaded stack of a rootfs URL ("" for others).
func stackOf(rootfs string) string {
	for _, scheme := range []string{"preloaded:", "preloaded+layer:"} {
		if rest, ok := strings.CutPrefix(rootfs, scheme); ok {
			stack, _, _ := strings.Cut(rest, "?")
			return stack
		}
	}
	return ""
}

// MetricsMessage is what is published for each container every report interval, modelled on
// loggregator's container metric.
type MetricsMessage struct {
	Timestamp              int64             `json:"timestamp"` // Unix nanoseconds
	ApplicationID          string            `json:"application_id"`
	InstanceIndex          int               `json:"instance_index"`
	CPUPercentage          float64           `json:"cpu_percentage"`
	MemoryBytes            uint64            `json:"memory_bytes"`
	DiskBytes              uint64            `json:"disk_bytes"`
	MemoryBytesQuota       uint64            `json:"memory_bytes_quota"`
	DiskBytesQuota         uint64            `json:"disk_bytes_quota"`
	AbsoluteCPUUsage       uint64            `json:"absolute_cpu_usage"`
	AbsoluteCPUEntitlement uint64            `json:"absolute_cpu_entitlement"`
	ContainerAge           uint64            `json:"container_age"`
	Tags                   map[string]string `json:"tags"`
}

// MetricsSubject is the subject a metrics guid's messages are published on.
func MetricsSubject(guid string) string {
	// the log subjects' escaping, under the metrics prefix
	return MetricsSubjectPrefix + strings.TrimPrefix(logstream.Subject(guid), logstream.SubjectPrefix)
}

// metricTags are the instance's metric tags with, unless they name them, upstream's source_id
// (the metrics guid) and instance_id (the index).
func metricTags(mc executor.MetricsConfig) map[string]string {
	tags := map[string]string{}
	for k, v := range mc.Tags {
		tags[k] = v
	}
	if _, ok := tags["source_id"]; !ok {
		tags["source_id"] = mc.Guid
	}
	if _, ok := tags["instance_id"]; !ok {
		tags["instance_id"] = strconv.Itoa(mc.Index)
	}
	return tags
}

// reportMetrics publishes each container's metrics; the CPU percentage is the CPU time used
// since the previous report over the wall time between them.
func (e *Executor) reportMetrics(ctx context.Context) {
	all, err := e.GetBulkMetrics(ctx)
	if err != nil {
		e.logger.Error("container-metrics-failed", "error", err)
		return
	}
	now := time.Now()
	e.cpuMu.Lock()
	defer e.cpuMu.Unlock()
	seen := map[string]bool{}
	for guid, m := range all {
		seen[guid] = true
		c, err := e.store.Get(guid)
		if err != nil || c.RunInfo.MetricsConfig.Guid == "" {
			continue
		}
		msg := MetricsMessage{Timestamp: now.UnixNano(), ApplicationID: c.RunInfo.MetricsConfig.Guid,
			InstanceIndex: c.RunInfo.MetricsConfig.Index, MemoryBytes: m.MemoryUsageInBytes, DiskBytes: m.DiskUsageInBytes,
			MemoryBytesQuota: m.MemoryLimitInBytes, DiskBytesQuota: m.DiskLimitInBytes,
			AbsoluteCPUUsage: uint64(m.TimeSpentInCPU), AbsoluteCPUEntitlement: m.AbsoluteCPUEntitlementInNanoseconds,
			ContainerAge: m.ContainerAgeInNanoseconds, Tags: metricTags(c.RunInfo.MetricsConfig)}
		if prev, ok := e.lastCPU[guid]; ok && now.After(prev.at) {
			msg.CPUPercentage = 100 * float64(m.TimeSpentInCPU-prev.usage) / float64(now.Sub(prev.at))
		}
		e.lastCPU[guid] = cpuSample{at: now, usage: m.TimeSpentInCPU}
		data, _ := json.Marshal(msg)
		if err := e.pub.Publish(MetricsSubject(msg.ApplicationID), data); err != nil {
			e.logger.Error("publish-metrics-failed", "guid", guid, "error", err)
		}
	}
	for guid := range e.lastCPU {
		if !seen[guid] {
			delete(e.lastCPU, guid)
		}
	}
}
