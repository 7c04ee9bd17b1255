// Package initproc is what runs outside the garden server but from its binaries: the containers'
// init (pid 1), the per-process shim, and the exec helper that starts a process inside a container.
// It imports little, so the small garden-init binary built from it starts fast.
package initproc

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// InitPathInContainer is where the init binary is bind-mounted inside every container.
const InitPathInContainer = "/.diego-garden/init"

// DefaultPath is the PATH given to processes whose environment has none.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// CgroupRoot is where the cgroup hierarchies are mounted.
const CgroupRoot = "/sys/fs/cgroup"

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Files of a process directory. The shim owns stdout, stderr and exit; the server owns stdin
// (a fifo) and stdin.eof.
const (
	ProcSpecFile = "process.json"
	ProcStdin    = "stdin"
	ProcStdinEOF = "stdin.eof"
	ProcStdout   = "stdout"
	ProcStderr   = "stderr"
	ProcPidFile  = "pid"
	ProcExitFile = "exit"
)

// ShimConfig is written by the server to PROCESS_DIR/shim.json.
type ShimConfig struct {
	Mode        string `json:"mode"` // "nsenter" (default) or "runc"
	RuncBin     string `json:"runc_bin"`
	RuncRoot    string `json:"runc_root"`
	ContainerID string `json:"container_id"`
	InitPid     int    `json:"init_pid"`
	CgroupPath  string `json:"cgroup_path"`
	// InitSock, when set, is the init's socket: the process is started by the init (spawn.go),
	// falling back to nsenter when the socket cannot be used.
	InitSock string `json:"init_sock,omitempty"`
}

// RunShim is the per-process shim: `<binary> shim PROCESS_DIR`, or `<binary> shim -` to be
// started ahead and read PROCESS_DIR from stdin (then stderr goes to PROCESS_DIR/shim.log). It starts the process in the
// container with the process's stdout and stderr on files in PROCESS_DIR and its stdin fed from a
// fifo there, waits for it and records the exit status (128+N for signal N) in PROCESS_DIR/exit.
// It runs in its own session, so it and the process outlive the garden server.
//
// In "runc" mode the process is started with `runc exec`. In "nsenter" mode (faster: no runc
// start-up) nsenter joins the init's namespaces and root and runs the init binary's exec helper,
// which the shim first moves into the container's cgroups and which then drops to the process's
// user and capabilities and execs it.
func RunShim(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: shim PROCESS_DIR")
		return 2
	}
	dir := args[0]
	if dir == "-" {
		// started ahead by the server's pool: get ready, then wait for the directory (EOF: not
		// needed, exit)
		warmUp()
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil || !filepath.IsAbs(strings.TrimSpace(line)) {
			return 0
		}
		dir = strings.TrimSpace(line)
		if devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
			unix.Dup3(int(devnull.Fd()), 0, 0)
			devnull.Close()
		}
		if log, err := os.OpenFile(filepath.Join(dir, "shim.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0600); err == nil {
			unix.Dup3(int(log.Fd()), 2, 0)
			log.Close()
		}
	}
	t0 := time.Now()
	trace := func(what string) {
		if os.Getenv("DIEGO_GARDEN_SHIM_TRACE") != "" {
			fmt.Fprintf(os.Stderr, "%s %s\n", time.Since(t0), what)
		}
	}
	trace("start")
	defer trace("exit")
	// caught, not ignored: ignored dispositions would be inherited by the process
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	var cfg ShimConfig
	if b, err := os.ReadFile(filepath.Join(dir, "shim.json")); err != nil || json.Unmarshal(b, &cfg) != nil {
		writeExit(dir, 255)
		return 1
	}
	open := func(name string) *os.File {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0600)
		if err != nil {
			writeExit(dir, 255)
			os.Exit(1)
		}
		return f
	}
	stdout, stderr := open(ProcStdout), open(ProcStderr)
	pr, pw, err := os.Pipe()
	if err != nil {
		writeExit(dir, 255)
		return 1
	}
	go feedStdin(dir, pw)
	var code int
	switch {
	case cfg.Mode == "runc":
		code = shimRunc(cfg, dir, pr, stdout, stderr)
	case cfg.InitSock != "":
		var ok bool
		if code, ok = shimInit(cfg, dir, pr, stdout, stderr, trace); !ok {
			code = shimNsenter(cfg, dir, pr, stdout, stderr, trace)
		}
	default:
		code = shimNsenter(cfg, dir, pr, stdout, stderr, trace)
	}
	writeExit(dir, code)
	return 0
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 255
}

