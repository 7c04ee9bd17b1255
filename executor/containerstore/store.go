// Package containerstore keeps one node per container and drives it through garden: reserved ->
// initializing -> created -> running -> completed. It creates the garden container (rootfs,
// limits, ports, egress rules, bind mounts, environment), runs the container's steps, keeps the
// reason of every failure, and stores what it needs in garden's container properties so that a
// later store over the same garden adopts the containers still there (Adopt).
package containerstore

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"code.cloudfoundry.org/garden"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/allocation"
	"github.com/diego-go/diego/executor/logstream"
)

// Failure reasons in upstream's words.
const (
	ReasonCachedDependenciesFailed = "failed to download cached artifacts"
	ReasonCreateFailed             = "failed to create container"
	ReasonExpired                  = "expired container"
	ReasonMissing                  = "missing garden container"
	ReasonCredDirFailed            = "failed to create credentials directory"
	ReasonStoppedBeforeRunning     = "stopped-before-running"
	// ReasonFetchResultFailed: the result file is missing, unreadable or over MaxResultFileSize.
	ReasonFetchResultFailed = "failed to fetch result"
)

// MaxResultFileSize is upstream's limit on a result file.
const MaxResultFileSize = 10 * 1024

// Step is one piece of a container's work; cancelling ctx stops it (executor/steps' Step).
type Step interface {
	Perform(ctx context.Context) error
}

// Callbacks report the run step's progress (executor/steps' Callbacks).
type Callbacks struct {
	OnHealthy          func()
	OnReadinessChanged func(ready bool)
}

// StepInput is what the steps of one container are built from.
type StepInput struct {
	// Info is the container's RunInfo with the executor's variables appended to Env.
	Info      executor.RunInfo
	Container garden.Container
	Logs      logstream.Streamer
	// HealthCheckPath is cmd/healthcheck's binary in the container ("" when none is mounted).
	HealthCheckPath string
	// Adopt: the container's processes were started by an earlier executor; whether its setup
	// runs again is the steps' to decide.
	Adopt     bool
	Callbacks Callbacks
}

// BuildFunc turns a container into its setup step (nil for none) and its run step.
type BuildFunc func(in StepInput) (setup, run Step)

// Config is what a Store works with.
type Config struct {
	// CellID owns the store's garden containers (OwnerProperty) and names the cell in the
	// container's lifecycle log lines.
	CellID string
	Garden garden.Client
	Pool   *allocation.Pool
	Logger *slog.Logger
	Build  BuildFunc
	// NewLogs is a container's log output.
	NewLogs func(executor.LogConfig) logstream.Streamer
	// Emit delivers lifecycle events; it must not block for long.
	Emit func(executor.Event)
	// FetchDir unpacks a cached dependency into a host directory kept until release is called.
	FetchDir func(ctx context.Context, dep executor.CachedDependency) (dir string, release func(), err error)
	// Hold keeps a cached dependency's current directory, as it is, until release is called: an
	// adopted container has it mounted. ok is false when there is no such directory.
	Hold func(dep executor.CachedDependency) (release func(), ok bool)
	// Fetch is an artifact as a tar stream for garden's StreamIn (a preloaded+layer rootfs's
	// layer).
	Fetch func(ctx context.Context, dep executor.CachedDependency) (io.ReadCloser, error)
	// Credentials signs an instance identity certificate; nil gives containers none.
	Credentials func(guid, ip string, orgUnits []string) (certPEM, keyPEM []byte, err error)
	// CredentialsDir holds each container's identity files (CredentialsDir/<guid>) on the host.
	CredentialsDir string
	// CredentialsRotation is how often a running container's credentials are signed afresh
	// (0: never).
	CredentialsRotation time.Duration
	// TrustedCertsDir is the host's trusted CA certificates directory ("" = none).
	TrustedCertsDir string
	// HealthCheckDir is the host directory holding cmd/healthcheck's binary ("" = none).
	HealthCheckDir string
	InodeLimit     uint64
	MaxCPUShares   uint64
	// RootFSSize is what garden counts toward a container's disk of its rootfs alone.
	RootFSSize func(stack string) uint64
	// Retryable says whether a run step's error came before the action's process ran (a
	// failed download).
	Retryable func(error) bool
	Now       func() time.Time
}

