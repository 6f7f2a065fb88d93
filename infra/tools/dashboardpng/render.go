package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/lenderops/encompass-lifecycle/infra/internal/cwdashboard"
)

// Options are the rendering choices that are not in the dashboard.
type Options struct {
	// End is the last instant of the sample data; the graphs show the
	// dashboard's default range (one day) up to it.
	End time.Time
	// Source names the template in the page's banner, Construct the
	// dashboard's construct id.
	Source, Construct string
}

// sampleRegion stands for the stack's region in the dashboard's name.
const sampleRegion = "us-east-1"

// The page's geometry: CloudWatch's 24-column grid on a 1440-pixel page.
const (
	pageWidth = 1440
	colWidth  = pageWidth / 24
	unitH     = 50 // pixels per height unit
	headerH   = 64
	gutter    = 6
	span      = 24 * time.Hour // the dashboard's start: -P1D
)

// palette is CloudWatch's default series colours.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// Render lays out every widget of d as HTML (inline SVG charts) and returns
// the page and its size in pixels.
func Render(d *cwdashboard.Dashboard, o Options) ([]byte, int, int) {
	bottom := 0
	for _, w := range d.Widgets {
		bottom = max(bottom, w.Y+w.Height)
	}
	height := headerH + bottom*unitH + gutter
	var b bytes.Buffer
	fmt.Fprintf(&b, `<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body{margin:0;background:#f2f3f3;font-family:"Amazon Ember","Helvetica Neue",Arial,sans-serif;color:#16191f}
.hdr{position:absolute;left:0;top:0;width:%dpx;height:%dpx;background:#232f3e;color:#fff;box-sizing:border-box;padding:10px 16px}
.hdr h1{margin:0;font-size:20px;font-weight:600}.hdr p{margin:4px 0 0;font-size:12px;color:#d5dbdb}
.w{position:absolute;box-sizing:border-box;background:#fff;border:1px solid #d5dbdb;border-radius:2px;padding:8px 10px;overflow:hidden}
.w h2{margin:0 0 4px;font-size:14px;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.lg{display:flex;flex-wrap:wrap;gap:2px 14px;font-size:11px;color:#545b64}
.lg span{white-space:nowrap}.lg i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
.al{display:grid;grid-template-columns:1fr 1fr;gap:4px 10px;font-size:12px;margin-top:6px}
.al div{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}.ok{display:inline-block;width:26px;margin-right:6px;padding:1px 0;text-align:center;border-radius:2px;background:#1d8102;color:#fff;font-size:10px;font-weight:700}
svg text{font-size:10px;fill:#545b64}
</style></head><body>`, pageWidth, headerH)
	name := strings.ReplaceAll(d.Name, "<AWS::Region>", sampleRegion)
	fmt.Fprintf(&b, `<div class="hdr"><h1>CloudWatch dashboard %s</h1><p>%s (%s) in %s, drawn from its DashboardBody (%d widgets where CloudWatch places them) with <b>sample data</b>, not measurements: %s to %s UTC</p></div>`,
		html.EscapeString(name), html.EscapeString(o.Construct), html.EscapeString(d.LogicalID), html.EscapeString(o.Source), len(d.Widgets),
		o.End.Add(-span).UTC().Format("2006-01-02 15:04"), o.End.UTC().Format("2006-01-02 15:04"))
	for _, w := range d.Widgets {
		left, top := w.X*colWidth+gutter/2, headerH+w.Y*unitH+gutter/2
		wpx, hpx := w.Width*colWidth-gutter, w.Height*unitH-gutter
		fmt.Fprintf(&b, `<div class="w" style="left:%dpx;top:%dpx;width:%dpx;height:%dpx"><h2>%s</h2>`, left, top, wpx, hpx, html.EscapeString(w.Title))
		switch w.Type {
		case "metric":
			renderGraph(&b, w, wpx-22, hpx-36, o.End)
		case "alarm":
			renderAlarms(&b, w)
		default:
			fmt.Fprintf(&b, `<pre>%s</pre>`, html.EscapeString(w.Markdown))
		}
		b.WriteString(`</div>`)
	}
	b.WriteString(`</body></html>`)
	return b.Bytes(), pageWidth, height
}

