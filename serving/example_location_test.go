package serving_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/modelstream/modelstream/serving"
)

// A Descriptor may point at its bytes instead of carrying them. Whoever
// writes the models topic chooses that Location, so a Server fetches it
// only from the prefixes it allows, and from none by default; and the
// Descriptor pins the bytes with their SHA256, so that whoever serves
// the Location cannot choose the model either.
func ExampleLoadOptions() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "models")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if dir, err = filepath.EvalSymlinks(dir); err != nil { // an allowed file must resolve inside dir
		log.Fatal(err)
	}
	path := filepath.Join(dir, "seven.bin")
	if err := os.WriteFile(path, []byte{7}, 0o644); err != nil {
		log.Fatal(err)
	}
	d := serving.Descriptor{Name: "seven", Format: "example-constant", Location: "file://" + path,
		SHA256: serving.ContentID([]byte{7})}
	quiet := serving.WithLogger(slog.New(slog.DiscardHandler))

	// The default: no Location is fetched.
	srv, _ := serving.NewServer(quiet)
	_, err = srv.Activate(ctx, d)
	fmt.Println(errors.Is(err, serving.ErrLocationNotAllowed))
	srv.Close()

	// Allow the models directory, and only it.
	srv, err = serving.NewServer(quiet, serving.WithLoadOptions(serving.LoadOptions{
		AllowLocations: []string{"file://" + dir + "/"},
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ref, err := srv.Activate(ctx, d)
	fmt.Println(ref.Name, ref.Version, err)
	_, err = srv.Activate(ctx, serving.Descriptor{Name: "other", Format: "example-constant", Location: "file:///etc/passwd",
		SHA256: serving.ContentID([]byte{7})})
	fmt.Println(errors.Is(err, serving.ErrLocationNotAllowed))

	// Without a SHA256, the bytes at the Location are refused too.
	d.SHA256 = ""
	_, err = srv.Activate(ctx, d)
	fmt.Println(errors.Is(err, serving.ErrLocationNotAllowed))
	// Output:
	// true
	// seven 1 <nil>
	// true
	// true
}
