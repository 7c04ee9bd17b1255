package gardenrunc

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"code.cloudfoundry.org/garden"
	"golang.org/x/sys/unix"
)

// DefaultCgroupRoot is where the cgroup hierarchies are mounted, and where runc looks.
const DefaultCgroupRoot = "/sys/fs/cgroup"

// cgroupPath is a container's cgroup path: below every v1 controller's root, or below the v2 root.
func cgroupPath(parent, handle string) string { return "/" + parent + "/" + handle }

// v1Controllers are the v1 hierarchies a container's limits and metrics need.
var v1Controllers = []string{"memory", "cpu", "cpuacct", "pids"}

// v2Controllers are the v2 controllers they need (cpuacct's usage is in cpu.stat).
var v2Controllers = []string{"memory", "cpu", "pids"}

// cgroupFS is the host's cgroup layout: one v2 (unified) hierarchy at root, or v1 hierarchies
// in root/<controller>. runc creates a container's cgroups and applies its limits; the server
// reads memory, CPU and pid metrics and OOM kills from them and removes what runc leaves.
type cgroupFS struct {
	root    string
	unified bool
}

// detectCgroups says how the cgroups at root are laid out: a cgroup2 filesystem is v2; a tmpfs
// holding the v1 controllers' hierarchies is v1 (a "hybrid" host, with a cgroup2 at
// root/unified beside them, is v1 too: the controllers are there); anything else is refused.
func detectCgroups(root string) (cgroupFS, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(root, &fs); err != nil {
		return cgroupFS{}, fmt.Errorf("cgroups: %s: %w", root, err)
	}
	return cgroupLayout(root, int64(fs.Type))
}

// cgroupLayout is detectCgroups for a root whose filesystem type (statfs f_type) is fsType.
func cgroupLayout(root string, fsType int64) (cgroupFS, error) {
	switch fsType {
	case unix.CGROUP2_SUPER_MAGIC:
		b, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
		if err != nil {
			return cgroupFS{}, fmt.Errorf("cgroups: %s is cgroup v2 but: %w", root, err)
		}
		have := strings.Fields(string(b))
		if missing := missingOf(v2Controllers, func(c string) bool { return slices.Contains(have, c) }); len(missing) > 0 {
			return cgroupFS{}, fmt.Errorf("cgroups: %s is cgroup v2 without the %s controller(s) (it has: %s)", root, strings.Join(missing, ", "), strings.Join(have, " "))
		}
		return cgroupFS{root: root, unified: true}, nil
	case unix.TMPFS_MAGIC:
		missing := missingOf(v1Controllers, func(c string) bool {
			fi, err := os.Stat(filepath.Join(root, c))
			return err == nil && fi.IsDir()
		})
		if len(missing) > 0 {
			return cgroupFS{}, fmt.Errorf("cgroups: %s is a tmpfs without the cgroup v1 hierarchies %s: neither cgroup v2 nor v1", root, strings.Join(missing, ", "))
		}
		return cgroupFS{root: root}, nil
	}
	return cgroupFS{}, fmt.Errorf("cgroups: %s is %s, neither cgroup v2 (a cgroup2 filesystem) nor v1 (a tmpfs of controller hierarchies)", root, fsTypeName(fsType))
}

func missingOf(want []string, has func(string) bool) []string {
	var missing []string
	for _, c := range want {
		if !has(c) {
			missing = append(missing, c)
		}
	}
	return missing
}

func fsTypeName(t int64) string {
	names := map[int64]string{unix.EXT4_SUPER_MAGIC: "ext2/3/4", unix.XFS_SUPER_MAGIC: "xfs", unix.BTRFS_SUPER_MAGIC: "btrfs",
		unix.OVERLAYFS_SUPER_MAGIC: "overlayfs", unix.CGROUP_SUPER_MAGIC: "a single cgroup v1 hierarchy", unix.SYSFS_MAGIC: "sysfs"}
	if n, ok := names[t]; ok {
		return fmt.Sprintf("%s (filesystem type %#x)", n, t)
	}
	return fmt.Sprintf("a filesystem of type %#x", t)
}

// file is a cgroup file of the container cgroup cg: in ctrl's hierarchy on v1.
func (f cgroupFS) file(ctrl, cg, name string) string {
	if f.unified {
		return filepath.Join(f.root, cg, name)
	}
	return filepath.Join(f.root, ctrl, cg, name)
}

