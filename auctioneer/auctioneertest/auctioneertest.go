// Package auctioneertest runs an in-process test auctioneer for the specs of its clients (the
// BBS): an httptest server on the auctioneer's two routes that keeps the start requests it
// accepts instead of placing them, and can be told to answer another status to the next requests.
package auctioneertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/diego-go/diego/auctioneer"
	"github.com/diego-go/diego/models"
)

// Auctioneer is one test auctioneer.
type Auctioneer struct {
	server *httptest.Server

	mu       sync.Mutex
	lrps     []models.LRPStartRequest
	tasks    []models.TaskStartRequest
	failWith int
	failures int
	refused  int
}

// New starts a test auctioneer; Close stops it.
func New() *Auctioneer {
	a := &Auctioneer{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+auctioneer.LRPAuctionsRoute, func(w http.ResponseWriter, r *http.Request) {
		var reqs []models.LRPStartRequest
		if a.refuse(w, r, &reqs) {
			return
		}
		a.mu.Lock()
		a.lrps = append(a.lrps, reqs...)
		a.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST "+auctioneer.TaskAuctionsRoute, func(w http.ResponseWriter, r *http.Request) {
		var reqs []models.TaskStartRequest
		if a.refuse(w, r, &reqs) {
			return
		}
		a.mu.Lock()
		a.tasks = append(a.tasks, reqs...)
		a.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	a.server = httptest.NewServer(mux)
	return a
}

// refuse decodes a request's body into reqs, or answers 400 when it does not decode, or the
// status FailNext set while it lasts; it reports whether it answered.
func (a *Auctioneer) refuse(w http.ResponseWriter, r *http.Request, reqs any) bool {
	if err := json.NewDecoder(r.Body).Decode(reqs); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failWith == 0 || a.refused >= a.failures {
		return false
	}
	a.refused++
	w.WriteHeader(a.failWith)
	return true
}

// URL is the auctioneer's address.
func (a *Auctioneer) URL() string { return a.server.URL }

// Client is an auctioneer client of this auctioneer.
func (a *Auctioneer) Client() *auctioneer.Client { return auctioneer.NewClient(a.server.URL, nil) }

// Close stops the server.
func (a *Auctioneer) Close() { a.server.Close() }

// FailNext makes the next n requests answer status, keeping nothing.
func (a *Auctioneer) FailNext(n, status int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failWith, a.failures, a.refused = status, n, 0
}

// Refused is how many requests were answered FailNext's status since it was set.
func (a *Auctioneer) Refused() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.refused
}

// LRPs are the LRP start requests accepted so far.
func (a *Auctioneer) LRPs() []models.LRPStartRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]models.LRPStartRequest(nil), a.lrps...)
}

// Tasks are the task start requests accepted so far.
func (a *Auctioneer) Tasks() []models.TaskStartRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]models.TaskStartRequest(nil), a.tasks...)
}
