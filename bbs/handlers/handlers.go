// Package handlers is the BBS's HTTP API: every route is POST with a protobuf body and answers
// HTTP 200 with a response message whose field 1 is the Error (absent on success). An unknown
// route answers 404, a method other than POST 405, and a body over MaxBodyBytes 413.
package handlers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/models"
)

// MaxBodyBytes bounds a request body (1 MiB).
const MaxBodyBytes = 1 << 20

// Route paths.
const (
	PingRoute = "/v1/ping"

	DomainsRoute      = "/v1/domains/list"
	UpsertDomainRoute = "/v1/domains/upsert"

	ActualLRPsRoute              = "/v1/actual_lrps/list"
	ClaimActualLRPRoute          = "/v1/actual_lrps/claim"
	StartActualLRPRoute          = "/v1/actual_lrps/start"
	CrashActualLRPRoute          = "/v1/actual_lrps/crash"
	FailActualLRPRoute           = "/v1/actual_lrps/fail"
	RemoveActualLRPRoute         = "/v1/actual_lrps/remove"
	RetireActualLRPRoute         = "/v1/actual_lrps/retire"
	EvacuateClaimedRoute         = "/v1/actual_lrps/evacuate_claimed"
	EvacuateCrashedRoute         = "/v1/actual_lrps/evacuate_crashed"
	EvacuateStoppedRoute         = "/v1/actual_lrps/evacuate_stopped"
	EvacuateRunningRoute         = "/v1/actual_lrps/evacuate_running"
	RemoveEvacuatingActualLRPRte = "/v1/actual_lrps/remove_evacuating"

	DesiredLRPsRoute               = "/v1/desired_lrps/list.r3"
	DesiredLRPByProcessGuidRoute   = "/v1/desired_lrps/get_by_process_guid.r3"
	DesiredLRPSchedulingInfosRoute = "/v1/desired_lrp_scheduling_infos/list"
	DesiredLRPRoutingInfosRoute    = "/v1/desired_lrp_routing_infos/list"
	DesireDesiredLRPRoute          = "/v1/desired_lrp/desire.r2"
	UpdateDesiredLRPRoute          = "/v1/desired_lrp/update"
	RemoveDesiredLRPRoute          = "/v1/desired_lrp/remove"

	TasksRoute         = "/v1/tasks/list.r3"
	TaskByGuidRoute    = "/v1/tasks/get_by_task_guid.r3"
	DesireTaskRoute    = "/v1/tasks/desire.r2"
	StartTaskRoute     = "/v1/tasks/start"
	CancelTaskRoute    = "/v1/tasks/cancel"
	FailTaskRoute      = "/v1/tasks/fail"
	RejectTaskRoute    = "/v1/tasks/reject"
	CompleteTaskRoute  = "/v1/tasks/complete"
	ResolvingTaskRoute = "/v1/tasks/resolving"
	DeleteTaskRoute    = "/v1/tasks/delete"

	CellsRoute = "/v1/cells/list.r1"

	LRPInstanceEventsRoute = "/v1/events/lrp_instances.r1"
	TaskEventsRoute        = "/v1/events/tasks.r1"

	// ConvergeRoute runs one convergence pass (the converger calls it every interval). Request:
	// empty body; response: ConvergeResponse-compatible message with the Error in field 1.
	ConvergeRoute = "/v1/converge"
)

// Emitter receives every change (the events hub).
type Emitter interface {
	Emit(models.Event)
}

// Auctioneer places new instances and tasks.
type Auctioneer interface {
	RequestLRPAuctions(ctx context.Context, reqs []models.LRPStartRequest) error
	RequestTaskAuctions(ctx context.Context, reqs []models.TaskStartRequest) error
}

// CellClient tells a cell to stop an instance or cancel a task (the rep's API).
type CellClient interface {
	StopLRPInstance(ctx context.Context, cell *models.CellPresence, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey) error
	CancelTask(ctx context.Context, cell *models.CellPresence, taskGuid string) error
}

// Cells lists the cells present now.
type Cells func(ctx context.Context) ([]*models.CellPresence, error)

// Config wires a Handler.
type Config struct {
	DB         *db.DB
	Logger     *slog.Logger
	Auctioneer Auctioneer
	CellClient CellClient
	Cells      Cells
	LRPHub     Emitter
	TaskHub    Emitter
	// LRPEvents and TaskEvents serve the SSE streams (from bbs/events); nil answers 404.
	LRPEvents  http.Handler
	TaskEvents http.Handler
	// Converge runs one convergence pass; nil answers an UnknownError.
	Converge func(ctx context.Context) error
	// HTTPClient posts task completion callbacks.
	HTTPClient *http.Client
	// CallbackRetryWait is the pause between callback attempts (default 1 s).
	CallbackRetryWait time.Duration
}

// Handler serves the API.
type Handler struct {
	Config
	mux      *http.ServeMux
	routes   map[string]func(context.Context, []byte) proto.Message
	bg       sync.WaitGroup
	bgCtx    context.Context
	bgCancel context.CancelFunc
}

type nopEmitter struct{}

func (nopEmitter) Emit(models.Event) {}

