package gardenrunc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"code.cloudfoundry.org/garden"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/diego-go/diego/gardenrunc/initproc"
)

const (
	procStdout   = initproc.ProcStdout
	procStderr   = initproc.ProcStderr
	procPidFile  = initproc.ProcPidFile
	procExitFile = initproc.ProcExitFile
	procTTYFile  = "tty" // the terminal's path inside the container ("/dev/pts/N"), for resizing
)

// proc is the server's view of one process: a directory whose files the container's init holds
// (stdout, stderr, exit), so it can be rebuilt from disk after a server restart.
type proc struct {
	id   string
	dir  string
	init int           // the host pid of the container's init, which started the process
	done chan struct{} // closed once the exit status is known and post-exit bookkeeping is done
	once sync.Once
	code int

	mu        sync.Mutex
	pidfd     *os.File      // the process, once the init has answered (or adopted while alive)
	ready     chan struct{} // closed once the init has answered, or the process is done
	readyOnce sync.Once

	stdinMu   sync.Mutex
	stdin     *os.File  // the server's end of the process's stdin pipe; nil once fed or adopted
	conn      io.Writer // the init's connection, to say "eof"
	stdinBusy bool

	exitedAt time.Time

	attached int32 // handles not yet done waiting (Run's and Attach's)

	trimMu     sync.Mutex
	trimOwners map[string]bool // output files whose consumed prefix a follower is trimming
}

func newProc(id, dir string) *proc {
	return &proc{id: id, dir: dir, done: make(chan struct{}), ready: make(chan struct{})}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// readExit reads the exit code the init wrote; a file without its final newline is not written
// yet.
func readExit(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, procExitFile))
	if err != nil || len(b) == 0 || b[len(b)-1] != '\n' {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 255, true
	}
	return n, true
}

// finish records the exit status once; onExit runs before waiters are released.
func (p *proc) finish(code int, onExit func(code int)) {
	p.once.Do(func() {
		if onExit != nil {
			onExit(code)
		}
		p.code = code
		p.exitedAt = time.Now()
		p.mu.Lock()
		if p.pidfd != nil {
			p.pidfd.Close()
			p.pidfd = nil
		}
		p.mu.Unlock()
		p.markReady()
		close(p.done)
		p.stdinMu.Lock()
		if p.stdin != nil && !p.stdinBusy {
			p.stdin.Close()
			p.stdin = nil
		}
		p.stdinMu.Unlock()
	})
}

func (p *proc) markReady() { p.readyOnce.Do(func() { close(p.ready) }) }

