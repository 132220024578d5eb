//go:build cgo

package onnx

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The engine calls ONNX Runtime's C API through the OrtApi table, by
// slot number (runtime_values.go): each slot must be the one of its
// function in the onnxruntime_c_api.h that onnxruntime_go ships, of the
// API version the engine asks for. A wrong slot would call another
// function of the C API.
func TestOrtAPISlots(t *testing.T) {
	src, err := os.ReadFile("runtime_values.go")
	if err != nil {
		t.Fatal(err)
	}
	slots := regexp.MustCompile(`(?m)^\tslot(\w+) = (\d+),$`).FindAllStringSubmatch(string(src), -1)
	if len(slots) < 15 {
		t.Fatalf("found %d slots in runtime_values.go; the pattern no longer matches its enum", len(slots))
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/yalue/onnxruntime_go").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	prog := "#include <stdio.h>\n#include <stddef.h>\n#include \"onnxruntime_c_api.h\"\nint main(void) {\n" +
		"\tprintf(\"version %d\\n\", ORT_API_VERSION);\n"
	for _, s := range slots {
		prog += fmt.Sprintf("\tprintf(\"%[1]s %%zu\\n\", offsetof(OrtApi, %[1]s) / sizeof(void*));\n", s[1])
	}
	prog += "\treturn 0;\n}\n"
	tmp := t.TempDir()
	if err := os.WriteFile(filepath.Join(tmp, "slots.c"), []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	bin := filepath.Join(tmp, "slots")
	if out, err := exec.Command(cc, "-I", dir, "-o", bin, filepath.Join(tmp, "slots.c")).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cc, err, out)
	}
	out, err = exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	header := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, n, _ := strings.Cut(line, " ")
		header[name], _ = strconv.Atoi(n)
	}
	if header["version"] != runtimeAPIVersion {
		t.Errorf("onnxruntime_c_api.h is of API version %d; the engine asks for %d", header["version"], runtimeAPIVersion)
	}
	for _, s := range slots {
		if want, _ := strconv.Atoi(s[2]); header[s[1]] != want {
			t.Errorf("slot of %s is %d in the header, %d in runtime_values.go", s[1], header[s[1]], want)
		}
	}
}

// The engine reads the C handles of onnxruntime_go's sessions and
// values from unexported fields (sessionPtr, valuePtr): a version of the
// binding that moves them must fail here, not in a run.
func TestBindingKeepsItsHandles(t *testing.T) {
	if err := checkBinding(); err != nil {
		t.Fatal(err)
	}
}
