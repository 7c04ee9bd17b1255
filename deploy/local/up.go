package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/diego-go/diego/gardenrunc"
	"github.com/diego-go/diego/internal/busyboxfs"
	"github.com/diego-go/diego/internal/repo"
)

// startTimeout bounds each process's start (Consul's election and a garden's first start are
// the slowest, a few seconds).
const startTimeout = 90 * time.Second

// step prints "what ... " then "ok (1.2 s)" or the error.
func step(out io.Writer, what string, f func() (string, error)) error {
	fmt.Fprintf(out, "%s ... ", what)
	t := time.Now()
	note, err := f()
	if err != nil {
		fmt.Fprintln(out, "failed")
		return fmt.Errorf("%s: %w", what, err)
	}
	if note == "" {
		note = "ok"
	}
	fmt.Fprintf(out, "%s (%.1f s)\n", note, time.Since(t).Seconds())
	return nil
}

// Up starts what is not running (each process's pid file says), after building the programs,
// and leaves what runs and answers its health check alone. What it started before an error
// keeps running; the error says so.
func (d *Deployment) Up(out io.Writer) (err error) {
	defer func() {
		if err == nil {
			return
		}
		for _, p := range d.procs {
			if p.running() != 0 {
				err = fmt.Errorf("%w\n(what runs keeps running: down stops it, see %s)", err, d.logDir)
				return
			}
		}
	}()
	if os.Geteuid() != 0 {
		return errors.New("up needs root: garden makes containers, bridges and iptables chains")
	}
	for _, bin := range []string{"runc", "busybox", "iptables", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is not installed: run make deps", bin)
		}
	}
	if err := d.resolveDeps(); err != nil {
		return err
	}
	if err := d.checkSettings(); err != nil {
		return err
	}
	// else a health check could pass on another program's answer
	for _, p := range d.procs {
		if p.running() == 0 && p.ready() == nil {
			if g := d.gardenOf(p); g != nil {
				return fmt.Errorf("%s's socket %s answers, but up did not start it: another deployment uses prefix %s; choose another --prefix", p.name, g.socket, d.Prefix)
			}
			return fmt.Errorf("something that is not the %s up started answers its health check: another deployment uses port base %d; choose another --port-base", p.name, d.PortBase)
		}
	}
	if err := d.checkPool(); err != nil {
		return err
	}
	if err := d.recordSettings(); err != nil {
		return err
	}
	for _, dir := range []string{d.StateDir, d.logDir, d.runDir, d.dataDir, d.configDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	steps := []struct {
		what string
		f    func() (string, error)
	}{
		{"building the programs (CGO_ENABLED=0)", d.build},
		{"preparing the cells' rootfs and binaries in " + d.hostDir, d.prepareHost},
		{"writing certificates, configs and the env file in " + d.StateDir, func() (string, error) {
			made, err := d.writeCerts()
			if err == nil {
				err = d.writeConfigs()
			}
			if err == nil {
				// the dashboard and create-app read it
				err = d.writeEnvFile()
			}
			if err == nil && !made {
				return "ok, certificates kept", nil
			}
			return "", err
		}},
		{"packing the demo app for the file-server", d.writeDemoArchive},
	}
	for _, s := range steps {
		if err := step(out, s.what, s.f); err != nil {
			return err
		}
	}
	started := 0
	for _, p := range d.procs {
		if pid := p.running(); pid != 0 {
			if err := step(out, p.name, func() (string, error) {
				if err := p.waitReady(nil, 30*time.Second); err != nil {
					return "", fmt.Errorf("running (pid %d) but not healthy: %w; make down, then up, starts it afresh", pid, err)
				}
				return fmt.Sprintf("running already (pid %d)", pid), nil
			}); err != nil {
				return err
			}
			continue
		}
		started++
		if err := step(out, "starting "+p.name, func() (string, error) {
			exited, err := p.start()
			if err != nil {
				return "", err
			}
			return "", p.waitReady(exited, startTimeout)
		}); err != nil {
			return err
		}
	}
	var desired bool
	if err := step(out, "desiring the demo app (diego create-app "+DemoApp+")", func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var err error
		if desired, err = d.desireDemo(ctx); err == nil && !desired {
			return "desired already", nil
		}
		return "", err
	}); err != nil {
		return err
	}
	if err := step(out, "waiting for the demo app at "+d.DemoURL(), func() (string, error) {
		return "", d.waitDemo(3 * time.Minute)
	}); err != nil {
		return err
	}
	if started == 0 && !desired {
		fmt.Fprintln(out, "\nEverything was running already: nothing started.")
	}
	d.printSummary(out)
	return nil
}

// settingsFile records the settings of the deployment in a state dir, so that down needs none
// but the state dir, and up refuses different ones while it runs.
func (d *Deployment) settingsFile() string { return filepath.Join(d.StateDir, settingsName) }

const settingsName = "settings.json"

// checkSettings refuses settings other than those of processes running from the state dir.
func (d *Deployment) checkSettings() error {
	if b, err := os.ReadFile(d.settingsFile()); err == nil {
		var prev Settings
		if json.Unmarshal(b, &prev) == nil && prev != d.Settings {
			for _, p := range d.procs {
				if p.running() != 0 {
					return fmt.Errorf("the deployment in %s runs with other settings (%+v): run down first", d.StateDir, prev)
				}
			}
		}
	}
	return nil
}

