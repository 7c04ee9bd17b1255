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

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	pf.StringVar(&s.StateDir, "state-dir", "", "folder of configs, certificates, data, logs, pid files and the env file (default <repository>/.local; $DIEGO_LOCAL_STATE_DIR)")
	pf.IntVar(&s.PortBase, "port-base", DefaultPortBase, "first of the ports used, base to base+1999 ($DIEGO_LOCAL_PORT_BASE)")
	pf.StringVar(&s.Prefix, "prefix", DefaultPrefix, "name of /var/lib/<prefix> and of each cell's bridge, iptables chains and cgroup (<prefix>-<i>) ($DIEGO_LOCAL_PREFIX)")
	pf.IntVar(&s.Cells, "cells", DefaultCells, "cells (a garden and a rep each) ($DIEGO_LOCAL_CELLS)")
	pf.StringVar(&s.Pool, "pool", DefaultPool, "IPv4 /16 of the containers' addresses, a /24 per cell ($DIEGO_LOCAL_POOL)")
	pf.StringVar(&s.Domain, "domain", DefaultDomain, "app domain: the demo app is routed at demo.<domain> ($DIEGO_LOCAL_DOMAIN)")

	// recorded: take the settings up recorded in the state dir, if any (down needs only the
	// state dir)
	deployment := func(recorded bool) (*Deployment, error) {
		if err := flagsFromEnv(pf); err != nil {
			return nil, err
		}
		// bad settings are named before a missing repository: the state dir may not be needed
		if err := s.Validate(); err != nil {
			return nil, err
		}
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

// flagEnv are the environment variables that set a flag the command line does not.
var flagEnv = map[string]string{
	"state-dir": "DIEGO_LOCAL_STATE_DIR",
	"port-base": "DIEGO_LOCAL_PORT_BASE",
	"prefix":    "DIEGO_LOCAL_PREFIX",
	"cells":     "DIEGO_LOCAL_CELLS",
	"pool":      "DIEGO_LOCAL_POOL",
	"domain":    "DIEGO_LOCAL_DOMAIN",
}

// flagsFromEnv sets each flag not given from its variable, when that is set; a value the flag
// refuses is an error naming the variable.
func flagsFromEnv(fs *pflag.FlagSet) error {
	for flag, env := range flagEnv {
		v := os.Getenv(env)
		if v == "" || fs.Changed(flag) {
			continue
		}
		if err := fs.Set(flag, v); err != nil {
			return fmt.Errorf("%s=%q: %w", env, v, err)
		}
	}
	return nil
}
