package bbs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs/events"
	"github.com/diego-go/diego/models"
)

// ErrReconnected is what EventStream.Next returns (wrapped in a *ReconnectedError) once after
// the stream broke and was opened again: events may have been missed meanwhile, so the caller
// reads the state afresh, then calls Next again.
var ErrReconnected = errors.New("bbs: event stream reconnected")

// ReconnectedError says why the stream broke and where it was opened again.
type ReconnectedError struct {
	Cause error
	URL   string
}

func (e *ReconnectedError) Error() string {
	return fmt.Sprintf("bbs: event stream reconnected to %s after: %v", e.URL, e.Cause)
}

func (e *ReconnectedError) Unwrap() error { return ErrReconnected }

// Stream reconnection backoff: the first pause and the longest.
const (
	reconnectWait    = 100 * time.Millisecond
	maxReconnectWait = 5 * time.Second
)

// EventStream is an event stream that reopens itself, through any of the client's URLs, when the
// connection breaks (a BBS that stops, a failover to another). Next is not safe for concurrent
// use; Close may be called from another goroutine to end it.
type EventStream struct {
	c     *Client
	ctx   context.Context
	route string
	body  []byte

	mu     sync.Mutex
	src    *events.EventSource
	closed bool
	done   chan struct{}
}

// SubscribeToLRPInstanceEvents opens the desired and actual LRP event stream, filtered to cellID
// when not empty. It lasts until ctx ends or Close.
func (c *Client) SubscribeToLRPInstanceEvents(ctx context.Context, cellID string) (*EventStream, error) {
	return c.subscribe(ctx, LRPInstanceEventsRoute, cellID)
}

// SubscribeToLRPGroupEvents opens the legacy stream (GET /v1/events.r1): desired LRP events and
// ActualLRPGroup events, filtered to cellID when not empty.
func (c *Client) SubscribeToLRPGroupEvents(ctx context.Context, cellID string) (*EventStream, error) {
	return c.subscribe(ctx, LRPGroupEventsRoute, cellID)
}

// SubscribeToTaskEvents opens the task event stream, filtered to cellID when not empty.
func (c *Client) SubscribeToTaskEvents(ctx context.Context, cellID string) (*EventStream, error) {
	return c.subscribe(ctx, TaskEventsRoute, cellID)
}

func (c *Client) subscribe(ctx context.Context, route, cellID string) (*EventStream, error) {
	body, err := proto.Marshal(&models.EventsByCellId{CellId: cellID})
	if err != nil {
		return nil, models.NewError(models.Error_InvalidRequest, "cannot encode request: %v", err)
	}
	s := &EventStream{c: c, ctx: ctx, route: route, body: body, done: make(chan struct{})}
	src, err := s.connect()
	if err != nil {
		return nil, err
	}
	s.src = src
	return s, nil
}

func (s *EventStream) connect() (*events.EventSource, error) {
	resp, err := s.c.open(s.ctx, s.c.stream, s.route, s.body, "text/event-stream", s.c.attempts)
	if err != nil {
		return nil, err
	}
	return events.NewEventSource(resp.Body), nil
}

// Next returns the next event. When the connection breaks it reconnects, waiting longer after
// each failed attempt (up to 5 s), and then returns an error wrapping ErrReconnected; it returns
// events.ErrEventSourceClosed after Close, the context's error once it ends, and a
// *events.FrameError for a frame it cannot decode.
func (s *EventStream) Next() (models.Event, error) {
	s.mu.Lock()
	src := s.src
	s.mu.Unlock()
	if src == nil {
		return nil, events.ErrEventSourceClosed
	}
	e, err := src.Next()
	if err == nil {
		return e, nil
	}
	var frameErr *events.FrameError
	if errors.As(err, &frameErr) || s.isClosed() {
		return nil, err
	}
	if s.ctx.Err() != nil {
		return nil, s.ctx.Err()
	}
	_ = src.Close()
	return s.reconnect(err)
}

func (s *EventStream) reconnect(cause error) (models.Event, error) {
	s.c.logger.Warn("bbs client: event stream broke; reconnecting", "route", s.route, "error", cause.Error())
	wait := reconnectWait
	for {
		select {
		case <-s.done:
			return nil, events.ErrEventSourceClosed
		case <-s.ctx.Done():
			return nil, s.ctx.Err()
		case <-time.After(wait):
		}
		src, err := s.connect()
		if err == nil {
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				_ = src.Close()
				return nil, events.ErrEventSourceClosed
			}
			s.src = src
			s.mu.Unlock()
			url := s.c.lastURL()
			s.c.logger.Info("bbs client: event stream reconnected", "route", s.route, "url", url)
			return nil, &ReconnectedError{Cause: cause, URL: url}
		}
		s.c.logger.Warn("bbs client: event stream cannot reconnect yet", "route", s.route, "retry_in", wait.String(), "error", err.Error())
		wait = min(2*wait, maxReconnectWait)
	}
}

func (s *EventStream) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close ends the stream; a blocked Next returns events.ErrEventSourceClosed.
func (s *EventStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.done)
	return s.src.Close()
}
