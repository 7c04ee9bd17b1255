package gardenrunc

import (
	"fmt"
	"github.com/diego-go/diego/gardenrunc/initproc"
	"path/filepath"
	"sort"
	"strings"

	"code.cloudfoundry.org/garden"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// InitPathInContainer is where the init binary is bind-mounted inside every container.
const InitPathInContainer = initproc.InitPathInContainer

// DefaultPath is the PATH given to processes whose environment has none.
const DefaultPath = initproc.DefaultPath

var capNames = initproc.CapNames

// unprivilegedCaps is the capability set of unprivileged containers (Docker's default set).
var unprivilegedCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// BundleParams is everything needed to build a container's OCI runtime spec. It is pure data,
// so the spec can be built and tested without touching the host.
type BundleParams struct {
	Handle      string
	RootFS      string // absolute path of the (mounted) root filesystem
	InitBin     string // host path of the static init binary
	CgroupsPath string // e.g. /diego-garden/<handle>
	Privileged  bool
	// HostCaps is the set of capabilities privileged containers get (the host's bounding set,
	// minus anything the machine forbids). Ignored for unprivileged containers.
	HostCaps   []string
	Env        []string
	BindMounts []garden.BindMount // resolved: host-origin sources, destinations free of links
	Limits     garden.Limits
	// MemswAvailable says whether swap can be limited with memory (v1 memory.memsw.*, v2
	// memory.swap.max): runc refuses a swap limit it cannot write.
	MemswAvailable bool
	// UserNSHostID, when not 0, gives the container a user namespace in which its ids 0..65535
	// are host ids UserNSHostID..UserNSHostID+65535. Ignored for privileged containers.
	UserNSHostID uint32
}

// BuildSpec builds the OCI runtime spec for a container. The container's init process is the
// project's init binary, which only reaps orphans; user processes are started with runc exec.
func BuildSpec(p BundleParams) (*specs.Spec, error) {
	caps := unprivilegedCaps
	if p.Privileged {
		caps = p.HostCaps
	}
	caps = append([]string(nil), caps...)
	for _, c := range caps {
		if c == "CAP_SYS_RESOURCE" {
			return nil, fmt.Errorf("capability CAP_SYS_RESOURCE must never be requested")
		}
	}
	hostname := p.Handle
	if len(hostname) > 63 {
		hostname = hostname[:63]
	}

	s := &specs.Spec{
		Version:  specs.Version,
		Hostname: hostname,
		Root:     &specs.Root{Path: p.RootFS},
		Process: &specs.Process{
			Args: []string{InitPathInContainer, "init"},
			Env:  []string{DefaultPath},
			Cwd:  "/",
			User: specs.User{UID: 0, GID: 0},
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: caps,
				Permitted: caps,
			},
			NoNewPrivileges: !p.Privileged,
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: InitPathInContainer, Type: "bind", Source: p.InitBin, Options: []string{"bind", "ro"}},
		},
		Linux: &specs.Linux{
			CgroupsPath: p.CgroupsPath,
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
		},
	}
	if p.UserNSHostID != 0 && !p.Privileged {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = IDMappings(p.UserNSHostID)
		s.Linux.GIDMappings = IDMappings(p.UserNSHostID)
	}
	if !p.Privileged {
		s.Linux.MaskedPaths = []string{"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
			"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"}
		s.Linux.ReadonlyPaths = []string{"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
	}
	for _, bm := range p.BindMounts {
		if err := checkBindMountPaths(bm); err != nil {
			return nil, err
		}
		if bm.Origin == garden.BindMountOriginContainer {
			// only the mounted root can say where such a path leads (resolveBindMounts)
			return nil, fmt.Errorf("bind mount source %s of the container's origin is not resolved to a host path", bm.SrcPath)
		}
		src := bm.SrcPath
		opts := []string{"bind", "ro"}
		if bm.Mode == garden.BindMountModeRW {
			opts = []string{"bind", "rw"}
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: bm.DstPath, Type: "bind", Source: src, Options: opts})
	}

	// The same values on v1 and v2, as guardian gives them: runc writes them as v2's files there
	// (memory.max, memory.swap.max = memsw - memory, cpu.weight from the shares, pids.max).
	r := s.Linux.Resources
	if l := p.Limits.Memory.LimitInBytes; l > 0 {
		lim := int64(l)
		r.Memory = &specs.LinuxMemory{Limit: &lim}
		if p.MemswAvailable {
			sw := lim
			r.Memory.Swap = &sw
		}
	}
	if shares, ok := cpuShares(p.Limits.CPU); ok {
		r.CPU = &specs.LinuxCPU{Shares: &shares}
	}
	if m := p.Limits.Pid.Max; m > 0 {
		lim := int64(m)
		r.Pids = &specs.LinuxPids{Limit: &lim}
	}
	return s, nil
}

