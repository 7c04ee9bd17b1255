package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/models"
)

// Cell is a cell found through its presence: its id and the base URL of its rep.
type Cell struct {
	ID       string
	URL      string
	Presence *models.CellPresence
}

// CellLister lists the cells present now.
type CellLister interface {
	Cells(ctx context.Context) ([]Cell, error)
}

// RepClient is what the runner needs of a rep (rep.Client): its state, and the work it
// could not take. Each call carries its own timeout.
type RepClient interface {
	State(ctx context.Context, repURL string) (models.CellState, error)
	Perform(ctx context.Context, repURL string, work models.Work) (models.Work, error)
}

// ConsulCells lists the cells whose presences are live in Consul (locket.Client.CellPresences).
type ConsulCells struct {
	Client *locket.Client
	// Logger, when set, logs each presence left out.
	Logger *slog.Logger
}

// Cells lists the present cells in cell id order. A presence that cannot be decoded or whose rep
// URL is unusable (models.CellRepURL) is left out, and reported in the error only if no cell is
// left (and logged).
func (c ConsulCells) Cells(ctx context.Context) ([]Cell, error) {
	presences, bad, err := c.Client.CellPresences(ctx)
	if err != nil {
		return nil, err
	}
	cells := make([]Cell, 0, len(presences))
	for _, p := range presences {
		url, err := models.CellRepURL(p)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		cells = append(cells, Cell{ID: p.GetCellId(), URL: url, Presence: p})
	}
	if c.Logger != nil {
		for _, e := range bad {
			c.Logger.Warn("cell-presence-left-out", "error", e.Error())
		}
	}
	if len(cells) == 0 && len(bad) > 0 {
		return nil, errors.Join(bad...)
	}
	return cells, nil
}

// fetchedCell is a cell whose state was read.
type fetchedCell struct {
	Cell
	State models.CellState
}

// skippedCell is a cell left out of an auction, and why.
type skippedCell struct {
	Cell
	Err      error
	Duration time.Duration
}

// fetchStates reads every cell's state concurrently. Each read is bounded by the rep client's own
// timeout and by timeout here (whichever is shorter); the function returns once every read
// answered or timed out, so it takes at most about timeout however many cells are dead.
func fetchStates(ctx context.Context, reps RepClient, cells []Cell, timeout time.Duration, observe func(time.Duration)) ([]fetchedCell, []skippedCell) {
	type result struct {
		state models.CellState
		err   error
		took  time.Duration
	}
	results := make([]result, len(cells))
	var wg sync.WaitGroup
	for i := range cells {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			s, err := reps.State(cctx, cells[i].URL)
			results[i] = result{state: s, err: err, took: time.Since(start)}
		}(i)
	}
	wg.Wait()
	var ok []fetchedCell
	var skipped []skippedCell
	for i, r := range results {
		if observe != nil {
			observe(r.took)
		}
		if r.err != nil {
			skipped = append(skipped, skippedCell{Cell: cells[i], Err: r.err, Duration: r.took})
			continue
		}
		// The presence names the cell; the auction and the work refer to it by that id.
		r.state.CellID = cells[i].ID
		ok = append(ok, fetchedCell{Cell: cells[i], State: r.state})
	}
	return ok, skipped
}
