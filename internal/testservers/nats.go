package testservers

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/diego-go/diego/internal/repo"
)

// NATS is a single nats-server on loopback (no auth, no clustering, no JetStream).
type NATS struct {
	proc *process
	port int
}

// NATSStartTimeout bounds how long StartNATS and Restart wait for the server's INFO line.
var NATSStartTimeout = 30 * time.Second

// StartNATS starts nats-server on a free random 127.0.0.1 port with its log in dir/nats.log and
// returns once a client connection gets the server's INFO.
func StartNATS(dir string) (*NATS, error) {
	bin, err := repo.BinPath("nats-server")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		n := &NATS{port: port}
		n.proc = &process{
			name:    "nats-server",
			bin:     bin,
			args:    []string{"-a", "127.0.0.1", "-p", fmt.Sprint(port), "-n", fmt.Sprintf("testservers-%d", port)},
			logPath: filepath.Join(dir, "nats.log"),
		}
		err = n.start()
		if err == nil {
			return n, nil
		}
		_ = n.proc.kill()
		if attempt >= startAttempts || !portClash(err) {
			return nil, err
		}
	}
}

func (n *NATS) start() error {
	if err := n.proc.start(); err != nil {
		return err
	}
	return n.proc.waitUntil(NATSStartTimeout, func() error {
		conn, err := net.DialTimeout("tcp", n.Addr(), time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "INFO ") {
			return fmt.Errorf("unexpected greeting %q", line)
		}
		return nil
	})
}

// URL is the client URL, nats://127.0.0.1:PORT.
func (n *NATS) URL() string { return "nats://" + n.Addr() }

// Addr is host:port.
func (n *NATS) Addr() string { return fmt.Sprintf("127.0.0.1:%d", n.port) }

// Stop sends SIGTERM and waits; after 5 s it sends SIGKILL. Safe to call twice.
func (n *NATS) Stop() error { return n.proc.stop(5 * time.Second) }

// Kill sends SIGKILL and waits until the process is gone.
func (n *NATS) Kill() error { return n.proc.kill() }

// Restart stops the server if it runs and starts it again on the same port. If another process
// took the port while the server was down, Restart waits for it (RestartPortWait); if it stays
// taken, Restart fails with a *PortTakenError naming it.
func (n *NATS) Restart() error {
	if err := n.Stop(); err != nil {
		return err
	}
	return restartOnPorts(n.proc, []serverPort{{name: "client", port: n.port}}, n.start)
}

// Pid is the process id of the current (or last) server process.
func (n *NATS) Pid() int { return n.proc.pid() }

// LogPath is the file holding the server's stdout and stderr.
func (n *NATS) LogPath() string { return n.proc.logPath }

// Logs returns the whole log, for printing when a spec fails.
func (n *NATS) Logs() string { return n.proc.logs() }