// memswAvailable says whether swap can be limited along with memory: v1's memory.memsw.* (swap
// accounting), v2's memory.swap.max (which the root cgroup lacks: any child has it).
func (f cgroupFS) memswAvailable() bool {
	if f.unified {
		m, _ := filepath.Glob(filepath.Join(f.root, "*", "memory.swap.max"))
		return len(m) > 0
	}
	_, err := os.Stat(filepath.Join(f.root, "memory", "memory.memsw.limit_in_bytes"))
	return err == nil
}

func readUint(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// readKV parses "key value" lines (memory.stat, memory.oom_control, memory.events, cpu.stat, ...).
func readKV(path string) map[string]uint64 {
	m := map[string]uint64{}
	f, err := os.Open(path)
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 2 {
			n, _ := strconv.ParseUint(fs[1], 10, 64)
			m[fs[0]] = n
		}
	}
	return m
}

// oomKilled says whether the kernel OOM killer has killed anything in the container's cgroup.
func (f cgroupFS) oomKilled(cg string) bool {
	if f.unified {
		return readKV(f.file("memory", cg, "memory.events"))["oom_kill"] > 0
	}
	return readKV(f.file("memory", cg, "memory.oom_control"))["oom_kill"] > 0
}

// MemoryStatFrom maps cgroup v1 memory.stat keys to garden's struct. Pure.
func MemoryStatFrom(m map[string]uint64, usage uint64) garden.ContainerMemoryStat {
	s := garden.ContainerMemoryStat{
		ActiveAnon: m["active_anon"], ActiveFile: m["active_file"], Cache: m["cache"],
		HierarchicalMemoryLimit: m["hierarchical_memory_limit"], InactiveAnon: m["inactive_anon"],
		InactiveFile: m["inactive_file"], MappedFile: m["mapped_file"], Pgfault: m["pgfault"],
		Pgmajfault: m["pgmajfault"], Pgpgin: m["pgpgin"], Pgpgout: m["pgpgout"], Rss: m["rss"],
		TotalActiveAnon: m["total_active_anon"], TotalActiveFile: m["total_active_file"],
		TotalCache: m["total_cache"], TotalInactiveAnon: m["total_inactive_anon"],
		TotalInactiveFile: m["total_inactive_file"], TotalMappedFile: m["total_mapped_file"],
		TotalPgfault: m["total_pgfault"], TotalPgmajfault: m["total_pgmajfault"],
		TotalPgpgin: m["total_pgpgin"], TotalPgpgout: m["total_pgpgout"], TotalRss: m["total_rss"],
		TotalUnevictable: m["total_unevictable"], Unevictable: m["unevictable"], Swap: m["swap"],
		HierarchicalMemswLimit: m["hierarchical_memsw_limit"], TotalSwap: m["total_swap"],
	}
	s.TotalUsageTowardLimit = usageTowardLimit(usage, m["total_inactive_file"])
	return s
}

// MemoryStatFromV2 maps cgroup v2 memory.stat keys to garden's struct. v2's statistics are
// hierarchical already, so the Total fields are the same; anon is v1's rss, file its cache. The
// limits are memory.max and memory.swap.max (0 when "max"), usage is memory.current. Pure.
func MemoryStatFromV2(m map[string]uint64, usage, limit, swap, swapLimit uint64) garden.ContainerMemoryStat {
	s := garden.ContainerMemoryStat{
		ActiveAnon: m["active_anon"], ActiveFile: m["active_file"], Cache: m["file"],
		InactiveAnon: m["inactive_anon"], InactiveFile: m["inactive_file"], MappedFile: m["file_mapped"],
		Pgfault: m["pgfault"], Pgmajfault: m["pgmajfault"], Rss: m["anon"], Unevictable: m["unevictable"],
		Swap: swap, HierarchicalMemoryLimit: limit,
	}
	s.TotalActiveAnon, s.TotalActiveFile, s.TotalCache = s.ActiveAnon, s.ActiveFile, s.Cache
	s.TotalInactiveAnon, s.TotalInactiveFile, s.TotalMappedFile = s.InactiveAnon, s.InactiveFile, s.MappedFile
	s.TotalPgfault, s.TotalPgmajfault, s.TotalRss = s.Pgfault, s.Pgmajfault, s.Rss
	s.TotalUnevictable, s.TotalSwap = s.Unevictable, swap
	if limit > 0 && swapLimit > 0 {
		s.HierarchicalMemswLimit = limit + swapLimit
	}
	s.TotalUsageTowardLimit = usageTowardLimit(usage, s.InactiveFile)
	return s
}

