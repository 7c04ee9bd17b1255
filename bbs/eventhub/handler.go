package eventhub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/bbs/events"
	"github.com/diego-go/diego/models"
)

// Wire defaults.
const (
	// DefaultHeartbeat is how long a stream may stay silent before the
	// handler writes an SSE comment, so proxies and clients see it alive.
	DefaultHeartbeat = 10 * time.Second
	// DefaultWriteTimeout bounds each write to a client: one that does not
	// drain its connection for this long is disconnected.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultMaxRequestBytes bounds the request body (an EventsByCellId) unless the options say
	// otherwise: the BBS's max_request_bytes default.
	DefaultMaxRequestBytes = 1 << 20
)

// HandlerOptions tune NewHandler; zero values take the defaults.
type HandlerOptions struct {
	Heartbeat    time.Duration
	WriteTimeout time.Duration
	// MaxRequestBytes bounds the request body (the BBS's max_request_bytes); a larger one
	// answers 413.
	MaxRequestBytes int64
	// Revise, when set, gives each event as this stream sends it (an older revision of a
	// stream answers older shapes of the records, e.g. models.FirstRevisionLRPEvent).
	Revise func(models.Event) models.Event
}

// Streams is the handler of every event stream route, each on its hub: the LRP instance stream
// and its first revision on lrps, the legacy group stream and its first revision on groups, the
// task stream and its first revision on tasks (the first revisions answer their records'
// first shapes). Every handler takes opts (its Revise aside).
func Streams(logger *slog.Logger, opts HandlerOptions, lrps, groups, tasks *Hub) map[string]http.Handler {
	revised := func(revise func(models.Event) models.Event) HandlerOptions {
		o := opts
		o.Revise = revise
		return o
	}
	return map[string]http.Handler{
		bbs.LRPInstanceEventsRoute:   NewHandler(logger, lrps, revised(nil)),
		bbs.LRPInstanceEventsRouteR0: NewHandler(logger, lrps, revised(models.FirstRevisionLRPEvent)),
		bbs.LRPGroupEventsRoute:      NewHandler(logger, groups, revised(nil)),
		bbs.LRPGroupEventsRouteR0:    NewHandler(logger, groups, revised(models.FirstRevisionLRPEvent)),
		bbs.TaskEventsRoute:          NewHandler(logger, tasks, revised(nil)),
		bbs.TaskEventsRouteR0:        NewHandler(logger, tasks, revised(models.FirstRevisionTaskEvent)),
	}
}

// NewHandler serves one event stream from hub as Server-Sent Events: the
// handler for POST /v1/events/lrp_instances.r1 (mounted on the LRP hub) and
// POST /v1/events/tasks.r1 (on the task hub). The optional request body is
// a protobuf EventsByCellId; with a cell id, only events concerning that
// cell are sent. Each event is one frame, flushed at once:
//
//	id: N
//	event: <models event type>
//	data: <base64 of the protobuf event>
//
// with N counting from 0 on each connection, and an SSE comment
// (": heartbeat") after every quiet Heartbeat. The stream ends when the
// client goes, the hub closes, or the subscriber falls behind and is cut off
// (the client reconnects and resyncs).
func NewHandler(logger *slog.Logger, hub *Hub, opts HandlerOptions) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = DefaultMaxRequestBytes
	}
	return &handler{logger: logger, hub: hub, opts: opts}
}

type handler struct {
	logger *slog.Logger
	hub    *Hub
	opts   HandlerOptions
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "POST, GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	request := &models.EventsByCellId{}
	if r.Body != nil {
		tooLarge := func() {
			http.Error(w, fmt.Sprintf("request body over %d bytes", h.opts.MaxRequestBytes), http.StatusRequestEntityTooLarge)
		}
		if r.ContentLength > h.opts.MaxRequestBytes {
			tooLarge() // refused before a byte of it is read
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxRequestBytes))
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			tooLarge()
			return
		}
		if err != nil {
			http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := proto.Unmarshal(body, request); err != nil {
			http.Error(w, "request body is not a protobuf EventsByCellId: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	cellID := request.GetCellId()
	logger := h.logger.With("remote", r.RemoteAddr, "path", r.URL.Path, "cell_id", cellID)

	sub, err := h.hub.SubscribeNamed(r.RemoteAddr+" "+r.URL.Path, cellID)
	if err != nil {
		logger.Error("event subscription refused", "error", err.Error())
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer sub.Close()
	logger.Info("event stream opened")

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.Header().Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	write := func(frame []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout)) // not every writer supports deadlines
		if _, err := w.Write(frame); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := rc.Flush(); err != nil {
		logger.Error("event stream cannot flush", "error", err.Error())
		return
	}

	ctx := r.Context()
	heartbeat := []byte(": heartbeat\n\n")
	var id uint64
	for {
		waitCtx, cancel := context.WithTimeout(ctx, h.opts.Heartbeat)
		e, err := sub.Next(waitCtx)
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			if err := write(heartbeat); err != nil {
				logger.Info("event stream closed: heartbeat write failed", "error", err.Error())
				return
			}
			continue
		case ctx.Err() != nil:
			logger.Info("event stream closed by client", "events_sent", id)
			return
		default:
			logger.Info("event stream ended", "reason", err.Error(), "events_sent", id)
			return
		}
		if h.opts.Revise != nil {
			e = h.opts.Revise(e)
		}
		frame, err := events.EncodeFrame(id, e)
		if err != nil {
			logger.Error("event cannot be encoded; skipped", "event", e.EventType(), "key", e.Key(), "error", err.Error())
			continue
		}
		if err := write(frame); err != nil {
			logger.Info("event stream closed: write failed", "error", err.Error(), "events_sent", id)
			return
		}
		id++
	}
}
