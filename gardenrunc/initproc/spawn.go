package initproc

// Starting processes through the container's init. The server binds a unix socket at
// CONTAINER_DIR/init.sock (on the host, outside the container's root) and hands the listening
// socket to the init (runc --preserve-fds 1: fd 3). A shim connects, sends the process spec with
// the process's stdin, stdout and stderr (SCM_RIGHTS), and the init, already in every namespace,
// the root and the cgroups of the container, starts the exec helper as its own child: no nsenter,
// no moving into cgroups, no polling for the child. The init answers "pid N" (N in the
// container's pid namespace) and, once it has reaped the process, "exit STATUS" (the raw wait
// status). Only peers outside the container's pid namespace (SO_PEERCRED pid 0) are served, so
// container processes cannot use it even if they could reach it.

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// InitSockName is the init's socket in a container's directory.
const InitSockName = "init.sock"

// initListenFd is where runc --preserve-fds 1 puts the listening socket in the init.
const initListenFd = 3

type spawner struct {
	mu       sync.Mutex
	children map[int]*os.File // pid -> the connection waiting for its exit
}

// serveSpawns accepts shims on fd 3 when it is a listening socket; it returns false otherwise.
func (s *spawner) serve() bool {
	if v, err := unix.GetsockoptInt(initListenFd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		return false
	}
	unix.CloseOnExec(initListenFd)
	go func() {
		for {
			nfd, _, err := unix.Accept4(initListenFd, unix.SOCK_CLOEXEC)
			if err != nil {
				if err == unix.EINTR || err == unix.ECONNABORTED {
					continue
				}
				return
			}
			go s.handle(nfd)
		}
	}()
	return true
}

func (s *spawner) handle(fd int) {
	conn := os.NewFile(uintptr(fd), "shim")
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil || cred.Pid != 0 {
		// a peer inside the container's pid namespace
		conn.Close()
		return
	}
	reply := func(format string, args ...any) { fmt.Fprintf(conn, format+"\n", args...) }
	// request: 4-byte length, the spec, with 3 fds (stdin, stdout, stderr) on the first bytes
	head := make([]byte, 4)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, _, _, err := unix.Recvmsg(fd, head, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil || n < 4 {
		conn.Close()
		return
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if r, err := unix.ParseUnixRights(&m); err == nil {
				fds = append(fds, r...)
			}
		}
	}
	closeFds := func() {
		for _, f := range fds {
			unix.Close(f)
		}
	}
	size := binary.BigEndian.Uint32(head)
	if len(fds) != 3 || size > 16<<20 {
		closeFds()
		reply("err bad request")
		conn.Close()
		return
	}
	spec := make([]byte, size)
	if _, err := io.ReadFull(conn, spec); err != nil {
		closeFds()
		conn.Close()
		return
	}
	stdio := []*os.File{os.NewFile(uintptr(fds[0]), "stdin"), os.NewFile(uintptr(fds[1]), "stdout"),
		os.NewFile(uintptr(fds[2]), "stderr")}
	closeFds = func() {
		for _, f := range stdio {
			f.Close()
		}
	}
	var ps specs.Process
	if json.Unmarshal(spec, &ps) == nil {
		s.mu.Lock()
		if p, ok := startDirect(&ps, stdio); ok {
			s.children[p.Pid] = conn
			reply("pid %d", p.Pid)
			p.Release()
			s.mu.Unlock()
			closeFds()
			return
		}
		s.mu.Unlock()
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		closeFds()
		reply("err %v", err)
		conn.Close()
		return
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		closeFds()
		specR.Close()
		specW.Close()
		reply("err %v", err)
		conn.Close()
		return
	}
	// the helper waits on fd 4 for its cgroups: it is already in them
	syncW.Write([]byte{1})
	syncW.Close()
	go func() { specW.Write(spec); specW.Close() }()
	files := append(stdio, specR, syncR)
	s.mu.Lock()
	p, err := os.StartProcess(InitPathInContainer, []string{InitPathInContainer, "exec"},
		&os.ProcAttr{Dir: "/", Env: []string{}, Files: files})
	if err == nil {
		s.children[p.Pid] = conn
		reply("pid %d", p.Pid)
		p.Release()
	}
	s.mu.Unlock()
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		reply("err %v", err)
		conn.Close()
	}
}

// warmUp runs, on sample data, the decoding and checks a request goes through (JSON of a process
// spec with everything set, the capability sets), so that the first real one does not pay for
// building encoding/json's per-type caches and for faulting in their code: run by the shim
// waiting in the server's pool and by the init when it starts.
func warmUp() {
	sample := specs.Process{
		Terminal: true, ConsoleSize: &specs.Box{Height: 1, Width: 1},
		User: specs.User{UID: 1, GID: 1, AdditionalGids: []uint32{1}, Umask: new(uint32), Username: "u"},
		Args: []string{"a"}, Env: []string{"A=b"}, Cwd: "/",
		Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}, Effective: []string{"CAP_CHOWN"},
			Inheritable: []string{"CAP_CHOWN"}, Permitted: []string{"CAP_CHOWN"}, Ambient: []string{"CAP_CHOWN"}},
		Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1, Soft: 1}},
		NoNewPrivileges: true, ApparmorProfile: "a", OOMScoreAdj: new(int), SelinuxLabel: "l",
	}
	if b, err := json.Marshal(&sample); err == nil {
		var ps specs.Process
		json.Unmarshal(b, &ps)
	}
	if b, err := json.Marshal(&ShimConfig{}); err == nil {
		var cfg ShimConfig
		json.Unmarshal(b, &cfg)
	}
	if _, _, _, ok := selfCaps(); ok {
		capMask(sample.Capabilities.Bounding)
	}
}

