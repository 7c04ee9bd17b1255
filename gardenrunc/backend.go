// Package gardenrunc is this project's garden.Backend for Linux: containers run by runc with an
// overlayfs copy-on-write root, cgroup (v1 or v2) limits, a veth pair on a bridge of the project's own,
// and an init of its own in each container that starts processes and keeps them (and their exit
// statuses) past a restart of the server. It knows nothing of Diego.
package gardenrunc

import (
	"debug/elf"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"code.cloudfoundry.org/garden"
	"github.com/google/uuid"
	"golang.org/x/sys/unix"
)

// Config configures the backend. Zero values get defaults from Defaults().
type Config struct {
	DepotDir           string            // one directory per container
	RuncBin            string            // runc binary
	RuncRoot           string            // runc's state directory (kept apart from the host's)
	InitBin            string            // static garden-init: every container's init and the exec helper
	PreloadedRootFS    map[string]string // preloaded:NAME -> directory
	DefaultRootFS      string            // rootfs URI used when a spec names none
	CgroupParent       string            // parent cgroup name below the cgroup root (every v1 controller's)
	BridgeName         string
	ChainPrefix        string // names the shared iptables chains (<prefix>-prerouting, ...)
	NetworkPool        string // IPv4 CIDR of container addresses
	ExternalIP         string // the address NetIn ports are reachable at
	MTU                int
	PortRangeStart     uint32
	PortRangeEnd       uint32
	IPForward          bool // enable net.ipv4.ip_forward so containers reach other hosts
	AllowHostAccess    bool // let containers reach the host's own addresses
	MaxContainers      uint64
	DefaultGraceTime   time.Duration
	ImageCacheDir      string
	InsecureRegistries []string
	// UserNSHostID is the host uid/gid that root of unprivileged containers is: their ids
	// 0..65535 are host ids UserNSHostID..UserNSHostID+65535.
	UserNSHostID uint32
	Logger       *slog.Logger
}

