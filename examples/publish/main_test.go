package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/internal/demo"
)

// TestPublish runs the example on the embedded broker as its flags
// allow, and checks that the ModelFeed reading the message back
// activates it: the sample model (no flags), a LightGBM file (the
// reading Server knows every format, not only linear), a message
// without a version (numbered by the feed), and a location pinned by
// its SHA-256.
func TestPublish(t *testing.T) {
	sample := demo.FraudModel(1).Bytes
	dir := t.TempDir()
	file := filepath.Join(dir, "model.json")
	if err := os.WriteFile(file, sample, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(sample)
	for _, c := range []struct {
		name                        string
		file, location, sum, format string
		version                     uint64
		published, readBack         string
	}{
		{name: "no flags", format: "linear", version: defaultVersion, published: "published fraud@next (linear", readBack: "activated fraud@v1"},
		{name: "lightgbm file", file: "../../serving/formats/leaves/testdata/lightgbm4/binary_classification.model.txt", format: "lightgbm", version: 3,
			published: "published fraud@v3 (lightgbm", readBack: "activated fraud@v3"},
		{name: "no version", file: file, format: "linear", version: 0, published: "published fraud@next (linear", readBack: "activated fraud@v1"},
		{name: "location", location: "file://" + file, sum: hex.EncodeToString(sum[:]), format: "linear", version: 2,
			published: "published fraud@v2 (linear, at file://", readBack: "activated fraud@v2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(&out, "", "models", c.file, c.location, c.sum, "fraud", c.format, c.version, "", labels{})
			t.Log("\n" + out.String())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), c.published) {
				t.Errorf("output lacks %q", c.published)
			}
			if !strings.Contains(out.String(), "kcat -P -b ") {
				t.Error("output lacks the kcat command")
			}
			if want := "a ModelFeed read it back: " + c.readBack + "\n"; !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q", want)
			}
		})
	}
}

// -format without -file or -location is refused: the sample model is
// linear, and it was published as linear, the flag silently ignored.
func TestPublishRefusesFormatWithoutFile(t *testing.T) {
	var out bytes.Buffer
	err := run(&out, "", "models", "", "", "", "fraud", "onnx", defaultVersion, "", labels{})
	if err == nil || !strings.Contains(err.Error(), "-format onnx") {
		t.Errorf("run: %v, want an error naming -format onnx", err)
	}
	if strings.Contains(out.String(), "published") {
		t.Errorf("published anyway:\n%s", out.String())
	}
}
