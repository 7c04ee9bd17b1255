package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"code.cloudfoundry.org/garden/client"
	"code.cloudfoundry.org/garden/client/connection"

	"github.com/diego-go/diego/gardenrunc"
)

// stopGrace is how long a process has after SIGTERM before SIGKILL.
const stopGrace = 15 * time.Second

// Down stops every process up started, in reverse order, destroying each garden's containers
// through it before it stops (a garden that died is started again for that), then removes
// what the gardens leave on the host and /var/lib/<prefix>, when they are this deployment's
// (ownsHost), and the state dir's runtime files. The state dir keeps bin/ (the built programs)
// and logs/.
func (d *Deployment) Down(out io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("down needs root: it removes containers, bridges and iptables chains")
	}
	owned, why := d.ownsHost()
	if !owned && why != "" {
		fmt.Fprintf(out, "%s: leaving %s and the cells' bridges, chains, cgroups and mounts alone\n", why, d.hostDir)
	}
	var errs []error
	for _, p := range d.stopOrder() {
		// a garden up started is this deployment's, wherever it runs; one on the host that is
		// not (started again to destroy its containers) only when the host is
		if g := d.gardenOf(p); g != nil && (owned || p.running() != 0) {
			if err := step(out, "destroying the containers of "+p.name, func() (string, error) { return d.destroyContainers(p, g) }); err != nil {
				errs = append(errs, err)
			}
		}
		if err := step(out, "stopping "+p.name, func() (string, error) {
			stopped, err := p.stop(stopGrace)
			if err == nil && !stopped {
				return "not running", nil
			}
			return "", err
		}); err != nil {
			errs = append(errs, err)
		}
		if g := d.gardenOf(p); g != nil && owned {
			gardenrunc.RemoveLeftovers(g.host)
		}
	}
	if len(errs) > 0 {
		// what is left may still be in use: keep the files that name it
		return errors.Join(errs...)
	}
	what := "removing the runtime files in " + d.StateDir
	if owned {
		what = "removing " + d.hostDir + " and the runtime files in " + d.StateDir
	}
	if err := step(out, what, func() (string, error) {
		if owned {
			if err := os.RemoveAll(d.hostDir); err != nil {
				return "", err
			}
		}
		entries, err := os.ReadDir(d.StateDir)
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		var kept []string
		for _, e := range entries {
			if e.Name() == "bin" || e.Name() == "logs" {
				kept = append(kept, e.Name()+"/")
				continue
			}
			if err := os.RemoveAll(filepath.Join(d.StateDir, e.Name())); err != nil {
				return "", err
			}
		}
		if len(kept) > 0 {
			return "ok, kept " + strings.Join(kept, " and "), nil
		}
		return "", nil
	}); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nDiego is down: nothing of it runs.")
	return nil
}

// ownsHost says whether what is on the host under the prefix (/var/lib/<prefix>, each cell's
// bridge, chains, cgroup and mounts) is this deployment's to remove, and if not, why. It is
// when the state dir has settings (up ran from it) and the owner file names the state dir (or,
// with no owner file, a garden of the state dir runs); "" is the reason when there is nothing
// on the host.
func (d *Deployment) ownsHost() (bool, string) {
	if _, err := os.Stat(d.hostDir); errors.Is(err, os.ErrNotExist) {
		return false, ""
	}
	if _, err := os.Stat(d.settingsFile()); err != nil {
		return false, fmt.Sprintf("%s has no %s: no up ran from it", d.StateDir, settingsName)
	}
	b, err := os.ReadFile(d.ownerFile())
	if errors.Is(err, os.ErrNotExist) {
		// an up older than the owner file: a garden its pid file names proves it
		for _, p := range d.procs {
			if d.gardenOf(p) != nil && p.running() != 0 {
				return true, ""
			}
		}
		return false, d.hostDir + " has no owner file (up writes " + d.ownerFile() + ")"
	}
	if err != nil {
		return false, err.Error()
	}
	if owner := strings.TrimSpace(string(b)); owner != d.StateDir {
		return false, d.hostDir + " belongs to the deployment in " + owner
	}
	return true, ""
}

// stopOrder is the reverse of the start order, but with the auctioneer and the converger
// first: a rep that stops must not have its instances placed again on the cells left.
func (d *Deployment) stopOrder() []*process {
	var first, rest []*process
	for i := len(d.procs) - 1; i >= 0; i-- {
		if p := d.procs[i]; p.name == "auctioneer" || p.name == "converger" {
			first = append(first, p)
		} else {
			rest = append(rest, p)
		}
	}
	return append(first, rest...)
}

func (d *Deployment) gardenOf(p *process) *gardenSettings {
	for i := range d.gardens {
		if p.name == fmt.Sprintf("garden-%d", i) {
			return &d.gardens[i]
		}
	}
	return nil
}

// destroyContainers destroys every container of the garden through it: a garden that is not
// running but has a depot is started (on the config up wrote) to reload and destroy its
// containers.
func (d *Deployment) destroyContainers(p *process, g *gardenSettings) (string, error) {
	if p.running() == 0 {
		entries, _ := os.ReadDir(g.depot)
		if len(entries) == 0 {
			return "none", nil
		}
		if _, err := os.Stat(g.config); err != nil {
			return "", fmt.Errorf("%d containers in %s but no config to start the garden on: %w", len(entries), g.depot, err)
		}
		exited, err := p.start()
		if err != nil {
			return "", err
		}
		if err := p.waitReady(exited, startTimeout); err != nil {
			return "", err
		}
	}
	c := client.New(connection.New("unix", g.socket))
	list, err := c.Containers(nil)
	if err != nil {
		return "", err
	}
	var errs []error
	for _, ctr := range list {
		if err := c.Destroy(ctr.Handle()); err != nil {
			errs = append(errs, fmt.Errorf("destroying %s: %w", ctr.Handle(), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d destroyed", len(list)), nil
}
