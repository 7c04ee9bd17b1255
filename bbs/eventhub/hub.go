// Package eventhub is the server side of the BBS event streams: a Hub that fans events out to
// subscribers without ever blocking the emitter, and the SSE handler behind
// POST /v1/events/lrp_instances.r1 and /v1/events/tasks.r1 (frames in bbs/events' format).
//
// The BBS keeps one Hub per stream (LRP events: desired and actual LRP events; task events) and
// mounts NewHandler(logger, hub, ...) on each route.
package eventhub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/diego-go/diego/models"
)

// DefaultBufferSize is the per-subscriber buffer NewHub uses when asked for
// a size below 1.
const DefaultBufferSize = 1024

var (
	// ErrHubClosed is returned by Subscribe after Close, and by Next to the
	// subscribers of a hub that was closed.
	ErrHubClosed = errors.New("events: hub closed")
	// ErrSubscriptionClosed is returned by Next after the subscriber closed
	// its own subscription.
	ErrSubscriptionClosed = errors.New("events: subscription closed")
)

// FellBehindError is what Next returns to a subscriber the hub cut off
// because its buffer was full: it had Unread events it had not taken, and
// last took one LastRead ago (or subscribed that long ago).
type FellBehindError struct {
	Subscriber string
	CellID     string
	Unread     int
	LastRead   time.Duration
}

func (e *FellBehindError) Error() string {
	return fmt.Sprintf("events: subscriber %s fell behind (%d unread events, last read %s ago) and was cut off",
		e.Subscriber, e.Unread, e.LastRead.Round(time.Millisecond))
}

// Hub fans events out to its subscribers, each filtered to a cell id or to
// none. Emit never blocks: each subscriber has a bounded buffer, and one
// whose buffer is full is cut off (its Next returns a *FellBehindError) and
// logged, while the others go on receiving. Every subscriber receives its
// events in the order Emit was called.
type Hub struct {
	logger     *slog.Logger
	bufferSize int

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	nextID uint64
	closed bool
}

// NewHub returns a hub whose subscribers each buffer up to bufferSize
// events (DefaultBufferSize when bufferSize < 1). A nil logger discards.
func NewHub(logger *slog.Logger, bufferSize int) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if bufferSize < 1 {
		bufferSize = DefaultBufferSize
	}
	return &Hub{logger: logger, bufferSize: bufferSize, subs: map[*Subscription]struct{}{}}
}

// Subscribe registers a subscriber receiving the events that concern cellID
// (all events when cellID is empty; see models.EventConcernsCell).
func (h *Hub) Subscribe(cellID string) (*Subscription, error) {
	return h.SubscribeNamed("", cellID)
}

// SubscribeNamed is Subscribe with a name for log lines (for example the
// remote address of an SSE client); an empty name becomes "subscriber-N".
func (h *Hub) SubscribeNamed(name, cellID string) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHubClosed
	}
	h.nextID++
	if name == "" {
		name = fmt.Sprintf("subscriber-%d", h.nextID)
	}
	s := &Subscription{
		hub:    h,
		name:   name,
		cellID: cellID,
		ch:     make(chan models.Event, h.bufferSize),
		dead:   make(chan struct{}),
	}
	s.lastRead.Store(time.Now().UnixNano())
	h.subs[s] = struct{}{}
	return s, nil
}

// Emit hands e to every subscriber it concerns. It never waits for a
// subscriber; one whose buffer is full is cut off.
func (h *Hub) Emit(e models.Event) {
	if e == nil {
		return
	}
	var cut []*FellBehindError
	h.mu.Lock()
	for s := range h.subs {
		if !models.EventConcernsCell(e, s.cellID) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			err := &FellBehindError{
				Subscriber: s.name,
				CellID:     s.cellID,
				Unread:     len(s.ch) + 1, // the buffered ones and the one that did not fit
				LastRead:   time.Since(time.Unix(0, s.lastRead.Load())),
			}
			h.endLocked(s, err)
			cut = append(cut, err)
		}
	}
	h.mu.Unlock()
	for _, err := range cut {
		h.logger.Warn("event subscriber fell behind; cutting it off",
			"subscriber", err.Subscriber, "cell_id", err.CellID,
			"unread_events", err.Unread, "buffer_size", h.bufferSize,
			"last_read_ago", err.LastRead.String(), "event", e.EventType())
	}
}

// SubscriberCount is how many subscribers are registered now.
func (h *Hub) SubscriberCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Close ends every subscription (their Next returns ErrHubClosed) and
// refuses new ones. Emit after Close does nothing.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.endLocked(s, ErrHubClosed)
	}
}

// endLocked unregisters s and makes its Next return err. h.mu is held.
func (h *Hub) endLocked(s *Subscription, err error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err = err
	close(s.dead)
}

// Subscription is one subscriber's view of a Hub. Next and Close may be
// called from different goroutines.
type Subscription struct {
	hub      *Hub
	name     string
	cellID   string
	ch       chan models.Event
	dead     chan struct{} // closed once the subscription ended; err says why
	err      error
	lastRead atomic.Int64
}

// Name is the subscriber's name in log lines.
func (s *Subscription) Name() string { return s.name }

// CellID is the cell the subscription is filtered to ("" for none).
func (s *Subscription) CellID() string { return s.cellID }

// Next returns the next event, waiting until one arrives, ctx is done
// (ctx.Err()), or the subscription ends: *FellBehindError when the hub cut it
// off, ErrHubClosed, or ErrSubscriptionClosed. Once ended, buffered events
// are dropped and every call returns the same error.
func (s *Subscription) Next(ctx context.Context) (models.Event, error) {
	select {
	case <-s.dead:
		return nil, s.err
	default:
	}
	select {
	case e := <-s.ch:
		s.lastRead.Store(time.Now().UnixNano())
		return e, nil
	case <-s.dead:
		return nil, s.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close ends the subscription; its Next returns ErrSubscriptionClosed. It is
// safe to call more than once and after the hub ended it.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.endLocked(s, ErrSubscriptionClosed)
}
