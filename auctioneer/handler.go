package auctioneer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/diego-go/diego/models"
)

// API routes (upstream's).
const (
	LRPAuctionsRoute  = "/v1/lrps"
	TaskAuctionsRoute = "/v1/tasks"
)

// MaxRequestBytes bounds an API request body (32 MiB).
const MaxRequestBytes = 32 << 20

// NewHandler serves the auctioneer's API on inbox:
//
//   - POST /v1/lrps: a JSON array of models.LRPStartRequest;
//   - POST /v1/tasks: a JSON array of models.TaskStartRequest.
//
// Both answer 202 Accepted (empty JSON object) once the requests are queued for the next batch, and
// 400 with {"error": "request N: FIELD: RULE; ..."} for a body that is not such an array or a
// request that breaks a rule of its Validate (guids, domain, indices, rootfs, resources not
// negative); then none of the body is queued. A wrong method answers 405, any other path 404.
func NewHandler(logger *slog.Logger, inbox *Inbox) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+LRPAuctionsRoute, func(w http.ResponseWriter, r *http.Request) {
		reqs, ok := decodeValid[models.LRPStartRequest](w, r)
		if !ok {
			return
		}
		inbox.AddLRPs(reqs)
		n := 0
		for _, q := range reqs {
			n += len(q.Indices)
		}
		logger.Debug("lrp-auctions-requested", "requests", len(reqs), "instances", n)
		accepted(w)
	})
	mux.HandleFunc("POST "+TaskAuctionsRoute, func(w http.ResponseWriter, r *http.Request) {
		reqs, ok := decodeValid[models.TaskStartRequest](w, r)
		if !ok {
			return
		}
		inbox.AddTasks(reqs)
		logger.Debug("task-auctions-requested", "tasks", len(reqs))
		accepted(w)
	})
	return mux
}

// decodeValid decodes a body of start requests and checks each with its Validate; on any problem
// it has answered 400 (413 for a body too large) and returns false.
func decodeValid[T any, PT interface {
	*T
	Validate() error
}](w http.ResponseWriter, r *http.Request) ([]T, bool) {
	var reqs []T
	if !decode(w, r, &reqs) {
		return nil, false
	}
	for i := range reqs {
		if err := PT(&reqs[i]).Validate(); err != nil {
			badRequest(w, fmt.Errorf("request %d: %w", i, err))
			return nil, false
		}
	}
	return reqs, true
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("body larger than %d bytes", MaxRequestBytes)})
			return false
		}
		badRequest(w, fmt.Errorf("reading body: %w", err))
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		badRequest(w, fmt.Errorf("invalid JSON: want an array of start requests: %w", err))
		return false
	}
	return true
}

func badRequest(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
}

func accepted(w http.ResponseWriter) { writeJSON(w, http.StatusAccepted, struct{}{}) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
