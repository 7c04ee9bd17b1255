package steps

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"code.cloudfoundry.org/garden"

	"github.com/diego-go/diego/executor/cache"
	"github.com/diego-go/diego/executor/logstream"
)

// Step is one node of an action tree. Perform runs it to the end; cancelling ctx stops it (a Run
// step signals its process) and Perform then returns an error satisfying errors.Is(err,
// ErrCancelled).
type Step interface {
	Perform(ctx context.Context) error
}

// Fetcher is how Download steps get an artifact as a tar stream; *cache.Cache satisfies it.
type Fetcher interface {
	Fetch(ctx context.Context, rawURL, cacheKey string, sum cache.Checksum) (io.ReadCloser, error)
}

// Deps is what the steps of one container use.
type Deps struct {
	Container garden.Container
	Logs      logstream.Streamer
	Cache     Fetcher
	// HTTPClient sends Upload steps' requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// HealthCheckPath is where cmd/healthcheck's binary is inside the container.
	HealthCheckPath string
	// UnhealthyInterval is how often checks run until the instance is healthy, HealthyInterval
	// how often afterwards (a check's own interval_ms wins).
	UnhealthyInterval, HealthyInterval time.Duration
	// GracePeriod is the cell's time between SIGTERM and SIGKILL; RunInfo.GracePeriod overrides it.
	GracePeriod time.Duration
	// ProcessIDPrefix (the container guid) starts every garden process id the steps choose.
	ProcessIDPrefix string
	// Adopt: the container was left running by an earlier executor; see the package doc.
	Adopt bool
}

// Callbacks report the instance's health while the run step performs. Either may be nil.
type Callbacks struct {
	// OnHealthy is called once, when the instance counts as running.
	OnHealthy func()
	// OnReadinessChanged is called when a readiness check passes (true) or fails (false). The
	// state before the first call (not ready while readiness checks exist) is the caller's to set.
	OnReadinessChanged func(ready bool)
}

var (
	// ErrCancelled is wrapped by the error of every step stopped by its context.
	ErrCancelled = errors.New("cancelled")
	// ErrDownloadFailed is wrapped by the error of a Download step that could not fetch its
	// artifact or copy it into the container.
	ErrDownloadFailed = errors.New("download failed")
)

// node is a step as its parent sees it: ready is called (at most once matters) when the node
// counts as started; for a Run step that is when its process runs, for a health check when the
// instance is healthy.
type node interface {
	run(ctx context.Context, ready func()) error
}

// performer adapts a node to Step, calling onReady once when the node is ready.
type performer struct {
	n       node
	onReady func()
}

func (p performer) Perform(ctx context.Context) error {
	var once sync.Once
	return p.n.run(ctx, func() {
		if p.onReady != nil {
			once.Do(p.onReady)
		}
	})
}

// cancelledError is returned by a step stopped by its context. Its text is shown only when
// nothing else failed beside it.
type cancelledError struct{ msg string }

func (e *cancelledError) Error() string { return e.msg }
func (e *cancelledError) Unwrap() error { return ErrCancelled }

func cancelled() error { return &cancelledError{msg: "cancelled"} }

// multiError is the result of steps that ran side by side: its text is the failures joined with
// "; ", leaving out the siblings that were only cancelled because of them (as upstream).
type multiError struct{ errs []error }

func (m *multiError) shown() []error {
	var out []error
	for _, err := range m.errs {
		if !errors.Is(err, ErrCancelled) {
			out = append(out, err)
		}
	}
	return out
}

func (m *multiError) Error() string {
	shown := m.shown()
	if len(shown) == 0 {
		return "cancelled"
	}
	parts := make([]string, 0, len(shown))
	for _, err := range shown {
		if s := err.Error(); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}

// Unwrap gives the failures, or the cancellations when nothing failed: a crash that cancelled
// its siblings does not count as cancelled.
func (m *multiError) Unwrap() []error {
	if shown := m.shown(); len(shown) > 0 {
		return shown
	}
	return m.errs
}

func joinErrors(errs []error) error {
	var out []error
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return &multiError{errs: out}
}
