package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/diego-go/diego/auctioneer"
	"github.com/diego-go/diego/models"
)

// MaxRequestBytes bounds an API request body (32 MiB).
const MaxRequestBytes = 32 << 20

// NewHandler serves the auctioneer's API (auctioneer.LRPAuctionsRoute and
// auctioneer.TaskAuctionsRoute) on inbox. As upstream's auctioneer does, a body that is not a
// JSON array of start requests answers 400 with {"error": "..."}; otherwise every request that
// passes its Validate is queued for the next batch, every other one is logged with its index and
// what is wrong and dropped, and the answer is 202 Accepted with an empty JSON object. A body
// larger than MaxRequestBytes answers 413; a wrong method 405, any other path 404.
func NewHandler(logger *slog.Logger, inbox *Inbox) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+auctioneer.LRPAuctionsRoute, func(w http.ResponseWriter, r *http.Request) {
		reqs, ok := decodeValid[models.LRPStartRequest](w, r, logger.With("route", auctioneer.LRPAuctionsRoute))
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
	mux.HandleFunc("POST "+auctioneer.TaskAuctionsRoute, func(w http.ResponseWriter, r *http.Request) {
		reqs, ok := decodeValid[models.TaskStartRequest](w, r, logger.With("route", auctioneer.TaskAuctionsRoute))
		if !ok {
			return
		}
		inbox.AddTasks(reqs)
		logger.Debug("task-auctions-requested", "tasks", len(reqs))
		accepted(w)
	})
	return mux
}

// decodeValid decodes a body of start requests and keeps those that pass their Validate, logging
// the others; false means it has answered an error for the whole body.
func decodeValid[T any, PT interface {
	*T
	Validate() error
}](w http.ResponseWriter, r *http.Request, logger *slog.Logger) ([]T, bool) {
	var reqs []T
	if !decode(w, r, &reqs) {
		return nil, false
	}
	valid := reqs[:0]
	for i := range reqs {
		if err := PT(&reqs[i]).Validate(); err != nil {
			logger.Error("start-request-invalid-dropped", "request", i, "error", err.Error())
			continue
		}
		valid = append(valid, reqs[i])
	}
	return valid, true
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("body larger than %d bytes", MaxRequestBytes)})
			return false
		}
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "reading body: " + err.Error()})
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
	b, _ := json.Marshal(v) // maps of strings and empty structs always encode
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
