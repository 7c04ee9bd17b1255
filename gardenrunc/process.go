package gardenrunc

import (
	"encoding/json"
	"errors"
	"github.com/diego-go/diego/gardenrunc/initproc"
	"golang.org/x/sys/unix"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"code.cloudfoundry.org/garden"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const (
	procSpecFile = initproc.ProcSpecFile
	procStdin    = initproc.ProcStdin
	procStdinEOF = initproc.ProcStdinEOF
	procStdout   = initproc.ProcStdout
	procStderr   = initproc.ProcStderr
	procPidFile  = initproc.ProcPidFile
	procExitFile = initproc.ProcExitFile
)

// proc is the server's view of one process: a directory written by its shim. It does not hold
// the process's stdio, so it can be rebuilt from disk after a server restart.
type proc struct {
	id   string
	dir  string
	done chan struct{} // closed once the exit status is known and post-exit bookkeeping is done
	once sync.Once
	code int

	stdinMu   sync.Mutex
	stdinBusy bool

	exitedAt time.Time

	attached int32 // handles not yet done waiting (Run's and Attach's)

	trimMu     sync.Mutex
	trimOwners map[string]bool // output files whose consumed prefix a follower is trimming
}

func newProc(id, dir string) *proc {
	return &proc{id: id, dir: dir, done: make(chan struct{})}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func readExit(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, procExitFile))
	if err != nil {
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
		close(p.done)
		p.unblockStdinWriter()
	})
}

