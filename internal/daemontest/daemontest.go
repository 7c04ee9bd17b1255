// Package daemontest is how ginkgo suites run the project's daemons (cmd/<binary>) as real
// processes: build their binaries once, give them free loopback addresses and a JSON config
// file, start them so that they die with the test binary and are stopped, by their pid, when
// the spec ends, and read their health and metrics listeners. The infrastructure they talk to (etcd, Consul, NATS) comes from
// internal/testservers.
//
//	var _ = BeforeSuite(func() {
//		bins := daemontest.Build("github.com/diego-go/diego/cmd/bbs")
//		bbsPath = bins[0]
//	})
//	...
//	s := daemontest.Start(bbsPath, "-config", daemontest.WriteConfig(cfg))
package daemontest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/tlsconfig"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

// Build builds the packages (full import paths) with one go build into a folder removed after
// the suite and returns their binaries' paths, in the order given. Call it in BeforeSuite.
func Build(pkgs ...string) []string {
	GinkgoHelper()
	dir := GinkgoT().TempDir()
	cmd := exec.Command("go", append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
	Expect(cmd.Run()).To(Succeed(), "go build %v", pkgs)
	bins := make([]string, len(pkgs))
	for i, p := range pkgs {
		bins[i] = filepath.Join(dir, path.Base(p))
	}
	return bins
}

// FreeAddr is a 127.0.0.1:port address whose port was free a moment ago.
func FreeAddr() string {
	GinkgoHelper()
	p, err := testservers.FreePort()
	Expect(err).NotTo(HaveOccurred())
	return fmt.Sprintf("127.0.0.1:%d", p)
}

// WriteConfig writes v as JSON to a new file in the spec's temporary folder and returns its path.
func WriteConfig(v any) string {
	GinkgoHelper()
	return WriteConfigIn(GinkgoT().TempDir(), v)
}

// WriteConfigIn writes v as JSON to a new file in dir and returns its path: for a daemon that a
// later spec starts again, after the temporary folder of the spec that wrote it is gone.
func WriteConfigIn(dir string, v any) string {
	GinkgoHelper()
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	f, err := os.CreateTemp(dir, "config-*.json")
	Expect(err).NotTo(HaveOccurred())
	_, err = f.Write(b)
	Expect(err).NotTo(HaveOccurred())
	Expect(f.Close()).To(Succeed())
	return f.Name()
}

// StopGrace is how long a daemon has, after SIGINT at the end of the spec, before it is killed.
const StopGrace = 5 * time.Second

// Start starts the binary at path with args, its output on GinkgoWriter. It dies with the test
// binary (Pdeathsig). When the spec ends, whatever happened, it is stopped with Stop. Clean exits
// are for the specs to assert, not this cleanup.
func Start(path string, args ...string) *gexec.Session {
	GinkgoHelper()
	s := Launch(path, args...)
	DeferCleanup(func() { Stop(s) })
	return s
}

// Launch is Start without the cleanup at the end of the spec: for a process that outlives the
// spec that started it (one a suite-wide system starts again), which its owner stops with Stop.
func Launch(path string, args ...string) *gexec.Session {
	GinkgoHelper()
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return s
}

// Stop sends s SIGINT (a lock holder releases its lock at once) and, if it has not exited
// StopGrace later, SIGKILL by its pid. It returns at once for a process that has exited.
func Stop(s *gexec.Session) {
	GinkgoHelper()
	if s.ExitCode() != -1 {
		return
	}
	s.Interrupt()
	select {
	case <-s.Exited:
	case <-time.After(StopGrace):
		GinkgoWriter.Printf("%s (pid %d) did not exit within %s of SIGINT: killing it\n", s.Command.Path, s.Command.Process.Pid, StopGrace)
		s.Kill()
		Eventually(s.Exited, 5*time.Second).Should(BeClosed())
	}
}

// Listening tells whether something accepts TCP connections at addr (within 200 ms).
func Listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Health is a daemon's answer on its health listener (internal/daemon's HealthHandler).
type Health struct {
	Healthy bool   `json:"healthy"`
	Leader  bool   `json:"leader"`
	Reason  string `json:"reason"`
}

// HealthOf is the health answer of GET http://<addr><path> (within 500 ms), an error when nothing
// answers or the body is not one.
func HealthOf(addr, path string) (Health, error) {
	var h Health
	resp, err := (&http.Client{Timeout: 500 * time.Millisecond}).Get("http://" + addr + path)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&h)
	return h, err
}

// Status is the status of GET http://<addr><path> (within 1 s), 0 when nothing answers: for
// polling a health endpoint until it says ready or not.
func Status(addr, path string) int {
	resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Scrape is the Prometheus text of http://<addr>/metrics (within 2 s), "" when nothing answers,
// so that it can be polled.
func Scrape(addr string) string {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Metric is the value of the sample named exactly name (labels included, as written:
// `route_emitter_syncs_total{result="ok"}`) in Scrape(addr), -1 when it is absent or nothing
// answers (the project's samples are never negative).
func Metric(addr, name string) float64 {
	for _, line := range strings.Split(Scrape(addr), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			return f
		}
	}
	return -1
}

// CellIDs lists the cells whose presence c's BBS reports, nil while it cannot answer: for waiting
// until a rep is present or gone.
func CellIDs(c *bbs.Client) []string {
	cells, err := c.Cells(context.Background())
	if err != nil {
		return nil
	}
	var ids []string
	for _, cell := range cells {
		ids = append(ids, cell.GetCellId())
	}
	return ids
}

// BBSConfig is a test BBS's configuration: its API on listen over mutual TLS with certs, the
// given etcd and Consul, one encryption key, the suites' short lock timing (TTL 2 s, retry every
// 0.5 s; testservers' Consul allows it) and no convergence loop of its own. extra is laid over it
// (an auctioneer_url, metrics_address, a convergence_interval ...).
func BBSConfig(listen, etcdURL, consulAddr string, certs tlstest.Files, extra map[string]any) map[string]any {
	cfg := map[string]any{
		"listen_address":       listen,
		"health_address":       FreeAddr(),
		"ca_file":              certs.CACert,
		"cert_file":            certs.ServerCert,
		"key_file":             certs.ServerKey,
		"etcd_endpoints":       []string{etcdURL},
		"consul_address":       consulAddr,
		"lock_ttl":             "2s",
		"lock_retry_interval":  "500ms",
		"encryption_keys":      map[string]string{"k1": "a passphrase"},
		"active_key_label":     "k1",
		"convergence_interval": "0s",
		"log_level":            "info",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// ConnectBBS is a client of the BBS at url with certs' client certificate, returned once the
// BBS answers its ping (within 30 s).
func ConnectBBS(url string, certs tlstest.Files) *bbs.Client {
	GinkgoHelper()
	tlsCfg, err := tlsconfig.Client(certs.ClientCert, certs.ClientKey, certs.CACert)
	Expect(err).NotTo(HaveOccurred())
	c := bbs.NewClient(url, tlsCfg)
	Eventually(func() bool { return c.Ping(context.Background()) }, 30*time.Second, 100*time.Millisecond).Should(BeTrue(), "the BBS at %s never answered", url)
	return c
}
