package governance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

var (
	trusted   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	untrusted = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// recorder is an AuditSink that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) WriteAudit(_ context.Context, e Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) last() Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events[len(r.events)-1]
}

func signed(t *testing.T, priv ed25519.PrivateKey, value float64, version uint64) serving.Descriptor {
	t.Helper()
	d, err := Sign(priv, servingtest.Spec{Value: value}.Descriptor("fraud", version))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var allReasons = []error{serving.ErrInvalidDescriptor, serving.ErrChecksum, ErrUnsigned, ErrBadSignature, ErrUntrustedKey, ErrReplay}

// TestEachAttackIsRejectedAndTheModelKeepsServing sends a tampered byte,
// tampered metadata, an untrusted key, a forged key ID, a missing
// signature and a replayed old version through the verifier in front of
// a real Server. Each is refused with its own error, audited and
// counted, and the Server keeps serving v2, unchanged.
func TestEachAttackIsRejectedAndTheModelKeepsServing(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	audit, err := NewAudit(AuditLogger(quiet()), AuditTo(rec))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), RequireSignature(), WithAudit(audit))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serving.NewServer(serving.WithLogger(quiet()), serving.WithHooks(audit), serving.WithAdmission(v))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for ver := uint64(1); ver <= 2; ver++ {
		if _, err := srv.Activate(ctx, signed(t, trusted, float64(ver), ver)); err != nil {
			t.Fatalf("admit v%d: %v", ver, err)
		}
	}
	live, _ := srv.Current("fraud")
	if live.Version != 2 {
		t.Fatalf("live %v", live)
	}

	tamperedByte := signed(t, trusted, 3, 3)
	tamperedByte.Bytes = bytes.Clone(tamperedByte.Bytes)
	tamperedByte.Bytes[len(tamperedByte.Bytes)-2] ^= 0x01

	// The attacker also fixes up the checksum: now only the signature
	// can tell.
	tamperedHashed := signed(t, trusted, 3, 3)
	tamperedHashed.Bytes = servingtest.Spec{Value: 666}.Descriptor("fraud", 3).Bytes
	tamperedHashed.SHA256 = serving.ContentID(tamperedHashed.Bytes)

	bumpedVersion := signed(t, trusted, 3, 3)
	bumpedVersion.Version = 4

	forgedKeyID := signed(t, untrusted, 3, 3)
	id := kidOf(trusted.Public().(ed25519.PublicKey))
	copy(forgedKeyID.Signature, id[:])

	truncated := signed(t, trusted, 3, 3)
	truncated.Signature = truncated.Signature[:40]

	unsigned := servingtest.Spec{Value: 3}.Descriptor("fraud", 3)

	cases := []struct {
		name string
		d    serving.Descriptor
		want error
	}{
		{"tampered byte", tamperedByte, serving.ErrChecksum},
		{"tampered bytes with fixed checksum", tamperedHashed, ErrBadSignature},
		{"tampered version", bumpedVersion, ErrBadSignature},
		{"wrong key", signed(t, untrusted, 3, 3), ErrUntrustedKey},
		{"wrong key claiming a trusted key ID", forgedKeyID, ErrBadSignature},
		{"truncated signature", truncated, ErrBadSignature},
		{"missing signature", unsigned, ErrUnsigned},
		{"replayed old version", signed(t, trusted, 1, 1), ErrReplay},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, check := range []struct {
				how string
				run func() error
			}{
				{"Verify", func() error { return v.Verify(ctx, c.d) }},
				{"Activate", func() error { _, err := srv.Activate(ctx, c.d); return err }},
			} {
				err := check.run()
				want := c.want
				if check.how == "Activate" && want == ErrReplay {
					// The Server refuses a version older than the live
					// one itself, before asking its Admitter.
					want = serving.ErrStaleVersion
				}
				if !errors.Is(err, want) {
					t.Fatalf("%s: got %v, want %v", check.how, err, want)
				}
				for _, other := range allReasons {
					if other != want && errors.Is(err, other) {
						t.Fatalf("%s: %v also matches %v", check.how, err, other)
					}
				}
				var re *rejectError
				if want == c.want && (!errors.As(err, &re) || re.reason != c.want) {
					t.Fatalf("%s: %v is not a rejection with reason %v", check.how, err, c.want)
				}
				if check.how == "Activate" && want == c.want && !errors.Is(err, serving.ErrNotAdmitted) {
					t.Fatalf("%s: %v does not wrap serving.ErrNotAdmitted", check.how, err)
				}
				if e := rec.last(); e.Kind != KindRejected || e.Reason != Reason(want) || e.Model.Name != "fraud" {
					t.Fatalf("%s: last audit event %+v", check.how, e)
				}
			}
			// The Server still serves v2, the same bytes, the same answers.
			cur, _ := srv.Current("fraud")
			if cur != live {
				t.Fatalf("live model changed to %v", cur)
			}
			res, err := srv.Model("fraud").Score(ctx, serving.Record{})
			if err != nil || res.Value != 2 || res.Provenance.Model != live {
				t.Fatalf("score after rejection: %+v, %v", res, err)
			}
		})
	}
	st := v.Stats()
	want := Stats{Verified: 2, Checksum: 2, BadSignature: 8, UntrustedKey: 2, RejectedUnsigned: 2, Replay: 1}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	if _, ok := srv.Current("fraud"); !ok {
		t.Fatal("no stats for the live model")
	}
	// A correctly signed v3 still goes through afterwards.
	if ref, err := srv.Activate(ctx, signed(t, trusted, 3, 3)); err != nil || ref.Version != 3 {
		t.Fatalf("admit v3 = %v, %v", ref, err)
	}
}

