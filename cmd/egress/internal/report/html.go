package report

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sync"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// The chart library, inlined into every page so that a report opens with
// no network (see assets/README.md).
//
//go:embed assets/echarts.common.min.js.gz
var echartsGz []byte

var echartsJS = sync.OnceValues(func() (string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(echartsGz))
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(zr)
	return string(b), err
})

// WriteHTML writes the report as one self-contained page: the summary,
// latency by percentile, requests per second (with p50 and p99) over
// time, and errors per second and connections open over time. go-echarts builds the charts; its page template would load the
// library from a CDN, so only its chart snippets are used, inside a page
// of our own that carries the library inline.
func (r *Report) WriteHTML(w io.Writer) error {
	js, err := echartsJS()
	if err != nil {
		return fmt.Errorf("chart library: %w", err)
	}
	var chartsHTML []template.HTML
	if h := r.Hist(); h != nil && h.TotalCount() > 0 {
		chartsHTML = append(chartsHTML, snippet(r.percentileChart()))
	}
	if len(r.Timeline) > 0 {
		chartsHTML = append(chartsHTML, snippet(r.timelineChart()))
	}
	if len(r.Timeline) > 0 {
		chartsHTML = append(chartsHTML, snippet(r.connsChart()))
	}
	var text bytes.Buffer
	r.WriteText(&text)
	type threshold struct {
		Met            bool
		FailIf, Actual string
	}
	var ths []threshold
	for _, t := range r.Thresholds {
		ths = append(ths, threshold{t.Met, t.FailIf, t.measured()})
	}
	return pageTmpl.Execute(w, struct {
		Title      string
		Summary    string
		Warns      []string
		Thresholds []threshold
		JS         template.JS
		Charts     []template.HTML
	}{r.title(), text.String(), r.Warnings, ths, template.JS(js), chartsHTML})
}

// snippet renders a chart's element and script for inlining in the page.
func snippet(c *charts.Line) template.HTML {
	s := c.RenderSnippet()
	return template.HTML(s.Element + s.Script)
}

// percentileChart plots latency against percentile on the usual
// HdrHistogram scale: x is -log10(1-q), so 90%, 99%, 99.9% ... are evenly
// spaced and the tail is as visible as the median.
func (r *Report) percentileChart() *charts.Line {
	h := r.Hist()
	xmax := math.Min(math.Log10(float64(h.TotalCount())), 6)
	xmax = math.Max(xmax, 1)
	var pts []opts.LineData
	for x := 0.0; x <= xmax+1e-9; x += 0.02 {
		q := 100 * (1 - math.Pow(10, -x))
		pts = append(pts, opts.LineData{Value: []float64{round3(x), ms(h.ValueAtQuantile(q))}})
	}
	pts = append(pts, opts.LineData{Value: []float64{round3(xmax), ms(h.Max())}})

	c := charts.NewLine()
	c.SetGlobalOptions(
		charts.WithInitializationOpts(opts.Initialization{ChartID: "latency", Width: "960px", Height: "420px"}),
		charts.WithAnimation(false), // a report is read, not watched; and screenshots see it whole
		charts.WithTitleOpts(opts.Title{Title: "Latency by percentile", Subtitle: r.latencySubtitle()}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis",
			Formatter: opts.FuncOpts(`function (ps) { var p = ps[0].value; ` +
				`return (100 * (1 - Math.pow(10, -p[0]))).toPrecision(6) + '%: ' + p[1] + ' ms'; }`)}),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: "percentile", Min: 0, Max: math.Ceil(xmax),
			MinInterval: 1, MaxInterval: 1,
			AxisLabel: &opts.AxisLabel{Formatter: opts.FuncOpts(`function (v) { ` +
				`return v === 0 ? '0%' : (100 * (1 - Math.pow(10, -v))).toFixed(Math.max(0, v - 2)) + '%'; }`)}}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "ms"}),
	)
	c.AddSeries("latency", pts, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false), Step: "end"}))
	return c
}

func (r *Report) latencySubtitle() string {
	if r.Model == "open" {
		return "from when each request was due (coordinated omission corrected)"
	}
	return "from send to the end of the response"
}