// Defaults fills in unset fields.
func (c Config) Defaults() Config {
	if c.DepotDir == "" {
		c.DepotDir = "/var/lib/diego-garden/depot"
	}
	if c.RuncBin == "" {
		c.RuncBin = "runc"
	}
	if c.RuncRoot == "" {
		c.RuncRoot = "/run/diego-garden/runc"
	}
	if c.InitBin == "" {
		self, _ := os.Executable()
		c.InitBin = self
		if next := filepath.Join(filepath.Dir(self), "garden-init"); fileExists(next) {
			c.InitBin = next
		}
	}
	if c.CgroupParent == "" {
		c.CgroupParent = "diego-garden"
	}
	if c.ChainPrefix == "" {
		c.ChainPrefix = DefaultChainPrefix
	}
	if c.BridgeName == "" {
		c.BridgeName = "diego-garden0"
	}
	if c.NetworkPool == "" {
		c.NetworkPool = "10.254.0.0/22"
	}
	if c.ExternalIP == "" {
		c.ExternalIP = DefaultExternalIP()
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU(c.ExternalIP)
	}
	if c.PortRangeStart == 0 {
		c.PortRangeStart = 61001
	}
	if c.PortRangeEnd == 0 {
		c.PortRangeEnd = 65001
	}
	if c.ImageCacheDir == "" {
		c.ImageCacheDir = filepath.Join(filepath.Dir(c.DepotDir), "images")
	}
	if c.UserNSHostID == 0 {
		c.UserNSHostID = DefaultUserNSHostID
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Backend implements garden.Backend.
type Backend struct {
	cfg      Config
	log      *slog.Logger
	runc     runc
	ips      *IPPool
	ports    *PortPool
	net      *Network
	images   *ImageStore
	hostCaps []string
	cgroups  cgroupFS
	memsw    bool
	idmap    *idmapper // user namespaces: the shared idmapped mounts of lower layers

	mu         sync.RWMutex
	containers map[string]*Container
	creating   map[string]bool
}

// nameRE is what handles and process ids may be: they name directories of the depot and cgroups,
// so never "", ".", ".." or anything with a "/".
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// checkName refuses a handle or process id (what) that is not a plain file name of ours.
func checkName(what, name string) error {
	if nameRE.MatchString(name) {
		return nil
	}
	return fmt.Errorf("invalid %s %q: must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-' (no '/', no '..')", what, name)
}

// New builds a backend; Start prepares the host and reloads containers from the depot.
func New(cfg Config) (*Backend, error) {
	cfg = cfg.Defaults()
	ips, err := NewIPPool(cfg.NetworkPool)
	if err != nil {
		return nil, err
	}
	ports, err := NewPortPool(cfg.PortRangeStart, cfg.PortRangeEnd)
	if err != nil {
		return nil, err
	}
	cgroups, err := detectCgroups(DefaultCgroupRoot)
	if err != nil {
		return nil, err
	}
	b := &Backend{
		cfg: cfg, log: cfg.Logger, runc: runc{bin: cfg.RuncBin, root: cfg.RuncRoot},
		ips: ips, ports: ports,
		net:        &Network{Bridge: cfg.BridgeName, Pool: ips, MTU: cfg.MTU, ExternalIP: cfg.ExternalIP, IPForward: cfg.IPForward, AllowHostAccess: cfg.AllowHostAccess, Log: cfg.Logger, ChainPrefix: cfg.ChainPrefix},
		containers: map[string]*Container{}, creating: map[string]bool{},
		cgroups: cgroups, memsw: cgroups.memswAvailable(),
	}
	b.images = NewImageStore(cfg.ImageCacheDir, cfg.InsecureRegistries, cfg.Logger)
	b.idmap = newIDMapper(filepath.Join(cfg.ImageCacheDir, "idmapped"), cfg.UserNSHostID)
	return b, nil
}

// Config returns the effective configuration.
func (b *Backend) Config() Config { return b.cfg }

// Start prepares the host (directories, bridge, chains) and reloads containers from disk.
func (b *Backend) Start() error {
	if err := checkStatic(b.cfg.InitBin); err != nil {
		return err
	}
	// first: it makes the depot's new parents searchable, as containers' roots need
	if err := b.startUserNamespaces(); err != nil {
		return err
	}
	for _, d := range []string{b.cfg.DepotDir, b.cfg.RuncRoot, b.cfg.ImageCacheDir} {
		if err := os.MkdirAll(d, 0700); err != nil {
			return err
		}
	}
	// container inits are re-parented to the server, which reaps them
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	caps, err := hostBoundingCaps()
	if err != nil {
		return err
	}
	b.hostCaps = caps
	if err := b.net.Setup(); err != nil {
		return fmt.Errorf("network setup: %w", err)
	}
	if err := b.reload(); err != nil {
		return err
	}
	if err := b.idmap.sweep(); err != nil {
		b.log.Warn("idmapped-mounts-not-removed", "error", err)
	}
	return nil
}

func checkStatic(bin string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("init binary %s: %w", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("init binary %s is dynamically linked; build it with CGO_ENABLED=0", bin)
		}
	}
	return nil
}

func hostBoundingCaps() ([]string, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "CapBnd:") {
			mask, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(l, "CapBnd:")), 16, 64)
			if err != nil {
				return nil, err
			}
			return PrivilegedCaps(mask), nil
		}
	}
	return nil, errors.New("no CapBnd in /proc/self/status")
}

// reload rebuilds the in-memory containers from the depot after a restart. Containers whose init
// is gone are destroyed.
func (b *Backend) reload() error {
	entries, err := os.ReadDir(b.cfg.DepotDir)
	if err != nil {
		return err
	}
	// every container in the depot is counted again below, those a previous Start counted too
	b.idmap.forget()
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(b.cfg.DepotDir, e.Name())
		if strings.HasPrefix(e.Name(), ".trash-") {
			// a destroyed container's files whose background removal a crash interrupted
			go os.RemoveAll(dir)
			continue
		}
		st, err := loadState(dir)
		if err != nil {
			b.log.Warn("reload-no-state-removing", "dir", dir, "error", err)
			b.cleanupDir(e.Name(), dir, nil)
			continue
		}
		c := b.newContainer(st, dir)
		if ip := net.ParseIP(st.IP); ip != nil {
			b.ips.Reserve(ip)
		}
		for _, pm := range st.MappedPorts {
			b.ports.Reserve(pm.HostPort)
		}
		// counted before anything else, so that destroying it releases only its own count
		b.idmap.hold(st.IDMapped)
		if s, alive := procStart(st.InitPid); !alive || s != st.InitStart {
			b.log.Warn("reload-container-init-gone-destroying", "handle", st.Handle)
			b.destroyContainer(c)
			continue
		}
		c.adoptProcesses()
		b.mu.Lock()
		b.containers[st.Handle] = c
		b.mu.Unlock()
		b.log.Info("reloaded-container", "handle", st.Handle, "ip", st.IP)
	}
	return nil
}