// cpuShares is garden's CPU weight (or its older LimitInShares) as v1 cpu.shares, clamped to what
// the kernel accepts; false when no weight is asked for.
func cpuShares(l garden.CPULimits) (uint64, bool) {
	shares := l.Weight
	if shares == 0 {
		shares = l.LimitInShares
	}
	if shares == 0 {
		return 0, false
	}
	return min(max(shares, 2), 262144), true
}

func checkBindMountPaths(bm garden.BindMount) error {
	if !filepath.IsAbs(bm.DstPath) || !filepath.IsAbs(bm.SrcPath) {
		return fmt.Errorf("bind mount paths must be absolute: %q -> %q", bm.SrcPath, bm.DstPath)
	}
	return nil
}

// ProcessParams describe one process to start in a running container with runc exec.
type ProcessParams struct {
	Spec         garden.ProcessSpec
	ContainerEnv []string // the container's environment (image env, then ContainerSpec.Env)
	UID, GID     uint32
	AddGIDs      []uint32
	Home         string
	Privileged   bool
	HostCaps     []string
}

// BuildProcess builds the OCI process for runc exec --process.
func BuildProcess(p ProcessParams) (*specs.Process, error) {
	if p.Spec.Path == "" {
		return nil, fmt.Errorf("process path is empty")
	}
	env := MergeEnv(p.ContainerEnv, p.Spec.Env)
	if !hasEnv(env, "PATH") {
		env = append(env, DefaultPath)
	}
	if !hasEnv(env, "HOME") && p.Home != "" {
		env = append(env, "HOME="+p.Home)
	}
	if !hasEnv(env, "USER") && p.Spec.User != "" {
		env = append(env, "USER="+p.Spec.User)
	}
	dir := p.Spec.Dir
	if dir == "" {
		dir = p.Home
	}
	if dir == "" {
		dir = "/"
	}
	caps := unprivilegedCaps
	if p.Privileged {
		caps = p.HostCaps
	}
	var capsSet []string
	if p.UID == 0 {
		capsSet = caps
	}
	proc := &specs.Process{
		Args: append([]string{p.Spec.Path}, p.Spec.Args...),
		Env:  env,
		Cwd:  dir,
		User: specs.User{UID: p.UID, GID: p.GID, AdditionalGids: p.AddGIDs},
		Capabilities: &specs.LinuxCapabilities{
			Bounding:  caps,
			Effective: capsSet,
			Permitted: capsSet,
		},
		NoNewPrivileges: !p.Privileged,
	}
	if p.Spec.TTY != nil {
		proc.Terminal = true
		if ws := p.Spec.TTY.WindowSize; ws != nil {
			proc.ConsoleSize = &specs.Box{Width: uint(ws.Columns), Height: uint(ws.Rows)}
		}
	}
	proc.Rlimits = rlimits(p.Spec.Limits)
	return proc, nil
}

func rlimits(l garden.ResourceLimits) []specs.POSIXRlimit {
	var out []specs.POSIXRlimit
	add := func(name string, v *uint64) {
		if v != nil {
			out = append(out, specs.POSIXRlimit{Type: name, Hard: *v, Soft: *v})
		}
	}
	add("RLIMIT_AS", l.As)
	add("RLIMIT_CORE", l.Core)
	add("RLIMIT_CPU", l.Cpu)
	add("RLIMIT_DATA", l.Data)
	add("RLIMIT_FSIZE", l.Fsize)
	add("RLIMIT_LOCKS", l.Locks)
	add("RLIMIT_MEMLOCK", l.Memlock)
	add("RLIMIT_MSGQUEUE", l.Msgqueue)
	add("RLIMIT_NICE", l.Nice)
	add("RLIMIT_NOFILE", l.Nofile)
	add("RLIMIT_NPROC", l.Nproc)
	add("RLIMIT_RSS", l.Rss)
	add("RLIMIT_RTPRIO", l.Rtprio)
	add("RLIMIT_SIGPENDING", l.Sigpending)
	add("RLIMIT_STACK", l.Stack)
	return out
}

// MergeEnv returns base overridden by extra (KEY=VALUE entries; later ones win), keeping the
// order of first appearance.
func MergeEnv(base, extra []string) []string {
	idx := map[string]int{}
	var out []string
	for _, list := range [][]string{base, extra} {
		for _, kv := range list {
			k := kv
			if i := strings.IndexByte(kv, '='); i >= 0 {
				k = kv[:i]
			}
			if j, ok := idx[k]; ok {
				out[j] = kv
				continue
			}
			idx[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// PrivilegedCaps turns a bounding-set bitmask (CapBnd of /proc/self/status) into capability
// names, always leaving out CAP_SYS_RESOURCE.
func PrivilegedCaps(mask uint64) []string {
	var out []string
	for bit, name := range capNames {
		if mask&(1<<uint(bit)) != 0 && name != "CAP_SYS_RESOURCE" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