func TestVerifyHasTheFeedHookShape(t *testing.T) {
	v, err := NewVerifier(WithAudit(mustAudit(t)))
	if err != nil {
		t.Fatal(err)
	}
	var hook func(context.Context, serving.Descriptor) error = v.Verify
	if err := hook(context.Background(), servingtest.Spec{}.Descriptor("m", 1)); err != nil {
		t.Fatal(err)
	}
}

func mustAudit(t *testing.T) *Audit {
	a, err := NewAudit(AuditLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDefaultPolicyAcceptsUnsignedButChecksSignatures(t *testing.T) {
	ctx := context.Background()
	v, err := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), WithAudit(mustAudit(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1)); err != nil {
		t.Fatalf("unsigned under the default policy: %v", err)
	}
	if err := v.Verify(ctx, signed(t, trusted, 2, 2)); err != nil {
		t.Fatal(err)
	}
	bad := signed(t, untrusted, 3, 3)
	if err := v.Verify(ctx, bad); !errors.Is(err, ErrUntrustedKey) {
		t.Fatalf("untrusted signature under the default policy: %v", err)
	}
	if st := v.Stats(); st.Verified != 2 || st.Unsigned != 1 || st.UntrustedKey != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRedeliveryIsNotAReplay(t *testing.T) {
	ctx := context.Background()
	v, _ := NewVerifier(WithAudit(mustAudit(t)))
	d := servingtest.Spec{Value: 1}.Descriptor("m", 5)
	for i := 0; i < 2; i++ {
		if err := v.Verify(ctx, d); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		v.OnModelEvent(serving.ModelEvent{Kind: serving.EventActivated, Model: d.Ref()})
	}
	other := servingtest.Spec{Value: 2}.Descriptor("m", 5)
	if err := v.Verify(ctx, other); !errors.Is(err, ErrReplay) {
		t.Fatalf("same version, other content: %v", err)
	}
	// Names are independent.
	if err := v.Verify(ctx, servingtest.Spec{Value: 1}.Descriptor("n", 1)); err != nil {
		t.Fatal(err)
	}
}

func TestReplayFromRegistrySurvivesRestart(t *testing.T) {
	ctx := context.Background()
	store, _ := registry.NewMemory()
	for ver := uint64(1); ver <= 3; ver++ {
		if _, err := store.Put(ctx, signed(t, trusted, float64(ver), ver)); err != nil {
			t.Fatal(err)
		}
	}
	// A new process: its Verifier has seen nothing, but the store has.
	v, _ := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), ReplayFrom(store), WithAudit(mustAudit(t)))
	if err := v.Verify(ctx, signed(t, trusted, 2, 2)); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed v2 after restart: %v", err)
	}
	if err := v.Verify(ctx, signed(t, trusted, 3, 3)); err != nil {
		t.Fatalf("redelivered v3: %v", err)
	}
	if err := v.Verify(ctx, signed(t, trusted, 3, 3)); err != nil {
		t.Fatalf("redelivered v3 twice: %v", err)
	}
	if err := v.Verify(ctx, signed(t, trusted, 4, 4)); err != nil {
		t.Fatalf("v4: %v", err)
	}
	store.Close()
	v2, _ := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), ReplayFrom(store), WithAudit(mustAudit(t)))
	if err := v2.Verify(ctx, signed(t, trusted, 4, 4)); !errors.Is(err, ErrReplay) || !errors.Is(err, serving.ErrClosed) {
		t.Fatalf("unreadable store must fail closed: %v", err)
	}
}

