package modelstream

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/modelstream/modelstream"

// An importRule says that the packages matched by pkgs must not depend,
// directly or through others, on what forbidden matches. Patterns are
// package paths relative to the module ("serving"), with "/..." for a
// subtree ("serving/formats/..."), or full paths of other modules
// ("github.com/IBM/sarama/..."); "!std" in forbidden means anything that
// is not the standard library, the package's own internal packages, or
// one of the module's internal packages that itself depends on the
// standard library alone (see stdInternal). except lists packages the
// rule spares.
type importRule struct {
	pkgs, forbidden []string
	except          []string
	why             string
}

var (
	sarama  = []string{"github.com/IBM/sarama/...", "serving/kafka/..."}
	bbolt   = []string{"go.etcd.io/bbolt/...", "registry/bolt/..."}
	promlib = []string{"github.com/prometheus/..."}
	mllibs  = []string{"gorgonia.org/...", "github.com/owulveryck/...", "github.com/yalue/...", "github.com/dmitryikh/leaves/...", "google.golang.org/protobuf/..."}
	// core lists the packages that hold the vocabulary and the logic,
	// with none of the adapters to Kafka, bbolt, Prometheus or a model
	// runtime.
	core = []string{"serving", "serving/wire", "serving/admin", "serving/quality", "serving/servingtest",
		"speculative/...", "registry", "governance", "training"}
)

// importRules are the rules of the root package documentation, "How the
// packages fit".
var importRules = []importRule{
	{pkgs: []string{"serving"}, forbidden: []string{"!std"},
		why: "the core vocabulary and the Server depend on the standard library alone"},
	{pkgs: core, forbidden: sarama,
		why: "only the Kafka adapters (serving/kafka, governance/govkafka, training/trainkafka, registry/kafkafeed) link sarama"},
	{pkgs: []string{"serving/formats/..."}, forbidden: append(slices.Clone(sarama), "serving/wire", "registry/...", "governance/...", "speculative/...", "training/..."),
		why: "a format decodes model bytes into a serving.Model and knows nothing of Kafka or the rest"},
	{pkgs: []string{"..."}, except: []string{"registry/bolt"}, forbidden: []string{"go.etcd.io/bbolt/..."},
		why: "bbolt is registry/bolt's business alone; registry and governance stay free of it"},
	{pkgs: []string{"governance/...", "registry", "registry/kafkafeed", "training/..."}, forbidden: bbolt,
		why: "a Registry is given its Storage; nothing but the program chooses bbolt"},
	{pkgs: []string{"..."}, except: []string{"serving/metrics"}, forbidden: promlib,
		why: "metrics reach Prometheus through serving/metrics, which implements the hooks"},
	{pkgs: []string{"serving/metrics"}, forbidden: sarama,
		why: "serving/metrics implements the Kafka hooks structurally, without linking sarama"},
	{pkgs: core, forbidden: mllibs,
		why: "model runtimes are linked only by the format that needs them"},
	{pkgs: []string{"serving/..."}, except: []string{"serving/admin", "serving/metrics"}, forbidden: []string{"registry/...", "governance/...", "speculative/...", "training/..."},
		why: "serving is the bottom layer: nothing in it imports upward but the two observers, serving/admin and serving/metrics"},
	{pkgs: []string{"..."}, except: []string{"serving/admin", "serving/metrics"}, forbidden: []string{"serving/admin", "serving/metrics"},
		why: "serving/admin and serving/metrics observe everything, so nothing depends on them"},
	{pkgs: []string{"speculative"}, forbidden: []string{"registry/...", "governance/...", "training/..."},
		why: "combinators need scorers, not stores, policies or learners"},
}

// match reports whether path (relative to the module for its own
// packages, full otherwise) matches pattern.
func match(pattern, path string) bool {
	if pattern == "..." {
		return true
	}
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == p || strings.HasPrefix(path, p+"/")
	}
	return path == pattern
}

func matchAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, path) })
}

// isStd reports whether a dependency path is in the standard library.
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") && !strings.HasPrefix(path, module)
}

