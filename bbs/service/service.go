// Package service is the BBS's domain layer: every action the API offers (desire, claim, retire,
// resolve, converge, ...) as a method that changes the store and then emits the events, requests
// the auctions and tells the cells what the change implies. The HTTP handlers (bbs/handlers) only
// decode a request, call one method and encode its answer; the convergence loop (Converger) calls
// the same methods, so both paths act alike.
package service

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/diego-go/diego/bbs/convergence"
	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/models"
)

// Emitter receives every change (an events hub).
type Emitter interface {
	Emit(models.Event)
}

// Auctioneer places new instances and tasks.
type Auctioneer interface {
	RequestLRPAuctions(ctx context.Context, reqs []models.LRPStartRequest) error
	RequestTaskAuctions(ctx context.Context, reqs []models.TaskStartRequest) error
}

// CellClient tells a cell's rep, at the base URL of its presence (models.CellRepURL), to stop an
// instance or cancel a task; rep.Client is the one implementation.
type CellClient interface {
	StopLRPInstance(ctx context.Context, repURL string, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey) error
	CancelTask(ctx context.Context, repURL, taskGuid string) error
}

// Cells lists the cells present now.
type Cells func(ctx context.Context) ([]*models.CellPresence, error)

// Config wires a Service; only DB is required.
type Config struct {
	DB         *db.DB
	Logger     *slog.Logger
	Auctioneer Auctioneer
	CellClient CellClient
	Cells      Cells
	LRPHub     Emitter
	// LRPGroupHub receives the legacy stream's events (GET /v1/events.r1): desired LRP events,
	// crashes, and the ActualLRPGroup events of every instance change.
	LRPGroupHub Emitter
	TaskHub     Emitter
	// HTTPClient posts task completion callbacks.
	HTTPClient *http.Client
	// CallbackRetryWait is the pause between callback attempts (default 1 s).
	CallbackRetryWait time.Duration
	// Convergence holds the thresholds of a convergence pass (zero value: upstream's defaults,
	// convergence.DefaultConfig). Its RestartPolicy is ignored: crashes and convergence both
	// follow the store's (db.WithRestartPolicy).
	Convergence convergence.Config
	// ObserveConvergence, when set, is told after each convergence pass how long it took and
	// what its snapshot counted (zero when the pass failed: err).
	ObserveConvergence func(took time.Duration, stats convergence.Stats, err error)
	// AuctionRetryWait is the pause before the second attempt of an auction request that failed;
	// it doubles for each further attempt, AuctionAttempts in all (default 500 ms).
	AuctionRetryWait time.Duration
	// MaxInstances bounds a desired LRP's instance count (0: DefaultMaxInstances).
	MaxInstances int32
}

// AuctionAttempts bounds the attempts of one auction request (500 ms, 1 s, 2 s, 4 s apart by
// default): an auctioneer that is away longer misses it, and convergence auctions the instances
// again once they have been UNCLAIMED for its threshold.
const AuctionAttempts = 5

// DefaultMaxInstances bounds a desired LRP's instances unless configured: a whole deployment of
// Diego's target size is 250,000 instances.
const DefaultMaxInstances = 100_000

// Service carries out the BBS's domain actions.
type Service struct {
	Config
	bg       sync.WaitGroup
	bgCtx    context.Context
	bgCancel context.CancelFunc
	// converging holds one token while a convergence pass runs: passes never overlap
	converging chan struct{}
}

type nopEmitter struct{}

func (nopEmitter) Emit(models.Event) {}

type nopAuctioneer struct{}

func (nopAuctioneer) RequestLRPAuctions(context.Context, []models.LRPStartRequest) error { return nil }
func (nopAuctioneer) RequestTaskAuctions(context.Context, []models.TaskStartRequest) error {
	return nil
}

// New builds the service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.LRPHub == nil {
		cfg.LRPHub = nopEmitter{}
	}
	if cfg.LRPGroupHub == nil {
		cfg.LRPGroupHub = nopEmitter{}
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
	if cfg.AuctionRetryWait == 0 {
		cfg.AuctionRetryWait = 500 * time.Millisecond
	}
	if cfg.CallbackRetryWait == 0 {
		cfg.CallbackRetryWait = time.Second
	}
	if cfg.MaxInstances == 0 {
		cfg.MaxInstances = DefaultMaxInstances
	}
	if cfg.Convergence == (convergence.Config{}) {
		cfg.Convergence = convergence.DefaultConfig()
	}
	s := &Service{Config: cfg, converging: make(chan struct{}, 1)}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	return s
}

// checkInstances refuses an instance count over MaxInstances, before the store allocates a
// record for each instance.
func (s *Service) checkInstances(n int32) error {
	if n > s.MaxInstances {
		return models.NewError(models.Error_InvalidRequest, "instances %d is over the limit of %d (max_instances)", n, s.MaxInstances)
	}
	return nil
}

// Close cancels the background work (auction requests, retirements, callbacks) and waits for it.
func (s *Service) Close() {
	s.bgCancel()
	s.bg.Wait()
}

// Wait waits for the background work to finish.
func (s *Service) Wait() { s.bg.Wait() }

// background runs fn after the request that asked for it, bounded by the service's lifetime.
func (s *Service) background(fn func(ctx context.Context)) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(s.bgCtx, time.Minute)
		defer cancel()
		fn(ctx)
	}()
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request that asks for a change (upstream's
// X-Vcap-Request-Id header), which the events of that change carry as their trace_id.
func WithRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// retried calls fn until it succeeds, AuctionAttempts times at most, waiting AuctionRetryWait,
// then twice as long each time, between attempts.
func (s *Service) retried(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	wait := s.AuctionRetryWait
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			if attempt > 1 {
				s.Logger.Info(what+" succeeded after retries", "attempt", attempt)
			}
			return nil
		}
		if attempt == AuctionAttempts {
			s.Logger.Error(what+" failed; giving up", "attempts", attempt, "error", err)
			return err
		}
		s.Logger.Warn(what+" failed; retrying", "attempt", attempt, "retry_in", wait.String(), "error", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// repURLs reads the cells present, once, and maps each one's id to its rep URL; a cell whose URL
// is unusable is logged and left out, as is everything when the read fails. Whoever calls several
// cells (a retirement of many instances, a convergence pass) reads them once with it.
func (s *Service) repURLs(ctx context.Context) map[string]string {
	cells, err := s.Cells(ctx)
	if err != nil {
		s.Logger.Error("cannot list cells", "error", err)
		return nil
	}
	return s.repURLsOf(cells)
}

func (s *Service) repURLsOf(cells []*models.CellPresence) map[string]string {
	urls := make(map[string]string, len(cells))
	for _, c := range cells {
		u, err := models.CellRepURL(c)
		if err != nil {
			s.Logger.Error("cannot reach cell", "cell", c.GetCellId(), "error", err)
			continue
		}
		urls[c.GetCellId()] = u
	}
	return urls
}