// Stop leaves containers running; they are reloaded on the next Start.
func (b *Backend) Stop() error { return nil }

func (b *Backend) GraceTime(c garden.Container) time.Duration {
	if cc, ok := c.(*Container); ok {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		return cc.st.GraceTime
	}
	return b.cfg.DefaultGraceTime
}

func (b *Backend) Ping() error { return nil }

func (b *Backend) Capacity() (garden.Capacity, error) {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return garden.Capacity{}, err
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(b.cfg.DepotDir, &fs); err != nil {
		return garden.Capacity{}, err
	}
	max := b.cfg.MaxContainers
	if max == 0 || max > uint64(b.ips.Capacity()) {
		max = uint64(b.ips.Capacity())
	}
	disk := fs.Blocks * uint64(fs.Bsize)
	return garden.Capacity{
		MemoryInBytes:          uint64(si.Totalram) * uint64(si.Unit),
		DiskInBytes:            disk,
		SchedulableDiskInBytes: disk,
		MaxContainers:          max,
	}, nil
}

func (b *Backend) Lookup(handle string) (garden.Container, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	c, ok := b.containers[handle]
	if !ok {
		return nil, garden.ContainerNotFoundError{Handle: handle}
	}
	return c, nil
}

func (b *Backend) Containers(filter garden.Properties) ([]garden.Container, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []garden.Container
	for _, c := range b.containers {
		if c.matches(filter) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (b *Backend) BulkInfo(handles []string) (map[string]garden.ContainerInfoEntry, error) {
	out := map[string]garden.ContainerInfoEntry{}
	for _, h := range handles {
		c, err := b.Lookup(h)
		if err != nil {
			out[h] = garden.ContainerInfoEntry{Err: garden.NewError(err.Error())}
			continue
		}
		info, err := c.Info()
		if err != nil {
			out[h] = garden.ContainerInfoEntry{Err: garden.NewError(err.Error())}
			continue
		}
		out[h] = garden.ContainerInfoEntry{Info: info}
	}
	return out, nil
}

func (b *Backend) BulkMetrics(handles []string) (map[string]garden.ContainerMetricsEntry, error) {
	out := map[string]garden.ContainerMetricsEntry{}
	for _, h := range handles {
		c, err := b.Lookup(h)
		if err != nil {
			out[h] = garden.ContainerMetricsEntry{Err: garden.NewError(err.Error())}
			continue
		}
		m, err := c.Metrics()
		if err != nil {
			out[h] = garden.ContainerMetricsEntry{Err: garden.NewError(err.Error())}
			continue
		}
		out[h] = garden.ContainerMetricsEntry{Metrics: m}
	}
	return out, nil
}

// resolveRootFS turns a spec's rootfs into overlay lower directories (top first) and the image's
// defaults.
func (b *Backend) resolveRootFS(spec garden.ContainerSpec) (uri string, img *ImageInfo, err error) {
	uri = spec.Image.URI
	if uri == "" {
		uri = spec.RootFSPath
	}
	if uri == "" {
		uri = b.cfg.DefaultRootFS
	}
	switch {
	case uri == "":
		return "", nil, errors.New("no rootfs given and no default rootfs configured")
	case strings.HasPrefix(uri, "preloaded:"):
		name := strings.TrimPrefix(uri, "preloaded:")
		dir, ok := b.cfg.PreloadedRootFS[name]
		if !ok {
			return "", nil, fmt.Errorf("unknown preloaded rootfs %q", name)
		}
		return uri, &ImageInfo{Lowers: []string{dir}}, nil
	case strings.HasPrefix(uri, "docker:") || strings.HasPrefix(uri, "oci:"):
		info, err := b.images.Pull(uri, spec.Image.Username, spec.Image.Password)
		if err != nil {
			return "", nil, err
		}
		return uri, info, nil
	case strings.HasPrefix(uri, "/"):
		if fi, err := os.Stat(uri); err != nil || !fi.IsDir() {
			return "", nil, fmt.Errorf("rootfs directory %s does not exist", uri)
		}
		return uri, &ImageInfo{Lowers: []string{uri}}, nil
	}
	return "", nil, fmt.Errorf("unsupported rootfs %q", uri)
}

func (b *Backend) Create(spec garden.ContainerSpec) (garden.Container, error) {
	if spec.Handle == "" {
		spec.Handle = uuid.NewString()
	}
	h := spec.Handle
	if err := checkName("handle", h); err != nil {
		return nil, err
	}
	if err := checkDiskLimits(spec.Limits.Disk); err != nil {
		return nil, err
	}
	b.mu.Lock()
	if _, ok := b.containers[h]; ok || b.creating[h] {
		b.mu.Unlock()
		return nil, fmt.Errorf("handle already exists: %s", h)
	}
	if b.cfg.MaxContainers > 0 && uint64(len(b.containers)+len(b.creating)) >= b.cfg.MaxContainers {
		b.mu.Unlock()
		return nil, fmt.Errorf("max containers reached (%d)", b.cfg.MaxContainers)
	}
	b.creating[h] = true
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.creating, h)
		b.mu.Unlock()
	}()

	start := time.Now()
	c, err := b.create(spec)
	if err != nil {
		b.log.Error("create-failed", "handle", h, "error", err)
		return nil, err
	}
	b.mu.Lock()
	b.containers[h] = c
	b.mu.Unlock()
	b.log.Info("created", "handle", h, "ip", c.st.IP, "took", time.Since(start).String())
	return c, nil
}

