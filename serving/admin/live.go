package admin

import (
	"net/http"

	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/speculative/canary"
)

// live holds the optional live-outcome parts of the handler.
type live struct {
	quality  *quality.Tracker
	rollouts []*canary.Controller
}

// Quality shows tr's live quality: in /models, each model's series, and
// at /quality, every series (a JSON array of quality.Series). By default
// there is none.
func Quality(tr *quality.Tracker) Option { return func(h *handler) { h.live.quality = tr } }

// Rollouts shows the rollouts cs: in /models, each model's (by the name
// of its champion or candidate), and at /rollouts, all of them with
// their steps and every recorded decision and its evidence (a JSON array
// of canary.Status). By default there are none.
func Rollouts(cs ...*canary.Controller) Option {
	return func(h *handler) {
		for _, c := range cs {
			if c != nil {
				h.live.rollouts = append(h.live.rollouts, c)
			}
		}
	}
}

func (h *handler) mountLive() {
	h.mux.HandleFunc("GET /{$}", h.page)
	if h.live.quality != nil {
		h.mux.HandleFunc("GET /quality", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, h.live.quality.Snapshot())
		})
	}
	if len(h.live.rollouts) > 0 {
		h.mux.HandleFunc("GET /rollouts", func(w http.ResponseWriter, _ *http.Request) {
			out := make([]canary.Status, 0, len(h.live.rollouts))
			for _, c := range h.live.rollouts {
				out = append(out, c.Status())
			}
			writeJSON(w, http.StatusOK, out)
		})
	}
}

// of returns the live quality series and rollouts of the model name.
func (l live) of(name string) ([]quality.Series, []canary.Status) {
	var qs []quality.Series
	if l.quality != nil {
		for _, s := range l.quality.Snapshot() {
			if s.Model == name {
				qs = append(qs, s)
			}
		}
	}
	var rs []canary.Status
	for _, c := range l.rollouts {
		if st := c.Status(); st.Champion.Name == name || st.Candidate.Name == name {
			rs = append(rs, st)
		}
	}
	return qs, rs
}
