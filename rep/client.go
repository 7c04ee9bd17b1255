// Package rep is the client side of a cell rep's API: its routes (routes.go) and the one Go
// client, which the auctioneer uses to read cell states and send work and the BBS uses to stop
// instances and cancel tasks. The messages are the JSON structs of models/rep.go (docs/auctioneer.md,
// "Wire format").
//
// Every call is bounded by its own timeout (StateTimeout for GET /state, WorkTimeout for the
// others) on top of the caller's context, so one slow cell never holds an auction for longer than
// that. Mutual TLS is optional: give a *tls.Config from tlsconfig.Client for https:// rep URLs,
// nil for plain http. A rep's base URL comes from its presence (models.CellRepURL).
//
// The rep's own server is rep/server; the auction's test double, an in-process rep as an httptest
// server, is rep/reptest.
package rep

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/diego-go/diego/models"
)

// Default per-call timeouts.
const (
	DefaultStateTimeout = 1 * time.Second
	DefaultWorkTimeout  = 10 * time.Second
)

// maxResponseBytes bounds a rep's answer (a cell state lists every container it holds).
const maxResponseBytes = 64 << 20

// Options configure a Client; zero fields take the defaults.
type Options struct {
	// TLS is the client's mutual-TLS config (tlsconfig.Client); nil for plain http.
	TLS *tls.Config
	// StateTimeout bounds one GET /state (default 1s).
	StateTimeout time.Duration
	// WorkTimeout bounds one POST /work, stop or cancel (default 10s).
	WorkTimeout time.Duration
	// Transport, when set, is used instead of a transport built from TLS (tests).
	Transport http.RoundTripper
}

// Client talks to any number of reps; it is safe for concurrent use.
type Client struct {
	http         *http.Client
	stateTimeout time.Duration
	workTimeout  time.Duration
}

// NewClient makes a client.
func NewClient(opts Options) *Client {
	if opts.StateTimeout <= 0 {
		opts.StateTimeout = DefaultStateTimeout
	}
	if opts.WorkTimeout <= 0 {
		opts.WorkTimeout = DefaultWorkTimeout
	}
	rt := opts.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = opts.TLS
		t.MaxIdleConnsPerHost = 4
		t.IdleConnTimeout = 90 * time.Second
		rt = t
	}
	return &Client{http: &http.Client{Transport: rt}, stateTimeout: opts.StateTimeout, workTimeout: opts.WorkTimeout}
}

// Error is a rep's non-2xx answer.
type Error struct {
	URL        string
	StatusCode int
	Body       string
}

func (e *Error) Error() string {
	return fmt.Sprintf("rep: %s: HTTP %d: %s", e.URL, e.StatusCode, e.Body)
}

// ErrTimeout is wrapped by the error of a call that took longer than its timeout.
var ErrTimeout = errors.New("timed out")

// State asks the rep at repURL (scheme://host:port) for its cell state, within StateTimeout.
func (c *Client) State(ctx context.Context, repURL string) (models.CellState, error) {
	var state models.CellState
	err := c.do(ctx, c.stateTimeout, http.MethodGet, repURL, StatePath, nil, http.StatusOK, &state)
	return state, err
}

// Perform sends work to the rep at repURL, within WorkTimeout, and returns the work it could not
// take (its CellID set to work.CellID when the rep left it empty). On an error nothing is known
// about what the rep took.
func (c *Client) Perform(ctx context.Context, repURL string, work models.Work) (models.Work, error) {
	body, err := json.Marshal(work)
	if err != nil {
		return models.Work{}, err
	}
	var rejected models.Work
	if err := c.do(ctx, c.workTimeout, http.MethodPost, repURL, PerformPath, body, http.StatusOK, &rejected); err != nil {
		return models.Work{}, err
	}
	if rejected.CellID == "" {
		rejected.CellID = work.CellID
	}
	return rejected, nil
}

// StopLRPInstance asks the rep at repURL to stop an instance it runs; the rep removes the
// ActualLRP once the container is gone.
func (c *Client) StopLRPInstance(ctx context.Context, repURL string, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey) error {
	path := StopLRPInstancePath(key.GetProcessGuid(), ik.GetInstanceGuid())
	return c.do(ctx, c.workTimeout, http.MethodPost, repURL, path, nil, http.StatusAccepted, nil)
}

// CancelTask asks the rep at repURL to stop a task's container.
func (c *Client) CancelTask(ctx context.Context, repURL, taskGuid string) error {
	return c.do(ctx, c.workTimeout, http.MethodPost, repURL, CancelTaskPath(taskGuid), nil, http.StatusAccepted, nil)
}

// UpdateLRPInstance tells the rep at repURL what changed of a running instance (routes, metric
// tags) that needs no restart.
func (c *Client) UpdateLRPInstance(ctx context.Context, repURL string, update models.LRPUpdate) error {
	body, err := json.Marshal(update)
	if err != nil {
		return err
	}
	path := UpdateLRPInstancePath(update.ProcessGUID, update.InstanceGUID)
	return c.do(ctx, c.workTimeout, http.MethodPut, repURL, path, body, http.StatusAccepted, nil)
}

// ContainerMetrics reads the usage of every container of the rep at repURL, within WorkTimeout.
func (c *Client) ContainerMetrics(ctx context.Context, repURL string) (models.ContainerMetricsCollection, error) {
	var m models.ContainerMetricsCollection
	err := c.do(ctx, c.workTimeout, http.MethodGet, repURL, ContainerMetricsPath, nil, http.StatusOK, &m)
	return m, err
}

// do makes one call and decodes the answer into out (when not nil); any status but want is an
// *Error, as upstream's client treats it.
func (c *Client) do(ctx context.Context, timeout time.Duration, method, repURL, path string, body []byte, want int, out any) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := strings.TrimRight(repURL, "/") + path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return fmt.Errorf("rep: %s %s: %w", method, url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.wrap(ctx, method, url, start, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return c.wrap(ctx, method, url, start, err)
	}
	if resp.StatusCode != want {
		return &Error{URL: url, StatusCode: resp.StatusCode, Body: string(bytes.TrimSpace(truncate(data, 512)))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("rep: %s %s: invalid JSON answer: %w", method, url, err)
	}
	return nil
}

// wrap reports the time actually waited: the caller's deadline may be shorter than this client's
// own timeout (the auctioneer bounds a whole state fetch), and the log must not claim otherwise.
func (c *Client) wrap(ctx context.Context, method, url string, start time.Time, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("rep: %s %s: %w after %s", method, url, ErrTimeout, time.Since(start).Round(time.Millisecond))
	}
	return fmt.Errorf("rep: %s %s: %w", method, url, err)
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
