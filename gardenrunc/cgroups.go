package gardenrunc

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"code.cloudfoundry.org/garden"
)

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupPath is a container's cgroup path below every v1 controller's root.
func cgroupPath(parent, handle string) string { return "/" + parent + "/" + handle }

func cgFile(ctrl, path, file string) string { return filepath.Join(cgroupRoot, ctrl, path, file) }

func readUint(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// readKV parses "key value" lines (memory.stat, memory.oom_control, cpuacct.stat).
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
func oomKilled(cg string) bool {
	return readKV(cgFile("memory", cg, "memory.oom_control"))["oom_kill"] > 0
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
	// garden's usage excludes reclaimable file cache, as upstream does
	inactive := m["total_inactive_file"]
	if usage > inactive {
		s.TotalUsageTowardLimit = usage - inactive
	}
	return s
}

func memoryMetrics(cg string) garden.ContainerMemoryStat {
	return MemoryStatFrom(readKV(cgFile("memory", cg, "memory.stat")), readUint(cgFile("memory", cg, "memory.usage_in_bytes")))
}

func cpuMetrics(cg string) garden.ContainerCPUStat {
	st := readKV(cgFile("cpuacct", cg, "cpuacct.stat"))
	// cpuacct.stat is in USER_HZ (100 per second); garden reports nanoseconds
	return garden.ContainerCPUStat{
		Usage:  readUint(cgFile("cpuacct", cg, "cpuacct.usage")),
		User:   st["user"] * 10_000_000,
		System: st["system"] * 10_000_000,
	}
}

func pidMetrics(cg string) garden.ContainerPidStat {
	max := uint64(0)
	if b, err := os.ReadFile(cgFile("pids", cg, "pids.max")); err == nil {
		max, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	}
	return garden.ContainerPidStat{Current: readUint(cgFile("pids", cg, "pids.current")), Max: max}
}

// removeCgroups removes the container's cgroup directories that runc may have left behind.
func removeCgroups(cg string) {
	for _, ctrl := range []string{"memory", "cpu", "cpuacct", "pids", "devices", "freezer", "blkio", "cpuset", "net_cls", "net_prio", "perf_event", "hugetlb", "systemd", "unified", "rdma", "misc"} {
		os.Remove(filepath.Join(cgroupRoot, ctrl, cg))
	}
}

func memswAvailable() bool {
	_, err := os.Stat(filepath.Join(cgroupRoot, "memory", "memory.memsw.limit_in_bytes"))
	return err == nil
}