// series is one plotted line or bar stack of a widget.
type series struct {
	label  string
	right  bool
	values []float64 // NaN: no data point
	color  string
}

// expand turns a widget's metrics into series with sample data; a SEARCH
// expression becomes one series per sample dimension value.
func expand(w cwdashboard.Widget, end time.Time) []series {
	var out []series
	for _, m := range w.Metrics {
		period := m.Period
		if period == 0 {
			period = 300
		}
		n := int(span / (time.Duration(period) * time.Second))
		if m.Expression != "" {
			for _, dims := range searchSamples(m.Expression) {
				out = append(out, series{label: dynamicLabel(m.Label, dims), right: m.Right, values: sampleSearch(dims, n)})
			}
			continue
		}
		label := m.Label
		if label == "" {
			label = m.Name
		}
		out = append(out, series{label: label, right: m.Right, values: sample(m, n, period, end)})
	}
	for i := range out {
		out[i].color = palette[i%len(palette)]
	}
	return out
}

var propPattern = regexp.MustCompile(`\$\{PROP\('Dim\.([A-Za-z0-9_]+)'\)\}`)

// dynamicLabel fills CloudWatch's ${PROP('Dim.X')} dynamic labels.
func dynamicLabel(label string, dims map[string]string) string {
	if label == "" {
		return dims["Function"] + " " + dims["Reason"]
	}
	return propPattern.ReplaceAllStringFunc(label, func(s string) string {
		return dims[propPattern.FindStringSubmatch(s)[1]]
	})
}

func renderGraph(b *bytes.Buffer, w cwdashboard.Widget, width, height int, end time.Time) {
	ss := expand(w, end)
	legendRows := 1 + len(ss)/max(1, width/170)
	chartH := height - legendRows*15 - 4
	const padL, padR, padT, padB = 44, 44, 6, 18
	plotW, plotH := float64(width-padL-padR), float64(chartH-padT-padB)

	leftMax, rightMax := scaleMax(ss, false, w.Stacked), scaleMax(ss, true, w.Stacked)
	for _, a := range w.Annotations {
		leftMax = math.Max(leftMax, a.Value*1.1)
	}
	leftMax, rightMax = niceCeil(leftMax), niceCeil(rightMax)
	fmt.Fprintf(b, `<svg width="%d" height="%d">`, width, chartH)
	// Grid and ticks: the left axis's steps draw the grid; the right axis
	// gets its own labels at its own steps.
	steps := tickSteps(leftMax)
	for i := 0; i <= steps; i++ {
		y := float64(padT) + plotH*float64(i)/float64(steps)
		fmt.Fprintf(b, `<line x1="%d" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#e9ebed"/>`, padL, float64(padL)+plotW, y, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, padL-4, y+3, tick(leftMax*float64(steps-i)/float64(steps)))
	}
	if hasRight(ss) {
		rsteps := tickSteps(rightMax)
		for i := 0; i <= rsteps; i++ {
			y := float64(padT) + plotH*float64(i)/float64(rsteps)
			fmt.Fprintf(b, `<text x="%.0f" y="%.1f">%s</text>`, float64(padL)+plotW+4, y+3, tick(rightMax*float64(rsteps-i)/float64(rsteps)))
		}
	}
	if w.LeftLabel != "" {
		fmt.Fprintf(b, `<text transform="translate(9,%.0f) rotate(-90)" text-anchor="middle">%s</text>`, float64(padT)+plotH/2, html.EscapeString(w.LeftLabel))
	}
	if w.RightLabel != "" && hasRight(ss) {
		fmt.Fprintf(b, `<text transform="translate(%d,%.0f) rotate(90)" text-anchor="middle">%s</text>`, width-6, float64(padT)+plotH/2, html.EscapeString(w.RightLabel))
	}
	// Time axis: every 3 hours.
	start := end.Add(-span)
	for h := 0; h <= 24; h += 3 {
		x := float64(padL) + plotW*float64(h)/24
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x, chartH-4, start.Add(time.Duration(h)*time.Hour).UTC().Format("15:04"))
	}
	xOf := func(i, n int) float64 { return float64(padL) + plotW*(float64(i)+0.5)/float64(n) }
	yOf := func(v, top float64) float64 {
		if top <= 0 {
			return float64(padT) + plotH
		}
		return float64(padT) + plotH*(1-v/top)
	}
	if w.View == "bar" {
		stack := map[int]float64{}
		for _, s := range ss {
			n := len(s.values)
			bw := math.Max(1, plotW/float64(n)*0.7)
			for i, v := range s.values {
				if math.IsNaN(v) || v <= 0 {
					continue
				}
				base := 0.0
				if w.Stacked {
					base = stack[i]
					stack[i] += v
				}
				y0, y1 := yOf(base, leftMax), yOf(base+v, leftMax)
				fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, xOf(i, n)-bw/2, y1, bw, y0-y1, s.color)
			}
		}
	} else {
		for _, s := range ss {
			top := leftMax
			if s.right {
				top = rightMax
			}
			var pts []string
			flush := func() {
				if len(pts) > 0 {
					fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.2" points="%s"/>`, s.color, strings.Join(pts, " "))
				}
				pts = pts[:0]
			}
			for i, v := range s.values {
				if math.IsNaN(v) {
					flush()
					continue
				}
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(i, len(s.values)), yOf(v, top)))
			}
			flush()
		}
	}
	for _, a := range w.Annotations {
		y := yOf(a.Value, leftMax)
		fmt.Fprintf(b, `<line x1="%d" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#d13212" stroke-dasharray="4 3"/>`, padL, float64(padL)+plotW, y, y)
		fmt.Fprintf(b, `<text x="%.0f" y="%.1f" text-anchor="end" style="fill:#d13212">%s</text>`, float64(padL)+plotW-2, y-3, html.EscapeString(a.Label))
	}
	b.WriteString(`</svg><div class="lg">`)
	for _, s := range ss {
		side := ""
		if s.right {
			side = " (right)"
		}
		fmt.Fprintf(b, `<span><i style="background:%s"></i>%s%s</span>`, s.color, html.EscapeString(s.label), side)
	}
	b.WriteString(`</div>`)
}

