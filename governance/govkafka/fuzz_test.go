package govkafka_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/serving/wire"
)

var (
	fuzzKey   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	fuzzOther = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))
)

// packHeaders frames headers as key NUL value NUL ..., the fuzzer's form.
func packHeaders(hs []wire.Header) []byte {
	var b []byte
	for _, h := range hs {
		b = append(append(append(append(b, h.Key...), 0), h.Value...), 0)
	}
	return b
}

func unpackHeaders(b []byte) []wire.Header {
	parts := bytes.Split(b, []byte{0})
	var hs []wire.Header
	for i := 0; i+1 < len(parts); i += 2 {
		hs = append(hs, wire.Header{Key: parts[i], Value: parts[i+1]})
	}
	return hs
}

// FuzzGovernedModelMessage feeds whole model messages (key, headers and
// value) through what a governed model feed does with one: decode it
// with wire.DecodeModel, number a version-less one, and activate it in a
// Server whose admission is a Verifier requiring signatures by one
// trusted key, with no AllowLocations. Whatever the message:
//
//   - nothing panics;
//   - nothing is fetched (every HTTP request counts, and a Location
//     pointing at a live server is among the seeds);
//   - the live model stays the signed v1 unless the message carried a
//     signature that verifies under the trusted key for exactly what
//     went live (its name, version, format, sha256 and labels), and its
//     bytes hash to that sha256.
//
// Run it with go test -run '^$' -fuzz FuzzGovernedModelMessage -fuzztime 60s ./governance/govkafka/
func FuzzGovernedModelMessage(f *testing.F) {
	var hits atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"value":9}`))
	}))
	f.Cleanup(ts.Close)
	counting := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		hits.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}

	seed := func(d serving.Descriptor) {
		m, err := wire.EncodeModel(d, 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.Key, packHeaders(m.Headers), m.Value)
	}
	sign := func(priv ed25519.PrivateKey, d serving.Descriptor) serving.Descriptor {
		d, err := governance.Sign(priv, d)
		if err != nil {
			f.Fatal(err)
		}
		return d
	}
	good := sign(fuzzKey, servingtest.Spec{Value: 2}.Descriptor("fraud", 2))
	seed(good)
	labelled := servingtest.Spec{Value: 2}.Descriptor("fraud", 3)
	labelled.Labels = map[string]string{"leaves.transform": "raw"}
	seed(sign(fuzzKey, labelled))
	seed(sign(fuzzOther, servingtest.Spec{Value: 3}.Descriptor("fraud", 3)))
	seed(servingtest.Spec{Value: 3}.Descriptor("fraud", 3))
	tampered := good
	tampered.Bytes = []byte(`{"value":666}`)
	tampered.SHA256 = ""
	seed(tampered)
	relabelled := good
	relabelled.Labels = map[string]string{"leaves.estimators": "1"}
	seed(relabelled)
	located := sign(fuzzKey, servingtest.Spec{Value: 9}.Descriptor("fraud", 4))
	located.Location, located.Bytes = ts.URL+"/m", nil
	seed(located)
	fileLoc := located
	fileLoc.Location = "file:///dev/zero"
	seed(fileLoc)
	nextVersion := good
	nextVersion.Version = 0
	seed(nextVersion)
	maxVersion := sign(fuzzKey, servingtest.Spec{Value: 2}.Descriptor("fraud", 1<<64-1))
	seed(maxVersion)
	f.Add([]byte("fraud"), []byte("modelstream.format\x00fake\x00modelstream.signature\x00"+string(bytes.Repeat([]byte("QUFB"), 24))+"\x00"), []byte(`{"value":5}`))

	v1 := sign(fuzzKey, servingtest.Spec{Value: 1}.Descriptor("fraud", 1))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, key, headers, value []byte) {
		v, err := governance.NewVerifier(governance.TrustKeys(fuzzKey.Public().(ed25519.PublicKey)),
			governance.RequireSignature(), governance.WithAudit(mustQuietAudit(t)))
		if err != nil {
			t.Fatal(err)
		}
		srv, err := serving.NewServer(serving.WithAdmission(v), serving.WithLogger(quiet),
			serving.WithLoadOptions(serving.LoadOptions{HTTPClient: counting}))
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		ref1, err := srv.Activate(ctx, v1)
		if err != nil {
			t.Fatal(err)
		}
		before := hits.Load()

		d, err := wire.DecodeModel(wire.Message{Key: key, Value: value, Headers: unpackHeaders(headers)}, 1<<16)
		if err != nil {
			return // dead-lettered by the feed, never activated
		}
		if d.Version == 0 {
			d.Version = 2 // the feed numbers it live+1
		}
		ref, err := srv.Activate(ctx, d)
		if n := hits.Load() - before; n != 0 {
			t.Fatalf("%d fetches for a message with location %q (err %v)", n, d.Location, err)
		}
		live := srv.Models()
		if err != nil {
			if len(live) != 1 || live[0].Model != ref1 {
				t.Fatalf("refused (%v), yet live is %v", err, live)
			}
			return
		}
		// It went live: it must carry a valid signature by the trusted
		// key over what went live.
		if len(d.Signature) != governance.SignatureSize || !bytes.Equal(d.Signature[:governance.KeyIDSize], keyID(fuzzKey)) {
			t.Fatalf("%v went live without a signature by the trusted key", ref)
		}
		payload, err := governance.SigningPayload(d)
		if err != nil || !ed25519.Verify(fuzzKey.Public().(ed25519.PublicKey), payload, d.Signature[governance.KeyIDSize:]) {
			t.Fatalf("%v went live with a signature that does not verify (%v)", ref, err)
		}
		if d.Location != "" || serving.ContentID(d.Bytes) != ref.ID {
			t.Fatalf("%v went live from a location or with bytes other than its id", ref)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func keyID(priv ed25519.PrivateKey) []byte {
	id, err := hex.DecodeString(governance.KeyIDOf(priv.Public().(ed25519.PublicKey)))
	if err != nil || len(id) != governance.KeyIDSize {
		panic(fmt.Sprintf("KeyIDOf gave %x (%v)", id, err))
	}
	return id
}

func mustQuietAudit(t *testing.T) *governance.Audit {
	a, err := governance.NewAudit(governance.AuditLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	return a
}
