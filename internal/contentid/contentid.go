// Package contentid holds the one rule for the form of a content ID, the
// lowercase hex SHA-256 of a model's bytes that serving.ContentID makes.
// serving, registry and governance check a descriptor's SHA256 with it,
// so that no path accepts a spelling another refuses.
package contentid

// Valid reports whether id has the form of a content ID: 64 lowercase
// hex digits. Upper case is refused: a content ID has one spelling, so
// that "ABC…" and "abc…" never name two models or share one signature.
func Valid(id string) bool {
	if len(id) != 64 {
		return false
	}
	for i := range len(id) {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
