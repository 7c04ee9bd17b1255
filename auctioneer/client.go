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
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/diego-go/diego/models"
)

// ClientTimeout bounds one call of a Client.
const ClientTimeout = 10 * time.Second

// Client talks to one auctioneer; it is safe for concurrent use.
type Client struct {
	url  string
	http *http.Client
}

// NewClient makes a client of the auctioneer at url: https:// with tlsConfig from
// tlsconfig.Client for mutual TLS, or http:// with nil.
func NewClient(url string, tlsConfig *tls.Config) *Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsConfig
	return &Client{url: strings.TrimRight(url, "/"), http: &http.Client{Timeout: ClientTimeout, Transport: t}}
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+path, bytes.NewReader(b))
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
