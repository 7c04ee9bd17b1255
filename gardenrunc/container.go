package gardenrunc

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/diego-go/diego/gardenrunc/initproc"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"code.cloudfoundry.org/garden"
	"github.com/google/uuid"
)

// Container implements garden.Container.
type Container struct {
	b      *Backend
	dir    string
	cgroup string

	mu    sync.Mutex
	st    *containerState
	procs map[string]*proc

	destroyMu        sync.Mutex
	addressReleasing bool          // a destroy has handed its address back (once only: it may be reused)
	chainsMu         sync.Mutex    // serializes making the chains (ensureChains)
	initReaped       chan struct{} // closed when this server reaped the init (nil if adopted)
}

func (b *Backend) newContainer(st *containerState, dir string) *Container {
	return &Container{b: b, dir: dir, st: st, procs: map[string]*proc{}, cgroup: cgroupPath(b.cfg.CgroupParent, st.Handle)}
}

func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0600)
}

// reapInit waits for the container's init, which was re-parented to the server.
func (c *Container) reapInit() {
	c.initReaped = make(chan struct{})
	pid := c.st.InitPid
	go func() {
		var ws syscall.WaitStatus
		for {
			_, err := syscall.Wait4(pid, &ws, 0, nil)
			if err != syscall.EINTR {
				break
			}
		}
		close(c.initReaped)
	}()
}

func (c *Container) save() error { return saveState(c.dir, c.st) }

func (c *Container) Handle() string { return c.st.Handle }

func (c *Container) matches(filter garden.Properties) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range filter {
		if c.st.Properties[k] != v {
			return false
		}
	}
	return true
}

// Stop kills all processes of the container (SIGTERM then SIGKILL after 10 s, or SIGKILL at once).
func (c *Container) Stop(kill bool) error {
	c.mu.Lock()
	var ps []*proc
	for _, p := range c.procs {
		ps = append(ps, p)
	}
	c.mu.Unlock()
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	for _, p := range ps {
		p.signal(sig)
	}
	if !kill {
		deadline := time.After(10 * time.Second)
		for _, p := range ps {
			select {
			case <-p.done:
			case <-deadline:
				for _, q := range ps {
					q.signal(syscall.SIGKILL)
				}
				return nil
			}
		}
	}
	return nil
}

