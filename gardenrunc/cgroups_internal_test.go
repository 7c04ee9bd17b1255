package gardenrunc

import (
	"os"
	"path/filepath"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Hosts boot cgroup v1 or v2; this machine has one of them, so both layouts are also laid out in
// temporary directories (the filesystem type statfs would report given).
var _ = Describe("cgroups", func() {
	const cg = "/diego-garden/h1"
	var root string

	write := func(rel, content string) {
		GinkgoHelper()
		p := filepath.Join(root, rel)
		Expect(os.MkdirAll(filepath.Dir(p), 0755)).To(Succeed())
		Expect(os.WriteFile(p, []byte(content), 0644)).To(Succeed())
	}

	BeforeEach(func() { root = GinkgoT().TempDir() })

	It("detects the host's hierarchy at the real root", func() {
		var fs unix.Statfs_t
		Expect(unix.Statfs(DefaultCgroupRoot, &fs)).To(Succeed())
		f, err := detectCgroups(DefaultCgroupRoot)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.unified).To(Equal(fs.Type == unix.CGROUP2_SUPER_MAGIC))
	})

	It("refuses a root that is neither v1 nor v2, naming what it found", func() {
		_, err := cgroupLayout(root, unix.EXT4_SUPER_MAGIC)
		Expect(err).To(MatchError("cgroups: " + root + " is ext2/3/4 (filesystem type 0xef53), neither cgroup v2 (a cgroup2 filesystem) nor v1 (a tmpfs of controller hierarchies)"))
		_, err = cgroupLayout(root, 0x1234)
		Expect(err).To(MatchError(ContainSubstring("is a filesystem of type 0x1234, neither cgroup v2")))
		write("memory/tasks", "")
		write("cpu/tasks", "")
		_, err = cgroupLayout(root, unix.TMPFS_MAGIC)
		Expect(err).To(MatchError("cgroups: " + root + " is a tmpfs without the cgroup v1 hierarchies cpuacct, pids: neither cgroup v2 nor v1"))
		_, err = detectCgroups(root) // a directory of the test's temporary filesystem
		Expect(err).To(MatchError(ContainSubstring("neither cgroup v2")))
	})

	Describe("v2 (unified)", func() {
		var f cgroupFS

		BeforeEach(func() {
			write("cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
			var err error
			f, err = cgroupLayout(root, unix.CGROUP2_SUPER_MAGIC)
			Expect(err).NotTo(HaveOccurred())
			Expect(f).To(Equal(cgroupFS{root: root, unified: true}))
		})

		It("needs the memory, cpu and pids controllers", func() {
			write("cgroup.controllers", "cpuset io memory\n")
			_, err := cgroupLayout(root, unix.CGROUP2_SUPER_MAGIC)
			Expect(err).To(MatchError("cgroups: " + root + " is cgroup v2 without the cpu, pids controller(s) (it has: cpuset io memory)"))
		})

		It("reads metrics, OOM kills and the pid limit from the container's one directory", func() {
			write(cg+"/memory.stat", "anon 7000\nfile 3000\nkernel 100\nfile_mapped 40\nactive_anon 6000\ninactive_anon 1000\nactive_file 2000\ninactive_file 1000\nunevictable 5\npgfault 11\npgmajfault 2\n")
			write(cg+"/memory.current", "10500\n")
			write(cg+"/memory.max", "67108864\n")
			write(cg+"/memory.swap.current", "0\n")
			write(cg+"/memory.swap.max", "0\n")
			write(cg+"/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 0\n")
			write(cg+"/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n")
			write(cg+"/pids.current", "3\n")
			write(cg+"/pids.max", "max\n")

			m := f.memoryMetrics(cg)
			Expect(m.Rss).To(BeEquivalentTo(7000))
			Expect(m.TotalRss).To(BeEquivalentTo(7000))
			Expect(m.Cache).To(BeEquivalentTo(3000))
			Expect(m.TotalInactiveFile).To(BeEquivalentTo(1000))
			Expect(m.MappedFile).To(BeEquivalentTo(40))
			Expect(m.HierarchicalMemoryLimit).To(BeEquivalentTo(64 << 20))
			Expect(m.TotalUsageTowardLimit).To(BeEquivalentTo(9500), "memory.current without inactive file cache")
			Expect(f.cpuMetrics(cg)).To(Equal(garden.ContainerCPUStat{Usage: 1500_000, User: 1000_000, System: 500_000}))
			Expect(f.pidMetrics(cg)).To(Equal(garden.ContainerPidStat{Current: 3, Max: 0}))
			write(cg+"/pids.max", "20\n")
			Expect(f.pidMetrics(cg)).To(Equal(garden.ContainerPidStat{Current: 3, Max: 20}))

			Expect(f.oomKilled(cg)).To(BeFalse(), "memory.events' oom counts reaching the limit, oom_kill the kills")
			write(cg+"/memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\n")
			Expect(f.oomKilled(cg)).To(BeTrue())
		})

		It("limits swap when a child cgroup has memory.swap.max, and removes the container's directory", func() {
			Expect(f.memswAvailable()).To(BeFalse())
			write("init.scope/memory.swap.max", "max\n")
			Expect(f.memswAvailable()).To(BeTrue())
			Expect(os.MkdirAll(filepath.Join(root, cg), 0755)).To(Succeed())
			Expect(f.dirsLeft(cg)).To(Equal([]string{filepath.Join(root, cg)}))
			f.remove(cg)
			Expect(f.dirsLeft(cg)).To(BeEmpty())
			Expect(filepath.Join(root, "diego-garden")).To(BeADirectory())

			c := Cgroups{f}
			Expect(c.Unified()).To(BeTrue())
			Expect(c.File("diego-garden", "h1", "pids", "pids.max")).To(Equal(filepath.Join(root, "diego-garden/h1/pids.max")))
			Expect(os.MkdirAll(filepath.Join(root, cg), 0755)).To(Succeed())
			Expect(c.Left("diego-garden", "h1")).To(Equal([]string{filepath.Join(root, cg)}))
			c.RemoveParent("diego-garden")
			Expect(filepath.Join(root, "diego-garden")).To(BeADirectory(), "not while a container's cgroup is in it")
			f.remove(cg)
			c.RemoveParent("diego-garden")
			Expect(filepath.Join(root, "diego-garden")).NotTo(BeAnExistingFile())
		})
	})

	Describe("v1", func() {
		var f cgroupFS

		BeforeEach(func() {
			for _, c := range []string{"memory", "cpu,cpuacct", "pids", "devices"} {
				Expect(os.MkdirAll(filepath.Join(root, c), 0755)).To(Succeed())
			}
			Expect(os.Symlink("cpu,cpuacct", filepath.Join(root, "cpu"))).To(Succeed())
			Expect(os.Symlink("cpu,cpuacct", filepath.Join(root, "cpuacct"))).To(Succeed())
			var err error
			f, err = cgroupLayout(root, unix.TMPFS_MAGIC)
			Expect(err).NotTo(HaveOccurred())
			Expect(f).To(Equal(cgroupFS{root: root}))
		})

		It("reads metrics, OOM kills and the pid limit from each controller's hierarchy", func() {
			write("memory"+cg+"/memory.stat", "rss 7000\ncache 3000\ntotal_rss 7000\ntotal_inactive_file 1000\nhierarchical_memory_limit 67108864\n")
			write("memory"+cg+"/memory.usage_in_bytes", "10500\n")
			write("memory"+cg+"/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
			write("cpuacct"+cg+"/cpuacct.usage", "1500000\n")
			write("cpuacct"+cg+"/cpuacct.stat", "user 3\nsystem 1\n")
			write("pids"+cg+"/pids.current", "3\n")
			write("pids"+cg+"/pids.max", "20\n")

			m := f.memoryMetrics(cg)
			Expect(m.Rss).To(BeEquivalentTo(7000))
			Expect(m.TotalUsageTowardLimit).To(BeEquivalentTo(9500))
			Expect(m.HierarchicalMemoryLimit).To(BeEquivalentTo(64 << 20))
			Expect(f.cpuMetrics(cg)).To(Equal(garden.ContainerCPUStat{Usage: 1500000, User: 30_000_000, System: 10_000_000}))
			Expect(f.pidMetrics(cg)).To(Equal(garden.ContainerPidStat{Current: 3, Max: 20}))
			Expect(f.oomKilled(cg)).To(BeTrue())
		})

		It("limits swap with memsw when there is swap accounting, and removes the container's directory in every hierarchy", func() {
			Expect(f.memswAvailable()).To(BeFalse())
			write("memory/memory.memsw.limit_in_bytes", "9223372036854771712\n")
			Expect(f.memswAvailable()).To(BeTrue())
			for _, c := range []string{"memory", "cpu,cpuacct", "pids"} {
				Expect(os.MkdirAll(filepath.Join(root, c, cg), 0755)).To(Succeed())
			}
			Expect(f.dirsLeft(cg)).To(ContainElements(filepath.Join(root, "memory", cg), filepath.Join(root, "pids", cg), filepath.Join(root, "cpu,cpuacct", cg)))
			f.remove(cg)
			Expect(f.dirsLeft(cg)).To(BeEmpty())

			c := Cgroups{f}
			Expect(c.Unified()).To(BeFalse())
			Expect(c.File("diego-garden", "h1", "pids", "pids.max")).To(Equal(filepath.Join(root, "pids/diego-garden/h1/pids.max")))
			Expect(c.Left("diego-garden", "h1")).To(BeEmpty())
			c.RemoveParent("diego-garden")
			for _, h := range []string{"memory", "cpu,cpuacct", "pids"} {
				Expect(filepath.Join(root, h, "diego-garden")).NotTo(BeAnExistingFile())
			}
		})
	})

	It("gives runc the same limits on either hierarchy, swap only with swap accounting", func() {
		limits := garden.Limits{Memory: garden.MemoryLimits{LimitInBytes: 64 << 20}, CPU: garden.CPULimits{Weight: 1024}, Pid: garden.PidLimits{Max: 100}}
		s, err := BuildSpec(BundleParams{Handle: "h1", RootFS: "/r", InitBin: "/i", CgroupsPath: cg, MemswAvailable: true, Limits: limits})
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Linux.CgroupsPath).To(Equal(cg))
		r := s.Linux.Resources
		Expect(r.Unified).To(BeNil(), "runc writes v2's files from these values itself")
		Expect(*r.Memory.Limit).To(BeEquivalentTo(64 << 20))
		Expect(*r.Memory.Swap).To(BeEquivalentTo(64<<20), "memory+swap equal to memory: no swap")
		Expect(*r.CPU.Shares).To(BeEquivalentTo(1024))
		Expect(*r.Pids.Limit).To(BeEquivalentTo(100))
		Expect(r.Devices).To(Equal([]specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}), "devices are runc's to translate (eBPF on v2)")

		s, err = BuildSpec(BundleParams{Handle: "h1", RootFS: "/r", InitBin: "/i", CgroupsPath: cg, Limits: limits})
		Expect(err).NotTo(HaveOccurred())
		Expect(*s.Linux.Resources.Memory.Limit).To(BeEquivalentTo(64 << 20))
		Expect(s.Linux.Resources.Memory.Swap).To(BeNil(), "runc refuses a swap limit without swap accounting")

		// LimitInShares when there is no weight, clamped to the kernel's 2..262144
		for _, cpu := range []struct {
			limits garden.CPULimits
			shares uint64
		}{
			{garden.CPULimits{Weight: 1}, 2}, {garden.CPULimits{LimitInShares: 1}, 2}, {garden.CPULimits{LimitInShares: 512}, 512},
			{garden.CPULimits{Weight: 300, LimitInShares: 512}, 300}, {garden.CPULimits{LimitInShares: 1 << 20}, 262144},
		} {
			s, err = BuildSpec(BundleParams{Handle: "h1", RootFS: "/r", InitBin: "/i", CgroupsPath: cg, Limits: garden.Limits{CPU: cpu.limits}})
			Expect(err).NotTo(HaveOccurred())
			Expect(*s.Linux.Resources.CPU.Shares).To(Equal(cpu.shares), "%+v", cpu.limits)
		}
		s, err = BuildSpec(BundleParams{Handle: "h1", RootFS: "/r", InitBin: "/i", CgroupsPath: cg})
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Linux.Resources.Memory).To(BeNil())
		Expect(s.Linux.Resources.CPU).To(BeNil())
		Expect(s.Linux.Resources.Pids).To(BeNil())
	})
})
