package server

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/diego-go/diego/auction"
	"github.com/diego-go/diego/models"
)

// BBSClient is what the auctioneer needs of the BBS to report work it could not place
// (bbs.Client satisfies it):
//
//   - FailActualLRP: POST /v1/actual_lrps/fail, the instance's placement_error;
//   - RejectTask: POST /v1/tasks/reject with the reason; the BBS retries the task up to its limit
//     and then fails it with that reason.
type BBSClient interface {
	FailActualLRP(ctx context.Context, key *models.ActualLRPKey, reason string) error
	RejectTask(ctx context.Context, guid, reason string) error
}

// Defaults of RunnerConfig.
const (
	DefaultCellStateTimeout = time.Second
	DefaultMaxRounds        = 3
	DefaultRequeueDelay     = time.Second
	DefaultReportTimeout    = 10 * time.Second
	reportConcurrency       = 16
)

// RejectedTooOften is the placement error of work every cell it was offered rejected, through
// MaxRounds rounds of one batch.
var RejectedTooOften = auction.NoCompatibleCellError("rejected by every cell it was offered")

// RunnerConfig wires a Runner.
type RunnerConfig struct {
	Inbox  *Inbox
	Cells  CellLister
	Reps   RepClient
	BBS    BBSClient
	Logger *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics

	// Auction tunes the placement (nil: auction.DefaultOptions()). NewInstanceGUID defaults to
	// random UUIDs.
	Auction *auction.Options
	// CellStateTimeout bounds each cell's GET /state (default 1s): a cell that has not answered
	// by then is left out of the batch.
	CellStateTimeout time.Duration
	// MaxRounds bounds submissions per batch: the first plus MaxRounds-1 re-plans of rejected
	// work (default 3). Work still rejected fails with RejectedTooOften.
	MaxRounds int
	// RequeueDelay: work the auction could not place because too many containers are starting
	// (auction.Options.MaxStartsInFlight), and whole batches when the cells could not be listed,
	// go back to the inbox after this delay (default 1s) instead of failing.
	RequeueDelay time.Duration
	// ReportTimeout bounds each call to the BBS (default 10s).
	ReportTimeout time.Duration
	// OnResult, when set, is called with each batch's result (specs, logs).
	OnResult func(Result)
}

// Result is what one batch did.
type Result struct {
	Instances, Tasks int // batch size
	Cells            int // cells present
	CellsSkipped     []string
	PlacedLRPs       int
	PlacedTasks      int
	Rounds           int
	Failures         auction.AuctionResults // reported to the BBS
	Requeued         int                    // LRP instances and tasks sent back to the inbox
	Cancelled        bool                   // the runner was stopped during the batch
	Duration         time.Duration
}

// Runner runs auctions one batch at a time as an ifrit runner.
type Runner struct {
	cfg  RunnerConfig
	opts auction.Options
}

// NewRunner makes a runner.
func NewRunner(cfg RunnerConfig) *Runner {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	opts := auction.DefaultOptions()
	if cfg.Auction != nil {
		opts = *cfg.Auction
	}
	if opts.NewInstanceGUID == nil {
		opts.NewInstanceGUID = func(string, int32) string { return uuid.NewString() }
	}
	if cfg.CellStateTimeout <= 0 {
		cfg.CellStateTimeout = DefaultCellStateTimeout
	}
	if cfg.MaxRounds <= 0 {
		cfg.MaxRounds = DefaultMaxRounds
	}
	if cfg.RequeueDelay <= 0 {
		cfg.RequeueDelay = DefaultRequeueDelay
	}
	if cfg.ReportTimeout <= 0 {
		cfg.ReportTimeout = DefaultReportTimeout
	}
	return &Runner{cfg: cfg, opts: opts}
}

// Run takes a batch whenever the inbox has work and auctions it; work arriving meanwhile waits
// for the next batch. On a signal it cancels the running batch (its calls to reps and the BBS end
// at once; the BBS re-auctions what was not placed when it converges) and returns nil.
func (r *Runner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case sig := <-signals:
			r.cfg.Logger.Info("auction-runner-stopping", "signal", sig.String())
			cancel()
		case <-ctx.Done():
		}
	}()
	close(ready)
	r.cfg.Logger.Info("auction-runner-started")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.cfg.Inbox.Ready():
		}
		if ctx.Err() != nil {
			return nil
		}
		batch := r.cfg.Inbox.Take()
		if batch.Empty() {
			continue
		}
		r.RunBatch(ctx, batch)
	}
}

