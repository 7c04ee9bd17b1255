package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/models"
)

// minRefresh spaces the reads a burst of events causes: a scale to hundreds of instances sends
// several events per instance, and one read sees them all.
const minRefresh = 100 * time.Millisecond

// status is one read of what a command waits for.
type status struct {
	// line is the progress shown ("7/10 instances running").
	line string
	done bool
	// pending says what is not done yet, for the timeout's error.
	pending string
}

// watch reads the state with step, again after each event relevant reports a change for (or
// after the stream reconnected, when events were missed), showing each status's line, until a
// status is done, step fails, or timeout passes. The stream must be open before the change
// waited for is made, so that none of its events is missed.
func (c *cli) watch(ctx context.Context, client *bbsConn, stream *bbs.EventStream, timeout time.Duration,
	relevant func(models.Event) bool, step func(context.Context) (status, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	changed := make(chan struct{}, 1)
	failed := make(chan error, 1)
	go func() {
		for {
			e, err := stream.Next()
			if err != nil && !errors.Is(err, bbs.ErrReconnected) {
				failed <- err
				return
			}
			if err == nil && !relevant(e) {
				continue
			}
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}()

	p := newProgress(c.out)
	defer p.end()
	var last status
	// ended says why the wait ended early: the timeout or an interrupt, with what was pending.
	ended := func() error {
		what := "interrupted"
		if ctx.Err() == context.DeadlineExceeded {
			what = "timed out after " + timeout.String()
		}
		if last.pending == "" {
			return errors.New(what)
		}
		return fmt.Errorf("%s: %s", what, last.pending)
	}
	for {
		s, err := step(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ended()
			}
			return err
		}
		last = s
		p.show(s.line)
		if s.done {
			return nil
		}
		select {
		case <-changed:
		case err := <-failed:
			if ctx.Err() == nil {
				return client.fail(ctx, err)
			}
		case <-ctx.Done():
		}
		select {
		case <-time.After(minRefresh):
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			return ended()
		}
	}
}

// progress shows a changing line: rewritten in place on a terminal, else one line per change
// (a log or a pipe keeps every step).
type progress struct {
	out  io.Writer
	tty  bool
	last string
}

func newProgress(out io.Writer) *progress {
	p := &progress{out: out}
	if f, ok := out.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		p.tty = err == nil
	}
	return p
}

func (p *progress) show(line string) {
	if line == p.last {
		return
	}
	p.last = line
	if p.tty {
		// back to the line's start, the new text, then clear what the old one left
		fmt.Fprintf(p.out, "\r%s\x1b[K", line)
		return
	}
	fmt.Fprintln(p.out, line)
}

// end finishes a line left open on a terminal.
func (p *progress) end() {
	if p.tty && p.last != "" {
		fmt.Fprintln(p.out)
	}
}