func TestSigningPayloadLayout(t *testing.T) {
	d := serving.Descriptor{Name: "ab", Version: 258, Format: "fake", Bytes: []byte("model")}
	p, err := SigningPayload(d)
	if err != nil {
		t.Fatal(err)
	}
	sum := serving.ContentID([]byte("model"))
	want := "modelstream/v2\n" + "\x00\x00\x00\x02ab" + "\x00\x00\x00\x00\x00\x00\x01\x02" + "\x00\x00\x00\x04fake"
	raw, _ := hex.DecodeString(sum)
	if string(p) != want+string(raw)+"\x00\x00\x00\x00" {
		t.Fatalf("payload %q", p)
	}
	// Labels follow, counted and sorted by key, each length-prefixed.
	labelled, err := SigningPayload(serving.Descriptor{Name: "ab", Version: 258, Format: "fake", Bytes: []byte("model"),
		Labels: map[string]string{"z": "1", "leaves.transform": "raw"}})
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := "\x00\x00\x00\x02" + "\x00\x00\x00\x10leaves.transform\x00\x00\x00\x03raw" + "\x00\x00\x00\x01z\x00\x00\x00\x011"
	if string(labelled) != want+string(raw)+wantLabels {
		t.Fatalf("labelled payload %q", labelled)
	}
	// A descriptor with only the sha256 signs the same payload.
	byHash, err := SigningPayload(serving.Descriptor{Name: "ab", Version: 258, Format: "fake", SHA256: sum})
	if err != nil || !bytes.Equal(byHash, p) {
		t.Fatalf("payload by hash differs: %v", err)
	}
	// Moving a byte between fields changes the payload.
	q, _ := SigningPayload(serving.Descriptor{Name: "a", Version: 258, Format: "bfake", Bytes: []byte("model")})
	if bytes.Equal(p, q) {
		t.Fatal("length prefixes do not separate the fields")
	}
	for _, bad := range []serving.Descriptor{
		{Name: "m", Format: "fake", Bytes: []byte("x")},                  // version 0
		{Name: "m", Version: 1, Bytes: []byte("x")},                      // no format
		{Name: "m", Version: 1, Format: "fake"},                          // nothing to hash
		{Name: "m", Version: 1, Format: "fake", SHA256: "abc"},           // short hash
		{Name: "m", Version: 1, Format: "fake", SHA256: sum[:62] + "zz"}, // not hex
	} {
		if _, err := SigningPayload(bad); !errors.Is(err, serving.ErrInvalidDescriptor) {
			t.Fatalf("%+v: %v", bad, err)
		}
	}
	if _, err := Sign(trusted[:10], d); err == nil {
		t.Fatal("short private key accepted")
	}
}

