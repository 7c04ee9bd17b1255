package gardenrunc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
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

// ShimConfig is written by the server to PROCESS_DIR/shim.json.
type ShimConfig struct {
	Mode        string `json:"mode"` // "nsenter" (default) or "runc"
	RuncBin     string `json:"runc_bin"`
	RuncRoot    string `json:"runc_root"`
	ContainerID string `json:"container_id"`
	InitPid     int    `json:"init_pid"`
	CgroupPath  string `json:"cgroup_path"`
}

// RunShim is the per-process shim: `<binary> shim PROCESS_DIR`. It starts the process in the
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
	stdout, stderr := open(procStdout), open(procStderr)
	pr, pw, err := os.Pipe()
	if err != nil {
		writeExit(dir, 255)
		return 1
	}
	go feedStdin(dir, pw)
	var code int
	if cfg.Mode == "runc" {
		code = shimRunc(cfg, dir, pr, stdout, stderr)
	} else {
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
	cmd := exec.Command(cfg.RuncBin, "--root", cfg.RuncRoot, "exec", "--process", filepath.Join(dir, procSpecFile),
		"--pid-file", filepath.Join(dir, procPidFile), cfg.ContainerID)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "diego-garden: cannot start runc: %v\n", err)
		return 255
	}
	stdin.Close()
	return exitCode(cmd.Wait())
}

func shimNsenter(cfg ShimConfig, dir string, stdin, stdout, stderr *os.File, trace func(string)) int {
	spec, err := os.Open(filepath.Join(dir, procSpecFile))
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
	cmd.ExtraFiles = []*os.File{spec, syncR}
	cmd.Env = []string{}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "diego-garden: cannot start nsenter: %v\n", err)
		return 255
	}
	trace("nsenter started")
	stdin.Close()
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
		if _, alive := procStart(cmd.Process.Pid); !alive {
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
	os.WriteFile(filepath.Join(dir, procPidFile), []byte(strconv.Itoa(child)), 0600)
	syncW.Write([]byte{1})
	syncW.Close()
	trace("cgroups joined")
	defer trace("nsenter exited")
	return exitCode(cmd.Wait())
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