func (b *Backend) create(spec garden.ContainerSpec) (*Container, error) {
	h := spec.Handle
	dir := filepath.Join(b.cfg.DepotDir, h)
	if err := os.Mkdir(dir, 0700); err != nil {
		return nil, err
	}
	userns := !spec.Privileged && b.idmap.enabled()
	if userns {
		// runc mounts the root filesystem as the container's root, which must reach it
		if err := searchableBy(dir, b.cfg.UserNSHostID); err != nil {
			os.Remove(dir)
			return nil, err
		}
	}
	grace := spec.GraceTime
	if grace == 0 {
		grace = b.cfg.DefaultGraceTime
	}
	st := &containerState{
		Handle: h, Privileged: spec.Privileged, Limits: spec.Limits,
		Properties: garden.Properties{}, GraceTime: grace, Created: time.Now(), NoChains: true,
	}
	for k, v := range spec.Properties {
		st.Properties[k] = v
	}
	c := b.newContainer(st, dir)
	t0 := time.Now()
	step := func(name string) {
		b.log.Debug("create-step", "handle", h, "step", name, "at", time.Since(t0).String())
	}
	defer step("done")
	fail := func(err error) (*Container, error) {
		b.destroyContainer(c)
		return nil, err
	}
	uri, img, err := b.resolveRootFS(spec)
	if err != nil {
		return fail(err)
	}
	st.RootFS, st.Lowers = uri, img.Lowers
	st.Env = MergeEnv(img.Env, spec.Env)
	st.ImageUser, st.ImageWorkDir = img.User, img.WorkDir
	lowers := img.Lowers
	if userns {
		// the lowers' files must look the container root's own: overlay their idmapped mounts
		st.UserNSHostID = b.cfg.UserNSHostID
		if st.IDMapped, err = b.idmap.acquire(img.Lowers); err != nil {
			return fail(err)
		}
		lowers = st.IDMapped
	}
	if err := saveState(dir, st); err != nil {
		return fail(err)
	}
	step("resolved")
	rootfs, err := mountRootFS(dir, lowers, spec.Limits.Disk, st.UserNSHostID)
	if err != nil {
		return fail(err)
	}
	ip, err := b.ips.Acquire()
	if err != nil {
		return fail(err)
	}
	st.IP = ip.String()
	// recorded before any rule or interface is made for it, so a reload after a crash cleans up
	if err := saveState(dir, st); err != nil {
		return fail(err)
	}
	if err := writeEtcFiles(rootfs, h, ip, st.UserNSHostID); err != nil {
		return fail(err)
	}
	mounts, err := resolveBindMounts(rootfs, spec.BindMounts)
	if err != nil {
		return fail(err)
	}
	s, err := BuildSpec(BundleParams{
		Handle: h, RootFS: rootfs, InitBin: b.cfg.InitBin, CgroupsPath: c.cgroup,
		Privileged: spec.Privileged, HostCaps: b.hostCaps, BindMounts: mounts,
		Limits: spec.Limits, MemswAvailable: b.memsw, UserNSHostID: st.UserNSHostID,
	})
	if err != nil {
		return fail(err)
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), s); err != nil {
		return fail(err)
	}
	step("mounted")
	// no chains of its own until its first NetIn or NetOut: the shared defaults of the forward
	// chain (established traffic back, everything else from the pool rejected) hold meanwhile
	initSock, err := listenInitSock(dir)
	if err != nil {
		return fail(err)
	}
	pid, err := b.runc.runDetached(h, dir, initSock)
	initSock.Close() // the init holds it
	if err != nil {
		return fail(err)
	}
	st.InitPid = pid
	st.InitStart, _ = procStart(pid)
	c.reapInit()
	if err := saveState(dir, st); err != nil {
		return fail(err)
	}
	step("runc-run")
	if err := b.net.AddContainer(pid, ip); err != nil {
		return fail(err)
	}
	for _, ni := range spec.NetIn {
		if _, _, err := c.NetIn(ni.HostPort, ni.ContainerPort); err != nil {
			return fail(err)
		}
	}
	if len(spec.NetOut) > 0 {
		if err := c.BulkNetOut(spec.NetOut); err != nil {
			return fail(err)
		}
	}
	if err := saveState(dir, st); err != nil {
		return fail(err)
	}
	return c, nil
}