// stdInternal reports whether d is one of the module's internal packages
// that depends on the standard library alone, directly or through other
// such packages. A "!std" rule lets a package import one: it is code of
// this module that users cannot import, and it links nothing more than
// the standard library, so the package still builds and vets with the
// standard library alone; without it, such a package would have to copy
// a helper (the default logger of internal/logs) that every other
// package shares.
func stdInternal(graph map[string][]string, d string) bool {
	rel, ok := strings.CutPrefix(d, module+"/")
	if !ok || !strings.Contains("/"+rel+"/", "/internal/") {
		return false
	}
	deps, ok := graph[d]
	if !ok {
		return false // not listed: nothing says what it links
	}
	for _, x := range deps {
		if !isStd(x) && !stdInternal(graph, x) {
			return false
		}
	}
	return true
}

// violations checks a dependency graph (package -> every package it
// depends on, paths as go list prints them) against rules.
func violations(graph map[string][]string, rules []importRule) []string {
	var out []string
	for pkg, deps := range graph {
		rel, ok := strings.CutPrefix(pkg, module+"/")
		if pkg == module {
			rel, ok = "", true
		}
		if !ok || strings.HasPrefix(rel, "examples/") || strings.Contains("/"+rel+"/", "/internal/") {
			continue
		}
		for _, r := range rules {
			if !matchAny(r.pkgs, rel) || matchAny(r.except, rel) {
				continue
			}
			for _, d := range deps {
				drel := strings.TrimPrefix(d, module+"/")
				bad := matchAny(r.forbidden, drel)
				if slices.Contains(r.forbidden, "!std") && !isStd(d) && !strings.HasPrefix(drel, rel+"/internal/") && !stdInternal(graph, d) {
					bad = true
				}
				if bad {
					out = append(out, rel+" depends on "+drel+": "+r.why)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestImportRules fails when a package depends on one it must not; see
// "How the packages fit" in doc.go.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	graph := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			graph[f[0]] = f[1:]
		}
	}
	if len(graph) < 10 || graph[module+"/serving"] == nil {
		t.Fatalf("go list found %d packages, serving missing", len(graph))
	}
	for _, v := range violations(graph, importRules) {
		t.Error(v)
	}
}

// TestImportRulesCatch: the rules flag each forbidden edge the package
// documentation names, and pass the allowed ones.
func TestImportRulesCatch(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	graph := map[string][]string{
		m("serving"):                 {"context", "github.com/IBM/sarama", m("internal/logs"), m("internal/dial"), m("internal/std")},
		m("internal/logs"):           {"context", "log/slog"},
		m("internal/std"):            {"context", m("internal/logs")},
		m("internal/dial"):           {"context", "github.com/IBM/sarama"},
		m("governance"):              {m("registry"), m("registry/bolt"), "go.etcd.io/bbolt"},
		m("serving/formats/pmml"):    {m("serving"), m("serving/kafka")},
		m("serving/metrics"):         {m("serving"), "github.com/prometheus/client_golang/prometheus", m("serving/kafka")},
		m("speculative"):             {m("serving"), "github.com/prometheus/client_golang/prometheus"},
		m("serving/kafka"):           {m("serving"), m("serving/wire"), "github.com/IBM/sarama"},
		m("registry/bolt"):           {m("registry"), "go.etcd.io/bbolt"},
		m("serving/formats/leaves"):  {m("serving"), "github.com/dmitryikh/leaves"},
		m("serving/servingtest"):     {m("serving"), m("training")},
		m("examples/quickstart"):     {"github.com/IBM/sarama", "go.etcd.io/bbolt"},
		m("serving/formats/x/inner"): {m("serving")},
	}
	got := violations(graph, importRules)
	var short []string
	for _, v := range got {
		short = append(short, v[:strings.Index(v, ":")])
	}
	want := []string{
		"governance depends on go.etcd.io/bbolt",
		"governance depends on go.etcd.io/bbolt", // two rules: bbolt anywhere, and the Storage choice
		"governance depends on registry/bolt",
		"serving depends on github.com/IBM/sarama",
		"serving depends on github.com/IBM/sarama",
		"serving depends on internal/dial", // an internal package that links more than the standard library
		"serving/formats/pmml depends on serving/kafka",
		"serving/metrics depends on serving/kafka",
		"serving/servingtest depends on training",
		"speculative depends on github.com/prometheus/client_golang/prometheus",
	}
	if !slices.Equal(short, want) {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(short, "\n"), strings.Join(want, "\n"))
	}
}
