// Package dashboard is the live view of a Diego deployment: one web page showing the cells by
// zone with their capacity, every instance on its cell coloured by state, the desired LRPs and
// the tasks.
//
// While at least one page is open, the server follows the BBS's LRP instance and task event
// streams and pushes the whole view to every page as Server-Sent Events, at most once per
// 200 ms. Cell presences are not in the streams: they are read every 2 s. Everything is read
// afresh every 30 s and whenever a stream was opened again, since events may have been missed
// meanwhile. When the last page closes, the streams are closed.
package dashboard

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/bbs/events"
	"github.com/diego-go/diego/models"
)

// timings are the follower's and the event stream's intervals.
type timings struct {
	push, cells, resync time.Duration
	// resubscribe is the pause before subscribing again to a stream that could not be opened
	resubscribe time.Duration
	// keepAlive is how often an idle event stream gets a comment line
	keepAlive time.Duration
	// read bounds one full read of the BBS (the follower's and GET /api/state's) and one reading
	// of the cells: while the BBS does not answer, the page keeps the last view and says why, and
	// GET /api/state fails, rather than wait for the BBS client's own two minutes.
	read time.Duration
}

var defaultTimings = timings{
	push:        200 * time.Millisecond,
	cells:       2 * time.Second,
	resync:      30 * time.Second,
	resubscribe: time.Second,
	keepAlive:   15 * time.Second,
	read:        10 * time.Second,
}

//go:embed static
var static embed.FS

// Option tunes the dashboard.
type Option func(*server)

// CellStateFunc asks the rep of a cell for its state (GET /state).
type CellStateFunc func(ctx context.Context, p *models.CellPresence) (models.CellState, error)

// WithCellStates makes the live view ask every cell's rep for its state, each time it reads the
// cells, with state: the page then shows which cells evacuate and what each rep says it has
// left, or why its rep did not answer.
func WithCellStates(state CellStateFunc) Option { return func(s *server) { s.cellState = state } }

// New is the dashboard's HTTP handler: the page at /, its view as JSON at GET /api/state (read
// from the BBS on each request) and the live view at GET /api/events (text/event-stream, one
// "state" event holding the view's JSON at each change).
func New(client *bbs.Client, logger *slog.Logger, opts ...Option) http.Handler {
	return newHandler(client, logger, defaultTimings, opts...)
}

func newHandler(client *bbs.Client, logger *slog.Logger, t timings, opts ...Option) http.Handler {
	s := &server{client: client, logger: logger, timings: t, pages: map[chan []byte]struct{}{}}
	for _, o := range opts {
		o(s)
	}
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded folder is part of the binary
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/state", s.serveState)
	mux.HandleFunc("GET /api/events", s.serveEvents)
	mux.Handle("GET /", http.FileServerFS(files))
	return mux
}

type server struct {
	client    *bbs.Client
	logger    *slog.Logger
	timings   timings
	cellState CellStateFunc

	mu sync.Mutex
	// pages holds one channel per open event stream; each holds at most the latest view, so a
	// slow page skips views rather than holding the others up
	pages map[chan []byte]struct{}
	// latest is the last view published by the running follower (nil before its first)
	latest []byte
	// stop ends the follower; nil while none runs
	stop context.CancelFunc
	// following is the running follower's context: what it publishes after it ended is dropped
	following context.Context
}

func (s *server) serveState(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.timings.read)
	defer cancel()
	st, err := load(ctx, s.client)
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	if s.cellState != nil {
		st.reps = s.repStates(ctx, st.cells)
	}
	_ = json.NewEncoder(w).Encode(st.view())
}

func (s *server) serveEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported by this connection", http.StatusInternalServerError)
		return
	}
	page := s.join()
	defer s.leave(page)

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	tick := time.NewTicker(s.timings.keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			// a comment line: proxies and the browser see the connection alive
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case view := <-page:
			if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", view); err != nil {
				return
			}
		}
		flusher.Flush()
	}
}

// join registers a page, starting the follower for the first one.
func (s *server) join() chan []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	page := make(chan []byte, 1)
	s.pages[page] = struct{}{}
	if s.latest != nil {
		page <- s.latest
	}
	if s.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		s.stop, s.following = cancel, ctx
		go s.follow(ctx)
	}
	return page
}

// leave forgets a page, stopping the follower after the last one.
func (s *server) leave(page chan []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pages, page)
	if len(s.pages) == 0 && s.stop != nil {
		s.stop()
		s.stop, s.following, s.latest = nil, nil, nil
	}
}