func TestLocationModelIsBoundByItsSignedHash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "model.json")
	body := servingtest.Spec{Value: 7}.Descriptor("m", 1).Bytes
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Sign(trusted, serving.Descriptor{Name: "m", Version: 1, Format: servingtest.FormatName, Location: "file://" + path, SHA256: serving.ContentID(body)})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), RequireSignature(), WithAudit(mustAudit(t)))
	if err := v.Verify(ctx, d); err != nil {
		t.Fatalf("location-only descriptor: %v", err)
	}
	srv, _ := serving.NewServer(serving.WithLogger(quiet()), serving.WithAdmission(v),
		serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{"file://" + filepath.Dir(path) + "/"}}))
	defer srv.Close()
	// The Server admits, then fetches the bytes; verifying the same v1
	// again is a redelivery, not a replay.
	if ref, err := srv.Activate(ctx, d); err != nil || ref.ID != d.SHA256 {
		t.Fatalf("admit from location: %v, %v", ref, err)
	}
	// The file is swapped on disk after signing: the fetch no longer
	// matches the signed hash.
	if err := os.WriteFile(path, servingtest.Spec{Value: 666}.Descriptor("m", 1).Bytes, 0o600); err != nil {
		t.Fatal(err)
	}
	d2, _ := Sign(trusted, serving.Descriptor{Name: "m", Version: 2, Format: servingtest.FormatName, Location: "file://" + path, SHA256: serving.ContentID(body)})
	if _, err := srv.Activate(ctx, d2); !errors.Is(err, serving.ErrChecksum) {
		t.Fatalf("swapped file: %v", err)
	}
	if cur, _ := srv.Current("m"); cur.Version != 1 || cur.ID != d.SHA256 {
		t.Fatalf("a model was activated from a swapped file: %v", cur)
	}
}

func TestNewVerifierValidates(t *testing.T) {
	if _, err := NewVerifier(RequireSignature()); err == nil {
		t.Fatal("require without keys accepted")
	}
	if _, err := NewVerifier(TrustKeys(ed25519.PublicKey{1, 2, 3})); err == nil {
		t.Fatal("short public key accepted")
	}
	if _, err := NewAudit(AuditTimeout(0)); err == nil {
		t.Fatal("zero audit timeout accepted")
	}
	// A replay guard meant to be seeded from a store, and an audit trail
	// meant to reach a sink, that silently get neither: NewVerifier and
	// NewAudit accepted both, as if the option had not been given.
	var store *registry.Registry // an Open whose error was dropped
	if _, err := NewVerifier(ReplayFrom(store)); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("ReplayFrom(nil): %v, want serving.ErrConfig", err)
	}
	if _, err := NewAudit(AuditTo(nil)); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("AuditTo(nil): %v, want serving.ErrConfig", err)
	}
	// The same with an Audit whose NewAudit error was dropped: the
	// Verifier took WithAudit(nil) for no option, and its events reached
	// its own log-only Audit instead of the sink meant for them.
	var audit *Audit
	if _, err := NewVerifier(WithAudit(audit)); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("WithAudit(nil): %v, want serving.ErrConfig", err)
	}
	// A nil option, such as an optional one left unset in a slice of
	// options: both constructors panicked on calling it.
	if _, err := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), nil); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("NewVerifier with a nil Option: %v, want serving.ErrConfig", err)
	}
	if _, err := NewAudit(nil); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("NewAudit with a nil AuditOption: %v, want serving.ErrConfig", err)
	}
}

