// Package reptest runs in-process test reps: httptest servers speaking the rep's auction endpoints
// (GET /state, POST /work) in front of an auction/simulation Cell, which holds the resources and
// decides what fits. A rep can be made slow (answers after a delay), hung (never answers until it
// is closed or woken), dead (refuses connections) or rejecting (refuses work it would take).
//
// It is for specs only: it serves rep.StateRoute and rep.PerformRoute, the routes the auctioneer
// calls, and RegisterPresence announces a rep in Consul as a real rep does.
package reptest

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/diego-go/diego/auction/simulation"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep"
)

// Rep is one test rep.
type Rep struct {
	server *httptest.Server

	mu     sync.Mutex
	cell   *simulation.Cell
	mutate func(*models.CellState)
	delay  time.Duration
	hang   chan struct{} // non-nil while hung; closed to wake
	reject bool
	dead   bool
	before func(models.Work)

	stateCalls int
	works      []models.Work
}

// Options of a test rep; zero fields are filled in.
type Options struct {
	// Zone of the cell (default "z1") and its index (auction tie-break order).
	Zone  string
	Index int
	// Total resources (default 1024 MB memory, 1024 MB disk, 10 containers).
	Total models.Resources
	// TLS, when set, serves https with this config (tlsconfig.Server for mutual TLS).
	TLS *tls.Config
	// State, when set, edits every state the rep reports (placement tags, volume drivers,
	// rootfs providers, ...).
	State func(*models.CellState)
}

// New starts a test rep for a cell named id. Close it when done.
func New(id string, opts Options) *Rep {
	if opts.Zone == "" {
		opts.Zone = "z1"
	}
	if opts.Total == (models.Resources{}) {
		opts.Total = models.Resources{MemoryMB: 1024, DiskMB: 1024, Containers: 10}
	}
	r := &Rep{cell: simulation.NewCell(id, opts.Index, opts.Zone, opts.Total), mutate: opts.State}
	mux := http.NewServeMux()
	mux.HandleFunc(rep.StateRoute, r.serveState)
	mux.HandleFunc(rep.PerformRoute, r.serveWork)
	r.server = httptest.NewUnstartedServer(mux)
	if opts.TLS != nil {
		r.server.TLS = opts.TLS
		r.server.StartTLS()
	} else {
		r.server.Start()
	}
	return r
}

// ID is the cell id.
func (r *Rep) ID() string { return r.cell.ID }

// URL is the rep's base URL (http:// or https://).
func (r *Rep) URL() string { return r.server.URL }

// Cell is the simulated cell behind the rep (read it only while the rep is idle).
func (r *Rep) Cell() *simulation.Cell { return r.cell }

// Close wakes a hung rep and stops the server.
func (r *Rep) Close() {
	r.SetHung(false)
	r.server.CloseClientConnections()
	r.server.Close()
}

// SetDelay makes every answer wait d first (a slow cell).
func (r *Rep) SetDelay(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delay = d
}

// SetHung makes requests block until SetHung(false) or Close (a cell that accepts connections and
// never answers).
func (r *Rep) SetHung(hung bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case hung && r.hang == nil:
		r.hang = make(chan struct{})
	case !hung && r.hang != nil:
		close(r.hang)
		r.hang = nil
	}
}

// SetDead makes the rep drop every connection without an answer (true) or serve again (false).
func (r *Rep) SetDead(dead bool) {
	r.mu.Lock()
	r.dead = dead
	r.mu.Unlock()
	if dead {
		r.server.CloseClientConnections()
	}
}

// SetRejecting makes the rep refuse every piece of work it is sent.
func (r *Rep) SetRejecting(reject bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reject = reject
}

// SetReject installs a finer rejection rule (see simulation.Cell.Reject); nil removes it.
func (r *Rep) SetReject(f func(lrp *models.RepLRP, task *models.RepTask) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cell.Reject = f
}

// SetBeforeWork installs a hook called with every POST /work body before the cell handles it
// (outside the rep's lock, so it may block to hold an auction in its submit phase); nil removes it.
func (r *Rep) SetBeforeWork(f func(models.Work)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.before = f
}

// StateCalls counts the GET /state requests answered.
func (r *Rep) StateCalls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stateCalls
}

// Works returns every POST /work body received, in order.
func (r *Rep) Works() []models.Work {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]models.Work(nil), r.works...)
}

// Placed returns the work the cell took.
func (r *Rep) Placed() models.Work {
	r.mu.Lock()
	defer r.mu.Unlock()
	return models.Work{
		LRPs:   append([]models.RepLRP(nil), r.cell.Placed.LRPs...),
		Tasks:  append([]models.RepTask(nil), r.cell.Placed.Tasks...),
		CellID: r.cell.ID,
	}
}

// State returns the state the rep reports now.
func (r *Rep) State() models.CellState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stateLocked()
}

func (r *Rep) stateLocked() models.CellState {
	s := r.cell.State()
	s.RepURL = r.server.URL
	if r.mutate != nil {
		r.mutate(&s)
	}
	return s
}

// stall applies the dead, hung and slow settings; false means drop the request.
func (r *Rep) stall(w http.ResponseWriter, req *http.Request) bool {
	r.mu.Lock()
	dead, hang, delay := r.dead, r.hang, r.delay
	r.mu.Unlock()
	if dead {
		hijackAndClose(w)
		return false
	}
	if hang != nil {
		select {
		case <-hang:
		case <-req.Context().Done():
			return false
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-req.Context().Done():
			return false
		}
	}
	return true
}

func hijackAndClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	http.Error(w, "dead", http.StatusServiceUnavailable)
}

func (r *Rep) serveState(w http.ResponseWriter, req *http.Request) {
	if !r.stall(w, req) {
		return
	}
	r.mu.Lock()
	r.stateCalls++
	s := r.stateLocked()
	r.mu.Unlock()
	writeJSON(w, s)
}

func (r *Rep) serveWork(w http.ResponseWriter, req *http.Request) {
	var work models.Work
	if err := json.NewDecoder(req.Body).Decode(&work); err != nil {
		http.Error(w, "invalid work JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !r.stall(w, req) {
		return
	}
	r.mu.Lock()
	before := r.before
	r.mu.Unlock()
	if before != nil {
		before(work)
	}
	r.mu.Lock()
	r.works = append(r.works, work)
	var rejected models.Work
	if r.reject {
		rejected = work
		rejected.CellID = r.cell.ID
	} else {
		rejected = r.cell.Perform(work)
	}
	r.mu.Unlock()
	writeJSON(w, rejected)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