// startDirect starts the process itself, without the exec helper, when the helper would change
// nothing but what fork and exec with credentials do: no rlimits, the same bounding set and
// no_new_privs as the init's, and the capabilities exec gives (the bounding set for uid 0, none
// for other users). Anything else, or any failure, is left to the helper (and its messages).
func startDirect(p *specs.Process, stdio []*os.File) (*os.Process, bool) {
	if len(p.Rlimits) > 0 || len(p.Args) == 0 || p.Capabilities == nil {
		return nil, false
	}
	bnd, eff, nnp, ok := selfCaps()
	if !ok || eff != bnd || nnp != p.NoNewPrivileges || capMask(p.Capabilities.Bounding) != bnd {
		return nil, false
	}
	if p.User.UID == 0 {
		if capMask(p.Capabilities.Effective) != bnd || capMask(p.Capabilities.Permitted) != bnd {
			return nil, false
		}
	} else if len(p.Capabilities.Effective) > 0 || len(p.Capabilities.Permitted) > 0 || len(p.Capabilities.Ambient) > 0 {
		return nil, false
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if fi, err := os.Stat(cwd); err != nil || !fi.IsDir() {
		return nil, false
	}
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return nil, false
	}
	groups := make([]uint32, 0, len(p.User.AdditionalGids))
	groups = append(groups, p.User.AdditionalGids...)
	env := p.Env
	if env == nil {
		env = []string{}
	}
	proc, err := os.StartProcess(path, p.Args, &os.ProcAttr{Dir: cwd, Env: env, Files: stdio,
		Sys: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: p.User.UID, Gid: p.User.GID, Groups: groups},
			Setsid:     p.Terminal, Setctty: p.Terminal, Ctty: 0,
		}})
	if err != nil {
		return nil, false
	}
	return proc, true
}

// selfCaps reads this process's bounding and effective capability sets and no_new_privs.
func selfCaps() (bnd, eff uint64, nnp bool, ok bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, false, false
	}
	found := 0
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		switch f[0] {
		case "CapBnd:":
			bnd, err = strconv.ParseUint(f[1], 16, 64)
			found++
		case "CapEff:":
			eff, err = strconv.ParseUint(f[1], 16, 64)
			found++
		case "NoNewPrivs:":
			nnp = f[1] == "1"
			found++
		}
		if err != nil {
			return 0, 0, false, false
		}
	}
	return bnd, eff, nnp, found == 3
}

func capMask(names []string) uint64 {
	var m uint64
	for i := range capSet(names) {
		m |= 1 << uint(i)
	}
	return m
}

// reaped reports a reaped child's status to its shim, if it is one the spawner started.
func (s *spawner) reaped(pid int, ws syscall.WaitStatus) {
	s.mu.Lock()
	conn, ok := s.children[pid]
	delete(s.children, pid)
	s.mu.Unlock()
	if ok {
		fmt.Fprintf(conn, "exit %d\n", uint32(ws))
		conn.Close()
	}
}

// dialInit connects to the container's init; an error means the socket cannot be used (then the
// shim falls back to nsenter).
func dialInit(cfg ShimConfig) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: cfg.InitSock}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "init"), nil
}

// runViaInit has the init start the process (spec in dir) with the given stdio, writes its host
// pid to the pid file and returns its exit code (128+N when killed by signal N, 137 when the
// container's init went away first).
func runViaInit(conn *os.File, cfg ShimConfig, dir string, spec []byte, stdin, stdout, stderr *os.File, trace func(string)) int {
	defer conn.Close()
	head := make([]byte, 4)
	binary.BigEndian.PutUint32(head, uint32(len(spec)))
	rights := unix.UnixRights(int(stdin.Fd()), int(stdout.Fd()), int(stderr.Fd()))
	if err := unix.Sendmsg(int(conn.Fd()), head, rights, nil, 0); err != nil {
		fmt.Fprintf(stderr, "diego-garden: cannot reach the container's init: %v\n", err)
		return 255
	}
	if _, err := conn.Write(spec); err != nil {
		return 255
	}
	trace("sent to init")
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return 128 + int(syscall.SIGKILL)
	}
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "pid" {
		fmt.Fprintf(stderr, "diego-garden: cannot start process: %s\n", strings.TrimSpace(strings.TrimPrefix(line, "err ")))
		return 255
	}
	if nspid, err := strconv.Atoi(f[1]); err == nil {
		// found while the process runs: a short one's exit need not wait for the search (the
		// server signals only processes that have not exited)
		go func() {
			if host := hostPid(cfg.InitPid, nspid); host > 0 {
				os.WriteFile(filepath.Join(dir, ProcPidFile), []byte(strconv.Itoa(host)), 0600)
			}
		}()
	}
	trace("started")
	line, err = r.ReadString('\n')
	if err != nil {
		return 128 + int(syscall.SIGKILL)
	}
	f = strings.Fields(line)
	if len(f) != 2 || f[0] != "exit" {
		return 255
	}
	st, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return 255
	}
	ws := syscall.WaitStatus(st)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// hostPid finds the host pid of the init's child whose pid in the container is nspid.
func hostPid(cfgInit, nspid int) int {
	if cfgInit <= 0 {
		return 0
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", cfgInit))
	want := strconv.Itoa(nspid)
	for _, t := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", cfgInit, t.Name()))
		for _, c := range strings.Fields(string(b)) {
			st, _ := os.ReadFile("/proc/" + c + "/status")
			for _, l := range strings.Split(string(st), "\n") {
				if strings.HasPrefix(l, "NSpid:") {
					f := strings.Fields(l)
					if len(f) >= 3 && f[len(f)-1] == want {
						pid, _ := strconv.Atoi(c)
						return pid
					}
				}
			}
		}
	}
	return 0
}
