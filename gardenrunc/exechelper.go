package gardenrunc

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// RunExecHelper is `/.diego-garden/init exec`, started by the shim through nsenter inside a
// container's namespaces (and root). It reads the OCI process from fd 3, waits on fd 4 until the
// shim has moved it into the container's cgroups, then sets the working directory, rlimits,
// groups, user, capabilities and no_new_privs the way runc exec would, and execs the process.
func RunExecHelper() int {
	runtime.LockOSThread()
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "diego-garden: "+format+"\n", args...)
		return 255
	}
	specFile := os.NewFile(3, "process.json")
	var p specs.Process
	if err := json.NewDecoder(specFile).Decode(&p); err != nil {
		return fail("read process spec: %v", err)
	}
	specFile.Close()
	syncFile := os.NewFile(4, "sync")
	buf := make([]byte, 1)
	if n, _ := syncFile.Read(buf); n != 1 {
		return fail("not placed in the container's cgroups")
	}
	syncFile.Close()
	if len(p.Args) == 0 {
		return fail("no args")
	}
	if p.Terminal {
		unix.Setsid()
		if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
			return fail("set controlling terminal: %v", err)
		}
	}
	for _, rl := range p.Rlimits {
		if res, ok := rlimitNames[rl.Type]; ok {
			if err := unix.Setrlimit(res, &unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}); err != nil {
				return fail("setrlimit %s: %v", rl.Type, err)
			}
		}
	}
	// bounding set first: dropping needs CAP_SETPCAP, which the user change may take away
	var keep map[int]bool
	if p.Capabilities != nil {
		keep = capSet(p.Capabilities.Bounding)
		for i := range capNames {
			if !keep[i] {
				if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(i), 0, 0, 0); err != nil && err != unix.EINVAL {
					return fail("drop capability %s: %v", capNames[i], err)
				}
			}
		}
	}
	gids := make([]int, 0, len(p.User.AdditionalGids))
	for _, g := range p.User.AdditionalGids {
		gids = append(gids, int(g))
	}
	if err := syscall.Setgroups(gids); err != nil {
		return fail("setgroups: %v", err)
	}
	if err := syscall.Setresgid(int(p.User.GID), int(p.User.GID), int(p.User.GID)); err != nil {
		return fail("setgid %d: %v", p.User.GID, err)
	}
	if err := syscall.Setresuid(int(p.User.UID), int(p.User.UID), int(p.User.UID)); err != nil {
		return fail("setuid %d: %v", p.User.UID, err)
	}
	if p.Capabilities != nil {
		var data [2]unix.CapUserData
		for i := range capSet(p.Capabilities.Permitted) {
			data[i/32].Permitted |= 1 << uint(i%32)
		}
		for i := range capSet(p.Capabilities.Effective) {
			data[i/32].Effective |= 1 << uint(i%32)
		}
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			return fail("capset: %v", err)
		}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fail("no_new_privs: %v", err)
		}
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := os.Chdir(cwd); err != nil {
		// a defaulted home directory that the image lacks is not fatal (runc's behaviour for init)
		if !contains(p.Env, "HOME="+cwd) || os.Chdir("/") != nil {
			return fail("chdir %s: %v", cwd, err)
		}
	}
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return fail("exec: %q: %v", p.Args[0], err)
	}
	err = syscall.Exec(path, p.Args, p.Env)
	return fail("exec %s: %v", path, err)
}

func capSet(names []string) map[int]bool {
	out := map[int]bool{}
	for _, n := range names {
		for i, c := range capNames {
			if c == n {
				out[i] = true
			}
		}
	}
	return out
}

// lookPath resolves a command without a slash against PATH from the process's environment.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if _, err := os.Stat(file); err != nil {
			return "", err
		}
		return file, nil
	}
	path := strings.TrimPrefix(DefaultPath, "PATH=")
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			path = kv[5:]
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		cand := filepath.Join(dir, file)
		if fi, err := os.Stat(cand); err == nil && !fi.IsDir() && fi.Mode()&0111 != 0 {
			return cand, nil
		}
	}
	return "", fmt.Errorf("executable file not found in $PATH")
}

var rlimitNames = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC,
	"RLIMIT_RSS": unix.RLIMIT_RSS, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

// joinCgroups moves pid into every cgroup directory the container has (all v1 controllers and
// the v2 "unified" hierarchy of hybrid hosts).
func joinCgroups(cgPath string, pid int) error {
	entries, err := os.ReadDir(cgroupRoot)
	if err != nil {
		return err
	}
	joined := 0
	for _, e := range entries {
		procs := filepath.Join(cgroupRoot, e.Name(), cgPath, "cgroup.procs")
		if _, err := os.Stat(procs); err != nil {
			continue
		}
		if err := os.WriteFile(procs, []byte(fmt.Sprint(pid)), 0); err != nil {
			return fmt.Errorf("join %s: %w", procs, err)
		}
		joined++
	}
	if joined == 0 {
		return fmt.Errorf("container cgroup %s not found", cgPath)
	}
	return nil
}
