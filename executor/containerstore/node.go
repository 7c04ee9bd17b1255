package containerstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"code.cloudfoundry.org/garden"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/logstream"
)

// node is one container.
type node struct {
	// deleting serializes Delete calls.
	deleting sync.Mutex
	// updating serializes UpdateMetricTags calls.
	updating sync.Mutex

	mu sync.Mutex
	c  executor.Container
	gc garden.Container
	// cancel stops the lifecycle goroutine, done is closed when it ends; both nil until Run.
	cancel context.CancelFunc
	done   chan struct{}
	logs   logstream.Streamer
	// releases give back the cache directories mounted into the container.
	releases []func()
}

func (n *node) snapshot() executor.Container {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.c
	c.Tags = copyTags(c.Tags)
	c.Ports = append([]executor.PortMapping(nil), c.Ports...)
	return c
}

func (n *node) release() {
	n.mu.Lock()
	rel := n.releases
	n.releases = nil
	n.mu.Unlock()
	for _, r := range rel {
		r()
	}
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// mounts are a container's bind mounts and the variables naming them.
type mounts struct {
	binds []garden.BindMount
	env   []executor.EnvironmentVariable
}

func readOnly(src, dst string) garden.BindMount {
	return garden.BindMount{SrcPath: src, DstPath: dst, Mode: garden.BindMountModeRO, Origin: garden.BindMountOriginHost}
}

// fetchDependencies fetches the cached dependencies (and a preloaded+layer rootfs's layer) into
// host directories, all at once, held until the node is released. A named dependency says so
// in the container's log, as upstream: "Downloading NAME...", then "Downloaded NAME" or
// "Downloading NAME failed", under its log source.
func (s *Store) fetchDependencies(ctx context.Context, n *node, deps []executor.CachedDependency) ([]garden.BindMount, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	binds := make([]garden.BindMount, len(deps))
	errs := make([]error, len(deps))
	var wg sync.WaitGroup
	for i, d := range deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			say := func(format string) {
				if d.Name != "" {
					fmt.Fprintf(n.logs.WithSource(d.LogSource).Stdout(), format+"\n", d.Name)
				}
			}
			say("Downloading %s...")
			dir, release, err := s.cfg.FetchDir(ctx, d)
			if err != nil {
				say("Downloading %s failed")
				errs[i] = fmt.Errorf("%s: %w", d.From, err)
				cancel() // the container fails: the others need not finish
				return
			}
			say("Downloaded %s")
			n.mu.Lock()
			n.releases = append(n.releases, release)
			n.mu.Unlock()
			binds[i] = readOnly(dir, d.To)
		}()
	}
	wg.Wait()
	return binds, errors.Join(errs...)
}

// streamLayer lays a preloaded+layer rootfs's layer into the new container at its path, as
// root so that the layer's own owners and modes are kept: the container's copy is writable, as
// a layer of its image would be.
func (s *Store) streamLayer(ctx context.Context, gc garden.Container, layer executor.CachedDependency) error {
	rc, err := s.cfg.Fetch(ctx, layer)
	if err != nil {
		return fmt.Errorf("layer %s: %w", layer.From, err)
	}
	defer rc.Close()
	if err := gc.StreamIn(garden.StreamInSpec{Path: layer.To, User: "root", TarStream: rc}); err != nil {
		return fmt.Errorf("layer %s into %s: %w", layer.From, layer.To, err)
	}
	return nil
}