// Store holds the cell's containers.
type Store struct {
	cfg   Config
	mu    sync.Mutex
	nodes map[string]*node
	// deferred are the garden containers whose adoption failed for a while (garden did not
	// answer): ReapMissing tries again instead of destroying them.
	deferred map[string]bool
}

// New returns an empty store.
func New(cfg Config) *Store {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RootFSSize == nil {
		cfg.RootFSSize = func(string) uint64 { return 0 }
	}
	if cfg.Retryable == nil {
		cfg.Retryable = func(error) bool { return false }
	}
	return &Store{cfg: cfg, nodes: map[string]*node{}, deferred: map[string]bool{}}
}

func (s *Store) get(guid string) (*node, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[guid]
	if !ok {
		return nil, executor.ErrContainerNotFound
	}
	return n, nil
}

// Reserve allocates the request's resources and keeps a reserved container for it.
func (s *Store) Reserve(req executor.AllocationRequest) error {
	s.mu.Lock()
	if _, ok := s.nodes[req.Guid]; ok {
		s.mu.Unlock()
		return executor.ErrContainerGuidNotAvailable
	}
	now := s.cfg.Now()
	if err := s.cfg.Pool.Allocate(req.Guid, req.Resource, now); err != nil {
		s.mu.Unlock()
		return err
	}
	n := &node{c: executor.Container{Guid: req.Guid, Resource: req.Resource, Tags: copyTags(req.Tags),
		State: executor.StateReserved, AllocatedAt: now, Ready: true}}
	s.nodes[req.Guid] = n
	s.mu.Unlock()
	s.emit(executor.EventTypeContainerReserved, n.snapshot())
	return nil
}

// Run moves a reserved container to initializing and creates and runs it in the background.
func (s *Store) Run(guid string, info executor.RunInfo) error {
	n, err := s.get(guid)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	// a stopped reservation is completing: it must not start now
	if n.c.State != executor.StateReserved || n.c.RunResult.Stopped {
		return executor.ErrInvalidTransition
	}
	if err := s.cfg.Pool.Initialize(guid); err != nil {
		// reaped a moment ago: the reaper completes it
		return executor.ErrInvalidTransition
	}
	n.c.State = executor.StateInitializing
	n.c.RunInfo = info
	n.c.Ready = !hasReadinessChecks(info)
	n.logs = s.cfg.NewLogs(info.LogConfig)
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan struct{})
	go s.lifecycle(ctx, n, false)
	return nil
}

// Get is a snapshot of one container.
func (s *Store) Get(guid string) (executor.Container, error) {
	n, err := s.get(guid)
	if err != nil {
		return executor.Container{}, err
	}
	return n.snapshot(), nil
}

// List is a snapshot of every container whose tags include all of filter, sorted by guid.
func (s *Store) List(filter executor.Tags) []executor.Container {
	s.mu.Lock()
	nodes := make([]*node, 0, len(s.nodes))
	for _, n := range s.nodes {
		nodes = append(nodes, n)
	}
	s.mu.Unlock()
	var out []executor.Container
	for _, n := range nodes {
		c := n.snapshot()
		if matches(c.Tags, filter) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Guid < out[j].Guid })
	return out
}

