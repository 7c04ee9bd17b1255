// Package server is the rep's HTTP API, upstream's routes and answers (rep.StateRoute and the
// others of rep/routes.go), in front of the cell rep and the executor. Two handlers, for two
// listeners:
//
//	server.New(cell *cellrep.CellRep, exec executor.Client, retirer Retirer, logger *slog.Logger) http.Handler
//		// GET /state, POST /work, stop, cancel, update, GET /container_metrics (mutual TLS)
//	server.NewLocal(evac Evacuator, logger *slog.Logger) http.Handler
//		// GET /ping and POST /evacuate (loopback only)
//
// Updating an instance (PUT /v2/lrps/...) gives its container the update's metric tags (the BBS
// resolved them for the instance), without a restart. Routes and the annotation live in the BBS
// alone, and the cell keeps no internal routes, so an update without metric tags only answers
// whether the container is on this cell.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep"
	"github.com/diego-go/diego/rep/cellrep"
	"github.com/diego-go/diego/rep/convert"
)

// maxWorkBytes bounds a POST /work or update body.
const maxWorkBytes = 16 << 20

// Retirer stops an instance's container as the BBS asks (processor.Processor: a routed instance
// is made unroutable first, and stopped after the drain).
type Retirer interface {
	Retire(ctx context.Context, guid string) error
}

// Evacuator starts the cell's evacuation (evacuation.Evacuator); calling it again does nothing.
type Evacuator interface{ Evacuate() }

type handler struct {
	cell    *cellrep.CellRep
	exec    executor.Client
	retirer Retirer
	logger  *slog.Logger
}

// New serves the rep's network-accessible routes.
func New(cell *cellrep.CellRep, exec executor.Client, retirer Retirer, logger *slog.Logger) http.Handler {
	h := &handler{cell: cell, exec: exec, retirer: retirer, logger: logger}
	mux := http.NewServeMux()
	mux.HandleFunc(rep.StateRoute, h.state)
	mux.HandleFunc(rep.PerformRoute, h.perform)
	mux.HandleFunc(rep.StopLRPInstanceRoute, h.stop)
	mux.HandleFunc(rep.CancelTaskRoute, h.cancel)
	mux.HandleFunc(rep.UpdateLRPInstanceRoute, h.update)
	mux.HandleFunc(rep.UpdateLRPInstanceRouteR0, h.update)
	mux.HandleFunc(rep.ContainerMetricsRoute, h.metrics)
	return mux
}

// NewLocal serves the routes of the rep's loopback listener.
func NewLocal(evac Evacuator, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(rep.PingRoute, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc(rep.EvacuateRoute, func(w http.ResponseWriter, r *http.Request) {
		logger.Info("evacuation requested", "remote", r.RemoteAddr)
		evac.Evacuate()
		body := []byte(`{"ping_path":"/ping"}`)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(body)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *handler) state(w http.ResponseWriter, r *http.Request) {
	s, healthy, err := h.cell.State(r.Context())
	if err != nil {
		h.logger.Error("GET /state", "error", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	status := http.StatusOK
	if !healthy {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, s)
}

func (h *handler) perform(w http.ResponseWriter, r *http.Request) {
	var work models.Work
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxWorkBytes)).Decode(&work); err != nil {
		http.Error(w, "invalid work JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	rejected, err := h.cell.Perform(r.Context(), work)
	if err != nil {
		h.logger.Error("POST /work", "error", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, rejected)
}

func (h *handler) stop(w http.ResponseWriter, r *http.Request) {
	guid := convert.LRPContainerGuid(r.PathValue("process_guid"), r.PathValue("instance_guid"))
	if err := h.retirer.Retire(r.Context(), guid); err != nil {
		h.logger.Error("stop instance", "process_guid", r.PathValue("process_guid"), "instance_guid", guid, "error", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// cancel answers at once and deletes the task's container in the background, as upstream's: the
// BBS has already cancelled the task, nothing waits for the container to go.
func (h *handler) cancel(w http.ResponseWriter, r *http.Request) {
	guid := r.PathValue("task_guid")
	w.WriteHeader(http.StatusAccepted)
	go func() {
		err := h.exec.DeleteContainer(context.Background(), guid)
		switch {
		case err == nil, errors.Is(err, executor.ErrContainerNotFound):
			h.logger.Info("cancelled task's container deleted", "task_guid", guid)
		default:
			h.logger.Error("deleting a cancelled task's container", "task_guid", guid, "error", err)
		}
	}()
}

func (h *handler) update(w http.ResponseWriter, r *http.Request) {
	var u models.LRPUpdate
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxWorkBytes)).Decode(&u); err != nil {
		http.Error(w, "invalid LRP update JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	guid := convert.LRPContainerGuid(r.PathValue("process_guid"), r.PathValue("instance_guid"))
	var err error
	if u.MetricTags == nil {
		// the BBS sends none when they did not change
		_, err = h.exec.GetContainer(r.Context(), guid)
	} else {
		err = h.exec.UpdateContainer(r.Context(), guid, u.MetricTags)
	}
	if err != nil {
		h.logger.Error("update instance", "instance_guid", guid, "error", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (h *handler) metrics(w http.ResponseWriter, r *http.Request) {
	m, err := h.cell.Metrics(r.Context())
	if err != nil {
		h.logger.Error("GET /container_metrics", "error", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, m)
}
