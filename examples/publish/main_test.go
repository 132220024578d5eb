package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/internal/demo"
	"github.com/modelstream/modelstream/serving"
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

// The kcat command writes the message Publish wrote: every header,
// labels, description and sha256 included (it used to leave out the
// labels and the description), and a value that exists (for the sample
// model it named a model.json that was nowhere).
func TestPublishKcatCommandIsTheSameMessage(t *testing.T) {
	var out bytes.Buffer
	err := run(&out, "", "models", "", "", "", "fraud", "linear", defaultVersion, "it's new", labels{"trainer": "nightly"})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	sample := demo.FraudModel(defaultVersion).Bytes
	sum := sha256.Sum256(sample)
	for _, want := range []string{
		"echo '" + string(sample) + "' | kcat -P -b ",
		" -t models -k fraud -H modelstream.format=linear",
		" -H modelstream.sha256=" + hex.EncodeToString(sum[:]),
		` -H 'modelstream.description=it'\''s new'`,
		" -H modelstream.label.features=amount,hour,new_device",
		" -H modelstream.label.trainer=nightly",
		" -H modelstream.created=",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("kcat command lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "model.json") {
		t.Error("kcat command names a model.json that does not exist")
	}
}

// A model the reading feed rejects fails the command: it printed
// "rejected" and exited 0.
func TestPublishFailsWhenTheModelDoesNotLoad(t *testing.T) {
	file := filepath.Join(t.TempDir(), "model.ubj")
	if err := os.WriteFile(file, []byte("{L\x00\x00\x00\x04"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(&out, "", "models", file, "", "", "fraud", "linear", defaultVersion, "", labels{})
	t.Log("\n" + out.String())
	if !errors.Is(err, serving.ErrCorruptModel) {
		t.Errorf("run: %v, want an error wrapping serving.ErrCorruptModel", err)
	}
}