// RunBatch auctions one batch: list the cells, fetch their states concurrently (each within
// CellStateTimeout), place, submit each cell's work concurrently, re-plan rejected work up to
// MaxRounds, requeue work held back by the cap on starting containers, and report the rest of the
// failures to the BBS.
func (r *Runner) RunBatch(ctx context.Context, batch Batch) Result {
	start := time.Now()
	log := r.cfg.Logger.With("batch_id", uuid.NewString()[:8])
	var res Result
	res.Instances, res.Tasks = batch.Size()
	if m := r.cfg.Metrics; m != nil {
		m.BatchSize.WithLabelValues("lrp").Observe(float64(res.Instances))
		m.BatchSize.WithLabelValues("task").Observe(float64(res.Tasks))
	}
	log.Info("auction-started", "lrp_instances", res.Instances, "tasks", res.Tasks)

	defer func() {
		res.Duration = time.Since(start)
		if m := r.cfg.Metrics; m != nil {
			m.AuctionDuration.Observe(res.Duration.Seconds())
		}
		log.Info("auction-finished", "duration", res.Duration.String(), "cells", res.Cells,
			"cells_skipped", len(res.CellsSkipped), "placed_lrps", res.PlacedLRPs, "placed_tasks", res.PlacedTasks,
			"failed_lrps", len(res.Failures.FailedLRPs), "failed_tasks", len(res.Failures.FailedTasks),
			"requeued", res.Requeued, "rounds", res.Rounds)
		if r.cfg.OnResult != nil {
			r.cfg.OnResult(res)
		}
	}()

	cells, err := r.cfg.Cells.Cells(ctx)
	if err != nil && ctx.Err() != nil {
		res.Cancelled = true
		log.Warn("auction-cancelled", "while", "listing cells")
		return res
	}
	if err != nil {
		log.Error("listing-cells-failed", "error", err.Error(), "requeue_in", r.cfg.RequeueDelay.String())
		res.Requeued = res.Instances + res.Tasks
		r.requeue(batch)
		return res
	}
	res.Cells = len(cells)

	var observe func(time.Duration)
	if m := r.cfg.Metrics; m != nil {
		observe = func(d time.Duration) { m.CellStateFetchDuration.Observe(d.Seconds()) }
	}
	fetchStart := time.Now()
	fetched, skipped := fetchStates(ctx, r.cfg.Reps, cells, r.cfg.CellStateTimeout, observe)
	if ctx.Err() != nil {
		res.Cancelled = true
		log.Warn("auction-cancelled", "while", "fetching cell states")
		return res
	}
	for _, s := range skipped {
		res.CellsSkipped = append(res.CellsSkipped, s.ID)
		log.Warn("cell-skipped", "cell_id", s.ID, "rep_url", s.URL, "error", s.Err.Error(), "after", s.Duration.String())
	}
	if m := r.cfg.Metrics; m != nil {
		m.CellsSkipped.Add(float64(len(skipped)))
	}
	log.Info("cell-states-fetched", "cells", len(fetched), "skipped", len(skipped), "duration", time.Since(fetchStart).String())

	states := make([]models.CellState, len(fetched))
	urls := make(map[string]string, len(fetched))
	for i, f := range fetched {
		states[i] = f.State
		urls[f.ID] = f.URL
	}

	a := auction.New(states, r.opts)
	plan := a.Place(batch.LRPs, batch.Tasks)
	var failures auction.AuctionResults
	for res.Rounds = 1; ; res.Rounds++ {
		failures.FailedLRPs = append(failures.FailedLRPs, plan.Failures.FailedLRPs...)
		failures.FailedTasks = append(failures.FailedTasks, plan.Failures.FailedTasks...)
		rejected, lrps, tasks := r.submit(ctx, log, plan.Works, urls)
		res.PlacedLRPs += lrps
		res.PlacedTasks += tasks
		if ctx.Err() != nil {
			// Stopping: what was not placed is neither re-planned nor failed; the BBS auctions
			// it again when it converges.
			res.Cancelled = true
			log.Warn("auction-cancelled", "placed_lrps", res.PlacedLRPs, "placed_tasks", res.PlacedTasks)
			return res
		}
		if len(rejected) == 0 {
			break
		}
		if res.Rounds >= r.cfg.MaxRounds {
			for _, w := range rejected {
				for _, l := range w.LRPs {
					failures.FailedLRPs = append(failures.FailedLRPs, auction.LRPPlacementFailure{RepLRP: l, PlacementError: RejectedTooOften})
				}
				for _, t := range w.Tasks {
					failures.FailedTasks = append(failures.FailedTasks, auction.TaskPlacementFailure{RepTask: t, PlacementError: RejectedTooOften})
				}
			}
			break
		}
		plan = a.Replan(rejected)
	}

	// Work held back by the cap on starting containers is auctioned again later.
	var again Batch
	final := auction.AuctionResults{}
	for _, f := range failures.FailedLRPs {
		if f.PlacementError == auction.PlacementErrorStartsInFlight {
			again.LRPs = append(again.LRPs, models.LRPStartRequest{
				ProcessGUID: f.ProcessGUID, Domain: f.Domain, Indices: []int32{f.Index},
				PlacementConstraint: f.PlacementConstraint, Resource: f.Resource,
			})
			continue
		}
		final.FailedLRPs = append(final.FailedLRPs, f)
	}
	for _, f := range failures.FailedTasks {
		if f.PlacementError == auction.PlacementErrorStartsInFlight {
			again.Tasks = append(again.Tasks, models.TaskStartRequest{RepTask: f.RepTask})
			continue
		}
		final.FailedTasks = append(final.FailedTasks, f)
	}
	if !again.Empty() {
		n, t := again.Size()
		res.Requeued = n + t
		log.Info("requeueing-starts-in-flight", "lrp_instances", n, "tasks", t, "in", r.cfg.RequeueDelay.String())
		r.requeue(again)
	}
	res.Failures = final
	if m := r.cfg.Metrics; m != nil {
		m.Placed.WithLabelValues("lrp").Add(float64(res.PlacedLRPs))
		m.Placed.WithLabelValues("task").Add(float64(res.PlacedTasks))
		m.FailedPlacements.WithLabelValues("lrp").Add(float64(len(final.FailedLRPs)))
		m.FailedPlacements.WithLabelValues("task").Add(float64(len(final.FailedTasks)))
	}
	r.report(ctx, log, final)
	return res
}

