package plot_test

import (
	"encoding/xml"
	"math"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/inigo/demo/plot"
)

// svg is what the specs read back from a drawing.
type svg struct {
	Polylines []struct {
		Class  string `xml:"class,attr"`
		Stroke string `xml:"stroke,attr"`
		Points string `xml:"points,attr"`
	} `xml:"polyline"`
	Lines []struct {
		Class string  `xml:"class,attr"`
		X1    float64 `xml:"x1,attr"`
		Y1    float64 `xml:"y1,attr"`
		Y2    float64 `xml:"y2,attr"`
	} `xml:"line"`
	Texts []string `xml:"text"`
}

func parse(b []byte) svg {
	GinkgoHelper()
	var s svg
	Expect(xml.Unmarshal(b, &s)).To(Succeed(), string(b))
	return s
}

func points(p string) [][2]float64 {
	GinkgoHelper()
	var out [][2]float64
	for _, xy := range strings.Fields(p) {
		x, y, ok := strings.Cut(xy, ",")
		Expect(ok).To(BeTrue())
		fx, err := strconv.ParseFloat(x, 64)
		Expect(err).NotTo(HaveOccurred())
		fy, err := strconv.ParseFloat(y, 64)
		Expect(err).NotTo(HaveOccurred())
		out = append(out, [2]float64{fx, fy})
	}
	return out
}

var _ = Describe("Chart.SVG", func() {
	chart := func() plot.Chart {
		return plot.Chart{
			Title: "300 <instances> & a cell lost", XLabel: "seconds", YLabel: "instances", RightYLabel: "failed requests",
			Series: []plot.Series{
				{Name: "RUNNING", Color: "#1f77b4", Points: []plot.Point{{0, 1}, {5, 150}, {10, 300}}},
				{Name: "failed", Color: "#d62728", Right: true, Points: []plot.Point{{0, 0}, {10, 3}}},
			},
			Marks: []plot.Mark{{X: 5, Label: "cell killed"}},
		}
	}

	It("draws each series as a line, scaled on its own axis, with time running left to right", func() {
		b, err := chart().SVG()
		Expect(err).NotTo(HaveOccurred())
		s := parse(b)
		Expect(s.Polylines).To(HaveLen(2))
		running, failed := points(s.Polylines[0].Points), points(s.Polylines[1].Points)
		Expect(running).To(HaveLen(3))
		Expect(s.Polylines[0].Stroke).To(Equal("#1f77b4"))
		// x grows with time, y (SVG's grows downwards) shrinks with the value
		Expect(running[1][0]).To(BeNumerically(">", running[0][0]))
		Expect(running[2][0]).To(BeNumerically(">", running[1][0]))
		Expect(running[2][1]).To(BeNumerically("<", running[1][1]))
		Expect(running[1][1]).To(BeNumerically("<", running[0][1]))
		// linear: 150 is halfway between 0 and 300 on the left axis
		zero := running[0][1] + (running[0][1]-running[2][1])/299
		Expect(running[1][1]).To(BeNumerically("~", (zero+running[2][1])/2, 0.2))
		// 3 failed requests on a right axis of their own reach well above the bottom, where 3
		// on the instances' axis would be a hair above it
		Expect(zero - failed[1][1]).To(BeNumerically(">", 100))
		Expect(failed[0][1]).To(BeNumerically("~", zero, 0.2))
	})

	It("marks a moment with a vertical line where the series pass that time", func() {
		b, err := chart().SVG()
		Expect(err).NotTo(HaveOccurred())
		s := parse(b)
		running := points(s.Polylines[0].Points)
		var marks int
		for _, l := range s.Lines {
			if l.Class == "mark" {
				marks++
				Expect(l.X1).To(BeNumerically("~", running[1][0], 0.1))
				Expect(l.Y2).To(BeNumerically(">", l.Y1))
			}
		}
		Expect(marks).To(Equal(1))
		Expect(s.Texts).To(ContainElement("cell killed"))
	})

	It("escapes text and names the right axis's series", func() {
		b, err := chart().SVG()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(ContainSubstring("300 &lt;instances&gt; &amp; a cell lost"))
		Expect(parse(b).Texts).To(ContainElements("300 <instances> & a cell lost", "failed (right axis)", "failed requests"))
	})

	It("draws a series of zeros", func() {
		c := chart()
		c.Series = []plot.Series{{Name: "none", Color: "black", Points: []plot.Point{{0, 0}, {1, 0}}}}
		c.Marks = nil
		b, err := c.SVG()
		Expect(err).NotTo(HaveOccurred())
		Expect(points(parse(b).Polylines[0].Points)).To(HaveLen(2))
	})

	It("refuses what it cannot draw, naming it", func() {
		_, err := plot.Chart{}.SVG()
		Expect(err).To(MatchError(ContainSubstring("at least one series")))
		c := chart()
		c.Series[1].Points = nil
		_, err = c.SVG()
		Expect(err).To(MatchError(ContainSubstring(`series "failed" has no points`)))
		c = chart()
		c.Series[0].Points[1].Y = math.NaN()
		_, err = c.SVG()
		Expect(err).To(MatchError(ContainSubstring(`series "RUNNING" has a point that is not finite`)))
		c = chart()
		c.Marks[0].X = math.Inf(1)
		_, err = c.SVG()
		Expect(err).To(MatchError(ContainSubstring(`mark "cell killed"`)))
	})
})

var _ = Describe("the axes", func() {
	labels := func(c plot.Chart) []string {
		b, err := c.SVG()
		Expect(err).NotTo(HaveOccurred())
		return parse(b).Texts
	}

	It("end at the first round step at or above the largest value, at most 8 steps", func() {
		c := plot.Chart{Series: []plot.Series{{Name: "n", Points: []plot.Point{{0, 0}, {78, 301}}}}}
		t := labels(c)
		// x: 10 s steps to 80; y: 50 a step to 350
		Expect(t).To(ContainElements("80", "350"))
		Expect(t).NotTo(ContainElement("90"))
		Expect(t).NotTo(ContainElement("400"))
	})

	It("scale the right axis on the left's grid lines", func() {
		c := plot.Chart{Series: []plot.Series{
			{Name: "n", Points: []plot.Point{{0, 0}, {10, 300}}},
			{Name: "f", Right: true, Points: []plot.Point{{0, 0}, {10, 3}}},
		}}
		// 6 steps of 50 on the left, 6 of 0.5 on the right
		Expect(labels(c)).To(ContainElements("300", "3", "2.5", "0.5"))
	})
})
