package initproc

// Starting processes through the container's init. The server binds a unix socket at
// CONTAINER_DIR/init.sock (on the host, outside the container's root) and hands the listening
// socket to the init (runc --preserve-fds 1: fd 3). For each process the server connects and
// sends the OCI process spec together with the process's files (see the req* constants). The
// init, already in every namespace, the root and the cgroups of the container, starts the process
// as its own child, answers "pid N" with a pidfd of it, and, once it has reaped it, writes the exit
// code to the process's exit file and answers "exit CODE". Because the init holds those files, a
// process and its exit status outlive the garden server. Peers inside the container's pid
// namespace (SO_PEERCRED pid other than 0) are refused; what keeps everyone else but the server
// out is where the socket is (a directory of the server's, not in the container's root) and its
// mode (0600, host root's).

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// InitSockName is the init's socket in a container's directory.
const InitSockName = "init.sock"

// initListenFd is where runc --preserve-fds 1 puts the listening socket in the init.
const initListenFd = 3

// The files a start request carries (SCM_RIGHTS on its first bytes), in this order.
const (
	ReqStdin     = iota // the read end of the process's stdin pipe
	ReqStdinHold        // a write end of that pipe, held until the server sends "eof"
	ReqStdout
	ReqStderr
	ReqExit // the process's exit file: the init writes "CODE\n" to it
	reqFiles
)

// MaxSpecSize bounds a start request's process spec.
const MaxSpecSize = 16 << 20

// ttyDrainTimeout bounds how long, after a terminal process exits, its output is waited for
// (a background child may hold the terminal open).
const ttyDrainTimeout = 2 * time.Second

type spawner struct {
	mu       sync.Mutex
	children map[int]*child // pid -> what to tell once it is reaped
}

// child is a started process's bookkeeping in the init.
type child struct {
	conn     *os.File
	exit     *os.File
	replied  chan struct{} // closed once the server has its "pid" answer: "exit" comes after it
	holdMu   sync.Mutex
	hold     *os.File      // the held stdin writer, nil once released
	ttyDrain chan struct{} // closed when a terminal's output is copied out; nil without one
	ttyFiles []*os.File    // the terminal's master and the stdin it is fed from, closed at exit
}

func (ch *child) releaseStdin() {
	ch.holdMu.Lock()
	defer ch.holdMu.Unlock()
	if ch.hold != nil {
		ch.hold.Close()
		ch.hold = nil
	}
}

// serve accepts start requests on fd 3 when it is a listening socket; it returns false otherwise.
// Requests are handled one at a time on the accepting goroutine: each is short (it ends once the
// process is started), and no hand-off to another goroutine delays it.
func (s *spawner) serve() bool {
	if v, err := unix.GetsockoptInt(initListenFd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		return false
	}
	unix.CloseOnExec(initListenFd)
	if err := unix.SetNonblock(initListenFd, true); err != nil {
		return false
	}
	ln := os.NewFile(initListenFd, InitSockName)
	rc, err := ln.SyscallConn()
	if err != nil {
		return false
	}
	go func() {
		for {
			var nfd int
			var aerr error
			err := rc.Read(func(fd uintptr) bool {
				nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
				return aerr != unix.EAGAIN
			})
			if err != nil {
				return // the listening socket is closed
			}
			if aerr != nil {
				if aerr == unix.EBADF || aerr == unix.EINVAL || aerr == unix.ENOTSOCK {
					return
				}
				// anything else (no fds or memory left, an aborted connection) passes: the
				// server's next Run must still be served
				time.Sleep(10 * time.Millisecond)
				continue
			}
			s.handle(nfd)
		}
	}()
	return true
}