// TestSHA256IsCanonical: hex decoding accepts upper case, so without a
// check the signature over "abc…" would also verify for "ABC…": two
// descriptor spellings, two content IDs downstream, one signature. Only
// the canonical lowercase form is signed or verified.
func TestSHA256IsCanonical(t *testing.T) {
	body := servingtest.Spec{Value: 1}.Descriptor("m", 1).Bytes
	d, err := Sign(trusted, serving.Descriptor{Name: "m", Version: 1, Format: servingtest.FormatName, Location: "file:///m", SHA256: serving.ContentID(body)})
	if err != nil {
		t.Fatal(err)
	}
	upper := d
	upper.SHA256 = strings.ToUpper(d.SHA256)
	if _, err := SigningPayload(upper); !errors.Is(err, serving.ErrInvalidDescriptor) {
		t.Fatalf("payload of an upper-case sha256: %v", err)
	}
	if _, err := Sign(trusted, upper); !errors.Is(err, serving.ErrInvalidDescriptor) {
		t.Fatalf("sign an upper-case sha256: %v", err)
	}
	v, _ := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), WithAudit(mustAudit(t)))
	if err := v.Verify(context.Background(), upper); !errors.Is(err, serving.ErrInvalidDescriptor) {
		t.Fatalf("verify an upper-case sha256: %v", err)
	}
	if err := v.Verify(context.Background(), d); err != nil {
		t.Fatalf("the canonical form: %v", err)
	}
}

// TestAdmitRefusesBeforeFetching: a Location model that the signature
// policy refuses anyway (unsigned under RequireSignature, or signed by an
// untrusted key, or with a signature that does not verify over its
// SHA256) is refused before its bytes are fetched, so that whoever can
// write to the models topic cannot make every instance download from a
// URL of their choice. Nothing is activated.
func TestAdmitRefusesBeforeFetching(t *testing.T) {
	ctx := context.Background()
	body := servingtest.Spec{Value: 7}.Descriptor("m", 1).Bytes
	var fetches atomic.Int64
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.Write(body)
	}))
	defer web.Close()
	loc := serving.Descriptor{Name: "m", Version: 1, Format: servingtest.FormatName, Location: web.URL + "/model", SHA256: serving.ContentID(body)}
	good, err := Sign(trusted, loc)
	if err != nil {
		t.Fatal(err)
	}
	byUntrusted, _ := Sign(untrusted, loc)
	otherHash := good
	otherHash.SHA256 = serving.ContentID([]byte("other"))
	v, _ := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), RequireSignature(), WithAudit(mustAudit(t)))
	srv, _ := serving.NewServer(serving.WithLogger(quiet()), serving.WithAdmission(v), serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{web.URL + "/"}}))
	defer srv.Close()
	for _, c := range []struct {
		name string
		d    serving.Descriptor
		want error
	}{
		{"unsigned", loc, ErrUnsigned},
		{"untrusted key", byUntrusted, ErrUntrustedKey},
		{"signature over another hash", otherHash, ErrBadSignature},
	} {
		if _, err := srv.Activate(ctx, c.d); !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
		if n := fetches.Load(); n != 0 {
			t.Fatalf("%s: the model was fetched %d times before being refused", c.name, n)
		}
	}
	if st := v.Stats(); st.RejectedUnsigned != 1 || st.UntrustedKey != 1 || st.BadSignature != 1 {
		t.Fatalf("stats %+v", st)
	}
	if _, ok := srv.Current("m"); ok {
		t.Fatal("a refused model is live")
	}
	if ref, err := srv.Activate(ctx, good); err != nil || ref.Version != 1 || fetches.Load() != 1 {
		t.Fatalf("the signed model: %v, %v, %d fetches", ref, err, fetches.Load())
	}
}