func shimRunc(cfg ShimConfig, dir string, stdin, stdout, stderr *os.File) int {
	cmd := exec.Command(cfg.RuncBin, "--root", cfg.RuncRoot, "exec", "--process", filepath.Join(dir, ProcSpecFile),
		"--pid-file", filepath.Join(dir, ProcPidFile), cfg.ContainerID)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "diego-garden: cannot start runc: %v\n", err)
		return 255
	}
	stdin.Close()
	return exitCode(cmd.Wait())
}

// shimInit starts the process through the container's init (spawn.go); ok is false, with
// nothing started, when the init's socket cannot be used.
func shimInit(cfg ShimConfig, dir string, stdin, stdout, stderr *os.File, trace func(string)) (code int, ok bool) {
	conn, err := dialInit(cfg)
	if err != nil {
		return 0, false
	}
	spec, err := os.ReadFile(filepath.Join(dir, ProcSpecFile))
	if err != nil {
		conn.Close()
		return 255, true
	}
	var ps specs.Process
	json.Unmarshal(spec, &ps)
	if !ps.Terminal {
		code = runViaInit(conn, cfg, dir, spec, stdin, stdout, stderr, trace)
		stdin.Close()
		return code, true
	}
	master, slave, err := openPty(dir, ps.ConsoleSize)
	if err != nil {
		conn.Close()
		fmt.Fprintf(stderr, "diego-garden: cannot allocate a tty: %v\n", err)
		return 255, true
	}
	defer master.Close()
	// the terminal merges stdout and stderr; stdin EOF becomes ^D
	copied := make(chan struct{})
	go func() { io.Copy(stdout, master); close(copied) }()
	go func() {
		io.Copy(master, stdin)
		master.Write([]byte{4})
	}()
	code = runViaInit(conn, cfg, dir, spec, slave, slave, slave, trace)
	slave.Close()
	// the output ends when every holder of the terminal has gone (bounded)
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	return code, true
}

