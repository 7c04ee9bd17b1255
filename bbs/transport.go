package bbs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/models"
)

// idempotent are the routes a call may send again after an answer was lost.
var idempotent = map[string]bool{
	PingRoute: true, DomainsRoute: true, CellsRoute: true, ActualLRPsRoute: true,
	DesiredLRPsRoute: true, DesiredLRPByProcessGuidRoute: true, DesiredLRPSchedulingInfosRoute: true,
	DesiredLRPRoutingInfosRoute: true, TasksRoute: true, TaskByGuidRoute: true, ConvergeRoute: true,
	LRPInstanceEventsRoute: true, TaskEventsRoute: true,
	ActualLRPsByProcessGuidsRoute: true, ActualLRPGroupsRoute: true, ActualLRPGroupsByProcessGuidRoute: true,
	ActualLRPGroupRoute: true, DesiredLRPSchedulingInfoRoute: true, DesiredLRPsRouteR2: true,
	DesiredLRPByProcessGuidRouteR2: true, TasksRouteR2: true, TaskByGuidRouteR2: true, LRPGroupEventsRoute: true,
}

// candidates lists the URLs to try, the one that answered last first.
func (c *Client) candidates(ctx context.Context) ([]string, error) {
	var urls []string
	var resolveErr error
	if c.resolve != nil {
		resolved, err := c.resolve(ctx)
		if err != nil {
			resolveErr = models.NewError(models.Error_UnknownError, "resolving the BBS: %v", err)
		}
		urls = append(urls, resolved...)
	}
	for _, u := range c.urls {
		if !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		if resolveErr != nil {
			return nil, resolveErr
		}
		return nil, models.NewError(models.Error_UnknownError, "no BBS URL")
	}
	last := c.lastURL()
	if i := slices.Index(urls, last); i > 0 {
		urls = append(append([]string{last}, urls[:i]...), urls[i+1:]...)
	}
	return urls, nil
}

func (c *Client) lastURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// attempt is the outcome of sending one request to one URL.
type attempt struct {
	resp *http.Response
	err  error
	// next says the request certainly did nothing (never sent, or refused with 503), or did it
	// on a route that may be repeated: another URL may be tried.
	next bool
}

// send posts body to route on url; a 200 answer's body is left to the caller.
func (c *Client) send(ctx context.Context, hc *http.Client, url, route string, body []byte, accept string) attempt {
	// upstream's legacy event stream is a GET (with the same optional body); every other route a POST
	method := http.MethodPost
	if route == LRPGroupEventsRoute {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, url+route, bytes.NewReader(body))
	if err != nil {
		return attempt{err: models.NewError(models.Error_InvalidRequest, "%v", err)}
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := hc.Do(req)
	if err != nil {
		var op *net.OpError
		notSent := errors.As(err, &op) && op.Op == "dial"
		return attempt{err: models.NewError(models.Error_UnknownError, "%s%s: %v", url, route, err), next: notSent || idempotent[route]}
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return attempt{
			err:  models.NewError(models.Error_InvalidResponse, "%s%s: HTTP %d: %s", url, route, resp.StatusCode, bytes.TrimSpace(msg)),
			next: resp.StatusCode == http.StatusServiceUnavailable,
		}
	}
	return attempt{resp: resp}
}

// open sends body to route on the first BBS that answers 200 (see NewClient), in at most rounds
// rounds over the URLs, and returns the response, whose body the caller closes. With a resolver,
// the BBS that answered last is asked first without resolving: the resolver (a Consul query for
// a daemon) is asked only when it does not answer, not for every call of a busy client.
func (c *Client) open(ctx context.Context, hc *http.Client, route string, body []byte, accept string, rounds int) (*http.Response, error) {
	// try sends to u: done when it answered or failed in a way no other URL can help with
	try := func(u string) (resp *http.Response, done bool, err error) {
		a := c.send(ctx, hc, u, route, body, accept)
		if a.err == nil {
			c.mu.Lock()
			if c.last != u {
				if c.last != "" {
					c.logger.Info("bbs client: now talking to another BBS", "url", u, "before", c.last)
				}
				c.last = u
			}
			c.mu.Unlock()
			return a.resp, true, nil
		}
		if !a.next || ctx.Err() != nil {
			return nil, true, a.err
		}
		c.logger.Warn("bbs client: BBS did not answer; trying the next", "url", u, "route", route, "error", a.err.Error())
		return nil, false, a.err
	}
	var last error
	tried := ""
	if u := c.lastURL(); u != "" && c.resolve != nil {
		resp, done, err := try(u)
		if done {
			return resp, err
		}
		last, tried = err, u
	}
	for round := 1; round <= rounds; round++ {
		urls, err := c.candidates(ctx)
		if err != nil {
			last = err
		}
		for _, u := range urls {
			if round == 1 && u == tried {
				continue
			}
			resp, done, err := try(u)
			if done {
				return resp, err
			}
			last = err
		}
		if round < rounds {
			select {
			case <-ctx.Done():
				return nil, last
			case <-time.After(c.retryWait):
			}
		}
	}
	return nil, last
}

func (c *Client) call(ctx context.Context, route string, req proto.Message) ([]byte, error) {
	return c.callRounds(ctx, route, req, c.attempts)
}

func (c *Client) callRounds(ctx context.Context, route string, req proto.Message, rounds int) ([]byte, error) {
	var body []byte
	if req != nil {
		var err error
		if body, err = proto.Marshal(req); err != nil {
			return nil, models.NewError(models.Error_InvalidRequest, "cannot encode request: %v", err)
		}
	}
	resp, err := c.open(ctx, c.http, route, body, "", rounds)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, models.NewError(models.Error_InvalidResponse, "%s: %v", route, err)
	}
	return out, nil
}

func (c *Client) do(ctx context.Context, route string, req proto.Message, resp withError) error {
	out, err := c.call(ctx, route, req)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(out, resp); err != nil {
		return models.NewError(models.Error_InvalidProtobufMessage, "%s: cannot decode response: %v", route, err)
	}
	if e := resp.GetError(); e != nil {
		return e
	}
	return nil
}