// TestOnlyLiveVersionsCountAsSeen: validly signed messages that never go
// live (bytes that do not load, the maximum version) do not raise the
// replay mark, so later good versions are not replays. Before, one such
// message at 2^64-1 made every later version of the name a replay.
func TestOnlyLiveVersionsCountAsSeen(t *testing.T) {
	ctx := context.Background()
	v, _ := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), RequireSignature(), WithAudit(mustAudit(t)))
	srv, _ := serving.NewServer(serving.WithLogger(quiet()), serving.WithAdmission(v))
	defer srv.Close()
	if _, err := srv.Activate(ctx, signed(t, trusted, 1, 1)); err != nil {
		t.Fatal(err)
	}
	for _, ver := range []uint64{50, math.MaxUint64 - 1} {
		junk, err := Sign(trusted, serving.Descriptor{Name: "fraud", Version: ver, Format: servingtest.FormatName, Bytes: []byte("junk")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Activate(ctx, junk); err == nil {
			t.Fatalf("junk at v%d went live", ver)
		}
	}
	if ref, err := srv.Activate(ctx, signed(t, trusted, 2, 2)); err != nil || ref.Version != 2 {
		t.Fatalf("good v2 after junk: %v, %v", ref, err)
	}
	if err := v.Verify(ctx, signed(t, trusted, 1, 1)); !errors.Is(err, ErrReplay) {
		t.Fatalf("v1 after v2 went live: %v, want a replay", err)
	}
}

// signV1 signs d over the v1 layout, as signers did before the labels
// were covered.
func signV1(t *testing.T, priv ed25519.PrivateKey, d serving.Descriptor) serving.Descriptor {
	t.Helper()
	p, err := signingPayloadV1(d)
	if err != nil {
		t.Fatal(err)
	}
	if d.SHA256 == "" {
		d.SHA256 = serving.ContentID(d.Bytes)
	}
	id := kidOf(priv.Public().(ed25519.PublicKey))
	d.Signature = append(id[:], ed25519.Sign(priv, p)...)
	return d
}

// TestSignatureCoversLabels: a label a format reads changes the answer
// (leaves.transform turned a LightGBM model's 0.3755 into 0.2445), so
// adding, changing or removing any label breaks a signature; a
// signature made over the v1 layout, which covered no label, still
// verifies while no label can change the answer, and not once one can.
func TestSignatureCoversLabels(t *testing.T) {
	ctx := context.Background()
	v, _ := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), RequireSignature(), WithAudit(mustAudit(t)))
	base := servingtest.Spec{Value: 1}.Descriptor("fraud", 7)
	base.Labels = map[string]string{"loss": "0.1", "leaves.estimators": "10"}
	d, err := Sign(trusted, base)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(ctx, d); err != nil {
		t.Fatalf("signed with labels: %v", err)
	}
	tamper := func(fn func(map[string]string)) serving.Descriptor {
		c := d
		c.Labels = maps.Clone(d.Labels)
		fn(c.Labels)
		return c
	}
	for name, c := range map[string]serving.Descriptor{
		"added transform":   tamper(func(l map[string]string) { l["leaves.transform"] = "raw" }),
		"changed estimator": tamper(func(l map[string]string) { l["leaves.estimators"] = "3" }),
		"removed label":     tamper(func(l map[string]string) { delete(l, "loss") }),
		"changed metric":    tamper(func(l map[string]string) { l["loss"] = "0.0" }),
	} {
		if err := v.Verify(ctx, c); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}

	old := servingtest.Spec{Value: 1}.Descriptor("fraud", 8)
	v1 := signV1(t, trusted, old)
	if err := v.Verify(ctx, v1); err != nil {
		t.Fatalf("a v1 signature without labels: %v", err)
	}
	v1.Labels = map[string]string{"loss": "0.1"}
	if err := v.Verify(ctx, v1); err != nil {
		t.Fatalf("a v1 signature with a label no format reads: %v", err)
	}
	v1.Labels["leaves.transform"] = "raw"
	err = v.Verify(ctx, v1)
	if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "leaves.transform") {
		t.Fatalf("a v1 signature under a format label: %v, want ErrBadSignature naming the label", err)
	}
}
