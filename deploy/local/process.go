package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/diego-go/diego/gardenrunc/initproc"
)

// pidFile is what a pid file holds: enough to tell the process started from any other that
// later got the same pid.
type pidFile struct {
	Pid   int    `json:"pid"`
	Start string `json:"start"` // /proc/<pid>/stat's start time
	Bin   string `json:"bin"`
}

// process is one program the deployment runs detached: its own session (so no terminal's
// signal reaches it), its output appended to its log file, its pid in its pid file.
type process struct {
	name    string
	bin     string
	args    []string
	pidPath string
	logPath string
	// ready says nil once the program serves (a health check).
	ready func() error
}

// running is the process's pid when its pid file names a live process that is still the
// program started (same start time and binary), else 0.
func (p *process) running() int {
	b, err := os.ReadFile(p.pidPath)
	if err != nil {
		return 0
	}
	var f pidFile
	if json.Unmarshal(b, &f) != nil || f.Pid <= 0 {
		return 0
	}
	start, alive := initproc.ProcStart(f.Pid)
	if !alive || start != f.Start {
		return 0
	}
	// a rebuilt binary replaces the file: its old inode shows as "... (deleted)"
	exe, err := os.Readlink("/proc/" + strconv.Itoa(f.Pid) + "/exe")
	if err != nil || strings.TrimSuffix(exe, " (deleted)") != f.Bin {
		return 0
	}
	return f.Pid
}

// start starts the program detached and writes its pid file; exited is closed if it exits
// while this command still runs.
func (p *process) start() (exited <-chan struct{}, err error) {
	if err := os.MkdirAll(filepath.Dir(p.logPath), 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "--- %s: starting %s %s\n", time.Now().Format(time.RFC3339), p.bin, strings.Join(p.args, " "))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // reaps it if it dies before this command ends
		close(done)
	}()
	start, _ := initproc.ProcStart(cmd.Process.Pid)
	b, _ := json.Marshal(pidFile{Pid: cmd.Process.Pid, Start: start, Bin: p.bin})
	if err := writeFileAtomic(p.pidPath, b); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	return done, nil
}

// waitReady waits until ready says nil, failing early when the process exits.
func (p *process) waitReady(exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := p.ready()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited while starting (see %s)", p.name, p.logPath)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not ready after %s: %v (see %s)", p.name, timeout, err, p.logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop stops the process if its pid file names it (SIGTERM, SIGKILL after grace) and removes
// the pid file. It reports whether there was a process to stop.
func (p *process) stop(grace time.Duration) (bool, error) {
	pid := p.running()
	if pid == 0 {
		return false, removeIfExists(p.pidPath)
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if !waitGone(p, grace) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if !waitGone(p, 10*time.Second) {
			return true, fmt.Errorf("%s (pid %d) survived SIGKILL", p.name, pid)
		}
	}
	return true, removeIfExists(p.pidPath)
}

func waitGone(p *process, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if p.running() == 0 {
			return true
		}
	}
	return false
}

func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
