// Package repclient is the auctioneer's HTTP client for a rep's auction endpoints (see
// docs/wire.md, "The rep's auction API"):
//
//   - GET  /state -> models.CellState (JSON)
//   - POST /work  (models.Work JSON) -> models.Work: the work the cell could not take
//
// Every call is bounded by its own timeout (StateTimeout, WorkTimeout) on top of the caller's
// context, so one slow cell never holds an auction for longer than that. Mutual TLS is optional:
// give a *tls.Config from tlsconfig.Client for https:// rep URLs, nil for plain http.
//
// Its test double, an in-process rep as an httptest server, is in repclient/reptest.
package repclient

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

// Paths of the rep's auction endpoints.
const (
	StatePath = "/state"
	WorkPath  = "/work"
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
	// WorkTimeout bounds one POST /work (default 10s).
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

// New makes a client.
func New(opts Options) *Client {
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
	return fmt.Sprintf("repclient: %s: HTTP %d: %s", e.URL, e.StatusCode, e.Body)
}

// ErrTimeout is wrapped by the error of a call that took longer than its timeout.
var ErrTimeout = errors.New("timed out")

// State asks the rep at repURL (scheme://host:port) for its cell state, within StateTimeout.
func (c *Client) State(ctx context.Context, repURL string) (models.CellState, error) {
	var state models.CellState
	err := c.do(ctx, c.stateTimeout, http.MethodGet, repURL, StatePath, nil, &state)
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
	if err := c.do(ctx, c.workTimeout, http.MethodPost, repURL, WorkPath, body, &rejected); err != nil {
		return models.Work{}, err
	}
	if rejected.CellID == "" {
		rejected.CellID = work.CellID
	}
	return rejected, nil
}

func (c *Client) do(ctx context.Context, timeout time.Duration, method, repURL, path string, body []byte, out any) error {
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
		return fmt.Errorf("repclient: %s %s: %w", method, url, err)
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
	if resp.StatusCode/100 != 2 {
		return &Error{URL: url, StatusCode: resp.StatusCode, Body: string(bytes.TrimSpace(truncate(data, 512)))}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("repclient: %s %s: invalid JSON answer: %w", method, url, err)
	}
	return nil
}

// wrap reports the time actually waited: the caller's deadline may be shorter than this client's
// own timeout (the auctioneer bounds a whole state fetch), and the log must not claim otherwise.
func (c *Client) wrap(ctx context.Context, method, url string, start time.Time, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("repclient: %s %s: %w after %s", method, url, ErrTimeout, time.Since(start).Round(time.Millisecond))
	}
	return fmt.Errorf("repclient: %s %s: %w", method, url, err)
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