func hasRight(ss []series) bool {
	for _, s := range ss {
		if s.right {
			return true
		}
	}
	return false
}

// scaleMax is the largest value on one axis (the largest stack, when
// stacked).
func scaleMax(ss []series, right, stacked bool) float64 {
	top := 0.0
	sums := map[int]float64{}
	for _, s := range ss {
		if s.right != right {
			continue
		}
		for i, v := range s.values {
			if math.IsNaN(v) {
				continue
			}
			if stacked {
				sums[i] += v
				top = math.Max(top, sums[i])
			} else {
				top = math.Max(top, v)
			}
		}
	}
	return top
}

// niceCeil rounds up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// tickSteps divides a niceCeil maximum into round steps: 2 x 10^n in
// four (0.5 each), the others in five.
func tickSteps(top float64) int {
	m := top / math.Pow(10, math.Floor(math.Log10(top)))
	if math.Abs(m-2) < 1e-9 {
		return 4
	}
	return 5
}

func tick(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.3gk", v/1000)
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}

// alarmSuffix is the hash the CDK appends to a logical id.
var alarmSuffix = regexp.MustCompile(`[0-9A-F]{8}$`)

// renderAlarms lists the widget's alarms by name, each in the OK state
// (sample data: nothing is firing).
func renderAlarms(b *bytes.Buffer, w cwdashboard.Widget) {
	b.WriteString(`<div class="al">`)
	for _, a := range w.Alarms {
		name := strings.TrimSuffix(strings.TrimPrefix(a, "<"), ".Arn>")
		name = alarmSuffix.ReplaceAllString(name, "")
		fmt.Fprintf(b, `<div><span class="ok">OK</span>%s</div>`, html.EscapeString(name))
	}
	b.WriteString(`</div>`)
}
