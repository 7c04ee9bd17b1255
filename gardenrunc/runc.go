package gardenrunc

import (
	"fmt"
	"github.com/diego-go/diego/gardenrunc/initproc"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type runc struct {
	bin, root string
}

func (r runc) cmd(args ...string) *exec.Cmd {
	return exec.Command(r.bin, append([]string{"--root", r.root}, args...)...)
}

// runDetached starts the container's init and returns its host pid. initSock is handed to the
// init as fd 3 (--preserve-fds 1).
func (r runc) runDetached(id, bundle string, initSock *os.File) (int, error) {
	pidFile := filepath.Join(bundle, "init.pid")
	cmd := r.cmd("run", "--detach", "--no-new-keyring", "--pid-file", pidFile, "--bundle", bundle, "--preserve-fds", "1", id)
	cmd.ExtraFiles = []*os.File{initSock}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	// the init inherits runc's stdio, so none of it may be a pipe the server waits on
	logPath := filepath.Join(bundle, "runc-run.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return 0, err
	}
	defer logFile.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, logFile
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(logPath)
		return 0, fmt.Errorf("runc run: %v: %s", err, strings.TrimSpace(string(msg)))
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// listenInitSock binds the init's socket (see initproc/spawn.go) in the container's directory,
// which containers cannot see, readable and writable by host root only. It binds through
// /proc/self/fd, as the server connects, so a long depot path does not matter.
func listenInitSock(dir string) (*os.File, error) {
	var sock *os.File
	err := viaDirFd(dir, func(d string) error {
		var err error
		sock, err = ListenUnixPrivate(filepath.Join(d, initproc.InitSockName))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bind the init's socket in %s: %w", dir, err)
	}
	return sock, nil
}

// ListenUnixPrivate binds and listens on a unix socket at path whose file is mode 0600 (or less,
// by the umask) from the start: the mode fchmod gives the socket before bind is the file's, so
// there is no moment when others may connect.
func ListenUnixPrivate(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Fchmod(fd, 0600); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "bind", Path: path, Err: err}
	}
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// viaDirFd calls fn with a short name of dir (/proc/self/fd/N): a unix socket's path must fit
// in sun_path's 108 bytes, which a socket in a deep depot or runc root would not.
func viaDirFd(dir string, fn func(dir string) error) error {
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(d)
	return fn(fmt.Sprintf("/proc/self/fd/%d", d))
}

func (r runc) delete(id string) error {
	out, err := r.cmd("delete", "--force", id).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "does not exist") {
		return fmt.Errorf("runc delete: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// killInit kills a container's init (taking its pid namespace with it) if it is still the
// process recorded at creation, and waits until it is dead.
func killInit(pid int, start string, reaped <-chan struct{}) {
	if pid <= 0 {
		return
	}
	if s, alive := procStart(pid); !alive || s != start {
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if reaped != nil {
			select {
			case <-reaped:
				return
			case <-time.After(2 * time.Millisecond):
			}
		} else {
			time.Sleep(2 * time.Millisecond)
		}
		if s, alive := procStart(pid); !alive || s != start {
			return
		}
	}
}

// removeRuncState removes what runc keeps for a stopped container: its state directory and its
// cgroup directories (retrying while the kernel finishes tearing down the dead tasks).
func removeRuncState(root, id string, cgroups cgroupFS, cg string) error {
	if err := os.RemoveAll(filepath.Join(root, id)); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		left := cgroups.dirsLeft(cg)
		if len(left) == 0 {
			return nil
		}
		for _, d := range left {
			os.Remove(d)
		}
		if len(cgroups.dirsLeft(cg)) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroups of %s still busy: %v", id, cgroups.dirsLeft(cg))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func procStart(pid int) (string, bool) { return initproc.ProcStart(pid) }