func (c *Container) Info() (garden.ContainerInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	props := garden.Properties{}
	for k, v := range c.st.Properties {
		props[k] = v
	}
	var ids []string
	for id, p := range c.procs {
		if !p.exited() {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	events := append([]string{}, c.st.Events...)
	if !contains(events, "oom") && c.b.cgroups.oomKilled(c.cgroup) {
		events = append(events, "oom")
	}
	state := "active"
	if _, alive := procStart(c.st.InitPid); !alive {
		state = "stopped"
	}
	return garden.ContainerInfo{
		State: state, Events: events,
		HostIP: c.b.ips.Gateway().String(), ContainerIP: c.st.IP, ExternalIP: c.b.cfg.ExternalIP,
		ContainerPath: c.dir, ProcessIDs: ids, Properties: props,
		MappedPorts: append([]garden.PortMapping{}, c.st.MappedPorts...),
	}, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (c *Container) rootfs() string { return rootfsDir(c.dir) }

// nsenter runs a helper command inside the container's namespaces (for tar streaming). In a
// container with a user namespace it joins that too, so that the helper is the container's user
// (ids as the container sees them) and never host root.
func (c *Container) nsenter(user string, args ...string) (*exec.Cmd, error) {
	u, err := LookupUser(c.rootfs(), user)
	if err != nil {
		return nil, err
	}
	full := []string{"-t", strconv.Itoa(c.st.InitPid), "-m", "-p", "-u", "-i", "-n", "-r", "-w"}
	if c.st.UserNSHostID != 0 {
		full = append(full, "-U")
	}
	full = append(full, "-S", strconv.Itoa(int(u.UID)), "-G", strconv.Itoa(int(u.GID)), "--")
	return exec.Command("nsenter", append(full, args...)...), nil
}

// StreamIn extracts a tar stream into the container at spec.Path, as spec.User. The init binary's
// tar-in runs inside the container's namespaces and root, so links cannot lead outside it and the
// image needs no tar of its own.
func (c *Container) StreamIn(spec garden.StreamInSpec) error {
	cmd, err := c.nsenter(spec.User, InitPathInContainer, "tar-in", spec.Path)
	if err != nil {
		return err
	}
	cmd.Stdin = spec.TarStream
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("stream in: %v: %s", err, out)
	}
	return nil
}

// StreamOut returns a tar stream of spec.Path in the container (the last path element becomes
// the top entry, or its contents if the path ends in "/").
func (c *Container) StreamOut(spec garden.StreamOutSpec) (io.ReadCloser, error) {
	cmd, err := c.nsenter(spec.User, InitPathInContainer, "tar-out", spec.Path)
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr limitedBuf
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &cmdReader{r: out, cmd: cmd, stderr: &stderr}, nil
}

type limitedBuf struct{ b []byte }

func (l *limitedBuf) Write(p []byte) (int, error) {
	if len(l.b) < 4096 {
		l.b = append(l.b, p...)
	}
	return len(p), nil
}

type cmdReader struct {
	r      io.ReadCloser
	cmd    *exec.Cmd
	stderr *limitedBuf
	done   bool
}

func (c *cmdReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF && !c.done {
		c.done = true
		if werr := c.cmd.Wait(); werr != nil {
			return n, fmt.Errorf("stream out: %v: %s", werr, c.stderr.b)
		}
	}
	return n, err
}

func (c *cmdReader) Close() error {
	c.r.Close()
	if !c.done {
		c.done = true
		c.cmd.Process.Kill()
		c.cmd.Wait()
	}
	return nil
}

func (c *Container) CurrentBandwidthLimits() (garden.BandwidthLimits, error) {
	return garden.BandwidthLimits{}, nil
}
func (c *Container) CurrentCPULimits() (garden.CPULimits, error) {
	return c.st.Limits.CPU, nil
}
func (c *Container) CurrentDiskLimits() (garden.DiskLimits, error) {
	return c.st.Limits.Disk, nil
}
func (c *Container) CurrentMemoryLimits() (garden.MemoryLimits, error) {
	return c.st.Limits.Memory, nil
}

// ensureChains makes the container's own chains before its first NetIn or NetOut rule, recording
// that first so a destroy after a crash removes them.
func (c *Container) ensureChains() error {
	c.chainsMu.Lock()
	defer c.chainsMu.Unlock()
	c.mu.Lock()
	if !c.st.NoChains {
		c.mu.Unlock()
		return nil
	}
	c.st.NoChains = false
	err := c.save()
	ip := net.ParseIP(c.st.IP)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.b.net.AddChains(ip)
}

func (c *Container) NetIn(hostPort, containerPort uint32) (uint32, uint32, error) {
	ip := net.ParseIP(c.st.IP)
	if err := c.ensureChains(); err != nil {
		return 0, 0, err
	}
	if hostPort == 0 {
		p, err := c.b.ports.Acquire()
		if err != nil {
			return 0, 0, err
		}
		hostPort = p
	} else if err := c.b.ports.Reserve(hostPort); err != nil {
		return 0, 0, err
	}
	if containerPort == 0 {
		containerPort = hostPort
	}
	if err := c.b.net.NetIn(ip, hostPort, containerPort); err != nil {
		c.b.ports.Release(hostPort)
		return 0, 0, err
	}
	c.mu.Lock()
	c.st.MappedPorts = append(c.st.MappedPorts, garden.PortMapping{HostPort: hostPort, ContainerPort: containerPort})
	err := c.save()
	c.mu.Unlock()
	return hostPort, containerPort, err
}

func (c *Container) NetOut(rule garden.NetOutRule) error {
	if err := c.ensureChains(); err != nil {
		return err
	}
	if err := c.b.net.NetOut(net.ParseIP(c.st.IP), rule); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.NetOut = append(c.st.NetOut, rule)
	return c.save()
}

func (c *Container) BulkNetOut(rules []garden.NetOutRule) error {
	for _, r := range rules {
		if err := c.NetOut(r); err != nil {
			return err
		}
	}
	return nil
}

func (c *Container) Run(spec garden.ProcessSpec, pio garden.ProcessIO) (garden.Process, error) {
	if spec.ID == "" {
		spec.ID = uuid.NewString()
	}
	if err := checkName("process id", spec.ID); err != nil {
		return nil, err
	}
	user := spec.User
	if user == "" {
		user = c.st.ImageUser
	}
	u, err := LookupUser(c.rootfs(), user)
	if err != nil {
		return nil, err
	}
	if spec.Dir == "" {
		spec.Dir = c.st.ImageWorkDir
	}
	ps, err := BuildProcess(ProcessParams{
		Spec: spec, ContainerEnv: c.st.Env, UID: u.UID, GID: u.GID, Home: u.Home,
		Privileged: c.st.Privileged, HostCaps: c.b.hostCaps,
	})
	if err != nil {
		return nil, err
	}
	// the init's root is the container's with its bind mounts, which the rootfs dir lacks
	if err := lookExecutable(fmt.Sprintf("/proc/%d/root", c.st.InitPid), ps.Args[0], ps.Cwd, ps.Env); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.collectProcesses()
	if _, ok := c.procs[spec.ID]; ok {
		c.mu.Unlock()
		return nil, fmt.Errorf("process id %q already in use", spec.ID)
	}
	dir := filepath.Join(c.dir, "processes", spec.ID)
	p := newProc(spec.ID, dir)
	c.procs[spec.ID] = p
	c.mu.Unlock()
	fail := func(err error) (garden.Process, error) {
		c.mu.Lock()
		delete(c.procs, spec.ID)
		c.mu.Unlock()
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.MkdirAll(dir, 0700); err != nil {
		return fail(err)
	}
	if err := p.spawn(filepath.Join(c.dir, initproc.InitSockName), ps, c.st.InitPid, c.onExit(p)); err != nil {
		return fail(err)
	}
	return c.attach(p, pio), nil
}

// collectProcesses forgets processes that exited long enough ago (health checks run every few
// seconds for the life of an LRP). Called with c.mu held.
func (c *Container) collectProcesses() {
	now := time.Now()
	for id, p := range c.procs {
		if p.collectable(now) {
			delete(c.procs, id)
			os.RemoveAll(p.dir)
		}
	}
}

// onExit notes OOM kills (in Events and on the process's stderr) before waiters are released.
func (c *Container) onExit(p *proc) func(int) {
	return func(code int) {
		if code == 128+int(syscall.SIGKILL) && c.b.cgroups.oomKilled(c.cgroup) {
			c.mu.Lock()
			if !contains(c.st.Events, "oom") {
				c.st.Events = append(c.st.Events, "oom")
				c.save()
			}
			c.mu.Unlock()
			if f, err := os.OpenFile(filepath.Join(p.dir, procStderr), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0600); err == nil {
				fmt.Fprintf(f, "diego-garden: process was killed by the kernel OOM killer: container memory limit %d bytes exceeded\n", c.st.Limits.Memory.LimitInBytes)
				f.Close()
			}
		}
	}
}

func (c *Container) attach(p *proc, pio garden.ProcessIO) *handle {
	atomic.AddInt32(&p.attached, 1)
	h := &handle{p: p}
	p.follow(procStdout, pio.Stdout, &h.wg)
	p.follow(procStderr, pio.Stderr, &h.wg)
	p.feed(pio.Stdin)
	return h
}

// Attach re-attaches to a process; output is replayed from its start.
func (c *Container) Attach(id string, pio garden.ProcessIO) (garden.Process, error) {
	c.mu.Lock()
	p, ok := c.procs[id]
	c.mu.Unlock()
	if !ok {
		return nil, garden.ProcessNotFoundError{ProcessID: id}
	}
	return c.attach(p, pio), nil
}

// adoptProcesses rebuilds the process table after a server restart.
func (c *Container) adoptProcesses() {
	entries, _ := os.ReadDir(filepath.Join(c.dir, "processes"))
	for _, e := range entries {
		p := newProc(e.Name(), filepath.Join(c.dir, "processes", e.Name()))
		c.procs[p.id] = p
		p.adopt(c.st.InitPid, c.st.InitStart, c.onExit(p))
	}
}

// waitProcesses waits (bounded) for processes' exits to be recorded after the init was killed.
func (c *Container) waitProcesses(d time.Duration) {
	c.mu.Lock()
	var ps []*proc
	for _, p := range c.procs {
		ps = append(ps, p)
	}
	c.mu.Unlock()
	deadline := time.After(d)
	for _, p := range ps {
		select {
		case <-p.done:
		case <-deadline:
			return
		}
	}
}

func (c *Container) Metrics() (garden.Metrics, error) {
	c.mu.Lock()
	created := c.st.Created
	limit := c.st.Limits.Disk.ByteHard
	c.mu.Unlock()
	var disk garden.ContainerDiskStat
	if limit > 0 {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(diskDir(c.dir), &fs); err == nil {
			disk.ExclusiveBytesUsed = (fs.Blocks - fs.Bfree) * uint64(fs.Bsize)
			disk.ExclusiveInodesUsed = fs.Files - fs.Ffree
		}
	} else {
		disk.ExclusiveBytesUsed, disk.ExclusiveInodesUsed = dirUsage(filepath.Join(c.dir, "upper"))
	}
	disk.TotalBytesUsed, disk.TotalInodesUsed = disk.ExclusiveBytesUsed, disk.ExclusiveInodesUsed
	return garden.Metrics{
		MemoryStat: c.b.cgroups.memoryMetrics(c.cgroup),
		CPUStat:    c.b.cgroups.cpuMetrics(c.cgroup),
		DiskStat:   disk,
		PidStat:    c.b.cgroups.pidMetrics(c.cgroup),
		Age:        time.Since(created),
	}, nil
}

func (c *Container) SetGraceTime(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.GraceTime = d
	return c.save()
}

func (c *Container) Properties() (garden.Properties, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := garden.Properties{}
	for k, v := range c.st.Properties {
		out[k] = v
	}
	return out, nil
}

func (c *Container) Property(name string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.st.Properties[name]
	if !ok {
		return "", fmt.Errorf("property does not exist: %s", name)
	}
	return v, nil
}

func (c *Container) SetProperty(name, value string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.Properties == nil {
		c.st.Properties = garden.Properties{}
	}
	c.st.Properties[name] = value
	return c.save()
}

func (c *Container) RemoveProperty(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.st.Properties[name]; !ok {
		return errors.New("property does not exist: " + name)
	}
	delete(c.st.Properties, name)
	return c.save()
}