// staticMounts are the mounts that do not depend on the container's address: the trusted
// certificates, the identity credentials' directory and the health check binary.
func (s *Store) staticMounts(guid string, info executor.RunInfo) (mounts, error) {
	var m mounts
	if s.cfg.TrustedCertsDir != "" && info.TrustedSystemCertificatesPath != "" {
		m.binds = append(m.binds, readOnly(s.cfg.TrustedCertsDir, info.TrustedSystemCertificatesPath))
		m.env = append(m.env, executor.EnvironmentVariable{Name: "CF_SYSTEM_CERT_PATH", Value: info.TrustedSystemCertificatesPath})
	}
	if s.cfg.Credentials != nil {
		dir := filepath.Join(s.cfg.CredentialsDir, guid)
		if err := os.MkdirAll(dir, 0755); err != nil {
			return m, err
		}
		m.binds = append(m.binds, readOnly(dir, CredentialsDir))
		m.env = append(m.env,
			executor.EnvironmentVariable{Name: "CF_INSTANCE_CERT", Value: CredentialsDir + "/instance.crt"},
			executor.EnvironmentVariable{Name: "CF_INSTANCE_KEY", Value: CredentialsDir + "/instance.key"})
	}
	if s.cfg.HealthCheckDir != "" {
		m.binds = append(m.binds, readOnly(s.cfg.HealthCheckDir, HealthCheckDir))
	}
	return m, nil
}

// writeCredentials signs the instance's identity for its address and writes it where the
// container sees CF_INSTANCE_CERT and CF_INSTANCE_KEY.
func (s *Store) writeCredentials(c executor.Container) error {
	if s.cfg.Credentials == nil {
		return nil
	}
	cert, key, err := s.cfg.Credentials(c.Guid, c.InternalIP, c.RunInfo.CertificateOrganizationalUnits)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.cfg.CredentialsDir, c.Guid)
	// the container's user reads them through the read-only mount; the host directory above
	// CredentialsDir keeps others out
	if err := writeFileAtomic(filepath.Join(dir, "instance.crt"), cert, 0644); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "instance.key"), key, 0644)
}

// rotateCredentials signs the instance's credentials afresh every rotation period until ctx
// ends, before the ones it has expire.
func (s *Store) rotateCredentials(ctx context.Context, c executor.Container) {
	t := time.NewTicker(s.cfg.CredentialsRotation)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.writeCredentials(c); err != nil {
				s.cfg.Logger.Error("rotate-credentials-failed", "guid", c.Guid, "error", err)
			}
		}
	}
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// lifecycle creates (unless adopting) and runs n's container, and completes it.
func (s *Store) lifecycle(ctx context.Context, n *node, adopt bool) {
	defer close(n.done)
	n.mu.Lock()
	logs := n.logs
	n.mu.Unlock()
	defer logs.Flush()
	if !adopt {
		if r, ok := s.create(ctx, n); !ok {
			s.complete(n, r)
			return
		}
	}
	if ctx.Err() != nil {
		s.complete(n, executor.RunResult{})
		return
	}
	s.run(ctx, n, adopt)
}