// recordSettings writes the settings once up is to start something: a refused up leaves none,
// and so no state dir down would take for a deployment's.
func (d *Deployment) recordSettings() error {
	b, _ := json.MarshalIndent(d.Settings, "", "  ")
	return writeFileAtomic(d.settingsFile(), b)
}

// checkPool refuses a pool of which a cell's /24 overlaps the network of a host interface
// other than the cells' own bridges: two bridges routing one network break both.
func (d *Deployment) checkPool() error {
	var ours []string
	for _, g := range d.gardens {
		ours = append(ours, g.host.Bridge)
	}
	for _, g := range d.gardens {
		_, n, err := net.ParseCIDR(g.host.NetworkPool)
		if err != nil {
			return err
		}
		used, err := gardenrunc.PoolOverlap(n, ours...)
		if err != nil {
			return err
		}
		if used != "" {
			return fmt.Errorf("%s's pool %s overlaps the network of %s: another deployment or server uses it; choose another --pool", g.cell, g.host.NetworkPool, used)
		}
	}
	return nil
}

// ownerFile, in /var/lib/<prefix>, names the state dir of the deployment that last prepared
// it: down removes what is on the host by name, so it removes only its own.
func (d *Deployment) ownerFile() string { return filepath.Join(d.hostDir, "owner") }

// build compiles every program into the state dir's bin/ (go's build cache makes a second run
// quick; a running program keeps its old file).
func (d *Deployment) build() (string, error) {
	root, err := repo.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("up builds the programs from the repository: %w", err)
	}
	pkgs := make([]string, 0, len(programs))
	for _, p := range programs {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	cmd := exec.Command("go", append([]string{"build", "-o", d.binDir + string(filepath.Separator)}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, b)
	}
	return "", nil
}

// prepareHost fills /var/lib/<prefix>: the busybox rootfs (made once), and the programs that
// run inside containers, in folders every user may search (containers' users reach them through
// mounts).
func (d *Deployment) prepareHost() (string, error) {
	for _, dir := range []string{d.hostDir, filepath.Join(d.hostDir, "bin"), filepath.Join(d.hostDir, "healthcheck")} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return "", err
		}
		if err := os.Chmod(dir, 0o711); err != nil {
			return "", err
		}
	}
	if err := writeFileAtomic(d.ownerFile(), []byte(d.StateDir+"\n")); err != nil {
		return "", err
	}
	for _, g := range d.gardens {
		if err := os.MkdirAll(g.host.Dir, 0o711); err != nil {
			return "", err
		}
	}
	for src, dst := range map[string]string{
		d.bins["garden-init"]: filepath.Join(d.hostDir, "bin", "garden-init"),
		// the executor's declarative_healthcheck_path holds only the healthcheck
		d.bins["healthcheck"]: filepath.Join(d.hostDir, "healthcheck", "healthcheck"),
	} {
		if err := copyExecutable(src, dst); err != nil {
			return "", err
		}
	}
	rootfs := filepath.Join(d.hostDir, "rootfs")
	if _, err := os.Stat(rootfs); err == nil {
		return "ok, rootfs kept", nil
	}
	tmp := rootfs + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := busyboxfs.Make(tmp); err != nil {
		return "", err
	}
	return "", os.Rename(tmp, rootfs)
}

// copyExecutable replaces dst by a copy of src (a rename: a running dst keeps its file).
func copyExecutable(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst+".tmp", b, 0o755); err != nil {
		return err
	}
	return os.Rename(dst+".tmp", dst)
}

// writeEnvFile writes the variables the diego command line reads (--env-file, DIEGO_ENV_FILE).
func (d *Deployment) writeEnvFile() error {
	lines := []string{
		"# written by deploy/local (make up); read by diego with --env-file or DIEGO_ENV_FILE",
		"BBS_URL=" + d.BBSURL(),
		"BBS_CA_CERT_FILE=" + d.certs.CA,
		"BBS_CERT_FILE=" + d.certs.Cert["client"],
		"BBS_KEY_FILE=" + d.certs.Key["client"],
		"DIEGO_ROUTER_URL=" + d.RouterURL(),
		"DIEGO_APP_DOMAIN=" + d.Domain,
		"DIEGO_NATS_URL=" + d.NATSURL(),
		"DIEGO_FILE_SERVER_URL=" + d.FileServerURL(),
	}
	return writeFileAtomic(d.EnvFile, []byte(strings.Join(lines, "\n")+"\n"))
}

func (d *Deployment) printSummary(out io.Writer) {
	var cells []string
	for _, g := range d.gardens {
		cells = append(cells, fmt.Sprintf("%s (%s)", g.cell, g.zone))
	}
	fmt.Fprintf(out, `
Diego runs on this machine:
  demo app     %s   (curl %s)
  dashboard    %s   (the live view)
  router       %s
  bbs          %s   (mutual TLS, certificates in %s)
  file-server  %s/v1/static/
  nats         %s
  cells        %s
  logs         %s

Use it with the diego command line:
  export DIEGO_ENV_FILE=%s
  %s cells

Stop everything and remove it: make down
`, d.DemoURL(), d.DemoURL(), d.DashboardURL(), d.RouterURL(), d.BBSURL(), d.certDir, d.FileServerURL(), d.NATSURL(),
		strings.Join(cells, ", "), d.logDir, d.EnvFile, d.bins["diego"])
}
