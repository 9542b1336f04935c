package albmtls_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albtrust/albtrust/pkg/albmtls"
)

// echoIdentity answers with the identity's common name and serial.
var echoIdentity = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id, ok := albmtls.IdentityFromContext(r.Context())
	if !ok {
		http.Error(w, "no identity in context", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "%s %s", id.CommonName, id.SerialNumber)
})

func TestMiddleware(t *testing.T) {
	h := testHierarchy(t, "ecdsa", true)
	leafKey := testKey(t, "ecdsa", 2)
	good := newLeaf(t, leafKey, h.issuer(), leafOpts{cn: "alice"})
	revoked := newLeaf(t, leafKey, h.issuer(), leafOpts{cn: "mallory"})
	expired := newLeaf(t, leafKey, h.issuer(), leafOpts{cn: "old", notBefore: testNow.Add(-48 * time.Hour), notAfter: testNow.Add(-time.Hour)})
	foreign := newCA(t, "Other CA", testKey(t, "ecdsa", 3), nil, testNow.Add(-time.Hour), testNow.Add(time.Hour*24*365))
	stranger := newLeaf(t, leafKey, foreign, leafOpts{cn: "alice"})
	v, err := albmtls.NewVerifier(albmtls.WithCABundle(pemCerts(h.root.cert, h.inter.cert)), albmtls.WithClock(fixedClock),
		albmtls.WithCRL(newCRL(t, h.inter, revoked.cert.SerialNumber)))
	if err != nil {
		t.Fatal(err)
	}
	handler := v.Middleware(echoIdentity)

	tests := []struct {
		name     string
		header   string // "" = header absent
		wantCode int
		wantBody string
	}{
		{"verified client passes with its identity", albmtls.EncodeClientCertHeader(h.presented(good)...), 200, "alice " + fmt.Sprintf("%X", good.cert.SerialNumber.Bytes())},
		{"no header", "", 403, "no client certificate\n"},
		{"malformed header", "%zz-----BEGIN CERTIFICATE-----", 403, "malformed client certificate header\n"},
		{"revoked", albmtls.EncodeClientCertHeader(h.presented(revoked)...), 403, "client certificate revoked\n"},
		{"expired", albmtls.EncodeClientCertHeader(h.presented(expired)...), 403, "client certificate expired\n"},
		{"signed by a foreign CA", albmtls.EncodeClientCertHeader(stranger.cert), 403, "client certificate untrusted\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.header != "" {
				r.Header.Set(albmtls.HeaderClientCert, tc.header)
			}
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, r)
			if w.Code != tc.wantCode || w.Body.String() != tc.wantBody {
				t.Fatalf("got %d %q, want %d %q", w.Code, w.Body.String(), tc.wantCode, tc.wantBody)
			}
		})
	}

	t.Run("custom reject handler sees the typed error", func(t *testing.T) {
		var got error
		v2, err := albmtls.NewVerifier(albmtls.WithCABundle(pemCerts(h.root.cert)), albmtls.WithClock(fixedClock),
			albmtls.WithRejectHandler(func(w http.ResponseWriter, r *http.Request, err error) {
				got = err
				w.WriteHeader(http.StatusUnauthorized)
			}))
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		v2.Middleware(echoIdentity).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != http.StatusUnauthorized || !errors.Is(got, albmtls.ErrNoCertificate) {
			t.Fatalf("got %d, %v", w.Code, got)
		}
	})
}

func TestIdentityFromContextWithoutMiddleware(t *testing.T) {
	if id, ok := albmtls.IdentityFromContext(httptest.NewRequest("GET", "/", nil).Context()); ok || id != nil {
		t.Fatal("identity found in a plain context")
	}
}