// writeEtcFiles gives the container its own hostname, hosts and resolv.conf files, owned by the
// container's root (rootID on the host). The root filesystem comes from the image, which may make
// /etc or these files symlinks to anywhere: they are resolved inside the root, as the container
// will see them, and the files are replaced rather than written through.
func writeEtcFiles(rootfs, handle string, ip net.IP, rootID uint32) error {
	host := handle
	if len(host) > 63 {
		host = host[:63]
	}
	root, err := openRoot(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	etc, err := etcDirInRoot(int(root.Fd()), rootID)
	if err != nil {
		return err
	}
	defer etc.Close()
	files := map[string][]byte{
		"hostname": []byte(host + "\n"),
		"hosts":    []byte(fmt.Sprintf("127.0.0.1 localhost\n%s %s\n", ip, host)),
	}
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		files["resolv.conf"] = b
	}
	for name, data := range files {
		if err := replaceFile(int(etc.Fd()), name, data, rootID); err != nil {
			return err
		}
	}
	return nil
}

func (b *Backend) Destroy(handle string) error {
	b.mu.Lock()
	c, ok := b.containers[handle]
	b.mu.Unlock()
	if !ok {
		return garden.ContainerNotFoundError{Handle: handle}
	}
	c.destroyMu.Lock()
	defer c.destroyMu.Unlock()
	b.mu.RLock()
	_, still := b.containers[handle]
	b.mu.RUnlock()
	if !still {
		return nil
	}
	if err := b.destroyContainer(c); err != nil {
		return err
	}
	b.mu.Lock()
	delete(b.containers, handle)
	b.mu.Unlock()
	b.log.Info("destroyed", "handle", handle)
	return nil
}