// spawn has the container's init (listening on sock) start the process described by ps, with
// its stdout, stderr and exit files in the process's directory. It returns once the process has
// started (and its pid is on disk for a restarted server) or could not start; the exit is awaited
// in the background.
func (p *proc) spawn(sock string, ps *specs.Process, initPid int, onExit func(int)) error {
	p.init = initPid
	spec, err := json.Marshal(ps)
	if err != nil {
		return err
	}
	if len(spec) > initproc.MaxSpecSize {
		return fmt.Errorf("process spec is too large: %d bytes", len(spec))
	}
	create := func(name string, flag int) (*os.File, error) {
		return os.OpenFile(filepath.Join(p.dir, name), os.O_WRONLY|os.O_CREATE|flag, 0600)
	}
	var files [initproc.ReqExit + 1]*os.File
	defer func() {
		for i, f := range files {
			if f != nil && i != initproc.ReqStdinHold {
				f.Close()
			}
		}
	}()
	if files[initproc.ReqStdout], err = create(procStdout, os.O_APPEND); err != nil {
		return err
	}
	if files[initproc.ReqStderr], err = create(procStderr, os.O_APPEND); err != nil {
		return err
	}
	if files[initproc.ReqExit], err = create(procExitFile, os.O_TRUNC); err != nil {
		return err
	}
	// the process's end must block; the server's end goes through the poller
	var pfd [2]int
	if err := unix.Pipe2(pfd[:], unix.O_CLOEXEC); err != nil {
		return err
	}
	files[initproc.ReqStdin] = os.NewFile(uintptr(pfd[0]), "stdin")
	unix.SetNonblock(pfd[1], true)
	stdin := os.NewFile(uintptr(pfd[1]), "stdin-writer")
	files[initproc.ReqStdinHold] = stdin
	conn, err := dialUnixIn(sock)
	if err != nil {
		stdin.Close()
		return fmt.Errorf("cannot reach the container's init: %w", err)
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	head := binary.BigEndian.AppendUint32(nil, uint32(len(spec)))
	if _, _, err := conn.WriteMsgUnix(head, unix.UnixRights(fds...), nil); err != nil {
		conn.Close()
		stdin.Close()
		return fmt.Errorf("cannot reach the container's init: %w", err)
	}
	conn.SetWriteDeadline(time.Now().Add(startTimeout))
	if _, err := conn.Write(spec); err != nil {
		conn.Close()
		stdin.Close()
		return fmt.Errorf("cannot reach the container's init: %w", err)
	}
	conn.SetWriteDeadline(time.Time{})
	p.stdinMu.Lock()
	p.stdin, p.conn = stdin, conn
	p.stdinMu.Unlock()
	go p.await(conn, onExit)
	select {
	case <-p.ready:
		return nil
	case <-time.After(startTimeout):
		// hanging up makes the init stop the process if it starts it after all
		conn.Close()
		return fmt.Errorf("the container's init did not start the process within %s", startTimeout)
	}
}

// startTimeout bounds how long Run waits for the init to say the process started.
const startTimeout = 10 * time.Second

// await reads the init's answers: "pid N [tty PATH]" with a pidfd, then "exit CODE" (or "err
// MESSAGE" when the process could not start: the init has written the message to its stderr).
func (p *proc) await(conn *net.UnixConn, onExit func(int)) {
	defer conn.Close()
	buf := make([]byte, 512)
	oob := make([]byte, unix.CmsgSpace(4))
	var pending []byte
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if oobn > 0 {
			p.receivePidfd(oob[:oobn])
		}
		// a failed read gives n = -1 (ECONNRESET when the init died with our request unread)
		if n > 0 {
			pending = append(pending, buf[:n]...)
		}
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			f := strings.Fields(string(pending[:i]))
			pending = pending[i+1:]
			switch {
			case len(f) >= 2 && f[0] == "pid":
				if len(f) == 4 && f[2] == "tty" {
					writeFileAtomic(filepath.Join(p.dir, procTTYFile), []byte(f[3]))
				}
				p.markReady()
			case len(f) == 2 && f[0] == "exit":
				code, convErr := strconv.Atoi(f[1])
				if convErr != nil {
					code = 255
				}
				p.finish(code, onExit)
				return
			case len(f) >= 1 && f[0] == "err":
				p.finish(255, onExit)
				return
			}
		}
		if err != nil || len(pending) > 4096 {
			// the init went away (its container was killed or destroyed) before the exit
			p.finish(exitWithoutInit(p.dir), onExit)
			return
		}
	}
}

// receivePidfd keeps the pidfd the init sent with "pid" and records the process's host pid and
// start time, so a restarted server can still signal it.
func (p *proc) receivePidfd(oob []byte) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return
	}
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			f := os.NewFile(uintptr(fd), "pidfd")
			if pid := pidOfPidfd(fd); pid > 0 {
				if start, alive := procStart(pid); alive {
					writeFileAtomic(filepath.Join(p.dir, procPidFile), []byte(fmt.Sprintf("%d %s", pid, start)))
				}
			}
			p.mu.Lock()
			if p.pidfd == nil && !p.exited() {
				p.pidfd, f = f, nil
			}
			p.mu.Unlock()
			if f != nil {
				f.Close()
			}
		}
	}
}

// pidOfPidfd is the host pid of the process a pidfd refers to (from its fdinfo).
func pidOfPidfd(fd int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Pid:"); ok {
			pid, _ := strconv.Atoi(strings.TrimSpace(v))
			return pid
		}
	}
	return 0
}

// dialUnixIn connects to a unix socket through /proc/self/fd, so the socket's path may be longer
// than a socket address can hold.
func dialUnixIn(path string) (conn *net.UnixConn, err error) {
	err = viaDirFd(filepath.Dir(path), func(dir string) error {
		conn, err = net.DialUnix("unix", nil, &net.UnixAddr{Net: "unix", Name: filepath.Join(dir, filepath.Base(path))})
		return err
	})
	return conn, err
}

