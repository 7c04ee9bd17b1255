package auctioneer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

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

// RepClient is what the runner needs of a rep (repclient.Client): its state, and the work it
// could not take. Each call carries its own timeout.
type RepClient interface {
	State(ctx context.Context, repURL string) (models.CellState, error)
	Perform(ctx context.Context, repURL string, work models.Work) (models.Work, error)
}

// ConsulCells lists the cells whose presences are live in Consul under locket.CellPresencePrefix.
type ConsulCells struct {
	Client *locket.Client
}

// Cells lists the present cells in cell id order. A presence whose value cannot be decoded or
// names no rep address is left out (and reported in the error only if no cell is left).
func (c ConsulCells) Cells(ctx context.Context) ([]Cell, error) {
	presences, err := c.Client.PresencesContext(ctx, locket.CellPresencePrefix)
	if err != nil {
		return nil, err
	}
	cells := make([]Cell, 0, len(presences))
	var bad []error
	for id, value := range presences {
		p, err := DecodeCellPresence(value)
		if err != nil {
			bad = append(bad, fmt.Errorf("cell %s: %w", id, err))
			continue
		}
		url := RepURL(p)
		if url == "" {
			bad = append(bad, fmt.Errorf("cell %s: presence has no rep_url nor rep_address", id))
			continue
		}
		if p.GetCellId() != "" {
			id = p.GetCellId()
		}
		cells = append(cells, Cell{ID: id, URL: url, Presence: p})
	}
	sort.Slice(cells, func(i, j int) bool { return cells[i].ID < cells[j].ID })
	if len(cells) == 0 && len(bad) > 0 {
		return nil, errors.Join(bad...)
	}
	return cells, nil
}

// DecodeCellPresence decodes a cell presence value as stored in Consul. Both encodings are
// accepted: JSON (protojson of models.CellPresence, the encoding this package writes and expects
// the rep to write; unknown fields ignored) when the value starts with '{', else binary protobuf.
func DecodeCellPresence(value []byte) (*models.CellPresence, error) {
	p := &models.CellPresence{}
	trimmed := bytes.TrimSpace(value)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(trimmed, p); err != nil {
			return nil, fmt.Errorf("invalid cell presence JSON: %w", err)
		}
		return p, nil
	}
	if err := proto.Unmarshal(value, p); err != nil {
		return nil, fmt.Errorf("invalid cell presence protobuf: %w", err)
	}
	return p, nil
}

// EncodeCellPresence is the value a rep writes at locket.CellPresenceKey: protojson of the
// presence with the proto field names (snake_case, as upstream: {"cell_id": ..., "rep_url": ...}).
// DecodeCellPresence, and the BBS's cell listing, read it.
func EncodeCellPresence(p *models.CellPresence) ([]byte, error) {
	return protojson.MarshalOptions{UseProtoNames: true}.Marshal(p)
}

// RepURL is the base URL of a cell's rep: rep_url when set, else rep_address (with http:// added
// when it has no scheme).
func RepURL(p *models.CellPresence) string {
	u := strings.TrimRight(p.GetRepUrl(), "/")
	if u == "" {
		u = strings.TrimRight(p.GetRepAddress(), "/")
	}
	if u != "" && !strings.Contains(u, "://") {
		u = "http://" + u
	}
	return u
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