// create makes the garden container; on failure it returns the run result to complete with.
func (s *Store) create(ctx context.Context, n *node) (executor.RunResult, bool) {
	c := n.snapshot()
	info := c.RunInfo
	logs := n.logs
	fail := func(reason string) (executor.RunResult, bool) {
		return executor.RunResult{Failed: true, FailureReason: reason, Retryable: true}, false
	}
	binds, err := s.fetchDependencies(ctx, n, info.CachedDependencies)
	if err != nil {
		s.cfg.Logger.Error("cached-dependencies-failed", "guid", c.Guid, "error", err)
		return fail(ReasonCachedDependenciesFailed)
	}
	static, err := s.staticMounts(c.Guid, info)
	if err != nil {
		s.cfg.Logger.Error("credentials-dir-failed", "guid", c.Guid, "error", err)
		return fail(ReasonCredDirFailed)
	}
	binds = append(binds, static.binds...)
	fmt.Fprintf(logs.Stdout(), "Cell %s creating container for instance %s\n", s.cfg.CellID, c.Guid)
	// what garden would refuse fails as garden's refusal does, after the line above
	createFailed := func(err error) (executor.RunResult, bool) {
		s.cfg.Logger.Error("create-failed", "guid", c.Guid, "error", err)
		fmt.Fprintf(logs.Stderr(), "Cell %s failed to create container for instance %s: %s\n", s.cfg.CellID, c.Guid, err)
		return fail(ReasonCreateFailed + ": " + err.Error())
	}
	root, err := parseRootFS(info.RootFSPath)
	if err != nil {
		return createFailed(err)
	}
	netOut, err := netOutRules(info.EgressRules)
	if err != nil {
		return createFailed(err)
	}
	ports := dedupPorts(info.Ports)
	netIn := make([]garden.NetIn, len(ports))
	for i, p := range ports {
		netIn[i] = garden.NetIn{HostPort: p.HostPort, ContainerPort: p.ContainerPort}
	}
	props, err := properties(s.cfg.CellID, c)
	if err != nil {
		return createFailed(err)
	}
	spec := garden.ContainerSpec{
		Handle:     c.Guid,
		Privileged: info.Privileged,
		Image:      garden.ImageRef{URI: root.URI, Username: info.ImageUsername, Password: info.ImagePassword},
		Env:        envStrings(append(append([]executor.EnvironmentVariable(nil), info.Env...), static.env...)),
		BindMounts: binds,
		Limits: garden.Limits{
			Memory: garden.MemoryLimits{LimitInBytes: uint64(c.Resource.MemoryMB) * 1024 * 1024},
			Disk: garden.DiskLimits{ByteHard: diskLimit(c.Resource.DiskMB, s.cfg.RootFSSize(root.Stack)),
				InodeHard: s.cfg.InodeLimit, Scope: garden.DiskLimitScopeTotal},
			Pid: garden.PidLimits{Max: uint64(c.Resource.MaxPids)},
			CPU: garden.CPULimits{LimitInShares: cpuShares(s.cfg.MaxCPUShares, info.CPUWeight)},
		},
		Properties: props,
		NetIn:      netIn,
		NetOut:     netOut,
	}
	gc, err := s.cfg.Garden.Create(spec)
	if err != nil {
		return createFailed(err)
	}
	if root.Layer != nil {
		if err := s.streamLayer(ctx, gc, *root.Layer); err != nil {
			s.destroyHalfCreated(c.Guid)
			return createFailed(err)
		}
	}
	gi, err := gc.Info()
	if err != nil {
		s.destroyHalfCreated(c.Guid)
		return fail(ReasonCreateFailed + ": " + err.Error())
	}
	fmt.Fprintf(logs.Stdout(), "Cell %s successfully created container for instance %s\n", s.cfg.CellID, c.Guid)
	n.mu.Lock()
	n.gc = gc
	n.c.State = executor.StateCreated
	n.c.Ports = mappedPorts(ports, gi.MappedPorts)
	n.c.ExternalIP, n.c.InternalIP = gi.ExternalIP, gi.ContainerIP
	n.c.MemoryLimit, n.c.DiskLimit = spec.Limits.Memory.LimitInBytes, spec.Limits.Disk.ByteHard
	n.mu.Unlock()
	return executor.RunResult{}, true
}

// destroyHalfCreated destroys a garden container whose creation failed after garden made it;
// one left behind is destroyed by ReapMissing.
func (s *Store) destroyHalfCreated(guid string) {
	if err := s.cfg.Garden.Destroy(guid); err != nil && !isNotFound(err) {
		s.cfg.Logger.Error("destroy-failed", "guid", guid, "error", err)
	}
}