// handle serves one start request.
func (s *spawner) handle(fd int) {
	conn := os.NewFile(uintptr(fd), "server")
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil || cred.Pid != 0 {
		// a peer inside the container's pid namespace
		conn.Close()
		return
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	spec, files, err := readRequest(conn)
	if err != nil {
		if len(files) == reqFiles {
			// the process has its files: say there why it did not start
			fmt.Fprintf(files[ReqStderr], "diego-garden: cannot start process: %v\n", err)
			fmt.Fprintf(files[ReqExit], "255\n")
		}
		closeAll(files)
		fmt.Fprintf(conn, "err %v\n", err)
		conn.Close()
		return
	}
	conn.SetReadDeadline(time.Time{})
	ch := &child{conn: conn, exit: files[ReqExit], hold: files[ReqStdinHold], replied: make(chan struct{})}
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		fmt.Fprintf(files[ReqStderr], "diego-garden: %s\n", msg)
		fmt.Fprintf(ch.exit, "255\n")
		fmt.Fprintf(conn, "err %s\n", msg)
		closeAll(files)
		closeAll(ch.ttyFiles)
		conn.Close()
	}
	var ps specs.Process
	if err := json.Unmarshal(spec, &ps); err != nil {
		fail("bad process spec: %v", err)
		return
	}
	stdio := []*os.File{files[ReqStdin], files[ReqStdout], files[ReqStderr]}
	var ttyPath string
	if ps.Terminal {
		master, slave, path, err := openPty(ps.ConsoleSize, int(ps.User.UID))
		if err != nil {
			fail("cannot allocate a tty: %v", err)
			return
		}
		ttyPath = path
		stdio = []*os.File{slave, slave, slave}
		defer slave.Close()
		// only the init reads the stdin pipe now: through the poller, so closing it at the
		// process's exit ends the copy below even if nobody ever closes the pipe
		if fd, err := unix.FcntlInt(files[ReqStdin].Fd(), unix.F_DUPFD_CLOEXEC, 0); err == nil && unix.SetNonblock(fd, true) == nil {
			files[ReqStdin].Close()
			files[ReqStdin] = os.NewFile(uintptr(fd), "stdin")
		}
		stdin, stdout := files[ReqStdin], files[ReqStdout]
		ch.ttyDrain = make(chan struct{})
		ch.ttyFiles = []*os.File{master, stdin, stdout}
		go func() {
			io.Copy(stdout, master)
			close(ch.ttyDrain)
		}()
		go feedTerminal(master, stdin)
	}

	s.mu.Lock()
	pid, pidfd, err := start(&ps, spec, stdio)
	if err != nil {
		s.mu.Unlock()
		fail("cannot start process: %v", err)
		return
	}
	s.children[pid] = ch
	s.mu.Unlock()

	// the child has its copies; the init keeps the stdin holder and the exit file (and, with a
	// terminal, what the copies above use)
	files[ReqStderr].Close()
	if !ps.Terminal {
		files[ReqStdin].Close()
		files[ReqStdout].Close()
	}
	reply := "pid " + strconv.Itoa(pid)
	if ttyPath != "" {
		reply += " tty " + ttyPath
	}
	if err := sendWithFd(conn, reply+"\n", pidfd); err != nil {
		// the server went away before it learnt of the process, so nobody could signal it, and a
		// restarted server takes a process without a pid for one that never started: stop it
		// (the reaper records 137)
		unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
	}
	unix.Close(pidfd)
	close(ch.replied)
	go ch.readControl()
}