// usageTowardLimit is garden's usage: without reclaimable file cache, as upstream's.
func usageTowardLimit(usage, inactiveFile uint64) uint64 {
	if usage > inactiveFile {
		return usage - inactiveFile
	}
	return 0
}

func (f cgroupFS) memoryMetrics(cg string) garden.ContainerMemoryStat {
	if f.unified {
		file := func(name string) string { return f.file("memory", cg, name) }
		return MemoryStatFromV2(readKV(file("memory.stat")), readUint(file("memory.current")), readUint(file("memory.max")),
			readUint(file("memory.swap.current")), readUint(file("memory.swap.max")))
	}
	return MemoryStatFrom(readKV(f.file("memory", cg, "memory.stat")), readUint(f.file("memory", cg, "memory.usage_in_bytes")))
}

func (f cgroupFS) cpuMetrics(cg string) garden.ContainerCPUStat {
	if f.unified {
		st := readKV(f.file("cpu", cg, "cpu.stat")) // microseconds
		return garden.ContainerCPUStat{Usage: st["usage_usec"] * 1000, User: st["user_usec"] * 1000, System: st["system_usec"] * 1000}
	}
	st := readKV(f.file("cpuacct", cg, "cpuacct.stat"))
	// cpuacct.stat is in USER_HZ (100 per second); garden reports nanoseconds
	return garden.ContainerCPUStat{
		Usage:  readUint(f.file("cpuacct", cg, "cpuacct.usage")),
		User:   st["user"] * 10_000_000,
		System: st["system"] * 10_000_000,
	}
}

// pidMetrics: the files are named alike in v1 and v2; pids.max "max" (no limit) reads as 0.
func (f cgroupFS) pidMetrics(cg string) garden.ContainerPidStat {
	return garden.ContainerPidStat{Current: readUint(f.file("pids", cg, "pids.current")), Max: readUint(f.file("pids", cg, "pids.max"))}
}

// dirsLeft lists the container's cgroup directories that still exist: one on v2, one per
// hierarchy that has it on v1.
func (f cgroupFS) dirsLeft(cg string) []string {
	if f.unified {
		d := filepath.Join(f.root, cg)
		if _, err := os.Stat(d); err == nil {
			return []string{d}
		}
		return nil
	}
	entries, _ := os.ReadDir(f.root)
	var out []string
	for _, e := range entries {
		d := filepath.Join(f.root, e.Name(), cg)
		if _, err := os.Stat(d); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// remove removes the container's cgroup directories that runc may have left behind.
func (f cgroupFS) remove(cg string) {
	for _, d := range f.dirsLeft(cg) {
		os.Remove(d)
	}
}

// Cgroups is the host's cgroup layout as the server detects it, for tools and specs that look at
// a server's cgroups from outside it.
type Cgroups struct{ fs cgroupFS }

// HostCgroups detects the layout at DefaultCgroupRoot, as New does.
func HostCgroups() (Cgroups, error) {
	f, err := detectCgroups(DefaultCgroupRoot)
	return Cgroups{f}, err
}

// Unified says whether the host has cgroup v2.
func (c Cgroups) Unified() bool { return c.fs.unified }

// File is the cgroup file name of container handle below cgroup parent parent, in controller
// ctrl's hierarchy on v1.
func (c Cgroups) File(parent, handle, ctrl, name string) string {
	return c.fs.file(ctrl, cgroupPath(parent, handle), name)
}

// Left lists the container's cgroup directories that still exist (v1: one per hierarchy).
func (c Cgroups) Left(parent, handle string) []string {
	return c.fs.dirsLeft(cgroupPath(parent, handle))
}

// RemoveParent removes the cgroup parent's directories, which are left once its containers' are
// gone (runc makes them and leaves them).
func (c Cgroups) RemoveParent(parent string) { c.fs.remove("/" + parent) }