type nopAuctioneer struct{}

func (nopAuctioneer) RequestLRPAuctions(context.Context, []models.LRPStartRequest) error { return nil }
func (nopAuctioneer) RequestTaskAuctions(context.Context, []models.TaskStartRequest) error {
	return nil
}

// New builds the handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.LRPHub == nil {
		cfg.LRPHub = nopEmitter{}
	}
	if cfg.TaskHub == nil {
		cfg.TaskHub = nopEmitter{}
	}
	if cfg.Auctioneer == nil {
		cfg.Auctioneer = nopAuctioneer{}
	}
	if cfg.Cells == nil {
		cfg.Cells = func(context.Context) ([]*models.CellPresence, error) { return nil, nil }
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.CallbackRetryWait == 0 {
		cfg.CallbackRetryWait = time.Second
	}
	h := &Handler{Config: cfg, mux: http.NewServeMux()}
	h.bgCtx, h.bgCancel = context.WithCancel(context.Background())
	h.routes = map[string]func(context.Context, []byte) proto.Message{
		PingRoute:         h.ping,
		DomainsRoute:      h.domains,
		UpsertDomainRoute: h.upsertDomain,

		ActualLRPsRoute:              h.actualLRPs,
		ClaimActualLRPRoute:          h.claimActualLRP,
		StartActualLRPRoute:          h.startActualLRP,
		CrashActualLRPRoute:          h.crashActualLRP,
		FailActualLRPRoute:           h.failActualLRP,
		RemoveActualLRPRoute:         h.removeActualLRP,
		RetireActualLRPRoute:         h.retireActualLRP,
		EvacuateClaimedRoute:         h.evacuateClaimed,
		EvacuateCrashedRoute:         h.evacuateCrashed,
		EvacuateStoppedRoute:         h.evacuateStopped,
		EvacuateRunningRoute:         h.evacuateRunning,
		RemoveEvacuatingActualLRPRte: h.removeEvacuating,

		DesiredLRPsRoute:               h.desiredLRPs,
		DesiredLRPByProcessGuidRoute:   h.desiredLRPByProcessGuid,
		DesiredLRPSchedulingInfosRoute: h.schedulingInfos,
		DesiredLRPRoutingInfosRoute:    h.routingInfos,
		DesireDesiredLRPRoute:          h.desireLRP,
		UpdateDesiredLRPRoute:          h.updateDesiredLRP,
		RemoveDesiredLRPRoute:          h.removeDesiredLRP,

		TasksRoute:         h.tasks,
		TaskByGuidRoute:    h.taskByGuid,
		DesireTaskRoute:    h.desireTask,
		StartTaskRoute:     h.startTask,
		CancelTaskRoute:    h.cancelTask,
		FailTaskRoute:      h.failTask,
		RejectTaskRoute:    h.rejectTask,
		CompleteTaskRoute:  h.completeTask,
		ResolvingTaskRoute: h.resolvingTask,
		DeleteTaskRoute:    h.deleteTask,

		CellsRoute:    h.cells,
		ConvergeRoute: h.converge,
	}
	for path, fn := range h.routes {
		h.mux.Handle(path, h.protoHandler(path, fn))
	}
	if cfg.LRPEvents != nil {
		h.mux.Handle(LRPInstanceEventsRoute, cfg.LRPEvents)
	}
	if cfg.TaskEvents != nil {
		h.mux.Handle(TaskEventsRoute, cfg.TaskEvents)
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

// Close waits for background work (auction requests, callbacks) after cancelling it.
func (h *Handler) Close() {
	h.bgCancel()
	h.bg.Wait()
}

// Wait waits for background work to finish (tests).
func (h *Handler) Wait() { h.bg.Wait() }

// protoHandler serves one POST route: the body (at most MaxBodyBytes) goes to
// fn, and its response message is answered with HTTP 200.
func (h *Handler) protoHandler(path string, fn func(context.Context, []byte) proto.Message) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				h.Logger.Warn("request body too large", "route", path, "limit", MaxBodyBytes)
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		out, err := proto.Marshal(fn(r.Context(), body))
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

// background runs fn after the request, bounded by the handler's lifetime.
func (h *Handler) background(fn func(ctx context.Context)) {
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		ctx, cancel := context.WithTimeout(h.bgCtx, time.Minute)
		defer cancel()
		fn(ctx)
	}()
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
	c, err := h.Cells(ctx)
	resp.Cells, resp.Error = c, toError(err)
	return resp
}

func (h *Handler) cellByID(ctx context.Context, id string) *models.CellPresence {
	cells, err := h.Cells(ctx)
	if err != nil {
		h.Logger.Error("cannot list cells", "error", err)
		return nil
	}
	for _, c := range cells {
		if c.GetCellId() == id {
			return c
		}
	}
	return nil
}

func (h *Handler) converge(ctx context.Context, _ []byte) proto.Message {
	resp := &models.DesiredLRPLifecycleResponse{}
	if h.Converge == nil {
		resp.Error = models.NewError(models.Error_UnknownError, "convergence is not configured")
		return resp
	}
	resp.Error = toError(h.Converge(ctx))
	return resp
}
