package gardenrunc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Host names what one server makes on the host besides its files: its cgroup parent, bridge,
// chains and pool (cmd/garden's cgroup_parent, bridge_name, chain_prefix and network_pool), and
// the directory its mounts are below.
type Host struct {
	Dir, CgroupParent, Bridge, ChainPrefix, NetworkPool string
}

// KillContainerProcesses kills with SIGKILL every process in the cgroup parent: the containers'
// (never the caller).
func KillContainerProcesses(cgroupParent string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(b), "/"+cgroupParent+"/") {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(filepath.Dir(f)), "%d", &pid); err == nil && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// RemoveLeftovers removes what a stopped server leaves on the host once its containers are
// destroyed, and what destroys missed (a container created while they ran, a server killed
// mid-way): processes in its cgroup parent are killed, mounts below Dir unmounted, and its
// bridge, its pool's masquerade rule, its shared chains (once no other container uses them) and
// its cgroup parent removed. For tests and operators; a running server keeps all of them.
func RemoveLeftovers(h Host) {
	KillContainerProcesses(h.CgroupParent)
	if b, err := os.ReadFile("/proc/self/mounts"); err == nil {
		var mounts []string
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], h.Dir+"/") {
				mounts = append(mounts, f[1])
			}
		}
		// deepest first
		for i := len(mounts) - 1; i >= 0; i-- {
			_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH)
		}
	}
	_ = exec.Command("ip", "link", "del", h.Bridge).Run()
	_ = exec.Command("iptables", "-w", "-t", "nat", "-D", h.ChainPrefix+"-postrouting", "-s", h.NetworkPool, "!", "-d", h.NetworkPool, "-j", "MASQUERADE").Run()
	RemoveSharedChainsIfUnused(h.ChainPrefix)
	if cg, err := HostCgroups(); err == nil {
		cg.RemoveParent(h.CgroupParent)
	}
}
