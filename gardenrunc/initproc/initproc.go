// Package initproc is what runs outside the garden server but from its binaries: the containers'
// init (pid 1), which starts the server's processes and records their exits, and the exec helper
// that starts a process inside a container.
// It imports little, so the small garden-init binary built from it starts fast.
package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// InitPathInContainer is where the init binary is bind-mounted inside every container.
const InitPathInContainer = "/.diego-garden/init"

// DefaultPath is the PATH given to processes whose environment has none.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Files of a process directory, made by the server. The init writes the exit code ("CODE\n") to
// exit; the server writes pid ("HOSTPID START").
const (
	ProcStdout   = "stdout"
	ProcStderr   = "stderr"
	ProcPidFile  = "pid"
	ProcExitFile = "exit"
)

// Run runs the role named by args[0] ("init", "exec", "tar-in DEST", "tar-out PATH"), as the
// garden-init binary and the garden binary standing in for it do; ok is false for any other name.
func Run(args []string) (code int, ok bool) {
	if len(args) == 0 {
		return 0, false
	}
	switch args[0] {
	case "init":
		return RunInit(), true
	case "exec":
		return RunExecHelper(), true
	case "tar-in":
		return RunTarIn(args[1:]), true
	case "tar-out":
		return RunTarOut(args[1:]), true
	}
	return 0, false
}

// RunInit is the container's pid 1 (`<binary> init`, bind-mounted read-only into the container):
// it ignores signals and reaps orphans until killed.
//
// When fd 3 is a listening socket (the server's init.sock), it also starts the server's processes
// and records their exits (spawn.go). Signals are caught and dropped rather than ignored, because
// ignored dispositions would be inherited by the processes it starts. It is not dumpable,
// so container processes cannot reach the host files it holds through /proc/1/fd or ptrace.
func RunInit() int {
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// every signal is caught and dropped: the kernel keeps from a pid namespace's init only the
	// signals it does not handle, and Go handles all of them, ending the program for most
	signal.Notify(make(chan os.Signal, 1))
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD)
	sp := &spawner{children: map[int]*child{}}
	if sp.serve() {
		go warmUp()
	}
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.ECHILD {
			<-sigs
			continue
		}
		if err == nil && pid > 0 {
			sp.reaped(pid, ws)
		}
	}
}

// RunExecHelper is `/.diego-garden/init exec`, started by the container's init for processes it
// cannot start directly. It reads the OCI process from fd 3, then sets the working directory,
// rlimits, groups, user, capabilities and no_new_privs the way runc exec would, and execs the
// process.
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
		for i := range CapNames {
			if !keep[i] {
				if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(i), 0, 0, 0); err != nil && err != unix.EINVAL {
					return fail("drop capability %s: %v", CapNames[i], err)
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
		if !containsStr(p.Env, "HOME="+cwd) || os.Chdir("/") != nil {
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
		for i, c := range CapNames {
			if c == n {
				out[i] = true
			}
		}
	}
	return out
}

// lookPath resolves a command in the caller's own root.
func lookPath(file string, env []string) (string, error) { return LookPath(file, env, os.Stat) }

// LookPath resolves a command as exec does: a path with a slash as it is, a bare name along PATH
// from env (DefaultPath without one); either must be an executable file. stat reads a candidate:
// the exec helper its own root, the server a container's from the host.
func LookPath(file string, env []string, stat func(string) (os.FileInfo, error)) (string, error) {
	executable := func(p string) error {
		fi, err := stat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() || fi.Mode()&0111 == 0 {
			return errors.New("not an executable file")
		}
		return nil
	}
	if strings.Contains(file, "/") {
		if err := executable(file); err != nil {
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
		if executable(cand) == nil {
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

// ProcStart returns the start time field of /proc/pid/stat and whether the process is alive
// (exists and is not a zombie).
func ProcStart(pid int) (start string, alive bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", false
	}
	// f[0] is the state (field 3), so field 22 is f[19]
	return f[19], f[0] != "Z" && f[0] != "X"
}

// CapNames are the Linux capabilities by number.
var CapNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}
