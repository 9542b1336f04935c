package albmtls_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/albtrust/albtrust/internal/pki"
	"github.com/albtrust/albtrust/pkg/albmtls"
)

// allSentinels lets a test assert that an error matches exactly the expected
// sentinel and no other.
var allSentinels = []error{
	albmtls.ErrNoCertificate, albmtls.ErrMalformed, albmtls.ErrHeaderTooLarge,
	albmtls.ErrChainTooLong, albmtls.ErrUntrusted, albmtls.ErrRevoked,
	albmtls.ErrExpired, albmtls.ErrNotYetValid, albmtls.ErrWrongPurpose,
}

func assertReason(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("want success, got %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("want %v, got %v", want, err)
	}
	var ve *albmtls.VerificationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *VerificationError", err)
	}
	for _, s := range allSentinels {
		if s == want || (want == albmtls.ErrHeaderTooLarge && s == albmtls.ErrMalformed) {
			continue
		}
		if errors.Is(err, s) {
			t.Errorf("error %v also matches %v", err, s)
		}
	}
}

func hierarchies() []struct {
	name  string
	alg   string
	inter bool
} {
	return []struct {
		name  string
		alg   string
		inter bool
	}{
		{"RSA root->leaf", "rsa", false},
		{"RSA root->intermediate->leaf", "rsa", true},
		{"ECDSA root->leaf", "ecdsa", false},
		{"ECDSA root->intermediate->leaf", "ecdsa", true},
	}
}

func TestVerifyChain(t *testing.T) {
	for _, hc := range hierarchies() {
		t.Run(hc.name, func(t *testing.T) {
			h := testHierarchy(t, hc.alg, hc.inter)
			leafKey := testKey(t, hc.alg, 2)
			foreign := newCA(t, h.root.cert.Subject.CommonName, testKey(t, hc.alg, 3), nil, testNow.Add(-time.Hour), testNow.Add(time.Hour*24*365))

			good := newLeaf(t, leafKey, h.issuer(), leafOpts{cn: "alice"})
			revoked := newLeaf(t, leafKey, h.issuer(), leafOpts{cn: "mallory"})
			expired := newLeaf(t, leafKey, h.issuer(), leafOpts{cn: "old", notBefore: testNow.Add(-48 * time.Hour), notAfter: testNow.Add(-time.Hour)})
			future := newLeaf(t, leafKey, h.issuer(), leafOpts{cn: "soon", notBefore: testNow.Add(time.Hour)})
			serverOnly := newLeaf(t, leafKey, h.issuer(), leafOpts{cn: "server", serverOnly: true})
			clientOnly := newLeaf(t, leafKey, h.issuer(), leafOpts{cn: "client", clientOnly: true})
			stranger := newLeaf(t, leafKey, foreign, leafOpts{cn: "alice"})

			// The root's CRL is always loaded, so every case also proves that an
			// unrelated CRL changes nothing. A CRL from the intermediate needs the
			// intermediate in the bundle (as an ALB trust store does).
			bundle := pemCerts(h.root.cert)
			rootCRL := albmtls.WithCRL(newCRL(t, h.root, big.NewInt(7)))
			revokedOpts := []albmtls.Option{albmtls.WithCRL(newCRL(t, h.issuer(), revoked.cert.SerialNumber, big.NewInt(7)))}
			if h.inter != nil {
				revokedOpts = append(revokedOpts, albmtls.WithCABundle(pemCerts(h.inter.cert)))
			}

			tests := []struct {
				name      string
				presented []*x509.Certificate
				opts      []albmtls.Option
				want      error
			}{
				{name: "good certificate", presented: h.presented(good)},
				{name: "clientAuth-only certificate", presented: h.presented(clientOnly)},
				{name: "trailing root in the presented chain", presented: append(h.presented(good), h.root.cert)},
				{name: "signed by a foreign CA with the same name", presented: []*x509.Certificate{stranger.cert}, want: albmtls.ErrUntrusted},
				{name: "expired", presented: h.presented(expired), want: albmtls.ErrExpired},
				{name: "expired with IgnoreExpiry", presented: h.presented(expired), opts: []albmtls.Option{albmtls.WithIgnoreExpiry()}},
				{name: "not yet valid", presented: h.presented(future), want: albmtls.ErrNotYetValid},
				{name: "not yet valid with IgnoreExpiry", presented: h.presented(future), opts: []albmtls.Option{albmtls.WithIgnoreExpiry()}, want: albmtls.ErrNotYetValid},
				{name: "serverAuth-only EKU", presented: h.presented(serverOnly), want: albmtls.ErrWrongPurpose},
				{name: "revoked by the issuer's CRL", presented: h.presented(revoked), opts: revokedOpts, want: albmtls.ErrRevoked},
				{name: "good certificate with the issuer's CRL", presented: h.presented(good), opts: revokedOpts},
				{name: "empty chain", presented: nil, want: albmtls.ErrNoCertificate},
				{name: "five certificates after the leaf", presented: append(h.presented(good), h.root.cert, h.root.cert, h.root.cert, h.root.cert, h.root.cert)[:6], want: albmtls.ErrChainTooLong},
			}
			if h.inter != nil {
				tests = append(tests,
					struct {
						name      string
						presented []*x509.Certificate
						opts      []albmtls.Option
						want      error
					}{name: "intermediate missing", presented: []*x509.Certificate{good.cert}, want: albmtls.ErrUntrusted})
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					opts := append([]albmtls.Option{albmtls.WithCABundle(bundle), rootCRL, albmtls.WithClock(fixedClock)}, tc.opts...)
					v, err := albmtls.NewVerifier(opts...)
					if err != nil {
						t.Fatal(err)
					}
					id, err := v.VerifyChain(tc.presented)
					assertReason(t, err, tc.want)
					if tc.want == nil {
						anchors := []*x509.Certificate{h.root.cert}
						if h.inter != nil {
							anchors = append(anchors, h.inter.cert)
						}
						checkIdentity(t, id, tc.presented[0], anchors...)
					}
				})
			}
		})
	}
}