// run builds and performs the container's steps and completes it with their outcome.
func (s *Store) run(ctx context.Context, n *node, adopt bool) {
	c := n.snapshot()
	n.mu.Lock()
	gc, logs := n.gc, n.logs
	n.mu.Unlock()
	if err := s.writeCredentials(c); err != nil {
		s.complete(n, executor.RunResult{Failed: true, FailureReason: "cred-manager-runner exited: " + err.Error()})
		return
	}
	if s.cfg.Credentials != nil && s.cfg.CredentialsRotation > 0 {
		rotating, stop := context.WithCancel(ctx)
		defer stop()
		go s.rotateCredentials(rotating, c)
	}
	static, _ := s.staticMounts(c.Guid, c.RunInfo)
	info := c.RunInfo
	info.Env = append(append(append([]executor.EnvironmentVariable(nil), info.Env...), static.env...),
		networkEnv(c.ExternalIP, c.InternalIP, c.Ports)...)
	in := StepInput{Info: info, Container: gc, Logs: logs, Adopt: adopt,
		Callbacks: Callbacks{
			OnHealthy:          func() { s.healthy(n) },
			OnReadinessChanged: func(ready bool) { s.readiness(n, ready) },
		}}
	if s.cfg.HealthCheckDir != "" {
		in.HealthCheckPath = HealthCheckPath
	}
	setup, step := s.cfg.Build(in)
	if setup != nil {
		if err := setup.Perform(ctx); err != nil {
			s.complete(n, executor.RunResult{Failed: true, FailureReason: err.Error(), Retryable: true})
			return
		}
	}
	err := step.Perform(ctx)
	if err != nil {
		s.complete(n, executor.RunResult{Failed: true, FailureReason: err.Error(), Retryable: s.cfg.Retryable(err)})
		return
	}
	r := executor.RunResult{}
	if info.ResultFile != "" {
		if r.Result, err = readResultFile(gc, info.ResultFile); err != nil {
			s.cfg.Logger.Error("fetch-result-failed", "guid", c.Guid, "error", err)
			r = executor.RunResult{Failed: true, FailureReason: ReasonFetchResultFailed}
		}
	}
	s.complete(n, r)
}

func (s *Store) healthy(n *node) {
	n.mu.Lock()
	if n.c.State != executor.StateCreated {
		n.mu.Unlock()
		return
	}
	n.c.State = executor.StateRunning
	n.mu.Unlock()
	s.emit(executor.EventTypeContainerRunning, n.snapshot())
}

func (s *Store) readiness(n *node, ready bool) {
	n.mu.Lock()
	if n.c.Ready == ready || n.c.State == executor.StateCompleted {
		n.mu.Unlock()
		return
	}
	n.c.Ready = ready
	n.mu.Unlock()
	s.emit(executor.EventTypeContainerReadinessChanged, n.snapshot())
}

// Adopt takes over the garden containers of this owner left by an earlier store: each is
// allocated again and its steps run with Adopt (attached to the processes still running); one
// that had completed keeps its result. A container that cannot be adopted (its properties do
// not read back, or it no longer fits) is destroyed; one garden could not describe, even after
// a few tries, is left running for ReapMissing to adopt later. It returns the adopted guids.
func (s *Store) Adopt(ctx context.Context) ([]string, error) {
	list, err := s.cfg.Garden.Containers(garden.Properties{OwnerProperty: s.cfg.CellID})
	if err != nil {
		return nil, err
	}
	var adopted []string
	for _, gc := range list {
		err := s.adoptRetrying(ctx, gc)
		if err == nil {
			adopted = append(adopted, gc.Handle())
		}
	}
	return adopted, nil
}

// adoptTries and adoptBackoff bound the retries of a container garden could not describe.
const (
	adoptTries   = 3
	adoptBackoff = 100 * time.Millisecond
)

// notAdoptable is an adoption error that no retry mends: the container is destroyed.
type notAdoptable struct{ err error }

func (e notAdoptable) Error() string { return e.err.Error() }
func (e notAdoptable) Unwrap() error { return e.err }

