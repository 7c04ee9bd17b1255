// Package testservers is the one way the project's suites start real infrastructure (etcd, Consul,
// NATS) on loopback. The binaries come from `make deps` (.deps/bin, or $DIEGO_DEPS_BIN).
//
// Every server listens on free random 127.0.0.1 ports, keeps its data and its log file in the
// directory it is given, dies with the test binary (Pdeathsig), and is stopped with Stop, which is
// safe to call twice. A typical ginkgo spec:
//
//	etcd, err := testservers.StartEtcd(GinkgoT().TempDir())
//	Expect(err).NotTo(HaveOccurred())
//	DeferCleanup(etcd.Stop)
//
// When a spec fails, print the server's log with Logs().
package testservers

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// handedOut is every port FreePort has returned in this process: the kernel may pick a port it
// has just been given back, so two listeners asked for one after the other could get the same.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and that it has not
// returned before in this process.
func FreePort() (int, error) {
	for range 100 {
		l, err := listenFree()
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		handedOut.Lock()
		fresh := !handedOut.ports[port]
		handedOut.ports[port] = true
		handedOut.Unlock()
		if fresh {
			return port, nil
		}
	}
	return 0, errors.New("testservers: every free port found in 100 tries was handed out already")
}

func freePorts(n int) ([]int, error) {
	// Hold every listener until all are picked so the ports are distinct.
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := listenFree()
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// freeUDPAndTCPPort returns a port free for both TCP and UDP on 127.0.0.1 (serf and DNS use both).
func freeUDPAndTCPPort() (int, error) {
	for range 50 {
		l, err := listenFree()
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, errors.New("testservers: no port free for both TCP and UDP")
}

// listenFree listens on a random free 127.0.0.1 port below the kernel's ephemeral range, so that
// no outgoing connection (of this machine's many) can take the port between the moment it is
// picked and the moment a server binds it. Without room below that range it lets the kernel pick.
func listenFree() (net.Listener, error) {
	if low := ephemeralLow(); low > minTestPort+1000 {
		for range 100 {
			port := minTestPort + rand.IntN(low-minTestPort)
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				return l, nil
			}
		}
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// minTestPort keeps test servers clear of well-known and registered service ports in common use.
const minTestPort = 20000

// ephemeralLow is the first port of the kernel's range for outgoing connections (0 if unknown).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	var low, high int
	if _, err := fmt.Sscan(string(b), &low, &high); err != nil {
		return 0
	}
	return low
}

// process runs one server binary with its output appended to a log file.
type process struct {
	name    string
	bin     string
	args    []string
	env     []string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running() {
		return fmt.Errorf("testservers: %s is already running (pid %d)", p.name, p.cmd.Process.Pid)
	}
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logFile, "--- testservers: %s starting at %s: %s %s\n",
		p.name, time.Now().Format(time.RFC3339Nano), p.bin, strings.Join(p.args, " "))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Die with the test binary. (Pdeathsig fires when the creating OS thread exits; the Go
		// runtime only ends threads of goroutines that exit while locked to them.)
		Pdeathsig: syscall.SIGKILL,
		// Own process group: a Ctrl-C at the terminal reaches the test binary, which stops us.
		Setpgid: true,
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("testservers: starting %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		fmt.Fprintf(logFile, "--- testservers: %s exited: %s\n", p.name, cmd.ProcessState)
		logFile.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// running must be called with mu held.
func (p *process) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// exited returns a channel closed when the current process has exited.
func (p *process) exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.done
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs. Safe to call when not running.
func (p *process) stop(grace time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
		return fmt.Errorf("testservers: %s did not stop within %s of SIGTERM and was killed", p.name, grace)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("testservers: %s (pid %d) survived SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// kill sends SIGKILL and waits until the process is gone. Safe to call when not running.
func (p *process) kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("testservers: %s (pid %d) survived SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *process) logs() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	return string(b)
}

// waitUntil polls ready every 50ms until it succeeds, the process exits, or timeout passes. The
// error carries the tail of the log.
func (p *process) waitUntil(timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	exited := p.exited()
	var last error
	for {
		if last = ready(); last == nil {
			return nil
		}
		select {
		case <-exited:
			return &startError{name: p.name, reason: "exited while starting", logTail: tail(p.logs(), 40)}
		default:
		}
		if time.Now().After(deadline) {
			return &startError{name: p.name, reason: fmt.Sprintf("not ready after %s (last: %v)", timeout, last), logTail: tail(p.logs(), 40)}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type startError struct {
	name, reason, logTail string
}

func (e *startError) Error() string {
	return fmt.Sprintf("testservers: %s %s; log tail:\n%s", e.name, e.reason, e.logTail)
}

// portClash tells whether a failed start looks like a port taken between FreePort and the bind.
func portClash(err error) bool {
	var se *startError
	return errors.As(err, &se) && strings.Contains(strings.ToLower(se.logTail), "address already in use")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startAttempts is how often a server is started on fresh ports when the chosen ones were taken.
const startAttempts = 3

// RestartPortWait bounds how long Restart waits for one of the server's ports that another process
// took while the server was down. Restart keeps the ports because clients (a consul/api client, an
// etcd client, a NATS connection) hold the old address and must find the server there again.
var RestartPortWait = 30 * time.Second

// serverPort is one port a server listens on; udp marks the ones it binds for UDP as well.
type serverPort struct {
	name string
	port int
	udp  bool
}

func (sp serverPort) String() string { return fmt.Sprintf("127.0.0.1:%d (%s)", sp.port, sp.name) }

// PortTakenError is Restart's answer when a port of the stopped server stayed taken by another
// process for RestartPortWait.
type PortTakenError struct {
	Server string
	Port   string // "127.0.0.1:PORT (role)"
	Waited time.Duration
	Err    error
}

func (e *PortTakenError) Error() string {
	return fmt.Sprintf("testservers: cannot restart %s: port %s has been taken by another process since it stopped, and was still taken after %s (%v); restart keeps the ports so existing clients reconnect, so start a new server instead",
		e.Server, e.Port, e.Waited, e.Err)
}

// takenPort returns the first of ports that cannot be bound now, with the bind error.
func takenPort(ports []serverPort) (serverPort, error) {
	for _, sp := range ports {
		addr := fmt.Sprintf("127.0.0.1:%d", sp.port)
		l, err := net.Listen("tcp", addr) // SO_REUSEADDR, as the servers bind: TIME_WAIT is no clash
		if err != nil {
			return sp, err
		}
		l.Close()
		if sp.udp {
			u, err := net.ListenPacket("udp", addr)
			if err != nil {
				return sp, err
			}
			u.Close()
		}
	}
	return serverPort{}, nil
}

// restartOnPorts runs start (which must start the stopped server on ports and wait until it is
// ready) once every port is free. While a port is taken, and when start fails because a port was
// taken between the check and the server's bind, it kills what start left and tries again every
// 100 ms for RestartPortWait, then gives up with a *PortTakenError naming the port.
func restartOnPorts(p *process, ports []serverPort, start func() error) error {
	deadline := time.Now().Add(RestartPortWait)
	for {
		sp, err := takenPort(ports)
		if err == nil {
			startErr := start()
			if startErr == nil || !portClash(startErr) {
				return startErr
			}
			_ = p.kill()
			sp, err = serverPort{name: "one of " + fmt.Sprint(ports)}, startErr
			if taken, terr := takenPort(ports); terr != nil {
				sp, err = taken, terr
			}
		}
		if time.Now().After(deadline) {
			return &PortTakenError{Server: p.name, Port: sp.String(), Waited: RestartPortWait, Err: err}
		}
		time.Sleep(100 * time.Millisecond)
	}
}
