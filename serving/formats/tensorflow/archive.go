package tensorflow

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// maxArchiveEntries bounds the number of entries of a SavedModel archive,
// so that a flood of empty headers cannot keep Load busy.
const maxArchiveEntries = 1 << 12

// savedModelFiles are the files of a SavedModel directory that Load
// reads, by their path under the directory.
type savedModelFiles struct {
	savedModel []byte            // saved_model.pb
	index      []byte            // variables/variables.index; nil without variables
	shards     map[string][]byte // variables/variables.data-*, by base name
}

// readArchive reads a SavedModel directory from a tar archive, gzip
// compressed or not. The directory is the one holding saved_model.pb,
// at the archive's root or below (a version directory, say); entries
// outside it (assets, fingerprint.pb, other versions' files) are skipped
// without being kept. limit bounds the archive's uncompressed size, and
// so every entry's.
//
// Hostile archives are refused: names that are absolute or climb out
// with "..", links of any kind, devices, repeated names, several
// saved_model.pb files, and archives over the limit.
func readArchive(b []byte, limit int64) (*savedModelFiles, error) {
	var r io.Reader = bytes.NewReader(b)
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		z.Multistream(false)
		r = z
	}
	// One byte past the limit tells an archive at the limit from one over.
	lr := &io.LimitedReader{R: r, N: limit + 1}
	tr := tar.NewReader(lr)
	files := map[string][]byte{}
	seen := map[string]bool{}
	var roots []string
	var kept int64 // the bytes of the entries kept, holes included
	pbtxt := false
	for n := 0; ; n++ {
		h, err := tr.Next()
		// Checked before io.EOF: when the limit falls on a header's
		// boundary, the cut reads as the end of the archive.
		if lr.N <= 0 {
			return nil, &tooLargeError{what: "the archive", limit: limit, unit: "bytes uncompressed (MaxArchiveBytes)"}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tar: %w", err)
		}
		if n >= maxArchiveEntries {
			return nil, fmt.Errorf("the archive has more than %d entries", maxArchiveEntries)
		}
		name, err := cleanName(h.Name)
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, fmt.Errorf("the archive holds %q twice", h.Name)
		}
		seen[name] = true
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		case tar.TypeSymlink, tar.TypeLink:
			return nil, fmt.Errorf("the archive holds a link, %q -> %q: a SavedModel archive holds only files and directories", h.Name, h.Linkname)
		default:
			return nil, fmt.Errorf("the archive holds %q of tar type %q: a SavedModel archive holds only files and directories", h.Name, h.Typeflag)
		}
		if h.Size < 0 || h.Size > limit {
			return nil, &tooLargeError{what: fmt.Sprintf("archive entry %q of %d bytes", h.Name, h.Size), limit: limit, unit: "bytes (MaxArchiveBytes)"}
		}
		base := path.Base(name)
		if base == "saved_model.pbtxt" {
			pbtxt = true
		}
		keep := base == "saved_model.pb" || path.Base(path.Dir(name)) == "variables" &&
			(base == "variables.index" || strings.HasPrefix(base, "variables.data-"))
		if !keep {
			continue
		}
		// The limiting reader counts the bytes the archive stores; the
		// holes of a sparse entry (GNU and PAX sparse files) are stored
		// as a map of a few bytes and read as zeros, so the bytes kept
		// are counted against the limit too.
		if kept += h.Size; kept > limit {
			return nil, &tooLargeError{what: "the archive", limit: limit, unit: "bytes uncompressed (MaxArchiveBytes)"}
		}
		if base == "saved_model.pb" {
			roots = append(roots, path.Dir(name))
		}
		data, err := io.ReadAll(tr)
		if lr.N <= 0 {
			return nil, &tooLargeError{what: "the archive", limit: limit, unit: "bytes uncompressed (MaxArchiveBytes)"}
		}
		if err != nil {
			return nil, fmt.Errorf("tar: %q: %w", h.Name, err)
		}
		files[name] = data
	}
	switch len(roots) {
	case 0:
		if len(seen) == 0 {
			return nil, errors.New("not a tar archive of a SavedModel: no entries")
		}
		if pbtxt {
			return nil, &unsupportedError{"the archive holds saved_model.pbtxt, a SavedModel in protobuf text format: only the binary saved_model.pb is read"}
		}
		return nil, errors.New("the archive has no saved_model.pb")
	case 1:
	default:
		return nil, fmt.Errorf("the archive holds %d saved_model.pb files (in %q and %q): send one SavedModel per archive", len(roots), roots[0], roots[1])
	}
	root := roots[0]
	sm := &savedModelFiles{savedModel: files[path.Join(root, "saved_model.pb")], shards: map[string][]byte{}}
	vars := path.Join(root, "variables")
	for name, data := range files {
		switch {
		case name == path.Join(vars, "variables.index"):
			sm.index = data
		case path.Dir(name) == vars && strings.HasPrefix(path.Base(name), "variables.data-"):
			sm.shards[path.Base(name)] = data
		}
	}
	return sm, nil
}

// cleanName returns an entry's name as a clean relative path ("." for
// the root), refusing absolute names, names that climb out of the
// archive's root and names that are not plain text.
func cleanName(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "\\\x00") || path.IsAbs(name) {
		return "", fmt.Errorf("archive entry name %q is not a relative path", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("archive entry name %q climbs out of the archive with \"..\"", name)
		}
	}
	return path.Clean(name), nil
}

// errNoVariables is returned for a graph that reads variables when the
// archive holds no checkpoint.
var errNoVariables = errors.New("the graph reads variables, but the archive has no variables/variables.index")

// archiveError classifies an error of readArchive.
func archiveError(err error) error {
	return classify(SavedModelFormatName, err)
}
