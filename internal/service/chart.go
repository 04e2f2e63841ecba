package service

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dirsync/dirsync/state"
)

// The size of a chart of the status page, in SVG user units: the plot, and
// the margin left of it for the axis labels.
const (
	chartWidth  = 640
	chartHeight = 140
	chartLeft   = 56
	chartTop    = 12
	chartBottom = 20
)

// chart is a line chart of one value per run, drawn by the server as SVG:
// one point (a circle) per run, oldest left.
type chart struct {
	Name          string // data-chart, for tests and styles
	Title         string
	Width, Height int
	Left, Right   int
	Top, Bottom   int
	Line          string // the polyline's points
	Points        []chartPoint
	Max           string // the label of the top of the axis
	First, Last   string // the labels of the first and last runs
}

// chartPoint is one run on a chart.
type chartPoint struct {
	X, Y  string
	Label string // the tooltip
}

// runCharts draws the duration and the number of changes of the finished
// runs among runs (newest first, as Runs returns them), and returns how
// many runs they chart. A run in progress, or whose process died, has no
// duration: it is not charted.
func runCharts(runs []state.Run) (duration, changes chart, n int) {
	var done []state.Run
	for _, r := range runs {
		if !r.Finished.IsZero() {
			done = append(done, r)
		}
	}
	slices.Reverse(done) // oldest first
	secs := make([]float64, len(done))
	counts := make([]float64, len(done))
	for i, r := range done {
		secs[i] = r.Duration().Seconds()
		counts[i] = float64(changeCount(r.Counts))
	}
	duration = drawChart("duration", "Run duration", done, secs, func(v float64) string {
		return time.Duration(v * float64(time.Second)).Round(time.Millisecond).String()
	})
	changes = drawChart("changes", "Changes applied", done, counts, func(v float64) string {
		return strconv.FormatFloat(v, 'f', -1, 64)
	})
	return duration, changes, len(done)
}

// drawChart places values (one per run of runs, oldest first) on a chart
// whose axis starts at zero; label prints a value.
func drawChart(name, title string, runs []state.Run, values []float64, label func(float64) string) chart {
	c := chart{
		Name: name, Title: title, Width: chartWidth, Height: chartHeight,
		Left: chartLeft, Right: chartWidth - 8, Top: chartTop, Bottom: chartHeight - chartBottom,
	}
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	c.Max = label(top)
	if top == 0 {
		top = 1 // every value on the axis
	}
	if len(runs) > 0 {
		c.First, c.Last = fmt.Sprintf("run %d", runs[0].ID), fmt.Sprintf("run %d", runs[len(runs)-1].ID)
	}
	plotW, plotH := float64(c.Right-c.Left), float64(c.Bottom-c.Top)
	line := make([]string, 0, len(values))
	for i, v := range values {
		x := float64(c.Left) + plotW/2
		if len(values) > 1 {
			x = float64(c.Left) + plotW*float64(i)/float64(len(values)-1)
		}
		y := float64(c.Bottom) - plotH*v/top
		p := chartPoint{
			X: strconv.FormatFloat(x, 'f', 1, 64), Y: strconv.FormatFloat(y, 'f', 1, 64),
			Label: fmt.Sprintf("run %d (%s, %s): %s", runs[i].ID, runs[i].Outcome, pageTime(runs[i].Started), label(v)),
		}
		c.Points = append(c.Points, p)
		line = append(line, p.X+","+p.Y)
	}
	c.Line = strings.Join(line, " ")
	return c
}
