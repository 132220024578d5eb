//go:build ignore

// extract_mnist writes mnist.onnx, mnist_input_0.pb and mnist_output_0.pb
// from the MNIST example that github.com/owulveryck/onnx-go v0.5.0 (a
// dependency of this module, MIT licence) ships: the ONNX model zoo's
// MNIST CNN exported by CNTK 2.5.1, and one of its test sets.
//
// Run from this directory: go run extract_mnist.go
package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/owulveryck/onnx-go").Output()
	if err != nil {
		log.Fatal(err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "internal", "examples", "mnist")
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, "mnist_binary.go"), nil, 0)
	if err != nil {
		log.Fatal(err)
	}
	var model []byte
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && model == nil {
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				log.Fatal(err)
			}
			model = []byte(s)
		}
		return true
	})
	if err := os.WriteFile("mnist.onnx", model, 0o644); err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"input_0.pb", "output_0.pb"} {
		b, err := os.ReadFile(filepath.Join(dir, "test_data_set_0", name))
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile("mnist_"+name, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
