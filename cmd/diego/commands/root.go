// Package commands is the diego command line: one cobra command per operation, all talking to
// the BBS through package bbs and to the reps through package rep.
package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/models"
)

// Execute runs the command line args, writing to stdout and stderr, and returns the exit code.
func Execute(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(stdout)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "diego:", err)
		return 1
	}
	return 0
}

// cli is what every command shares: the configuration and the output.
type cli struct {
	cfg  *config
	out  io.Writer
	json bool
}

func newRoot(out io.Writer) *cobra.Command {
	c := &cli{cfg: newConfig(), out: out}
	root := &cobra.Command{
		Use:           "diego",
		Short:         "Run apps and tasks on a Diego deployment, and inspect and operate it through its BBS",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&c.cfg.envFile, "env-file", "", "file of KEY=VALUE lines (BBS_URL, ...) read for settings given by neither flag nor environment (default $DIEGO_ENV_FILE)")
	for _, s := range c.cfg.settings() {
		usage := "(env " + s.env + ")"
		if s.fallback != nil {
			usage = "(env " + s.env + "; default the --" + s.fallback.flag + " setting)"
		}
		pf.StringVar(&s.value, s.flag, "", usage)
	}
	pf.BoolVar(&c.json, "json", false, "print each record as one line of JSON instead of a table")
	root.AddCommand(
		c.cellsCmd(), c.cellStatesCmd(), c.desiredLRPsCmd(), c.actualLRPsCmd(), c.tasksCmd(),
		c.domainsCmd(), c.setDomainCmd(), c.retireActualLRPCmd(), c.cancelTaskCmd(), c.eventsCmd(),
		c.createAppCmd(), c.scaleCmd(), c.removeCmd(), c.statusCmd(), c.runTaskCmd(), c.logsCmd(),
		c.dashboardCmd(),
	)
	return root
}

// bbsConn is the BBS client of the configured URLs.
type bbsConn struct {
	*bbs.Client
	url string // as configured, for errors
}

// bbsClient makes the BBS client of the configured URLs. A command line makes one round over
// them: an operator wants the error now rather than after retries.
func (c *cli) bbsClient() (*bbsConn, error) {
	urls, tlsCfg, err := c.cfg.bbs()
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	client := bbs.NewClient(urls[0], tlsCfg, bbs.WithURLs(urls[1:]...), bbs.WithRetry(1, 0), bbs.WithLogger(logger))
	return &bbsConn{client, strings.Join(urls, ",")}, nil
}

// fail says what went wrong with a call: the BBS's own answer, or, when it does not answer a
// ping either, that it cannot be reached (the client reports both as a *models.Error).
func (b *bbsConn) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil || b.Ping(ctx) {
		return err
	}
	return fmt.Errorf("cannot reach the BBS at %s: %w", b.url, err)
}

// notFound turns the BBS's ResourceNotFound into an error naming the missing record.
func notFound(err error, what string) error {
	if errors.Is(err, models.ErrResourceNotFound) {
		return errors.New(what + " not found")
	}
	return err
}