func shimNsenter(cfg ShimConfig, dir string, stdin, stdout, stderr *os.File, trace func(string)) int {
	spec, err := os.Open(filepath.Join(dir, ProcSpecFile))
	if err != nil {
		return 255
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return 255
	}
	cmd := exec.Command("nsenter", "-t", strconv.Itoa(cfg.InitPid), "-m", "-u", "-i", "-n", "-p", "-r",
		"--", InitPathInContainer, "exec")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	var ps specs.Process
	json.NewDecoder(spec).Decode(&ps)
	spec.Seek(0, io.SeekStart)
	var copied chan struct{}
	if ps.Terminal {
		master, slave, err := openPty(dir, ps.ConsoleSize)
		if err != nil {
			fmt.Fprintf(stderr, "diego-garden: cannot allocate a tty: %v\n", err)
			return 255
		}
		defer master.Close()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		defer slave.Close()
		// the terminal merges stdout and stderr; stdin EOF becomes ^D
		copied = make(chan struct{})
		go func() { io.Copy(stdout, master); close(copied) }()
		go func() {
			io.Copy(master, stdin)
			master.Write([]byte{4})
		}()
	}
	cmd.ExtraFiles = []*os.File{spec, syncR}
	cmd.Env = []string{}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "diego-garden: cannot start nsenter: %v\n", err)
		return 255
	}
	trace("nsenter started")
	if !ps.Terminal {
		stdin.Close()
	} else {
		cmd.Stdin.(*os.File).Close()
	}
	spec.Close()
	syncR.Close()
	// nsenter forks the helper into the pid namespace; place that child in the container's cgroups
	child := 0
	for i := 0; i < 5000 && child == 0; i++ {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
		if f := strings.Fields(string(b)); len(f) > 0 {
			child, _ = strconv.Atoi(f[0])
			break
		}
		if _, alive := ProcStart(cmd.Process.Pid); !alive {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if child == 0 {
		syncW.Close()
		return exitCode(cmd.Wait())
	}
	trace("child found")
	if err := joinCgroups(cfg.CgroupPath, child); err != nil {
		fmt.Fprintf(stderr, "diego-garden: %v\n", err)
		syscall.Kill(child, syscall.SIGKILL)
		syncW.Close()
		cmd.Wait()
		return 255
	}
	os.WriteFile(filepath.Join(dir, ProcPidFile), []byte(strconv.Itoa(child)), 0600)
	syncW.Write([]byte{1})
	syncW.Close()
	trace("cgroups joined")
	defer trace("nsenter exited")
	code := exitCode(cmd.Wait())
	if copied != nil {
		// the output ends when every holder of the terminal has gone (bounded)
		select {
		case <-copied:
		case <-time.After(2 * time.Second):
		}
	}
	return code
}

// ProcTTYFile names the file holding the path of a process's terminal, for window size changes.
const ProcTTYFile = "tty"

// openPty allocates a pseudo-terminal on the host's devpts and records the slave's path.
func openPty(dir string, size *specs.Box) (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	path := fmt.Sprintf("/dev/pts/%d", n)
	slave, err = os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	if size != nil && size.Width > 0 && size.Height > 0 {
		unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(size.Width), Row: uint16(size.Height)})
	}
	os.WriteFile(filepath.Join(dir, ProcTTYFile), []byte(path), 0600)
	return master, slave, nil
}

// SetWindowSize resizes a running process's terminal (through its slave side).
func SetWindowSize(dir string, cols, rows int) error {
	b, err := os.ReadFile(filepath.Join(dir, ProcTTYFile))
	if err != nil {
		return fmt.Errorf("process has no tty")
	}
	f, err := os.OpenFile(strings.TrimSpace(string(b)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(cols), Row: uint16(rows)})
}

// feedStdin copies the stdin fifo into the process. A writer closing the fifo means EOF only if
// the server marked it so (stdin.eof); otherwise (the server went away) it waits for a new writer.
func feedStdin(dir string, w *os.File) {
	defer w.Close()
	for {
		f, err := os.OpenFile(filepath.Join(dir, ProcStdin), os.O_RDONLY, 0)
		if err != nil {
			return
		}
		_, err = io.Copy(w, f)
		f.Close()
		if err != nil {
			return
		}
		if _, err := os.Stat(filepath.Join(dir, ProcStdinEOF)); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeExit(dir string, code int) {
	tmp := filepath.Join(dir, ProcExitFile+".tmp")
	os.WriteFile(tmp, []byte(strconv.Itoa(code)), 0600)
	os.Rename(tmp, filepath.Join(dir, ProcExitFile))
}

// RunInit is the container's pid 1 (`<binary> init`, bind-mounted read-only into the container):
// it ignores terminal signals and reaps orphans until killed.
//
// When fd 3 is a listening socket (the server's init.sock), it also starts processes for shims
// (spawn.go). Terminal signals are caught and dropped rather than ignored, because ignored
// dispositions would be inherited by the processes it starts.
func RunInit() int {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE, syscall.SIGQUIT)
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD)
	sp := &spawner{children: map[int]*os.File{}}
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
	entries, err := os.ReadDir(CgroupRoot)
	if err != nil {
		return err
	}
	joined := 0
	for _, e := range entries {
		procs := filepath.Join(CgroupRoot, e.Name(), cgPath, "cgroup.procs")
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