// submit sends every cell its work concurrently and returns the work cells rejected (CellID
// set), and how many LRP instances and tasks were taken. A cell that fails to answer is taken to
// have rejected all of its work (the BBS makes a second start of the same instance or task fail,
// so re-placing it is safe).
func (r *Runner) submit(ctx context.Context, log *slog.Logger, works []models.Work, urls map[string]string) ([]models.Work, int, int) {
	rejected := make([]models.Work, len(works))
	var wg sync.WaitGroup
	for i := range works {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w := works[i]
			rej, err := r.cfg.Reps.Perform(ctx, urls[w.CellID], w)
			if err != nil {
				log.Warn("cell-perform-failed", "cell_id", w.CellID, "lrps", len(w.LRPs), "tasks", len(w.Tasks), "error", err.Error())
				rej = w
			}
			rej.CellID = w.CellID
			if !rej.Empty() {
				log.Info("cell-rejected-work", "cell_id", w.CellID, "lrps", len(rej.LRPs), "tasks", len(rej.Tasks))
			}
			rejected[i] = rej
		}(i)
	}
	wg.Wait()
	var out []models.Work
	lrps, tasks := 0, 0
	for i, rej := range rejected {
		lrps += len(works[i].LRPs) - len(rej.LRPs)
		tasks += len(works[i].Tasks) - len(rej.Tasks)
		if !rej.Empty() {
			out = append(out, rej)
		}
	}
	return out, lrps, tasks
}

// report tells the BBS about every failed placement, a few calls at a time.
func (r *Runner) report(ctx context.Context, log *slog.Logger, f auction.AuctionResults) {
	if len(f.FailedLRPs) == 0 && len(f.FailedTasks) == 0 {
		return
	}
	sem := make(chan struct{}, reportConcurrency)
	var wg sync.WaitGroup
	call := func(what string, attrs []any, fn func(context.Context) error) {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			cctx, cancel := context.WithTimeout(ctx, r.cfg.ReportTimeout)
			defer cancel()
			if err := fn(cctx); err != nil {
				if r.cfg.Metrics != nil {
					r.cfg.Metrics.BBSReportErrors.Inc()
				}
				log.Error(what+"-failed", append(attrs, "error", err.Error())...)
				return
			}
			log.Info(what, attrs...)
		}()
	}
	for _, l := range f.FailedLRPs {
		key := &models.ActualLRPKey{ProcessGuid: l.ProcessGUID, Index: l.Index, Domain: l.Domain}
		reason := l.PlacementError
		call("lrp-placement-failure-reported", []any{"process_guid", l.ProcessGUID, "index", l.Index, "placement_error", reason},
			func(ctx context.Context) error { return r.cfg.BBS.FailActualLRP(ctx, key, reason) })
	}
	for _, t := range f.FailedTasks {
		guid, reason := t.TaskGuid, t.PlacementError
		call("task-placement-failure-reported", []any{"task_guid", guid, "placement_error", reason},
			func(ctx context.Context) error { return r.cfg.BBS.RejectTask(ctx, guid, reason) })
	}
	wg.Wait()
}

func (r *Runner) requeue(b Batch) {
	time.AfterFunc(r.cfg.RequeueDelay, func() {
		r.cfg.Inbox.AddLRPs(b.LRPs)
		r.cfg.Inbox.AddTasks(b.Tasks)
	})
}
