package simulation

import (
	"fmt"
	"html"
	"io"
	"math"
	"time"
)

// Summary is one scenario's line in the report.
type Summary struct {
	Scenario            string
	Cells, Instances    int
	Placed, Failed      int
	Rounds              int
	MemoryCV            float64
	MinPerCell          float64
	MeanPerCell         float64
	MaxPerCell          float64
	PlacementsPerSecond float64
	Decide, Total       time.Duration
	Waits               WaitStats
}

// Summarize computes a scenario's report line.
func Summarize(s *Scenario, r *Result) Summary {
	per := r.PlacedPerCell()
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range per {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return Summary{
		Scenario:            r.Scenario,
		Cells:               len(r.Cells),
		Instances:           s.Instances() + len(s.Tasks),
		Placed:              r.Placed,
		Failed:              len(r.Failures.FailedLRPs) + len(r.Failures.FailedTasks),
		Rounds:              r.Rounds,
		MemoryCV:            CoefficientOfVariation(r.MemoryPerCell()),
		MinPerCell:          lo,
		MeanPerCell:         Mean(per),
		MaxPerCell:          hi,
		PlacementsPerSecond: r.PlacementsPerSecond(),
		Decide:              r.Decide,
		Total:               r.Total,
		Waits:               r.WaitStats(),
	}
}

// WriteText prints the summaries as a table.
func WriteText(w io.Writer, sums []Summary) {
	fmt.Fprintf(w, "%-62s %6s %8s %7s %6s %6s %9s %17s %12s %10s %10s %10s %10s %10s\n",
		"scenario", "cells", "work", "placed", "failed", "rounds", "memory-cv", "per-cell min/avg/max", "placements/s", "decide", "total", "wait-mean", "wait-p95", "wait-max")
	for _, s := range sums {
		fmt.Fprintf(w, "%-62s %6d %8d %7d %6d %6d %9.4f %5.0f/%5.1f/%5.0f %12.0f %10s %10s %10s %10s %10s\n",
			s.Scenario, s.Cells, s.Instances, s.Placed, s.Failed, s.Rounds, s.MemoryCV,
			s.MinPerCell, s.MeanPerCell, s.MaxPerCell, s.PlacementsPerSecond,
			round(s.Decide), round(s.Total), round(s.Waits.Mean), round(s.Waits.P95), round(s.Waits.Max))
	}
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

const (
	panelW, panelH = 640, 220
	plotH          = 140
	margin         = 20
)

// WriteSVG draws, per scenario, the memory in use on each cell after the
// auction as one bar per cell: grey for what was already running, blue for
// what this auction placed, on a frame of the cell's capacity; a red line
// marks the mean. Scenarios are laid out two per row.
func WriteSVG(w io.Writer, results []Result, sums []Summary) {
	cols := 2
	rows := (len(results) + cols - 1) / cols
	width, height := cols*panelW, rows*panelH+40
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(w, `<text x="%d" y="24" font-size="16">Auction simulation: memory in use per cell (grey: already running, blue: placed by this auction, red: mean)</text>`+"\n", margin)
	for i := range results {
		x0 := (i%cols)*panelW + margin
		y0 := (i/cols)*panelH + 40
		drawPanel(w, x0, y0, &results[i], sums[i])
	}
	fmt.Fprintln(w, "</svg>")
}

func drawPanel(w io.Writer, x0, y0 int, r *Result, s Summary) {
	innerW := float64(panelW - 2*margin)
	fmt.Fprintf(w, `<g class="scenario"><text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0, y0+14, html.EscapeString(r.Scenario))
	fmt.Fprintf(w, `<text x="%d" y="%d">placed %d/%d, failed %d, memory CV %.4f, per cell %.0f..%.0f (mean %.1f), %.0f/s</text>`+"\n",
		x0, y0+30, s.Placed, s.Instances, s.Failed, s.MemoryCV, s.MinPerCell, s.MaxPerCell, s.MeanPerCell, s.PlacementsPerSecond)
	top := float64(y0 + 40)
	fmt.Fprintf(w, `<rect x="%d" y="%.1f" width="%.1f" height="%d" fill="#f4f4f4" stroke="#999"/>`+"\n", x0, top, innerW, plotH)
	n := len(r.Cells)
	if n == 0 {
		fmt.Fprintln(w, "</g>")
		return
	}
	bw := innerW / float64(n)
	gap := 0.0
	if bw >= 4 {
		gap = 1
	}
	var sum float64
	for i, c := range r.Cells {
		total := float64(c.Total.MemoryMB)
		if total <= 0 {
			continue
		}
		used := float64(c.MemoryUsedMB())
		sum += used / total
		var placed float64
		for _, l := range c.Placed.LRPs {
			placed += float64(l.MemoryMB)
		}
		for _, t := range c.Placed.Tasks {
			placed += float64(t.MemoryMB)
		}
		before := used - placed
		x := float64(x0) + float64(i)*bw
		hBefore := before / total * plotH
		hPlaced := placed / total * plotH
		fmt.Fprintf(w, `<rect class="cell" x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="#9e9e9e"><title>%s (%s): %.0f MB before</title></rect>`+"\n",
			x, top+plotH-hBefore, bw-gap, hBefore, c.ID, c.Zone, before)
		fmt.Fprintf(w, `<rect class="placed" x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="#1f77b4"><title>%s (%s): %d placed, %.0f MB</title></rect>`+"\n",
			x, top+plotH-hBefore-hPlaced, bw-gap, hPlaced, c.ID, c.Zone, len(c.Placed.LRPs)+len(c.Placed.Tasks), placed)
	}
	mean := sum / float64(n) * plotH
	fmt.Fprintf(w, `<line x1="%d" x2="%.1f" y1="%.2f" y2="%.2f" stroke="red"/>`+"\n", x0, float64(x0)+innerW, top+plotH-mean, top+plotH-mean)
	fmt.Fprintf(w, `<text x="%d" y="%.0f" fill="#555">%d cells</text></g>`+"\n", x0, top+plotH+14, n)
}