func matches(tags, filter executor.Tags) bool {
	for k, v := range filter {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// UpdateMetricTags replaces the container's metric tags. A created container's stored RunInfo
// gets them too, so that an adopting store keeps them.
func (s *Store) UpdateMetricTags(guid string, tags map[string]string) error {
	n, err := s.get(guid)
	if err != nil {
		return err
	}
	// the garden property is written in the order of the updates
	n.updating.Lock()
	defer n.updating.Unlock()
	n.mu.Lock()
	n.c.RunInfo.MetricsConfig.Tags = maps.Clone(tags)
	gc, info := n.gc, n.c.RunInfo
	n.mu.Unlock()
	if gc == nil {
		return nil
	}
	raw, err := encodeRunInfo(info)
	if err != nil {
		return err
	}
	if err := gc.SetProperty(runInfoProperty, raw); err != nil && !isNotFound(err) {
		return fmt.Errorf("store the metric tags of %s: %w", guid, err)
	}
	return nil
}

// Stop ends the container's processes gracefully; it completes with RunResult.Stopped. A
// container stopped before it was initialized completes at once.
func (s *Store) Stop(guid string) error {
	n, err := s.get(guid)
	if err != nil {
		return err
	}
	s.stop(n)
	return nil
}

func (s *Store) stop(n *node) {
	n.mu.Lock()
	if n.c.RunResult.Stopped || n.c.State == executor.StateCompleted {
		n.mu.Unlock()
		return
	}
	n.c.RunResult.Stopped = true
	state, cancel, logs := n.c.State, n.cancel, n.logs
	n.mu.Unlock()
	switch {
	case cancel == nil:
		s.complete(n, executor.RunResult{Failed: true, FailureReason: ReasonStoppedBeforeRunning})
	case state == executor.StateCreated || state == executor.StateRunning:
		fmt.Fprintf(logs.Stdout(), "Cell %s stopping instance %s\n", s.cfg.CellID, n.c.Guid)
		cancel()
	default:
		cancel()
	}
}

// Delete stops the container if needed, waits for its steps to end, destroys the garden
// container and frees its resources. It gives up waiting when ctx ends.
func (s *Store) Delete(ctx context.Context, guid string) error {
	n, err := s.get(guid)
	if err != nil {
		return err
	}
	n.deleting.Lock()
	defer n.deleting.Unlock()
	if _, err := s.get(guid); err != nil {
		return err // deleted while this waited
	}
	s.stop(n)
	if n.done != nil {
		select {
		case <-n.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	n.mu.Lock()
	created := n.cancel != nil
	logs := n.logs
	n.mu.Unlock()
	if created {
		fmt.Fprintf(logs.Stdout(), "Cell %s destroying container for instance %s\n", s.cfg.CellID, guid)
		if err := s.cfg.Garden.Destroy(guid); err != nil && !isNotFound(err) {
			fmt.Fprintf(logs.Stdout(), "Cell %s failed to destroy container for instance %s\n", s.cfg.CellID, guid)
			logs.Flush()
			return fmt.Errorf("destroy %s: %w", guid, err)
		}
		fmt.Fprintf(logs.Stdout(), "Cell %s successfully destroyed container for instance %s\n", s.cfg.CellID, guid)
		logs.Flush()
	}
	n.release()
	if s.cfg.CredentialsDir != "" {
		if err := os.RemoveAll(filepath.Join(s.cfg.CredentialsDir, guid)); err != nil {
			s.cfg.Logger.Error("remove-credentials-failed", "guid", guid, "error", err)
		}
	}
	s.cfg.Pool.Free(guid)
	s.mu.Lock()
	delete(s.nodes, guid)
	s.mu.Unlock()
	return nil
}

func isNotFound(err error) bool {
	var nf garden.ContainerNotFoundError
	return errors.As(err, &nf)
}

// ReapExpired completes, as upstream's "expired container", every reserved container whose
// allocation was never initialized within timeout; their resources are free again.
func (s *Store) ReapExpired(timeout time.Duration) []string {
	reaped := s.cfg.Pool.Reap(s.cfg.Now(), timeout)
	for _, guid := range reaped {
		n, err := s.get(guid)
		if err != nil {
			continue
		}
		n.mu.Lock()
		reserved := n.c.State == executor.StateReserved
		n.mu.Unlock()
		if reserved {
			s.complete(n, executor.RunResult{Failed: true, FailureReason: ReasonExpired})
		}
	}
	return reaped
}

// ReapMissing completes, as upstream's "missing garden container", the created or running
// containers garden no longer has, and destroys the garden containers of this owner the store
// does not know (left by a creation that never finished, or by another run).
func (s *Store) ReapMissing() error {
	// which containers garden should have is taken before asking garden: one created meanwhile
	// is then not missing
	s.mu.Lock()
	var created []*node
	for _, n := range s.nodes {
		n.mu.Lock()
		if n.c.State == executor.StateCreated || n.c.State == executor.StateRunning {
			created = append(created, n)
		}
		n.mu.Unlock()
	}
	s.mu.Unlock()
	list, err := s.cfg.Garden.Containers(garden.Properties{OwnerProperty: s.cfg.CellID})
	if err != nil {
		return err
	}
	inGarden := map[string]bool{}
	var unknown []garden.Container
	for _, c := range list {
		inGarden[c.Handle()] = true
		if _, err := s.get(c.Handle()); err != nil {
			unknown = append(unknown, c)
		}
	}
	for _, n := range created {
		n.mu.Lock()
		guid, cancel := n.c.Guid, n.cancel
		n.mu.Unlock()
		if !inGarden[guid] {
			s.complete(n, executor.RunResult{Failed: true, FailureReason: ReasonMissing})
			cancel()
		}
	}
	s.mu.Lock()
	for handle := range s.deferred {
		if !inGarden[handle] {
			delete(s.deferred, handle)
		}
	}
	s.mu.Unlock()
	for _, gc := range unknown {
		handle := gc.Handle()
		s.mu.Lock()
		deferred := s.deferred[handle]
		s.mu.Unlock()
		if deferred {
			if err := s.adoptOrDestroy(gc); err != nil {
				s.cfg.Logger.Error("adopt-failed", "guid", handle, "error", err)
			}
			continue
		}
		s.cfg.Logger.Info("destroying-unknown-container", "handle", handle)
		if err := s.cfg.Garden.Destroy(handle); err != nil && !isNotFound(err) {
			s.cfg.Logger.Error("destroy-unknown-container-failed", "handle", handle, "error", err)
		}
	}
	return nil
}

func (s *Store) emit(t executor.EventType, c executor.Container) {
	if s.cfg.Emit != nil {
		s.cfg.Emit(executor.Event{Type: t, Container: c})
	}
}

// complete moves n to completed with r (Stopped is kept once set); a second completion is
// ignored. The result is stored in garden so that an adopting store knows it.
func (s *Store) complete(n *node, r executor.RunResult) {
	n.mu.Lock()
	if n.c.State == executor.StateCompleted {
		n.mu.Unlock()
		return
	}
	r.Stopped = r.Stopped || n.c.RunResult.Stopped
	if r.Failed {
		r.FailureReason = truncated(r.FailureReason)
	}
	n.c.RunResult = r
	n.c.State = executor.StateCompleted
	gc := n.gc
	c := n.c
	n.mu.Unlock()
	if gc != nil {
		if b, err := jsonString(r); err == nil {
			if err := gc.SetProperty(resultProperty, b); err != nil && !isNotFound(err) {
				s.cfg.Logger.Error("store-result-failed", "guid", c.Guid, "error", err)
			}
		}
	}
	s.cfg.Logger.Info("container-completed", "guid", c.Guid, "failed", r.Failed, "reason", r.FailureReason, "stopped", r.Stopped)
	s.emit(executor.EventTypeContainerComplete, c)
}

// readResultFile reads the single file at path in the container, at most MaxResultFileSize bytes.
func readResultFile(gc garden.Container, path string) (string, error) {
	rc, err := gc.StreamOut(garden.StreamOutSpec{Path: path, User: "root"})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		return "", fmt.Errorf("result file %s: %w", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(tr, MaxResultFileSize+1))
	if err != nil {
		return "", fmt.Errorf("result file %s: %w", path, err)
	}
	if len(b) > MaxResultFileSize {
		return "", fmt.Errorf("result file %s is larger than %d bytes", path, MaxResultFileSize)
	}
	return string(b), nil
}

func copyTags(t executor.Tags) executor.Tags {
	if t == nil {
		return nil
	}
	out := make(executor.Tags, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

func hasReadinessChecks(info executor.RunInfo) bool {
	return len(info.CheckDefinition.GetReadinessChecks()) > 0
}
