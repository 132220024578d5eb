package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/speculative/canary"
)

// Check reports nil when its part of the service is ready, and the reason
// otherwise. Checks are called on every /readyz request and must be fast
// and safe for concurrent use.
type Check func() error

// Option configures the handler.
type Option func(*handler)

// RequireModels makes /readyz wait for a live version of each name. By
// default it waits for at least one live model of any name.
func RequireModels(names ...string) Option {
	return func(h *handler) { h.required = append(h.required, names...) }
}

// Ready adds a readiness check, for example a Kafka Source's.
func Ready(name string, c Check) Option {
	return func(h *handler) { h.checks = append(h.checks, namedCheck{name, c}) }
}

// Metrics mounts m at /metrics, typically promhttp.HandlerFor(registry, ...).
// A nil m is an error of New, wrapping serving.ErrConfig.
func Metrics(m http.Handler) Option {
	return func(h *handler) {
		if m == nil {
			h.bad = append(h.bad, "nil metrics handler")
		}
		h.metrics = m
	}
}

type namedCheck struct {
	name string
	c    Check
}

type handler struct {
	srv      *serving.Server
	required []string
	checks   []namedCheck
	metrics  http.Handler
	mux      *http.ServeMux
	live     live     // live quality and rollouts, see live.go
	bad      []string // what options were given wrong, for New to refuse
}

// New returns the handler for srv. It is safe for concurrent use. A nil
// srv, a nil option or an option given nil (see each) is an error
// wrapping serving.ErrConfig.
func New(srv *serving.Server, opts ...Option) (http.Handler, error) {
	if srv == nil {
		return nil, fmt.Errorf("%w: admin: nil Server", serving.ErrConfig)
	}
	h := &handler{srv: srv, mux: http.NewServeMux()}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: admin: nil option", serving.ErrConfig)
		}
		o(h)
	}
	if len(h.bad) > 0 {
		return nil, fmt.Errorf("%w: admin: %s", serving.ErrConfig, h.bad[0])
	}
	for _, c := range h.checks {
		if c.c == nil {
			return nil, fmt.Errorf("%w: admin: readiness check %q is nil", serving.ErrConfig, c.name)
		}
	}
	h.mux.HandleFunc("GET /models", h.models)
	h.mux.HandleFunc("GET /models/{name}", h.model)
	h.mux.HandleFunc("GET /models/{name}/history", h.history)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, status{Status: "ok"}) })
	h.mux.HandleFunc("GET /readyz", h.ready)
	if h.metrics != nil {
		h.mux.Handle("GET /metrics", h.metrics)
	}
	h.mountLive()
	return h.mux, nil
}

// ModelStatus is one element of the /models answer.
type ModelStatus struct {
	Name  string           `json:"name"`
	Model serving.ModelRef `json:"model"`
	Stats serving.Stats    `json:"stats"`
	// Rejected counts refused activations of this name; LastRejection
	// is the last reason.
	Rejected      uint64 `json:"rejected"`
	LastRejection string `json:"last_rejection,omitempty"`
	// Quality is the live quality of each version and variant of this
	// name, with [Quality]; Rollouts the rollouts whose champion or
	// candidate has this name, with [Rollouts].
	Quality  []quality.Series `json:"quality,omitempty"`
	Rollouts []canary.Status  `json:"rollouts,omitempty"`
}

func (h *handler) status(st serving.Stats) ModelStatus {
	ms := ModelStatus{Name: st.Model.Name, Model: st.Model, Stats: st}
	n, last := h.srv.Rejections(st.Model.Name)
	ms.Rejected = n
	if last != nil {
		ms.LastRejection = last.Error()
	}
	ms.Quality, ms.Rollouts = h.live.of(st.Model.Name)
	return ms
}

func (h *handler) models(w http.ResponseWriter, _ *http.Request) {
	all := h.srv.Models()
	out := make([]ModelStatus, 0, len(all))
	for _, st := range all {
		out = append(out, h.status(st))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) model(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	all := h.srv.Models()
	i := slices.IndexFunc(all, func(st serving.Stats) bool { return st.Model.Name == name })
	if i < 0 {
		writeJSON(w, http.StatusNotFound, status{Status: "not found", Reasons: []string{"no live version of " + r.PathValue("name")}})
		return
	}
	writeJSON(w, http.StatusOK, h.status(all[i]))
}

func (h *handler) history(w http.ResponseWriter, r *http.Request) {
	hist := h.srv.History(r.PathValue("name"))
	if hist == nil {
		hist = []serving.Activation{}
	}
	writeJSON(w, http.StatusOK, hist)
}

// pathName is name as the {name} segment of /models/{name}: path-escaped
// ('/' as %2F, so a name holding '/' stays one segment), and "." and ".."
// escaped in full, which a path cleaner would otherwise resolve.
func pathName(name string) string {
	switch name {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(name)
}

type status struct {
	Status  string   `json:"status"`
	Reasons []string `json:"reasons,omitempty"`
}

func (h *handler) ready(w http.ResponseWriter, _ *http.Request) {
	var reasons []string
	if len(h.required) == 0 {
		if len(h.srv.Models()) == 0 {
			reasons = append(reasons, "no model loaded")
		}
	}
	for _, n := range h.required {
		if _, ok := h.srv.Current(n); !ok {
			reasons = append(reasons, "no live version of "+n)
		}
	}
	for _, c := range h.checks {
		if err := c.c(); err != nil {
			reasons = append(reasons, c.name+": "+err.Error())
		}
	}
	if len(reasons) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, status{Status: "not ready", Reasons: reasons})
		return
	}
	writeJSON(w, http.StatusOK, status{Status: "ready"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
