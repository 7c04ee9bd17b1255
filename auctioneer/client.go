// Package auctioneer is the client side of the auctioneer's API: its routes (routes.go) and the
// one Go client, which the BBS uses to ask for placements. The messages are the JSON structs of
// models/rep.go. The daemon itself (batching, cell states, the HTTP handler) is auctioneer/server;
// nothing here imports it, so a client links neither the server nor Consul.
package auctioneer

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/diego-go/diego/models"
)

// ClientTimeout bounds one call of a Client.
const ClientTimeout = 10 * time.Second

// Client talks to the auctioneer; it is safe for concurrent use.
type Client struct {
	url     string
	resolve func(ctx context.Context) ([]string, error)
	http    *http.Client
}

// Option tunes a Client.
type Option func(*Client)

// WithResolver makes every call ask resolve for the auctioneer's URLs first (the instances of
// the Consul service the lock holder registers, resolved by the BBS through locket, which this
// package does not link), the URL given to NewClient after them: a call goes to the first whose
// connection is not refused, so it reaches a standby that took the lock over.
func WithResolver(resolve func(ctx context.Context) ([]string, error)) Option {
	return func(c *Client) { c.resolve = resolve }
}

// NewClient makes a client of the auctioneer at url (may be "" with WithResolver): https:// with
// tlsConfig from tlsconfig.Client for mutual TLS, or http:// with nil.
func NewClient(url string, tlsConfig *tls.Config, opts ...Option) *Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsConfig
	c := &Client{url: strings.TrimRight(url, "/"), http: &http.Client{Timeout: ClientTimeout, Transport: t}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// urls lists the URLs to try: the resolved ones, then url.
func (c *Client) urls(ctx context.Context) ([]string, error) {
	var urls []string
	var resolveErr error
	if c.resolve != nil {
		resolved, err := c.resolve(ctx)
		if err != nil {
			resolveErr = fmt.Errorf("auctioneer: resolving its address: %w", err)
		}
		for _, u := range resolved {
			urls = append(urls, strings.TrimRight(u, "/"))
		}
	}
	if c.url != "" && !slices.Contains(urls, c.url) {
		urls = append(urls, c.url)
	}
	if len(urls) == 0 && resolveErr != nil {
		return nil, resolveErr
	}
	if len(urls) == 0 {
		return nil, errors.New("auctioneer: no address (its service has no passing instance)")
	}
	return urls, nil
}

// RequestLRPAuctions asks the auctioneer to place LRP instances.
func (c *Client) RequestLRPAuctions(ctx context.Context, reqs []models.LRPStartRequest) error {
	return c.post(ctx, LRPAuctionsRoute, reqs)
}

// RequestTaskAuctions asks the auctioneer to place tasks.
func (c *Client) RequestTaskAuctions(ctx context.Context, reqs []models.TaskStartRequest) error {
	return c.post(ctx, TaskAuctionsRoute, reqs)
}

func (c *Client) post(ctx context.Context, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	urls, err := c.urls(ctx)
	if err != nil {
		return err
	}
	for _, u := range urls {
		err = c.postTo(ctx, u, path, b)
		// only a request that was never sent goes to the next URL: a batch whose answer was
		// lost may have been taken
		var op *net.OpError
		if err == nil || !errors.As(err, &op) || op.Op != "dial" {
			return err
		}
	}
	return err
}

func (c *Client) postTo(ctx context.Context, url, path string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("auctioneer %s: %w", path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("auctioneer %s: HTTP %d: %s", path, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}