// writeFileAtomic writes a small file whole or not at all (a crash leaves the old one or none).
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// exitWithoutInit is the exit code of a process whose container's init is gone: the one it
// recorded, else 137 (its processes were killed with it).
func exitWithoutInit(dir string) int {
	if code, ok := readExit(dir); ok {
		return code
	}
	return 128 + int(syscall.SIGKILL)
}

// adopt watches a process started before a server restart. With a recorded pid it waits for the
// process's pidfd (no polling) and then for the exit code the init writes. Without one, the server
// died before the process was confirmed started: either the init never got the request, or it
// stopped the process on finding the server gone, so its exit code appears soon (or never).
func (p *proc) adopt(initPid int, initStart string, onExit func(int)) {
	p.init = initPid
	pid, start, recorded := readPidFile(p.dir)
	if recorded {
		if s, alive := procStart(pid); alive && s == start {
			if fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK); err == nil {
				p.pidfd = os.NewFile(uintptr(fd), "pidfd")
			}
		}
	}
	p.markReady()
	initAlive := func() bool { s, alive := procStart(initPid); return alive && s == initStart }
	go func() {
		if p.pidfd != nil {
			waitPidfd(p.pidfd)
		}
		deadline := time.Now().Add(unconfirmedStartGrace)
		for {
			if code, ok := readExit(p.dir); ok {
				p.finish(code, onExit)
				return
			}
			if !initAlive() {
				p.finish(exitWithoutInit(p.dir), onExit)
				return
			}
			if !recorded && time.Now().After(deadline) {
				if f, err := os.OpenFile(filepath.Join(p.dir, procStderr), os.O_WRONLY|os.O_APPEND, 0); err == nil {
					fmt.Fprintln(f, "diego-garden: the server restarted before the process was confirmed started")
					f.Close()
				}
				p.finish(255, onExit)
				return
			}
			// the init writes the code right after reaping the process
			time.Sleep(10 * time.Millisecond)
		}
	}()
}

// unconfirmedStartGrace is how long a restarted server waits for the exit code of a process whose
// start it never learnt of.
const unconfirmedStartGrace = 2 * time.Second

func readPidFile(dir string) (pid int, start string, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, procPidFile))
	if err != nil {
		return 0, "", false
	}
	_, err = fmt.Sscanf(string(b), "%d %s", &pid, &start)
	return pid, start, err == nil
}

// waitPidfd returns once the process is gone, parked on the poller (a pidfd turns readable then).
func waitPidfd(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Read(func(fd uintptr) bool {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		return n > 0 || (err != nil && err != unix.EINTR)
	})
}

// feed copies r into the process's stdin; when r ends, it tells the init, which lets go of its
// own writer so the process sees the end of its input. Only the first caller (Run's stdin)
// feeds; attach stdin is ignored.
func (p *proc) feed(r io.Reader) {
	p.stdinMu.Lock()
	w, conn := p.stdin, p.conn
	if r == nil || w == nil || p.stdinBusy {
		p.stdinMu.Unlock()
		return
	}
	p.stdinBusy = true
	p.stdinMu.Unlock()
	go func() {
		_, err := io.Copy(w, r)
		p.stdinMu.Lock()
		p.stdin = nil
		p.stdinMu.Unlock()
		w.Close()
		if err == nil {
			conn.Write([]byte("eof\n"))
		}
	}()
}

// follow copies a growing output file to w until the process has exited and the file is drained.
// keepOutput is how much already-forwarded output stays on disk; older output is punched out of
// the file (which keeps its size and offsets), so long-running chatty processes do not fill it.
const keepOutput = 1 << 20

