// Command local runs the whole system on this machine, detached, with no configuration:
// `local up` builds the project's programs, makes certificates, starts etcd, Consul, NATS, the
// bbs, the auctioneer, the converger, gardens with a rep each, the router, the route-emitter and
// the file-server, desires a demo app and writes an env file for the diego command line;
// `local down` stops all of it and removes what it made. `make up` and `make down` run it (see
// docs/deploy.md).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/diego-go/diego/internal/repo"
)

func main() {
	if err := rootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// The defaults, each overridable by a flag or its environment variable.
const (
	DefaultPortBase = 18000
	DefaultPrefix   = "diego-local"
	DefaultCells    = 2
	DefaultPool     = "10.249.0.0/16"
	DefaultDomain   = "localhost"
)

func rootCommand() *cobra.Command {
	var s Settings
	root := &cobra.Command{
		Use:           "local",
		Short:         "Run the whole system on this machine (up) and remove it (down)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&s.StateDir, "state-dir", envOr("DIEGO_LOCAL_STATE_DIR", ""), "folder of configs, certificates, data, logs, pid files and the env file (default <repository>/.local; $DIEGO_LOCAL_STATE_DIR)")
	pf.IntVar(&s.PortBase, "port-base", envInt("DIEGO_LOCAL_PORT_BASE", DefaultPortBase), "first of the ports used, base to base+1999 ($DIEGO_LOCAL_PORT_BASE)")
	pf.StringVar(&s.Prefix, "prefix", envOr("DIEGO_LOCAL_PREFIX", DefaultPrefix), "name of /var/lib/<prefix> and of each cell's bridge, iptables chains and cgroup (<prefix>-<i>) ($DIEGO_LOCAL_PREFIX)")
	pf.IntVar(&s.Cells, "cells", envInt("DIEGO_LOCAL_CELLS", DefaultCells), "cells (a garden and a rep each) ($DIEGO_LOCAL_CELLS)")
	pf.StringVar(&s.Pool, "pool", envOr("DIEGO_LOCAL_POOL", DefaultPool), "IPv4 /16 of the containers' addresses, a /24 per cell ($DIEGO_LOCAL_POOL)")
	pf.StringVar(&s.Domain, "domain", envOr("DIEGO_LOCAL_DOMAIN", DefaultDomain), "app domain: the demo app is routed at demo.<domain> ($DIEGO_LOCAL_DOMAIN)")

	// recorded: take the settings up recorded in the state dir, if any (down needs only the
	// state dir)
	deployment := func(recorded bool) (*Deployment, error) {
		if s.StateDir == "" {
			root, err := repo.RepoRoot()
			if err != nil {
				return nil, fmt.Errorf("no --state-dir and no repository here to put .local in: %w", err)
			}
			s.StateDir = filepath.Join(root, ".local")
		}
		abs, err := filepath.Abs(s.StateDir)
		if err != nil {
			return nil, err
		}
		s.StateDir = abs
		if recorded {
			if b, err := os.ReadFile(filepath.Join(abs, settingsName)); err == nil {
				if err := json.Unmarshal(b, &s); err != nil {
					return nil, fmt.Errorf("%s: %w", filepath.Join(abs, settingsName), err)
				}
				s.StateDir = abs
			}
		}
		return newDeployment(s)
	}
	root.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Build, then start whatever is not running, desire the demo app and write the env file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := deployment(false)
			if err != nil {
				return err
			}
			return d.Up(cmd.OutOrStdout())
		},
	}, &cobra.Command{
		Use:   "down",
		Short: "Destroy the containers, stop every process up started and remove what it made",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := deployment(true)
			if err != nil {
				return err
			}
			return d.Down(cmd.OutOrStdout())
		},
	})
	return root
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// envInt is the variable's number, or def; a variable that is not a number ends the command.
func envInt(name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %s=%q is not a number\n", name, v)
		os.Exit(2)
	}
	return n
}