// readRequest reads a 4-byte length, the process spec, and the request's files (on the first
// bytes). With an error it still returns the files it received, which the caller closes.
func readRequest(conn *os.File) ([]byte, []*os.File, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	head := make([]byte, 4)
	oob := make([]byte, unix.CmsgSpace(reqFiles*4))
	var n, oobn int
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), head, oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN
	}); err != nil {
		return nil, nil, err
	}
	if rerr != nil {
		return nil, nil, rerr
	}
	var files []*os.File
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if fds, err := unix.ParseUnixRights(&m); err == nil {
				for _, fd := range fds {
					files = append(files, os.NewFile(uintptr(fd), "request"))
				}
			}
		}
	}
	if len(files) != reqFiles {
		return nil, files, fmt.Errorf("bad request: %d files, want %d", len(files), reqFiles)
	}
	if n < 4 {
		if _, err := io.ReadFull(conn, head[n:]); err != nil {
			return nil, files, fmt.Errorf("request cut short: %w", err)
		}
	}
	size := binary.BigEndian.Uint32(head)
	if size > MaxSpecSize {
		return nil, files, fmt.Errorf("bad request: process spec of %d bytes", size)
	}
	spec := make([]byte, size)
	if _, err := io.ReadFull(conn, spec); err != nil {
		return nil, files, fmt.Errorf("request cut short: %w", err)
	}
	return spec, files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// start starts the process directly when it can, else through the exec helper, and returns its
// pid and a pidfd for it. Called with the spawner's lock held, so the reaper cannot report the
// child before it is recorded.
func start(ps *specs.Process, spec []byte, stdio []*os.File) (int, int, error) {
	pidfd := -1
	attr := &syscall.SysProcAttr{PidFD: &pidfd}
	if p, ok := startDirect(ps, stdio, attr); ok {
		pid := p.Pid
		p.Release()
		return pid, pidfd, nil
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		return 0, 0, err
	}
	go func() { specW.Write(spec); specW.Close() }()
	defer specR.Close()
	p, err := os.StartProcess(InitPathInContainer, []string{InitPathInContainer, "exec"},
		&os.ProcAttr{Dir: "/", Env: []string{}, Files: append(stdio, specR), Sys: &syscall.SysProcAttr{PidFD: &pidfd}})
	if err != nil {
		return 0, 0, err
	}
	pid := p.Pid
	p.Release()
	return pid, pidfd, nil
}

func sendWithFd(conn *os.File, msg string, fd int) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	var serr error
	if err := rc.Write(func(s uintptr) bool {
		serr = unix.Sendmsg(int(s), []byte(msg), oob, nil, unix.MSG_NOSIGNAL)
		return serr != unix.EAGAIN
	}); err != nil {
		return err
	}
	return serr
}

// feedTerminal copies stdin to the terminal and turns its end into end-of-file for the process:
// ^D, which a terminal takes for end-of-file only at the start of a line, so a second one after
// input that did not end with a newline.
func feedTerminal(master, stdin *os.File) {
	buf := make([]byte, 32*1024)
	lineStart := true
	for {
		n, err := stdin.Read(buf)
		if n > 0 {
			if _, werr := master.Write(buf[:n]); werr != nil {
				return
			}
			lineStart = buf[n-1] == '\n'
		}
		if err == io.EOF {
			eof := []byte{4}
			if !lineStart {
				eof = []byte{4, 4}
			}
			master.Write(eof)
			return
		}
		if err != nil {
			return
		}
	}
}

// readControl serves the server's messages for a running process: "eof" lets go of the held
// stdin writer, so the process sees the end of its input. A server that goes away without saying
// so leaves the input open, as a restarted server cannot feed it again but the process must not
// take the crash for the end of its input.
func (ch *child) readControl() {
	buf := make([]byte, 64)
	var line []byte
	for {
		n, err := ch.conn.Read(buf)
		line = append(line, buf[:n]...)
		for {
			i := strings.IndexByte(string(line), '\n')
			if i < 0 {
				break
			}
			if string(line[:i]) == "eof" {
				ch.releaseStdin()
			}
			line = line[i+1:]
		}
		if err != nil || len(line) > 1024 {
			return
		}
	}
}

// warmUp runs, on sample data, the decoding and checks a request goes through (JSON of a process
// spec with everything set, the capability sets), so that the first real one does not pay for
// building encoding/json's per-type caches and for faulting in their code.
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
	selfCapsOnce()
	capMask(sample.Capabilities.Bounding)
}