// startShim hands an already written process directory to a shim: a warm one from pool if there
// is one (its Go runtime already started, so Run does not wait for a fork, exec and start-up), or
// a new one. The shim runs in its own session so that killing the server does not reach it.
func startShim(pool *shimPool, cfg initproc.ShimConfig, p *proc, onExit func(int)) error {
	if err := writeJSON(filepath.Join(p.dir, "shim.json"), cfg); err != nil {
		return err
	}
	if err := syscall.Mkfifo(filepath.Join(p.dir, procStdin), 0600); err != nil {
		return err
	}
	var cmd *exec.Cmd
	if w := pool.take(); w != nil {
		_, err := w.dirW.Write([]byte(p.dir + "\n"))
		w.dirW.Close()
		if err == nil {
			cmd = w.cmd
		} else {
			w.cmd.Wait()
		}
	}
	if cmd == nil {
		var err error
		if cmd, err = pool.spawn(p.dir); err != nil {
			return err
		}
	}
	pool.refill()
	os.WriteFile(filepath.Join(p.dir, "shim.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0600)
	go func() {
		cmd.Wait()
		code, ok := readExit(p.dir)
		if !ok {
			code = 255
		}
		p.finish(code, onExit)
	}()
	return nil
}

// shimPool keeps one shim started ahead, waiting on a pipe for the directory of its process
// (`shim -`). A waiting shim exits when the pipe closes (Stop, or the server is gone). The pool
// is filled only once the backend has run a process, and refilled in the background after each.
type shimPool struct {
	bin string

	mu      sync.Mutex
	warm    *warmShim
	filling bool
	stopped bool
}

type warmShim struct {
	cmd  *exec.Cmd
	dirW *os.File
}

// spawn starts a shim for dir ("-": read it from stdin, returned as the second value's writer).
func (sp *shimPool) spawn(dir string) (*exec.Cmd, error) {
	cmd, _, err := sp.start(dir)
	return cmd, err
}

func (sp *shimPool) start(dir string) (*exec.Cmd, *os.File, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	defer devnull.Close()
	cmd := exec.Command(sp.bin, "shim", dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	var dirW *os.File
	if dir == "-" {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		defer r.Close()
		cmd.Stdin, dirW = r, w
	} else {
		// a pooled shim opens its log itself once it knows its directory
		shimLog, err := os.OpenFile(filepath.Join(dir, "shim.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0600)
		if err != nil {
			return nil, nil, err
		}
		defer shimLog.Close()
		cmd.Stderr = shimLog
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		if dirW != nil {
			dirW.Close()
		}
		return nil, nil, err
	}
	return cmd, dirW, nil
}

func (sp *shimPool) take() *warmShim {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	w := sp.warm
	sp.warm = nil
	return w
}

// refill starts a warm shim in the background unless one is there or starting.
func (sp *shimPool) refill() {
	sp.mu.Lock()
	if sp.stopped || sp.warm != nil || sp.filling {
		sp.mu.Unlock()
		return
	}
	sp.filling = true
	sp.mu.Unlock()
	go func() {
		cmd, dirW, err := sp.start("-")
		sp.mu.Lock()
		defer sp.mu.Unlock()
		sp.filling = false
		if err != nil {
			return
		}
		if sp.stopped || sp.warm != nil {
			dirW.Close()
			go cmd.Wait()
			return
		}
		sp.warm = &warmShim{cmd: cmd, dirW: dirW}
	}()
}

// stop lets the waiting shim go (it exits on the closed pipe) and fills no more.
func (sp *shimPool) stop() {
	sp.mu.Lock()
	sp.stopped = true
	w := sp.warm
	sp.warm = nil
	sp.mu.Unlock()
	if w != nil {
		w.dirW.Close()
		w.cmd.Wait()
	}
}

// adopt watches a process started by a previous server instance, polling for its exit file.
func (p *proc) adopt(onExit func(int)) {
	go func() {
		for {
			if code, ok := readExit(p.dir); ok {
				p.finish(code, onExit)
				return
			}
			if !shimAlive(p.dir) {
				// the shim died without recording a status (e.g. killed by hand)
				time.Sleep(100 * time.Millisecond)
				if code, ok := readExit(p.dir); ok {
					p.finish(code, onExit)
				} else {
					p.finish(255, onExit)
				}
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
}

func shimAlive(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "shim.pid"))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// state is the field after the ")" that closes the command name
	s := string(st)
	if i := strings.LastIndexByte(s, ')'); i > 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && strings.Contains(s[:i], "(")
	}
	return false
}

// feed copies r into the process's stdin fifo; when r ends, it marks EOF so the shim closes the
// process's stdin. Only the first caller (Run's stdin) feeds; attach stdin is ignored.
func (p *proc) feed(r io.Reader) {
	if r == nil {
		return
	}
	p.stdinMu.Lock()
	if p.stdinBusy {
		p.stdinMu.Unlock()
		return
	}
	p.stdinBusy = true
	p.stdinMu.Unlock()
	go func() {
		f, err := os.OpenFile(filepath.Join(p.dir, procStdin), os.O_WRONLY, 0)
		if err != nil {
			return
		}
		if p.exited() {
			f.Close()
			return
		}
		_, err = io.Copy(f, r)
		if err == nil || errors.Is(err, io.ErrClosedPipe) {
			os.WriteFile(filepath.Join(p.dir, procStdinEOF), nil, 0600)
		}
		f.Close()
	}()
}

// unblockStdinWriter releases a feeder blocked opening the fifo after the shim has gone.
func (p *proc) unblockStdinWriter() {
	f, err := os.OpenFile(filepath.Join(p.dir, procStdin), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err == nil {
		go func() { time.Sleep(50 * time.Millisecond); f.Close() }()
	}
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
	if err := initproc.SetWindowSize(h.p.dir, t.WindowSize.Columns, t.WindowSize.Rows); err != nil && err.Error() != "process has no tty" {
		return err
	}
	return nil
}

func (h *handle) Signal(s garden.Signal) error {
	sig := syscall.SIGTERM
	if s == garden.SignalKill {
		sig = syscall.SIGKILL
	}
	return h.p.signal(sig)
}

// signal sends sig to the process (its host pid, written by runc exec --pid-file).
func (p *proc) signal(sig syscall.Signal) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p.exited() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(p.dir, procPidFile))
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				if err := syscall.Kill(pid, sig); err != nil && err != syscall.ESRCH {
					return err
				}
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("process has no pid yet")
		}
		select {
		case <-p.done:
			return nil
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func writeProcessSpec(dir string, ps *specs.Process) error {
	b, err := json.Marshal(ps)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, procSpecFile), b, 0600)
}

// processRetention is how long an exited process stays (for Attach and its exit status) once no
// client is waiting on it; then its directory and entry are removed.
const processRetention = 5 * time.Minute

// collectable says whether an exited process can be forgotten.
func (p *proc) collectable(now time.Time) bool {
	return p.exited() && atomic.LoadInt32(&p.attached) <= 0 && now.Sub(p.exitedAt) > processRetention
}
