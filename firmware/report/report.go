package report

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"

	"github.com/fractals-energy/fractals/firmware"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// maxPlotPoints bounds the points per line, so a two-day run plots as fast as an hour's.
const maxPlotPoints = 2000

// WriteScenario writes report.json (every assertion's measured value and verdict, the phases
// with their reasons, the energy and the events), one PNG per plot, and an index.html showing them.
func WriteScenario(dir string, r *firmware.ScenarioResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	body, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(body, '\n'), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	s := &r.Series
	plots := []struct {
		file, title, y string
		lines          []namedSeries
	}{
		{"power.png", "Power flows", "W", []namedSeries{{"PV", s.PV}, {"battery (charging +)", s.Battery}, {"grid (import +)", s.Grid}, {"loads", s.Load}}},
		{"soc.png", "Battery state of charge", "SoC", []namedSeries{{"SoC", s.SoC}}},
		{"frequency.png", "Frequency at the PCC (unit side)", "Hz", []namedSeries{{"f", s.Frequency}}},
		{"voltage.png", "Voltage at the PCC (unit side)", "V", []namedSeries{{"V", s.Voltage}}},
		{"states.png", "Island phase and service step", "index", []namedSeries{{"phase (0 connected, 2 islanded)", s.Phase}, {"service step", s.Services}}},
	}
	var figs []string
	for _, p := range plots {
		if err := linePlot(filepath.Join(dir, p.file), p.title, p.y, s.Hours, p.lines); err != nil {
			return err
		}
		figs = append(figs, p.file)
	}
	return os.WriteFile(filepath.Join(dir, "index.html"), []byte(indexHTML(r, figs)), 0o644)
}

type namedSeries struct {
	name string
	ys   []float64
}

func linePlot(path, title, ylabel string, xs []float64, lines []namedSeries) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, "hours", ylabel
	var args []any
	for _, l := range lines {
		args = append(args, l.name, decimate(xs, l.ys))
	}
	if err := plotutil.AddLines(p, args...); err != nil {
		return fmt.Errorf("report: %s: %w", filepath.Base(path), err)
	}
	if err := p.Save(8*vg.Inch, 3.5*vg.Inch, path); err != nil {
		return fmt.Errorf("report: %s: %w", filepath.Base(path), err)
	}
	return nil
}

// decimate keeps at most maxPlotPoints points, each bucket's extreme from the mean so that spikes
// (a frequency nadir) survive.
func decimate(xs, ys []float64) plotter.XYs {
	n := min(len(xs), len(ys))
	if n == 0 {
		return plotter.XYs{{X: 0, Y: 0}}
	}
	every := max(1, (n+maxPlotPoints-1)/maxPlotPoints)
	out := make(plotter.XYs, 0, n/every+1)
	for i := 0; i < n; i += every {
		j := min(n, i+every)
		mean := 0.0
		for _, y := range ys[i:j] {
			mean += y
		}
		mean /= float64(j - i)
		best := ys[i]
		for _, y := range ys[i:j] {
			if abs(y-mean) > abs(best-mean) {
				best = y
			}
		}
		out = append(out, plotter.XY{X: xs[i], Y: best})
	}
	return out
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func indexHTML(r *firmware.ScenarioResult, figs []string) string {
	var b strings.Builder
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head><body>\n", html.EscapeString(r.Name))
	fmt.Fprintf(&b, "<h1>%s: %s</h1>\n<p>%.0f s simulated in %.2f s.</p>\n", html.EscapeString(r.Name), verdict, r.SimSeconds, r.WallSeconds)
	b.WriteString("<table border=\"1\"><tr><th>assertion</th><th>want</th><th>measured</th><th>verdict</th></tr>\n")
	for _, v := range r.Verdicts {
		pass := "pass"
		if !v.Pass {
			pass = "FAIL"
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", html.EscapeString(v.Kind), html.EscapeString(v.Want), html.EscapeString(v.Measured), pass)
	}
	b.WriteString("</table>\n<h2>Phases</h2>\n<ul>\n")
	for _, ph := range r.Phases {
		fmt.Fprintf(&b, "<li>%.0f s: %s — %s</li>\n", ph.AtSeconds, html.EscapeString(ph.Phase), html.EscapeString(ph.Reason))
	}
	b.WriteString("</ul>\n")
	for _, f := range figs {
		fmt.Fprintf(&b, "<p><img src=\"%s\" alt=\"%s\"></p>\n", f, f)
	}
	b.WriteString("</body></html>\n")
	return b.String()
}