func (p *proc) follow(name string, w io.Writer, wg *sync.WaitGroup) {
	if w == nil {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		path := filepath.Join(p.dir, name)
		var f *os.File
		for f == nil {
			var err error
			f, err = os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				if p.exited() {
					if f, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
						return
					}
					break
				}
				select {
				case <-p.done:
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
		defer f.Close()
		// start at the first byte still on disk (earlier output may have been trimmed)
		off, err := f.Seek(0, unix.SEEK_DATA)
		if err != nil {
			off, _ = f.Seek(0, io.SeekEnd)
		}
		// one follower per file trims what it has forwarded, so no follower reads a punched hole
		// that another has not read yet... except one attached later, which starts at SEEK_DATA
		trim := p.claimTrim(name)
		if trim {
			defer p.releaseTrim(name)
		}
		trimmed := off &^ 4095
		buf := make([]byte, 32*1024)
		delay := 2 * time.Millisecond
		for {
			n, err := f.Read(buf)
			if n > 0 {
				w.Write(buf[:n])
				off += int64(n)
				delay = 2 * time.Millisecond
				if trim && off-trimmed > 2*keepOutput {
					end := (off - keepOutput) &^ 4095
					if unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, trimmed, end-trimmed) == nil {
						trimmed = end
					}
				}
				continue
			}
			if err != nil && err != io.EOF {
				return
			}
			if p.exited() {
				// drain whatever was written before the exit
				io.Copy(w, f)
				return
			}
			select {
			case <-p.done:
			case <-time.After(delay):
			}
			if delay < 50*time.Millisecond {
				delay *= 2
			}
		}
	}()
}

func (p *proc) claimTrim(name string) bool {
	p.trimMu.Lock()
	defer p.trimMu.Unlock()
	if p.trimOwners == nil {
		p.trimOwners = map[string]bool{}
	}
	if p.trimOwners[name] {
		return false
	}
	p.trimOwners[name] = true
	return true
}

func (p *proc) releaseTrim(name string) {
	p.trimMu.Lock()
	defer p.trimMu.Unlock()
	delete(p.trimOwners, name)
}

// handle is what Run and Attach return: one attachment to a proc.
type handle struct {
	p           *proc
	releaseOnce sync.Once
	wg          sync.WaitGroup
	signal      func(sig syscall.Signal) error
}

func (h *handle) ID() string { return h.p.id }

func (h *handle) Wait() (int, error) {
	<-h.p.done
	h.wg.Wait()
	h.release()
	return h.p.code, nil
}

func (h *handle) release() {
	h.releaseOnce.Do(func() { atomic.AddInt32(&h.p.attached, -1) })
}

// SetTTY resizes the process's terminal; a process without one ignores it.
func (h *handle) SetTTY(t garden.TTYSpec) error {
	if t.WindowSize == nil || h.p.exited() {
		return nil
	}
	return h.p.resizeTerminal(t.WindowSize.Columns, t.WindowSize.Rows)
}

func (h *handle) Signal(s garden.Signal) error {
	sig := syscall.SIGTERM
	if s == garden.SignalKill {
		sig = syscall.SIGKILL
	}
	return h.p.signal(sig)
}

// signal sends sig to the process through its pidfd (waiting, bounded, for the init's answer).
func (p *proc) signal(sig syscall.Signal) error {
	select {
	case <-p.ready:
	case <-time.After(10 * time.Second):
		return errors.New("process has not started yet")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pidfd == nil {
		if p.exited() {
			return nil
		}
		return errors.New("process cannot be signalled: its pid is unknown")
	}
	rc, err := p.pidfd.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	rc.Control(func(fd uintptr) { serr = unix.PidfdSendSignal(int(fd), sig, nil, 0) })
	if serr != nil && serr != unix.ESRCH {
		return serr
	}
	return nil
}

// processRetention is how long an exited process stays (for Attach and its exit status) once no
// client is waiting on it; then its directory and entry are removed.
const processRetention = 5 * time.Minute

// collectable says whether an exited process can be forgotten.
func (p *proc) collectable(now time.Time) bool {
	return p.exited() && atomic.LoadInt32(&p.attached) <= 0 && now.Sub(p.exitedAt) > processRetention
}

// resizeTerminal sets the size of the process's terminal, if it has one. The terminal is opened
// through the container's root as the container sees it (symlinks resolve inside it), and must be
// a character device, so a container cannot steer the server to a host file.
func (p *proc) resizeTerminal(cols, rows int) error {
	tty, err := os.ReadFile(filepath.Join(p.dir, procTTYFile))
	if err != nil {
		return nil // no terminal
	}
	root, err := openRoot(fmt.Sprintf("/proc/%d/root", p.init))
	if err != nil {
		return nil // the container is gone
	}
	defer root.Close()
	f, err := openInRoot(int(root.Fd()), string(tty), unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("open the process's terminal: %w", err)
	}
	defer f.Close()
	fd := int(f.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return fmt.Errorf("the process's terminal %s is not a terminal", tty)
	}
	return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(cols), Row: uint16(rows)})
}
