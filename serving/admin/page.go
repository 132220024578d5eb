package admin

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/speculative/canary"
)

// pageRefresh is how often the operator's page reloads itself.
const pageRefresh = 5 * time.Second

// pageModel is what the page shows of one model name.
type pageModel struct {
	Name     string
	Live     serving.ModelRef
	Stats    serving.Stats
	History  []serving.Activation
	Rollouts []pageRollout
	Quality  []pageSeries
}

type pageRollout struct {
	canary.Status
	Chart template.HTML
	Last  []canary.Decision // newest first, at most 8
}

type pageSeries struct {
	quality.Series
	Chart template.HTML
}

type pageData struct {
	Now     time.Time
	Refresh int
	Models  []pageModel
}

// page serves the operator's page: one server-rendered HTML document with
// inline SVG charts and no script, reloading itself every pageRefresh.
func (h *handler) page(w http.ResponseWriter, _ *http.Request) {
	d := pageData{Now: time.Now().UTC(), Refresh: int(pageRefresh / time.Second)}
	for _, st := range h.srv.Models() {
		name := st.Model.Name
		pm := pageModel{Name: name, Live: st.Model, Stats: st, History: h.srv.History(name)}
		if n := len(pm.History); n > 10 {
			pm.History = pm.History[n-10:]
		}
		qs, rs := h.live.of(name)
		for _, s := range qs {
			pm.Quality = append(pm.Quality, pageSeries{Series: s, Chart: intervalChart(s)})
		}
		for _, r := range rs {
			pr := pageRollout{Status: r, Chart: shareChart(r)}
			for i := len(r.Decisions) - 1; i >= 0 && len(pr.Last) < 8; i-- {
				pr.Last = append(pr.Last, r.Decisions[i])
			}
			pm.Rollouts = append(pm.Rollouts, pr)
		}
		d.Models = append(d.Models, pm)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := pageTemplate.Execute(w, d); err != nil {
		// The header is sent: all that is left is to end the document.
		fmt.Fprintf(w, "<!-- %s -->", template.HTMLEscapeString(err.Error()))
	}
}

// shareChart draws the candidate's share after each recorded decision as
// a step line over time, with a dot per decision coloured by its action.
func shareChart(s canary.Status) template.HTML {
	const w, hgt, pad = 360.0, 90.0, 6.0
	ds := s.Decisions
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="share-chart" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="candidate traffic share over time">`, w, hgt, w, hgt)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%.0f" height="%.0f" fill="#f6f8fa"/>`, w, hgt)
	if len(ds) == 0 {
		b.WriteString(`</svg>`)
		return template.HTML(b.String())
	}
	t0, t1 := ds[0].Time, ds[len(ds)-1].Time
	span := t1.Sub(t0).Seconds()
	x := func(t time.Time) float64 {
		if span <= 0 {
			return w - pad
		}
		return pad + (w-2*pad)*t.Sub(t0).Seconds()/span
	}
	// A square-root scale, so that the first steps (1%, 5%) show.
	y := func(share float64) float64 { return hgt - pad - (hgt-2*pad)*math.Sqrt(clamp01(share)) }
	for _, st := range s.Steps {
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#d0d7de" stroke-dasharray="2,3"/><text x="%.0f" y="%.1f" font-size="9" fill="#57606a">%g%%</text>`,
			pad, w-pad, y(st), y(st), pad+2, y(st)-2, 100*st)
	}
	b.WriteString(`<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="`)
	for i, d := range ds {
		if i > 0 {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(d.Time), y(ds[i-1].Share))
		}
		fmt.Fprintf(&b, "%.1f,%.1f ", x(d.Time), y(d.Share))
	}
	b.WriteString(`"/>`)
	for _, d := range ds {
		fmt.Fprintf(&b, `<circle class="decision %s" cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s: %s</title></circle>`,
			d.Action, x(d.Time), y(d.Share), actionColour(d.Action), d.Action, template.HTMLEscapeString(d.Reason))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func actionColour(a canary.Action) string {
	switch a {
	case canary.Advance:
		return "#2ca02c"
	case canary.Promote:
		return "#17becf"
	case canary.Rollback:
		return "#d62728"
	}
	return "#7f7f7f"
}

// intervalChart draws each quality estimate of s that lies in [0, 1]
// (accuracy, AUC) as a bar with its confidence interval.
func intervalChart(s quality.Series) template.HTML {
	const w, row = 220.0, 16.0
	type est struct {
		name string
		e    quality.Estimate
	}
	var es []est
	for _, e := range []est{{"accuracy", s.Accuracy}, {"AUC", s.AUC}} {
		if e.e.N > 0 {
			es = append(es, e)
		}
	}
	if len(es) == 0 {
		return ""
	}
	var b strings.Builder
	hgt := row * float64(len(es))
	fmt.Fprintf(&b, `<svg class="quality-chart" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="live quality with 95%% intervals">`, w, hgt, w, hgt)
	for i, e := range es {
		y := row*float64(i) + 3
		val := clamp01(e.e.Value)
		fmt.Fprintf(&b, `<rect x="60" y="%.0f" width="%.1f" height="10" fill="#9ecae1"/>`, y, 150*val)
		fmt.Fprintf(&b, `<line class="interval" x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#08519c" stroke-width="2"/>`, 60+150*clamp01(e.e.Low), 60+150*clamp01(e.e.High), y+5, y+5)
		fmt.Fprintf(&b, `<text x="0" y="%.0f" font-size="10">%s</text>`, y+9, e.name)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func clamp01(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return min(max(x, 0), 1)
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"pct":  func(x float64) string { return fmt.Sprintf("%.4g%%", 100*x) },
	"f4":   func(x float64) string { return fmt.Sprintf("%.4f", x) },
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"sub1": func(x float64) float64 { return 1 - x },
	"path": pathName,
	// A series' outcomes are its classifications and its regressions
	// (a Meter counts them apart: Accuracy.N and MAE.N).
	"outcomes": func(s quality.Series) uint64 { return s.Accuracy.N + s.MAE.N },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{{.Refresh}}">
<title>modelstream: models</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#24292f}
h1{font-size:1.4em} h2{font-size:1.2em;margin-top:1.5em;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.5em 0} td,th{padding:2px 8px;border-bottom:1px solid #eaeef2;text-align:left}
.steps span{padding:1px 6px;margin-right:3px;border:1px solid #d0d7de;border-radius:3px}
.steps span.current{background:#1f77b4;color:#fff}
.outcome-promote{color:#17becf;font-weight:bold} .outcome-rollback{color:#d62728;font-weight:bold}
small{color:#57606a}
</style>
</head>
<body>
<h1>Models</h1>
<p><small>Rendered {{time .Now}} UTC; this page reloads every {{.Refresh}}s.</small></p>
{{if not .Models}}<p id="no-models">No model is live.</p>{{end}}
{{range .Models}}
<section class="model" id="model-{{.Name}}" data-model="{{.Name}}">
<h2>{{.Name}} <span class="live-version" data-version="{{.Live.Version}}">v{{.Live.Version}}</span>
<small><a class="json" href="models/{{path .Name}}">JSON</a> <a class="history-json" href="models/{{path .Name}}/history">history</a></small></h2>
<p>{{.Stats.Invocations}} calls, {{.Stats.Errors}} errors.</p>
{{if .History}}
<table class="history"><tr><th>when</th><th>what</th><th>version</th></tr>
{{range .History}}<tr><td>{{time .At}}</td><td>{{.Kind}}</td><td>v{{.Model.Version}}</td></tr>{{end}}
</table>{{end}}
{{range .Rollouts}}
<div class="rollout" data-rollout="{{.Name}}" data-share="{{.Share}}" data-step="{{.Step}}" data-done="{{.Done}}">
<h3>Rollout {{.Name}}: v{{.Candidate.Version}} against v{{.Champion.Version}}
{{if .Done}}<span class="outcome outcome-{{.Outcome}}">{{.Outcome}}</span>{{end}}</h3>
<p class="steps">{{$step := .Step}}{{$done := .Done}}{{range $i, $s := .Steps}}<span class="{{if and (eq $i $step) (not $done)}}current{{end}}">{{pct $s}}</span>{{end}}</p>
<p>Traffic: candidate <b class="candidate-share">{{pct .Share}}</b>, champion <b class="champion-share">{{pct (sub1 .Share)}}</b>{{if .RefusedOutcomes}}; {{.RefusedOutcomes}} outcomes refused{{end}}.</p>
{{.Chart}}
<table class="decisions"><tr><th>when</th><th>action</th><th>share</th><th>reason</th></tr>
{{range .Last}}<tr class="decision-row {{.Action}}"><td>{{time .Time}}</td><td>{{.Action}}</td><td>{{pct .Share}}</td><td>{{.Reason}}</td></tr>{{end}}
</table>
</div>
{{end}}
{{if .Quality}}
<table class="quality"><tr><th>version</th><th>variant</th><th>outcomes</th><th>accuracy (95% CI)</th><th>log-loss</th><th>AUC</th><th>MAE</th><th>RMSE</th><th></th></tr>
{{range .Quality}}<tr class="series" data-version="{{.Version}}" data-variant="{{.Variant}}">
<td>v{{.Version}}</td><td>{{.Variant}}</td><td class="outcomes">{{outcomes .Series}}</td>
<td>{{if .Accuracy.N}}{{f4 .Accuracy.Value}} ({{f4 .Accuracy.Low}}–{{f4 .Accuracy.High}}){{end}}</td>
<td>{{if .LogLoss.N}}{{f4 .LogLoss.Value}}{{end}}</td><td>{{if .AUC.N}}{{f4 .AUC.Value}}{{end}}</td>
<td>{{if .MAE.N}}{{f4 .MAE.Value}}{{end}}</td><td>{{if .RMSE.N}}{{f4 .RMSE.Value}}{{end}}</td>
<td>{{.Chart}}</td></tr>{{end}}
</table>{{end}}
</section>
{{end}}
</body>
</html>
`))
