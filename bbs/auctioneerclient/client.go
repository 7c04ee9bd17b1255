// Package auctioneerclient is the BBS's client for the auctioneer's API: POST /v1/lrps and
// POST /v1/tasks with JSON arrays of start requests (models.LRPStartRequest, models.TaskStartRequest).
package auctioneerclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/diego-go/diego/models"
)

// Client talks to one auctioneer.
type Client struct {
	url  string
	http *http.Client
}

// New makes a client for the auctioneer at url (http:// or https://); httpClient may carry TLS and
// may be nil (a 10 s timeout client is used).
func New(url string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{url: strings.TrimRight(url, "/"), http: httpClient}
}

// RequestLRPAuctions asks the auctioneer to place LRP instances.
func (c *Client) RequestLRPAuctions(ctx context.Context, reqs []models.LRPStartRequest) error {
	return c.post(ctx, "/v1/lrps", reqs)
}

// RequestTaskAuctions asks the auctioneer to place tasks.
func (c *Client) RequestTaskAuctions(ctx context.Context, reqs []models.TaskStartRequest) error {
	return c.post(ctx, "/v1/tasks", reqs)
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
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("auctioneer %s: HTTP %d: %s", path, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}
