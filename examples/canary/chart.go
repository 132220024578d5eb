package main

import (
	"fmt"
	"image/color"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/modelstream/modelstream/speculative/canary"
)

var (
	shareColor = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	candColor  = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	champColor = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	markColor  = color.Gray{Y: 0x60}
)

// chart writes one panel per rollout, stacked: the candidate's traffic
// share and both versions' live accuracy over the records, with a dashed
// line and a label at each decision.
func chart(path string, results ...result) error {
	plots := make([][]*plot.Plot, len(results))
	for i, r := range results {
		p, err := panel(r)
		if err != nil {
			return err
		}
		plots[i] = []*plot.Plot{p}
	}
	img := vgimg.New(10*vg.Inch, 4*vg.Inch*vg.Length(len(results)))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(results), Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter, PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func panel(r result) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = r.name + ": " + string(r.final.Action)
	p.X.Label.Text = "transactions scored"
	p.Y.Label.Text = "share / accuracy"
	p.Y.Min, p.Y.Max = 0, 1.08
	p.Legend.Top, p.Legend.Left = false, true
	p.Legend.YOffs = vg.Inch // above the share's first step, below the accuracies
	share := make(plotter.XYs, 0, len(r.points))
	var cand, champ plotter.XYs
	for _, pt := range r.points {
		share = append(share, plotter.XY{X: float64(pt.record), Y: pt.share})
		if !math.IsNaN(pt.accCand) {
			cand = append(cand, plotter.XY{X: float64(pt.record), Y: pt.accCand})
		}
		if !math.IsNaN(pt.accCham) {
			champ = append(champ, plotter.XY{X: float64(pt.record), Y: pt.accCham})
		}
	}
	for _, s := range []struct {
		name string
		xys  plotter.XYs
		c    color.Color
	}{{"candidate traffic share", share, shareColor}, {"candidate live accuracy", cand, candColor}, {"champion live accuracy", champ, champColor}} {
		if len(s.xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = s.c, vg.Points(1.5)
		if s.c == shareColor {
			l.StepStyle = plotter.PostStep
		}
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	var labels plotter.XYLabels
	span := 1.0
	if len(r.points) > 0 {
		span = float64(r.points[len(r.points)-1].record)
	}
	for _, m := range r.marks {
		x, d := float64(m.record), m.d
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: 1.02}})
		if err != nil {
			return nil, err
		}
		l.Color, l.Dashes = markColor, []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		text := string(d.Action)
		if d.Action == canary.Advance {
			text = fmt.Sprintf("→ %g%%", 100*d.Share)
		}
		// Decisions close together (the last steps often are) get their
		// labels one below the other.
		y := 1.04
		if k := len(labels.XYs); k > 0 && x-labels.XYs[k-1].X < 0.08*span && labels.XYs[k-1].Y > 0.8 {
			y = labels.XYs[k-1].Y - 0.08
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: y})
		labels.Labels = append(labels.Labels, text)
	}
	if len(labels.XYs) > 0 {
		lb, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, err
		}
		p.Add(lb)
	}
	return p, nil
}
