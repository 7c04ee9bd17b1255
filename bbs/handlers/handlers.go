// Package handlers is the BBS's HTTP API: every route is POST with a protobuf body and answers
// HTTP 200 with a response message whose field 1 is the Error (absent on success). An unknown
// route answers 404, a method other than POST 405, and a body over Config.MaxRequestBytes 413.
package handlers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/bbs/service"
	"github.com/diego-go/diego/models"
)

// MaxBodyBytes bounds a request body unless Config.MaxRequestBytes says otherwise (1 MiB).
const MaxBodyBytes = 1 << 20

// Config wires a Handler.
type Config struct {
	// DB answers the reads; Service carries out every change.
	DB      *db.DB
	Service *service.Service
	Logger  *slog.Logger
	// Streams serves the event streams by route (eventhub.Streams); a route without a handler
	// answers 404.
	Streams map[string]http.Handler
	// MaxRequestBytes bounds a request body (0: MaxBodyBytes).
	MaxRequestBytes int64
}

// Handler serves the API.
type Handler struct {
	Config
	mux    *http.ServeMux
	routes map[string]func(context.Context, []byte) proto.Message
}

// New builds the handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = MaxBodyBytes
	}
	h := &Handler{Config: cfg, mux: http.NewServeMux()}
	h.routes = map[string]func(context.Context, []byte) proto.Message{
		bbs.PingRoute:         h.ping,
		bbs.DomainsRoute:      h.domains,
		bbs.UpsertDomainRoute: h.upsertDomain,

		bbs.ActualLRPsRoute:                   h.actualLRPs,
		bbs.ActualLRPsByProcessGuidsRoute:     h.actualLRPsByProcessGuids,
		bbs.ActualLRPGroupsRoute:              h.actualLRPGroups,
		bbs.ActualLRPGroupsByProcessGuidRoute: h.actualLRPGroupsByProcessGuid,
		bbs.ActualLRPGroupRoute:               h.actualLRPGroup,
		bbs.StartActualLRPRouteR1:             h.startActualLRPR1,
		bbs.EvacuateRunningRouteR1:            h.evacuateRunningR1,
		bbs.ClaimActualLRPRoute:               h.claimActualLRP,
		bbs.StartActualLRPRoute:               h.startActualLRP,
		bbs.CrashActualLRPRoute:               h.crashActualLRP,
		bbs.FailActualLRPRoute:                h.failActualLRP,
		bbs.RemoveActualLRPRoute:              h.removeActualLRP,
		bbs.RetireActualLRPRoute:              h.retireActualLRP,
		bbs.EvacuateClaimedRoute:              h.evacuateClaimed,
		bbs.EvacuateCrashedRoute:              h.evacuateCrashed,
		bbs.EvacuateStoppedRoute:              h.evacuateStopped,
		bbs.EvacuateRunningRoute:              h.evacuateRunning,
		bbs.RemoveEvacuatingActualLRPRte:      h.removeEvacuating,

		bbs.DesiredLRPsRoute:               h.desiredLRPs,
		bbs.DesiredLRPByProcessGuidRoute:   h.desiredLRPByProcessGuid,
		bbs.DesiredLRPSchedulingInfosRoute: h.schedulingInfos,
		bbs.DesiredLRPSchedulingInfoRoute:  h.schedulingInfo,
		bbs.DesiredLRPsRouteR2:             h.desiredLRPsR2,
		bbs.DesiredLRPByProcessGuidRouteR2: h.desiredLRPByProcessGuidR2,
		bbs.DesiredLRPRoutingInfosRoute:    h.routingInfos,
		bbs.DesireDesiredLRPRoute:          h.desireLRP,
		bbs.UpdateDesiredLRPRoute:          h.updateDesiredLRP,
		bbs.RemoveDesiredLRPRoute:          h.removeDesiredLRP,

		bbs.TasksRoute:         h.tasks,
		bbs.TaskByGuidRoute:    h.taskByGuid,
		bbs.TasksRouteR2:       h.tasksR2,
		bbs.TaskByGuidRouteR2:  h.taskByGuidR2,
		bbs.DesireTaskRoute:    h.desireTask,
		bbs.StartTaskRoute:     h.startTask,
		bbs.CancelTaskRoute:    h.cancelTask,
		bbs.FailTaskRoute:      h.failTask,
		bbs.RejectTaskRoute:    h.rejectTask,
		bbs.CompleteTaskRoute:  h.completeTask,
		bbs.ResolvingTaskRoute: h.resolvingTask,
		bbs.DeleteTaskRoute:    h.deleteTask,

		bbs.CellsRoute:    h.cells,
		bbs.ConvergeRoute: h.converge,
	}
	for path, fn := range h.routes {
		h.mux.Handle(path, h.protoHandler(path, fn))
	}
	for route, stream := range cfg.Streams {
		h.mux.Handle(route, stream)
	}
	return h
}

// Routes lists the protobuf routes served.
func (h *Handler) Routes() []string {
	out := make([]string, 0, len(h.routes))
	for p := range h.routes {
		out = append(out, p)
	}
	return out
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// protoHandler serves one POST route: the body (at most MaxRequestBytes) goes to
// fn, and its response message is answered with HTTP 200.
func (h *Handler) protoHandler(path string, fn func(context.Context, []byte) proto.Message) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		tooLarge := func() {
			h.Logger.Warn("request body too large", "route", path, "limit", h.MaxRequestBytes)
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		}
		if r.ContentLength > h.MaxRequestBytes {
			tooLarge() // refused before a byte of it is read
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.MaxRequestBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				tooLarge()
				return
			}
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		ctx := service.WithRequestID(r.Context(), r.Header.Get(bbs.RequestIDHeader))
		out, err := proto.Marshal(fn(ctx, body))
		if err != nil {
			out, _ = proto.Marshal(&models.DesiredLRPLifecycleResponse{Error: models.NewError(models.Error_InvalidResponse, "%v", err)})
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
	})
}

// toError makes any error a *models.Error for field 1.
func toError(err error) *models.Error {
	if err == nil {
		return nil
	}
	var me *models.Error
	if errors.As(err, &me) {
		return me
	}
	return models.NewError(models.Error_UnknownError, "%v", err)
}

func (h *Handler) ping(context.Context, []byte) proto.Message {
	return &models.PingResponse{Available: true}
}

func (h *Handler) domains(ctx context.Context, _ []byte) proto.Message {
	resp := &models.DomainsResponse{}
	d, err := h.DB.Domains(ctx)
	resp.Domains, resp.Error = d, toError(err)
	return resp
}

func (h *Handler) upsertDomain(ctx context.Context, body []byte) proto.Message {
	req, resp := &models.UpsertDomainRequest{}, &models.UpsertDomainResponse{}
	if resp.Error = models.DecodeRequest(body, req); resp.Error != nil {
		return resp
	}
	resp.Error = toError(h.DB.UpsertDomain(ctx, req.GetDomain(), req.GetTtl()))
	return resp
}

func (h *Handler) cells(ctx context.Context, _ []byte) proto.Message {
	resp := &models.CellsResponse{}
	c, err := h.Service.Cells(ctx)
	resp.Cells, resp.Error = c, toError(err)
	return resp
}

func (h *Handler) converge(ctx context.Context, _ []byte) proto.Message {
	resp := &models.DesiredLRPLifecycleResponse{}
	resp.Error = toError(h.Service.Converge(ctx))
	return resp
}