// replaceFile swaps path atomically with new content, as the kubelet does
// for a mounted Secret (write elsewhere, rename over).
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestFileReload(t *testing.T) {
	a := testHierarchy(t, "ecdsa", false)
	b := testHierarchy(t, "rsa", false)
	leafKey := testKey(t, "ecdsa", 2)
	alice := newLeaf(t, leafKey, a.issuer(), leafOpts{cn: "alice"})
	bob := newLeaf(t, leafKey, b.issuer(), leafOpts{cn: "bob"})

	dir := t.TempDir()
	bundlePath := filepath.Join(dir, "ca.crt")
	crlPath := filepath.Join(dir, "ca.crl")
	replaceFile(t, bundlePath, pemCerts(a.root.cert))
	replaceFile(t, crlPath, newCRL(t, a.root))

	var reloadErrs atomic.Int32
	v, err := albmtls.NewVerifier(albmtls.WithCABundleFile(bundlePath), albmtls.WithCRLFile(crlPath), albmtls.WithClock(fixedClock),
		albmtls.WithReloadErrorHandler(func(error) { reloadErrs.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string, leaf *issued, want error) {
		t.Helper()
		_, err := v.VerifyChain([]*x509.Certificate{leaf.cert})
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Fatalf("%s: %s: got %v, want %v", step, leaf.cert.Subject.CommonName, err, want)
		}
	}

	check("initial bundle", alice, nil)
	check("initial bundle", bob, albmtls.ErrUntrusted)

	replaceFile(t, bundlePath, pemCerts(a.root.cert, b.root.cert))
	check("bundle with both CAs", alice, nil)
	check("bundle with both CAs", bob, nil)

	replaceFile(t, crlPath, newCRL(t, a.root, alice.cert.SerialNumber))
	check("CRL revoking alice", alice, albmtls.ErrRevoked)
	check("CRL revoking alice", bob, nil)

	// Overwrite in place (same inode) with content of another size.
	if err := os.WriteFile(bundlePath, pemCerts(b.root.cert), 0o600); err != nil {
		t.Fatal(err)
	}
	// The CRL is from a, which left the bundle: the new state is refused and
	// the previous one kept.
	check("bundle without a, CRL still from a", bob, nil)
	check("bundle without a, CRL still from a", alice, albmtls.ErrRevoked)
	if n := reloadErrs.Load(); n != 1 {
		t.Fatalf("%d reload errors reported, want 1", n)
	}
	check("broken state is not re-read per request", bob, nil)
	if n := reloadErrs.Load(); n != 1 {
		t.Fatalf("%d reload errors after a repeat request, want still 1", n)
	}

	replaceFile(t, crlPath, newCRL(t, b.root))
	check("CRL fixed", alice, albmtls.ErrUntrusted)
	check("CRL fixed", bob, nil)

	if err := os.Remove(bundlePath); err != nil {
		t.Fatal(err)
	}
	check("bundle file gone: last good trust kept", bob, nil)
	if n := reloadErrs.Load(); n != 2 {
		t.Fatalf("%d reload errors, want 2", n)
	}
}

func TestFileReloadConcurrent(t *testing.T) {
	a := testHierarchy(t, "ecdsa", false)
	b := testHierarchy(t, "rsa", false)
	alice := newLeaf(t, testKey(t, "ecdsa", 2), a.issuer(), leafOpts{cn: "alice"})
	bundlePath := filepath.Join(t.TempDir(), "ca.crt")
	replaceFile(t, bundlePath, pemCerts(a.root.cert))
	v, err := albmtls.NewVerifier(albmtls.WithCABundleFile(bundlePath), albmtls.WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	// Alice's CA stays in every version of the file, so every request must
	// pass however the swaps interleave with verification.
	versions := [][]byte{pemCerts(a.root.cert), pemCerts(a.root.cert, b.root.cert), pemCerts(b.root.cert, a.root.cert)}
	var wg sync.WaitGroup
	var failures atomic.Int32
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, err := v.VerifyChain([]*x509.Certificate{alice.cert}); err != nil {
					failures.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 30; i++ {
		tmp := bundlePath + fmt.Sprintf(".%d", i)
		if err := os.WriteFile(tmp, versions[i%len(versions)], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, bundlePath); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d verifications failed during reloads", n)
	}
}

func BenchmarkVerifyRequest(b *testing.B) {
	for _, hc := range hierarchies() {
		b.Run(strings.ReplaceAll(hc.name, "->", "_"), func(b *testing.B) {
			h := testHierarchy(b, hc.alg, hc.inter)
			leaf := newLeaf(b, testKey(b, hc.alg, 2), h.issuer(), leafOpts{cn: "alice"})
			v, err := albmtls.NewVerifier(albmtls.WithCABundle(pemCerts(h.root.cert)), albmtls.WithClock(fixedClock),
				albmtls.WithCRL(newCRL(b, h.root, otherSerial(b), otherSerial(b))))
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set(albmtls.HeaderClientCert, albmtls.EncodeClientCertHeader(h.presented(leaf)...))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.VerifyRequest(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