// checkIdentity compares id with what is independently computed from leaf.
func checkIdentity(t *testing.T, id *albmtls.Identity, leaf *x509.Certificate, anchors ...*x509.Certificate) {
	t.Helper()
	if got, want := id.FingerprintSHA256, pki.Fingerprint(leaf); got != want {
		t.Errorf("fingerprint %s, want %s", got, want)
	}
	if got, want := id.SerialNumber, pki.SerialHex(leaf.SerialNumber); got != want {
		t.Errorf("serial %s, want %s", got, want)
	}
	if id.CommonName != leaf.Subject.CommonName || id.Subject != leaf.Subject.String() || id.Issuer != leaf.Issuer.String() {
		t.Errorf("names %q %q %q do not match the leaf", id.CommonName, id.Subject, id.Issuer)
	}
	if !id.NotAfter.Equal(leaf.NotAfter) || !id.NotBefore.Equal(leaf.NotBefore) {
		t.Errorf("validity %v..%v, want %v..%v", id.NotBefore, id.NotAfter, leaf.NotBefore, leaf.NotAfter)
	}
	if id.Leaf() == nil || !id.Leaf().Equal(leaf) {
		t.Errorf("chain does not start with the leaf")
	}
	if len(anchors) > 0 && !slices.ContainsFunc(anchors, id.Chain[len(id.Chain)-1].Equal) {
		t.Errorf("chain does not end at a bundle certificate")
	}
}