// publish hands the view to every page, replacing the one it has not taken yet, unless it is the
// view they have.
func (s *server) publish(ctx context.Context, v View) {
	data, err := json.Marshal(v)
	if err != nil {
		s.logger.Error("dashboard: cannot encode the view", "error", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx != s.following || bytes.Equal(data, s.latest) {
		return
	}
	s.latest = data
	for page := range s.pages {
		select {
		case <-page:
		default:
		}
		page <- data
	}
}

// follow keeps the view up to date until ctx ends.
func (s *server) follow(ctx context.Context) {
	evs := make(chan models.Event, 256)
	resync := make(chan struct{}, 1)
	go s.read(ctx, s.client.SubscribeToLRPInstanceEvents, evs, resync)
	go s.read(ctx, s.client.SubscribeToTaskEvents, evs, resync)
	cellReads := make(chan cellRead)
	go s.readCells(ctx, cellReads)

	st := &state{}
	reload := func() {
		readCtx, cancel := context.WithTimeout(ctx, s.timings.read)
		defer cancel()
		fresh, err := load(readCtx, s.client)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("dashboard: cannot read the BBS", "error", err.Error())
			}
			st.err = err.Error()
			return
		}
		fresh.reps = st.reps
		st = fresh
	}
	reload()
	s.publish(ctx, st.view())

	resyncs := time.NewTicker(s.timings.resync)
	defer resyncs.Stop()
	// push fires the push interval after the first change not yet published; nil while there is none
	var push <-chan time.Time
	changed := func() {
		if push == nil {
			push = time.After(s.timings.push)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-evs:
			st.apply(e)
			changed()
		case <-resync:
			reload()
			changed()
		case <-resyncs.C:
			reload()
			changed()
		case r := <-cellReads:
			if r.err != nil {
				st.err = fmt.Sprintf("cannot read the cells: %v", r.err)
			} else {
				st.cells, st.reps, st.err = r.cells, r.reps, ""
			}
			changed()
		case <-push:
			push = nil
			s.publish(ctx, st.view())
		}
	}
}

// cellRead is one reading of the cells' presences and, with WithCellStates, of their reps.
type cellRead struct {
	cells []*models.CellPresence
	reps  map[string]RepState
	err   error
}

// readCells reads the cells every cell interval until ctx ends: cell presences are not in the
// event streams. A rep that is slow to answer holds up only this reading, not the events.
func (s *server) readCells(ctx context.Context, out chan<- cellRead) {
	tick := time.NewTicker(s.timings.cells)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		readCtx, cancel := context.WithTimeout(ctx, s.timings.read)
		var r cellRead
		r.cells, r.err = s.client.Cells(readCtx)
		if r.err == nil && s.cellState != nil {
			r.reps = s.repStates(readCtx, r.cells)
		}
		cancel()
		select {
		case out <- r:
		case <-ctx.Done():
			return
		}
	}
}

// repStates asks every cell's rep for its state, all at once.
func (s *server) repStates(ctx context.Context, cells []*models.CellPresence) map[string]RepState {
	var mu sync.Mutex
	var wg sync.WaitGroup
	reps := map[string]RepState{}
	for _, p := range cells {
		wg.Go(func() {
			state, err := s.cellState(ctx, p)
			r := repStateOf(state)
			if err != nil {
				r = RepState{Error: err.Error()}
			}
			mu.Lock()
			defer mu.Unlock()
			reps[p.GetCellId()] = r
		})
	}
	wg.Wait()
	return reps
}

// read sends the events of one stream until ctx ends, opening it again whenever it fails, and
// asks for a resync each time it was (re)opened: events may have been missed.
func (s *server) read(ctx context.Context, subscribe func(context.Context, string) (*bbs.EventStream, error), evs chan<- models.Event, resync chan<- struct{}) {
	askResync := func() {
		select {
		case resync <- struct{}{}:
		default:
		}
	}
	for ctx.Err() == nil {
		stream, err := subscribe(ctx, "")
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("dashboard: cannot subscribe to the BBS events", "error", err.Error())
			}
			select {
			case <-ctx.Done():
			case <-time.After(s.timings.resubscribe):
			}
			continue
		}
		askResync()
		s.forward(ctx, stream, evs, askResync)
		_ = stream.Close()
	}
}

// forward sends the stream's events until it fails for good or ctx ends.
func (s *server) forward(ctx context.Context, stream *bbs.EventStream, evs chan<- models.Event, askResync func()) {
	for {
		e, err := stream.Next()
		var frameErr *events.FrameError
		switch {
		case errors.Is(err, bbs.ErrReconnected), errors.As(err, &frameErr):
			askResync()
			continue
		case err != nil:
			if ctx.Err() == nil {
				s.logger.Warn("dashboard: event stream failed", "error", err.Error())
			}
			return
		}
		select {
		case evs <- e:
		case <-ctx.Done():
			return
		}
	}
}