// timelineChart plots requests per second, p50 and p99 per interval.
func (r *Report) timelineChart() *charts.Line {
	var rate, asked, sent, p50, p99 []opts.LineData
	for _, p := range r.Timeline {
		rate = append(rate, opts.LineData{Value: []float64{p.T, p.Rate}})
		asked = append(asked, opts.LineData{Value: []float64{p.T, p.AskedRate}})
		sent = append(sent, opts.LineData{Value: []float64{p.T, p.SentRate}})
		p50 = append(p50, opts.LineData{Value: []float64{p.T, p.P50}})
		p99 = append(p99, opts.LineData{Value: []float64{p.T, p.P99}})
	}
	c := charts.NewLine()
	c.SetGlobalOptions(
		charts.WithInitializationOpts(opts.Initialization{ChartID: "timeline", Width: "960px", Height: "420px"}),
		charts.WithAnimation(false),
		charts.WithTitleOpts(opts.Title{Title: "Requests per second over time"}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "bottom"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: "s"}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "req/s"}),
	)
	c.ExtendYAxis(opts.YAxis{Type: "value", Name: "ms", Position: "right"})
	dots := opts.Bool(len(r.Timeline) < 30) // a short run's few points are easier to read as dots
	c.AddSeries("req/s", rate, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: dots}))
	if r.Model == "open" {
		// The asked rate against the achieved: what was due, what was
		// sent, and (req/s) what completed.
		c.AddSeries("asked req/s", asked, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: dots}),
			charts.WithLineStyleOpts(opts.LineStyle{Type: "dashed"}))
		c.AddSeries("sent req/s", sent, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: dots}))
	}
	c.AddSeries("p50 ms", p50, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: dots, YAxisIndex: 1}))
	c.AddSeries("p99 ms", p99, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: dots, YAxisIndex: 1}))
	return c
}

// connsChart plots the connections open and the errors per second over
// time; for a ramp of connections, also the connections it asked for.
func (r *Report) connsChart() *charts.Line {
	var asked, open, errs []opts.LineData
	prev := 0.0
	for _, p := range r.Timeline {
		asked = append(asked, opts.LineData{Value: []float64{p.T, float64(p.AskedConns)}})
		open = append(open, opts.LineData{Value: []float64{p.T, float64(p.OpenConns)}})
		rate := 0.0
		if p.T > prev {
			rate = round3(float64(p.Errors) / (p.T - prev))
		}
		errs = append(errs, opts.LineData{Value: []float64{p.T, rate}})
		prev = p.T
	}
	ramp := r.Stages != "" && r.Model == "closed"
	title := opts.Title{Title: "Errors and connections over time"}
	if ramp {
		title = opts.Title{Title: "Connections asked and open, and errors", Subtitle: "stages " + r.Stages}
	}
	c := charts.NewLine()
	c.SetGlobalOptions(
		charts.WithInitializationOpts(opts.Initialization{ChartID: "connections", Width: "960px", Height: "320px"}),
		charts.WithAnimation(false),
		charts.WithTitleOpts(title),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "bottom"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: "s"}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "connections"}),
	)
	c.ExtendYAxis(opts.YAxis{Type: "value", Name: "errors/s", Position: "right"})
	dots := opts.Bool(len(r.Timeline) < 30)
	if ramp {
		c.AddSeries("connections asked", asked, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: dots}),
			charts.WithLineStyleOpts(opts.LineStyle{Type: "dashed"}))
	}
	c.AddSeries("connections open", open, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: dots}))
	c.AddSeries("errors/s", errs, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: dots, YAxisIndex: 1}))
	return c
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 13px; line-height: 1.35; }
.warn { background: #fff3cd; border: 1px solid #e0c36c; padding: .5em 1em; }
.chart { margin: 2em 0; }
table.thresholds td { padding: .2em .8em; }
.met { color: #1a7f37; font-weight: bold; }
.notmet { color: #c62828; font-weight: bold; }
</style>
<script>{{.JS}}</script>
</head>
<body>
<h1>{{.Title}}</h1>
{{range .Warns}}<p class="warn">{{.}}</p>
{{end}}
{{- if .Thresholds}}<h2>Thresholds</h2>
<table class="thresholds">
{{range .Thresholds}}<tr><td class="{{if .Met}}met{{else}}notmet{{end}}">{{if .Met}}met{{else}}NOT MET{{end}}</td><td>fail if {{.FailIf}}</td><td>{{.Actual}}</td></tr>
{{end}}</table>
{{end}}
{{range .Charts}}<div class="chart">{{.}}</div>
{{end}}
<h2>Report</h2>
<pre>{{.Summary}}</pre>
</body>
</html>
`))