func TestIdentitySANs(t *testing.T) {
	h := testHierarchy(t, "ecdsa", true)
	leaf := newLeaf(t, testKey(t, "ecdsa", 2), h.issuer(), leafOpts{
		cn:     "build-bot",
		emails: []string{"bot@example.com"},
		uris:   []string{"spiffe://example.com/ci/build-bot"},
		dns:    []string{"bot.example.com"},
	})
	v, err := albmtls.NewVerifier(albmtls.WithCABundle(pemCerts(h.root.cert)), albmtls.WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.VerifyChain(h.presented(leaf))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(id.EmailAddresses, leaf.cert.EmailAddresses) || !slices.Equal(id.DNSNames, leaf.cert.DNSNames) ||
		len(id.URIs) != 1 || id.URIs[0] != leaf.cert.URIs[0].String() {
		t.Errorf("SANs %v %v %v, want those of the leaf", id.EmailAddresses, id.URIs, id.DNSNames)
	}
	if len(id.Chain) != 3 || id.Mode != albmtls.ModePassthrough {
		t.Errorf("chain of %d, mode %s; want 3, passthrough", len(id.Chain), id.Mode)
	}
}

func TestRevocation(t *testing.T) {
	h := testHierarchy(t, "ecdsa", true)
	leafKey := testKey(t, "ecdsa", 2)
	leaf := newLeaf(t, leafKey, h.issuer(), leafOpts{cn: "alice"})
	bundle := pemCerts(h.root.cert, h.inter.cert) // intermediate in the bundle so its CRL is accepted
	rootOnly := pemCerts(h.root.cert)
	// A CA with the root's exact name but another key: its CRL must not count.
	impostor := newCA(t, h.root.cert.Subject.CommonName, testKey(t, "ecdsa", 3), nil, testNow.Add(-time.Hour), testNow.Add(time.Hour*24*365))
	impostor.cert.RawSubject = h.root.cert.RawSubject

	der := func(pemCRL []byte) []byte {
		b, _ := pemDecodeOne(pemCRL)
		return b
	}

	tests := []struct {
		name     string
		bundle   []byte
		leafOnly bool
		crls     [][]byte
		newErr   error // from NewVerifier
		wantErr  error // from VerifyChain
	}{
		{name: "leaf serial in the intermediate's CRL (PEM)", bundle: bundle, crls: [][]byte{newCRL(t, h.inter, leaf.cert.SerialNumber)}, wantErr: albmtls.ErrRevoked},
		{name: "leaf serial in the intermediate's CRL (DER)", bundle: bundle, crls: [][]byte{der(newCRL(t, h.inter, leaf.cert.SerialNumber))}, wantErr: albmtls.ErrRevoked},
		{name: "intermediate revoked by the root", bundle: rootOnly, crls: [][]byte{newCRL(t, h.root, h.inter.cert.SerialNumber)}, wantErr: albmtls.ErrRevoked},
		{name: "intermediate in the bundle revoked by the root", bundle: bundle, crls: [][]byte{newCRL(t, h.root, h.inter.cert.SerialNumber)}, wantErr: albmtls.ErrRevoked},
		{name: "intermediate in the bundle revoked by the root, leaf sent alone", bundle: bundle, leafOnly: true, crls: [][]byte{newCRL(t, h.root, h.inter.cert.SerialNumber)}, wantErr: albmtls.ErrRevoked},
		{name: "intermediate in the bundle, leaf sent alone", bundle: bundle, leafOnly: true},
		{name: "leaf serial in the root's CRL does not revoke a leaf the root did not issue", bundle: bundle, crls: [][]byte{newCRL(t, h.root, leaf.cert.SerialNumber)}},
		{name: "CRL listing other serials", bundle: bundle, crls: [][]byte{newCRL(t, h.inter, big.NewInt(99))}},
		{name: "two CRLs in one PEM file", bundle: bundle, crls: [][]byte{append(newCRL(t, h.root), newCRL(t, h.inter, leaf.cert.SerialNumber)...)}, wantErr: albmtls.ErrRevoked},
		{name: "CRL from a foreign CA is refused", bundle: bundle, crls: [][]byte{newCRL(t, newCA(t, "Other CA", testKey(t, "ecdsa", 4), nil, testNow.Add(-time.Hour), testNow.Add(time.Hour)), leaf.cert.SerialNumber)}, newErr: albmtls.ErrInvalidCRL},
		{name: "CRL from an impostor with the root's name is refused", bundle: bundle, crls: [][]byte{newCRL(t, impostor, h.inter.cert.SerialNumber)}, newErr: albmtls.ErrInvalidCRL},
		{name: "intermediate's CRL when only the root is in the bundle is refused", bundle: rootOnly, crls: [][]byte{newCRL(t, h.inter, leaf.cert.SerialNumber)}, newErr: albmtls.ErrInvalidCRL},
		{name: "certificate PEM given as a CRL is refused", bundle: bundle, crls: [][]byte{pemCerts(h.root.cert)}, newErr: albmtls.ErrInvalidCRL},
		{name: "junk given as a CRL is refused", bundle: bundle, crls: [][]byte{[]byte("not a crl")}, newErr: albmtls.ErrInvalidCRL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := []albmtls.Option{albmtls.WithCABundle(tc.bundle), albmtls.WithClock(fixedClock)}
			for _, c := range tc.crls {
				opts = append(opts, albmtls.WithCRL(c))
			}
			v, err := albmtls.NewVerifier(opts...)
			if tc.newErr != nil {
				if !errors.Is(err, tc.newErr) {
					t.Fatalf("NewVerifier: want %v, got %v", tc.newErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			presented := h.presented(leaf)
			if tc.leafOnly {
				presented = presented[:1]
			}
			_, err = v.VerifyChain(presented)
			assertReason(t, err, tc.wantErr)
		})
	}
}

func TestIgnoreExpiryStillChecksCAs(t *testing.T) {
	h := testHierarchy(t, "ecdsa", false)
	oldInter := newCA(t, "Expired Intermediate", testKey(t, "ecdsa", 1), h.root, testNow.Add(-72*time.Hour), testNow.Add(-2*time.Hour))
	leaf := newLeaf(t, testKey(t, "ecdsa", 2), oldInter, leafOpts{cn: "alice", notBefore: testNow.Add(-48 * time.Hour), notAfter: testNow.Add(-3 * time.Hour)})
	v, err := albmtls.NewVerifier(albmtls.WithCABundle(pemCerts(h.root.cert)), albmtls.WithClock(fixedClock), albmtls.WithIgnoreExpiry())
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.VerifyChain([]*x509.Certificate{leaf.cert, oldInter.cert})
	assertReason(t, err, albmtls.ErrExpired)
	var ve *albmtls.VerificationError
	if errors.As(err, &ve) && ve.SerialNumber != fmt.Sprintf("%X", oldInter.cert.SerialNumber.Bytes()) {
		t.Errorf("error names serial %s, want the intermediate's", ve.SerialNumber)
	}
}

func TestNewVerifierRefusesBadConfig(t *testing.T) {
	h := testHierarchy(t, "ecdsa", false)
	keyPEM := []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	tests := []struct {
		name string
		opts []albmtls.Option
	}{
		{"passthrough without a bundle", nil},
		{"empty bundle", []albmtls.Option{albmtls.WithCABundle(nil)}},
		{"bundle with a private key block", []albmtls.Option{albmtls.WithCABundle(append(pemCerts(h.root.cert), keyPEM...))}},
		{"missing bundle file", []albmtls.Option{albmtls.WithCABundleFile(t.TempDir() + "/nope.crt")}},
		{"unknown mode", []albmtls.Option{albmtls.WithCABundle(pemCerts(h.root.cert)), albmtls.WithMode("strict")}},
		{"CRL without a bundle", []albmtls.Option{albmtls.WithMode(albmtls.ModeVerifyHeaders), albmtls.WithCRL(newCRL(t, h.root))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := albmtls.NewVerifier(tc.opts...); err == nil {
				t.Fatal("NewVerifier accepted it")
			}
		})
	}
}

func TestVerifyRequestHeaderNames(t *testing.T) {
	h := testHierarchy(t, "ecdsa", true)
	leaf := newLeaf(t, testKey(t, "ecdsa", 2), h.issuer(), leafOpts{cn: "alice"})
	v, err := albmtls.NewVerifier(albmtls.WithCABundle(pemCerts(h.root.cert)), albmtls.WithClock(fixedClock),
		albmtls.WithHeaderNames(albmtls.HeaderNames{ClientCert: "X-Client-Chain"}))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(albmtls.HeaderClientCert, albmtls.EncodeClientCertHeader(h.presented(leaf)...))
	if _, err := v.VerifyRequest(r); !errors.Is(err, albmtls.ErrNoCertificate) {
		t.Errorf("default header name read although renamed: %v", err)
	}
	r.Header.Set("X-Client-Chain", albmtls.EncodeClientCertHeader(h.presented(leaf)...))
	if id, err := v.VerifyRequest(r); err != nil || id.CommonName != "alice" {
		t.Errorf("renamed header: %v, %v", id, err)
	}
	r.Header.Add("X-Client-Chain", albmtls.EncodeClientCertHeader(h.presented(leaf)...))
	_, err = v.VerifyRequest(r)
	assertReason(t, err, albmtls.ErrMalformed)
}