// destroyContainer removes every trace of a container; each step tolerates what is already gone,
// so it can be retried.
func (b *Backend) destroyContainer(c *Container) error {
	c.mu.Lock()
	st := *c.st
	c.mu.Unlock()
	t0 := time.Now()
	step := func(name string) {
		b.log.Debug("destroy-step", "handle", st.Handle, "step", name, "at", time.Since(t0).String())
	}
	netDone := make(chan struct{})
	go func() {
		// the firewall rules do not depend on the container's processes: remove them meanwhile
		if ip := net.ParseIP(st.IP); ip != nil && !st.NoChains {
			b.net.RemoveContainer(ip)
		}
		close(netDone)
	}()
	killInit(st.InitPid, st.InitStart, c.initReaped)
	step("killed")
	c.waitProcesses(5 * time.Second)
	step("processes")
	if ip := net.ParseIP(st.IP); ip != nil && !c.addressReleasing {
		c.addressReleasing = true
		go b.releaseAddress(ip, netDone)
	}
	// with the init and the processes dead, the runc state and cgroups and the mounts and
	// directory are independent of each other: remove them concurrently
	var runcErr error
	runcDone := make(chan struct{})
	go func() {
		defer close(runcDone)
		// runc's state is only its state directory and the cgroups: remove them directly
		// (faster than runc delete), and fall back to runc delete if that does not work
		if err := removeRuncState(b.cfg.RuncRoot, st.Handle, b.cgroups, c.cgroup); err != nil {
			runcErr = b.runc.delete(st.Handle)
			b.cgroups.remove(c.cgroup)
		}
		step("runc-state")
	}()
	dirErr := b.cleanupDir(st.Handle, c.dir, nil)
	step("directory")
	mountsErr := b.releaseIDMapped(c, st.IDMapped, dirErr != nil)
	<-runcDone
	<-netDone
	step("network")
	defer step("done")
	for _, pm := range st.MappedPorts {
		b.ports.Release(pm.HostPort)
	}
	return errors.Join(runcErr, dirErr, mountsErr)
}

// releaseIDMapped counts a destroyed container out of its idmapped mounts once only, even if the
// destroy is retried or, when its directory is still there (kept, the destroy having failed), after
// a restart.
func (b *Backend) releaseIDMapped(c *Container, paths []string, dirKept bool) error {
	err := b.idmap.release(paths)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.IDMapped = nil
	if dirKept && len(paths) > 0 {
		err = errors.Join(err, saveState(c.dir, c.st))
	}
	return err
}

// releaseAddress returns a destroyed container's address to the pool once the host end of its
// veth pair is gone and its firewall rules are (rulesGone closed). The kernel removes the pair
// with the container's network namespace, which it tears down in the background after the init
// has died (10-20 ms, as for any network namespace, bare runc's included); deleting it ourselves
// meanwhile only waits for the same teardown, so Destroy does not wait for it. Until then the
// address is not handed out again, so a new container never meets the old interface's name,
// nor has its chains (named by the address) removed by the old one's teardown when iptables is
// slow; if the interface cannot be removed, the address stays out of the pool until the server
// restarts (and says so).
func (b *Backend) releaseAddress(ip net.IP, rulesGone <-chan struct{}) {
	err := b.net.RemoveVeth(ip)
	<-rulesGone
	if err != nil {
		b.log.Error("container-address-withheld", "ip", ip.String(), "interface", hostVeth(ip), "error", err)
		return
	}
	b.ips.Release(ip)
}

func (b *Backend) cleanupDir(handle, dir string, errs []error) error {
	t0 := time.Now()
	if err := unmountAll(dir); err != nil {
		errs = append(errs, err)
	} else {
		b.log.Debug("destroy-step", "handle", handle, "step", "unmounted", "took", time.Since(t0).String())
		// with nothing mounted left, the directory is renamed out of the way (the handle is free
		// at once) and its files removed in the background; a leftover after a crash starts with
		// a dot, which no handle does, and is removed on the next start
		trash := filepath.Join(filepath.Dir(dir), fmt.Sprintf(".trash-%s-%d", filepath.Base(dir), time.Now().UnixNano()))
		if err := os.Rename(dir, trash); err == nil {
			go os.RemoveAll(trash)
		} else if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
