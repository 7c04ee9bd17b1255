package gardenrunc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Files of a process directory. The shim owns stdout, stderr and exit; the server owns stdin
// (a fifo) and stdin.eof.
const (
	procSpecFile = "process.json"
	procStdin    = "stdin"
	procStdinEOF = "stdin.eof"
	procStdout   = "stdout"
	procStderr   = "stderr"
	procPidFile  = "pid"
	procExitFile = "exit"
)

// RunShim is the per-process shim: `<binary> shim RUNC RUNC_ROOT CONTAINER_ID PROCESS_DIR`.
// It runs `runc exec` with the process's stdout and stderr on files in PROCESS_DIR and its
// stdin fed from a fifo there, waits for it and records the exit status in PROCESS_DIR/exit.
// It runs in its own session, so it and the process outlive the garden server.
func RunShim(args []string) int {
	if len(args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: shim RUNC RUNC_ROOT CONTAINER_ID PROCESS_DIR")
		return 2
	}
	runcBin, root, id, dir := args[0], args[1], args[2], args[3]
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGINT, syscall.SIGTERM)
	open := func(name string) *os.File {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0600)
		if err != nil {
			writeExit(dir, 255)
			os.Exit(1)
		}
		return f
	}
	stdout, stderr := open(procStdout), open(procStderr)
	pr, pw, err := os.Pipe()
	if err != nil {
		writeExit(dir, 255)
		return 1
	}
	go feedStdin(dir, pw)
	cmd := exec.Command(runcBin, "--root", root, "exec", "--process", filepath.Join(dir, procSpecFile),
		"--pid-file", filepath.Join(dir, procPidFile), id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, stdout, stderr
	code := 0
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "diego-garden: cannot start runc: %v\n", err)
		code = 255
	} else {
		pr.Close()
		err = cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			} else {
				code = ee.ExitCode()
			}
		} else if err != nil {
			code = 255
		}
	}
	writeExit(dir, code)
	return 0
}

// feedStdin copies the stdin fifo into the process. A writer closing the fifo means EOF only if
// the server marked it so (stdin.eof); otherwise (the server went away) it waits for a new writer.
func feedStdin(dir string, w *os.File) {
	defer w.Close()
	for {
		f, err := os.OpenFile(filepath.Join(dir, procStdin), os.O_RDONLY, 0)
		if err != nil {
			return
		}
		_, err = io.Copy(w, f)
		f.Close()
		if err != nil {
			return
		}
		if _, err := os.Stat(filepath.Join(dir, procStdinEOF)); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeExit(dir string, code int) {
	tmp := filepath.Join(dir, procExitFile+".tmp")
	os.WriteFile(tmp, []byte(strconv.Itoa(code)), 0600)
	os.Rename(tmp, filepath.Join(dir, procExitFile))
}

// RunInit is the container's pid 1 (`<binary> init`, bind-mounted read-only into the container):
// it ignores terminal signals and reaps orphans until killed.
func RunInit() int {
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE, syscall.SIGQUIT)
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD)
	for {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.ECHILD {
			<-sigs
		}
	}
}
