// Package plot draws a time series chart as a standalone SVG document, with no dependency beyond
// the standard library: lines on a left axis, lines on an optional right axis with a scale of
// their own (a count that stays small next to one in the hundreds), and vertical marks for
// moments (an event at a known time). The demo benchmark (inigo/demo) draws its chart with it.
package plot

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Point is one sample: X in the chart's unit (seconds for the demo), Y the value.
type Point struct{ X, Y float64 }

// Series is one line. Right puts it on the right axis.
type Series struct {
	Name   string
	Color  string
	Right  bool
	Points []Point
}

// Mark is a vertical line at X, labelled.
type Mark struct {
	X     float64
	Label string
}

// Chart is what SVG draws.
type Chart struct {
	Title               string
	XLabel              string
	YLabel, RightYLabel string
	Series              []Series
	Marks               []Mark
}

// The drawing's geometry, in SVG user units.
const (
	width, height                   = 900.0, 460.0
	left, right, top, bottom        = 70.0, 70.0, 50.0, 90.0
	plotW, plotH                    = width - left - right, height - top - bottom
	maxTicks                        = 8
	legendRow, legendX, legendWidth = 18.0, left, 220.0
)

// SVG renders the chart. It fails on a chart with no series, a series with no points, or a
// value that is not finite.
func (c Chart) SVG() ([]byte, error) {
	if len(c.Series) == 0 {
		return nil, errors.New("plot: a chart needs at least one series")
	}
	xmax, ymax, rmax := 0.0, 0.0, 0.0
	hasRight := false
	for _, s := range c.Series {
		if len(s.Points) == 0 {
			return nil, fmt.Errorf("plot: series %q has no points", s.Name)
		}
		hasRight = hasRight || s.Right
		for _, p := range s.Points {
			if !finite(p.X) || !finite(p.Y) {
				return nil, fmt.Errorf("plot: series %q has a point that is not finite (%v, %v)", s.Name, p.X, p.Y)
			}
			xmax = math.Max(xmax, p.X)
			if s.Right {
				rmax = math.Max(rmax, p.Y)
			} else {
				ymax = math.Max(ymax, p.Y)
			}
		}
	}
	for _, m := range c.Marks {
		if !finite(m.X) {
			return nil, fmt.Errorf("plot: mark %q is not at a finite x", m.Label)
		}
		xmax = math.Max(xmax, m.X)
	}
	xs, xn := axis(xmax)
	ys, yn := axis(ymax)
	// the right axis shares the left's grid lines
	rs := niceStep(rmax / float64(yn))
	xTop, yTop, rTop := xs*float64(xn), ys*float64(yn), rs*float64(yn)
	px := func(x float64) float64 { return left + x/xTop*plotW }
	py := func(y, top_ float64) float64 { return top + plotH - y/top_*plotH }

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%g" height="%g" fill="white"/>`+"\n", width, height)
	text(&b, width/2, 24, "middle", "font-size=\"15\"", c.Title)
	for i := 0; i <= yn; i++ {
		y := py(ys*float64(i), yTop)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", left, y, left+plotW, y)
		text(&b, left-6, y+4, "end", "", num(ys*float64(i)))
		if hasRight {
			text(&b, left+plotW+6, y+4, "start", "", num(rs*float64(i)))
		}
	}
	for i := 0; i <= xn; i++ {
		x := px(xs * float64(i))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", x, top, x, top+plotH)
		text(&b, x, top+plotH+16, "middle", "", num(xs*float64(i)))
	}
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", left, top, plotW, plotH)
	text(&b, left+plotW/2, top+plotH+34, "middle", "", c.XLabel)
	text(&b, 16, top+plotH/2, "middle", fmt.Sprintf(`transform="rotate(-90 16 %.1f)"`, top+plotH/2), c.YLabel)
	if hasRight {
		text(&b, width-16, top+plotH/2, "middle", fmt.Sprintf(`transform="rotate(90 %.1f %.1f)"`, width-16, top+plotH/2), c.RightYLabel)
	}
	for _, m := range c.Marks {
		x := px(m.X)
		fmt.Fprintf(&b, `<line class="mark" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#c00" stroke-dasharray="6 4"/>`+"\n", x, top, x, top+plotH)
		text(&b, x+4, top+14, "start", `fill="#c00"`, m.Label)
	}
	for i, s := range c.Series {
		scale := yTop
		if s.Right {
			scale = rTop
		}
		pts := make([]string, len(s.Points))
		for j, p := range s.Points {
			pts[j] = fmt.Sprintf("%.1f,%.1f", px(p.X), py(p.Y, scale))
		}
		fmt.Fprintf(&b, `<polyline class="series" fill="none" stroke-width="2" stroke="%s" points="%s"/>`+"\n", attr(s.Color), strings.Join(pts, " "))
		lx := legendX + float64(i%3)*legendWidth
		ly := height - 30 + float64(i/3)*legendRow
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", lx, ly-4, lx+20, ly-4, attr(s.Color))
		name := s.Name
		if s.Right && hasRight {
			name += " (right axis)"
		}
		text(&b, lx+26, ly, "start", "", name)
	}
	b.WriteString("</svg>\n")
	return b.Bytes(), nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// axis is the step and the number of steps of an axis from 0 to at least hi: a step of 1, 2,
// 2.5 or 5 times a power of ten, at most maxTicks of them.
func axis(hi float64) (step float64, n int) {
	step = niceStep(hi / maxTicks)
	return step, max(int(math.Ceil(hi/step-1e-9)), 1)
}

// niceStep is the smallest of 1, 2, 2.5 or 5 times a power of ten that is at least raw (1 for
// raw 0: an axis of nothing still has a scale).
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*pow >= raw*(1-1e-9) {
			return m * pow
		}
	}
	return 10 * pow
}

func num(f float64) string { return fmt.Sprintf("%g", math.Round(f*1000)/1000) }

func text(b *bytes.Buffer, x, y float64, anchor, extra, s string) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="%s" %s>`, x, y, anchor, extra)
	_ = xml.EscapeText(b, []byte(s))
	b.WriteString("</text>\n")
}

func attr(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