// startDirect starts the process itself, without the exec helper, when the helper would change
// nothing but what fork and exec with credentials do: no rlimits, the same bounding set and
// no_new_privs as the init's, and the capabilities exec gives (the bounding set for uid 0, none
// for other users). Anything else, or any failure, is left to the helper (and its messages).
func startDirect(p *specs.Process, stdio []*os.File, sys *syscall.SysProcAttr) (*os.Process, bool) {
	if len(p.Rlimits) > 0 || len(p.Args) == 0 || p.Capabilities == nil {
		return nil, false
	}
	self := selfCapsOnce()
	if !self.ok || self.eff != self.bnd || self.nnp != p.NoNewPrivileges || capMask(p.Capabilities.Bounding) != self.bnd {
		return nil, false
	}
	if p.User.UID == 0 {
		if capMask(p.Capabilities.Effective) != self.bnd || capMask(p.Capabilities.Permitted) != self.bnd {
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
	sys.Credential = &syscall.Credential{Uid: p.User.UID, Gid: p.User.GID, Groups: groups}
	sys.Setsid, sys.Setctty, sys.Ctty = p.Terminal, p.Terminal, 0
	proc, err := os.StartProcess(path, p.Args, &os.ProcAttr{Dir: cwd, Env: env, Files: stdio, Sys: sys})
	if err != nil {
		return nil, false
	}
	return proc, true
}

type capState struct {
	bnd, eff uint64
	nnp, ok  bool
}

// selfCapsOnce reads, once, the init's bounding and effective capability sets and no_new_privs
// (they never change in the init).
var selfCapsOnce = sync.OnceValue(func() capState {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return capState{}
	}
	var st capState
	found := 0
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		switch f[0] {
		case "CapBnd:":
			st.bnd, err = strconv.ParseUint(f[1], 16, 64)
			found++
		case "CapEff:":
			st.eff, err = strconv.ParseUint(f[1], 16, 64)
			found++
		case "NoNewPrivs:":
			st.nnp = f[1] == "1"
			found++
		}
		if err != nil {
			return capState{}
		}
	}
	st.ok = found == 3
	return st
})

func capMask(names []string) uint64 {
	var m uint64
	for i := range capSet(names) {
		m |= 1 << uint(i)
	}
	return m
}

// reaped records a reaped child's exit code and tells the server, if the spawner started it.
func (s *spawner) reaped(pid int, ws syscall.WaitStatus) {
	s.mu.Lock()
	ch, ok := s.children[pid]
	delete(s.children, pid)
	s.mu.Unlock()
	if !ok {
		return
	}
	code := ws.ExitStatus()
	if ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	go func() {
		<-ch.replied
		if ch.ttyDrain != nil {
			select {
			case <-ch.ttyDrain:
			case <-time.After(ttyDrainTimeout):
			}
			closeAll(ch.ttyFiles)
		}
		fmt.Fprintf(ch.exit, "%d\n", code)
		ch.exit.Close()
		ch.releaseStdin()
		fmt.Fprintf(ch.conn, "exit %d\n", code)
		ch.conn.Close()
	}()
}

// openPty allocates a terminal on the container's devpts; the slave belongs to the process's
// user. path is the slave's path inside the container. The master goes through the poller, so the
// copies to and from it hold no thread and end when it is closed.
func openPty(size *specs.Box, uid int) (master, slave *os.File, path string, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, "", err
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		return nil, nil, "", err
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		return nil, nil, "", err
	}
	if size != nil && size.Width > 0 && size.Height > 0 {
		unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(size.Width), Row: uint16(size.Height)})
	}
	path = fmt.Sprintf("/dev/pts/%d", n)
	slave, err = os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(fd)
		return nil, nil, "", err
	}
	if uid != 0 {
		slave.Chown(uid, -1)
	}
	return os.NewFile(uintptr(fd), "ptmx"), slave, path, nil
}