// adoptRetrying adopts gc, trying again after a transient error (garden did not answer); a
// container still not adopted is destroyed when it cannot be, and otherwise kept for the next
// ReapMissing.
func (s *Store) adoptRetrying(ctx context.Context, gc garden.Container) error {
	guid := gc.Handle()
	var err error
	for try := 1; try <= adoptTries; try++ {
		if err = s.adoptOrDestroy(gc); err == nil || errors.As(err, new(notAdoptable)) || try == adoptTries {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(adoptBackoff << (try - 1)):
		}
	}
	if err != nil && !errors.As(err, new(notAdoptable)) {
		s.cfg.Logger.Error("adopt-failed-retrying-later", "guid", guid, "error", err)
		s.mu.Lock()
		s.deferred[guid] = true
		s.mu.Unlock()
	}
	return err
}

// adoptOrDestroy adopts gc, or destroys it when it cannot be adopted.
func (s *Store) adoptOrDestroy(gc garden.Container) error {
	guid := gc.Handle()
	err := s.adopt(gc)
	if err == nil || !errors.As(err, new(notAdoptable)) {
		return err
	}
	s.cfg.Logger.Error("adopt-failed-destroying", "guid", guid, "error", err)
	s.mu.Lock()
	delete(s.deferred, guid)
	s.mu.Unlock()
	if err := s.cfg.Garden.Destroy(guid); err != nil && !isNotFound(err) {
		s.cfg.Logger.Error("destroy-failed", "guid", guid, "error", err)
	}
	return err
}

func (s *Store) adopt(gc garden.Container) error {
	guid := gc.Handle()
	gi, err := gc.Info()
	if err != nil {
		return err
	}
	if owner := gi.Properties[OwnerProperty]; owner != s.cfg.CellID {
		// listed as this owner's a moment ago: it is not this store's to adopt or destroy
		return fmt.Errorf("owned by %q", owner)
	}
	c, err := fromProperties(guid, gi.Properties)
	if err != nil {
		return notAdoptable{err}
	}
	root, err := parseRootFS(c.RunInfo.RootFSPath)
	if err != nil {
		return notAdoptable{err}
	}
	c.Adopted = true
	c.Ports = mappedPorts(dedupPorts(c.RunInfo.Ports), gi.MappedPorts)
	c.ExternalIP, c.InternalIP = gi.ExternalIP, gi.ContainerIP
	c.MemoryLimit = uint64(c.Resource.MemoryMB) * 1024 * 1024
	c.DiskLimit = diskLimit(c.Resource.DiskMB, s.cfg.RootFSSize(root.Stack))
	c.Ready = !hasReadinessChecks(c.RunInfo)
	s.mu.Lock()
	if _, ok := s.nodes[guid]; ok {
		s.mu.Unlock()
		return executor.ErrContainerGuidNotAvailable
	}
	if err := s.cfg.Pool.Allocate(guid, c.Resource, c.AllocatedAt); err != nil {
		s.mu.Unlock()
		return notAdoptable{err}
	}
	if err := s.cfg.Pool.Initialize(guid); err != nil {
		// allocated just above: only a bug gets here
		s.cfg.Logger.Error("initialize-allocation-failed", "guid", guid, "error", err)
	}
	delete(s.deferred, guid)
	n := &node{c: c, gc: gc, logs: s.cfg.NewLogs(c.RunInfo.LogConfig)}
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan struct{})
	s.nodes[guid] = n
	s.mu.Unlock()
	s.cfg.Logger.Info("adopted-container", "guid", guid, "state", c.State)
	if c.State == executor.StateCompleted {
		close(n.done)
		return nil
	}
	// The cache must keep what the container has mounted, as it is: fetching afresh could
	// replace (and so remove) the very directory mounted.
	for _, d := range c.RunInfo.CachedDependencies {
		if release, ok := s.cfg.Hold(d); ok {
			n.mu.Lock()
			n.releases = append(n.releases, release)
			n.mu.Unlock()
		} else {
			s.cfg.Logger.Error("adopt-cached-dependency-not-in-cache", "guid", guid, "from", d.From, "cache_key", d.CacheKey)
		}
	}
	go s.lifecycle(runCtx, n, true)
	return nil
}
