package albmtls_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/albtrust/albtrust/internal/pki"
)

// testNow is the fixed instant every test verifies at (through WithClock).
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

// Keys are the slow part of a fixture; tests share a few per algorithm.
var (
	keyMu    sync.Mutex
	keyCache = map[string][]crypto.Signer{}
)

// testKey returns the i-th cached key of alg ("rsa" or "ecdsa"), made by
// internal/pki as the operator makes them.
func testKey(t testing.TB, alg string, i int) crypto.Signer {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	for len(keyCache[alg]) <= i {
		var k crypto.Signer
		var err error
		switch alg {
		case "rsa":
			k, err = pki.GenerateKey(pki.AlgorithmRSA, 2048)
		case "ecdsa":
			k, err = pki.GenerateKey(pki.AlgorithmECDSA, 256)
		default:
			t.Fatalf("unknown key algorithm %q", alg)
		}
		if err != nil {
			t.Fatal(err)
		}
		keyCache[alg] = append(keyCache[alg], k)
	}
	return keyCache[alg][i]
}

type issued struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// newCA makes a CA certificate with the walkthrough's CA profile: a root
// through pki.CreateCA when parent is nil, else an intermediate signed by
// parent (the operator never makes intermediates, so crypto/x509 does it here,
// with the same profile).
func newCA(t testing.TB, cn string, key crypto.Signer, parent *issued, notBefore, notAfter time.Time) *issued {
	t.Helper()
	subject := pkix.Name{CommonName: cn, Organization: []string{"albtrust tests"}}
	if parent == nil {
		c, err := pki.CreateCA(pki.CARequest{Subject: subject, Key: key, NotBefore: notBefore, NotAfter: notAfter})
		if err != nil {
			t.Fatal(err)
		}
		return &issued{cert: c, key: key}
	}
	serial, err := pki.NewSerialNumber()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent.cert, key.Public(), parent.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issued{cert: c, key: key}
}

type leafOpts struct {
	cn         string
	notBefore  time.Time
	notAfter   time.Time
	serverOnly bool // serverAuth EKU only (crypto/x509; pki always adds clientAuth)
	clientOnly bool // clientAuth EKU only (default: serverAuth+clientAuth, the walkthrough's profile)
	emails     []string
	uris       []string
	dns        []string
}

// newLeaf issues a client certificate through pki.IssueClientCertificate,
// except for the serverAuth-only certificate pki refuses to make.
func newLeaf(t testing.TB, key crypto.Signer, parent *issued, o leafOpts) *issued {
	t.Helper()
	if o.notBefore.IsZero() {
		o.notBefore = testNow.Add(-24 * time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = testNow.Add(365 * 24 * time.Hour)
	}
	subject := pkix.Name{CommonName: o.cn, Organization: []string{"albtrust tests"}}
	var uris []*url.URL
	for _, s := range o.uris {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		uris = append(uris, u)
	}
	if !o.serverOnly {
		c, err := pki.IssueClientCertificate(pki.ClientRequest{
			Subject: subject, PublicKey: key.Public(),
			EmailAddresses: o.emails, URIs: uris, DNSNames: o.dns,
			ServerAuth: !o.clientOnly,
			NotBefore:  o.notBefore, NotAfter: o.notAfter,
			CA: parent.cert, CAKey: parent.key,
		})
		if err != nil {
			t.Fatal(err)
		}
		return &issued{cert: c, key: key}
	}
	serial, err := pki.NewSerialNumber()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             o.notBefore,
		NotAfter:              o.notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent.cert, key.Public(), parent.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issued{cert: c, key: key}
}

// newCRL makes a PEM CRL signed by ca listing serials, valid around testNow.
func newCRL(t testing.TB, ca *issued, serials ...*big.Int) []byte {
	t.Helper()
	var entries []pki.RevokedCertificate
	for _, s := range serials {
		entries = append(entries, pki.RevokedCertificate{SerialNumber: s, RevocationTime: testNow.Add(-time.Hour)})
	}
	crl, err := pki.CreateCRL(pki.CRLRequest{
		CA: ca.cert, Key: ca.key, Number: big.NewInt(1),
		ThisUpdate: testNow.Add(-time.Hour), NextUpdate: testNow.Add(7 * 24 * time.Hour),
		Revoked: entries,
	})
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

// otherSerial returns a fresh serial that no fixture certificate carries.
func otherSerial(t testing.TB) *big.Int {
	s, err := pki.NewSerialNumber()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pemCerts(certs ...*x509.Certificate) []byte {
	return pki.EncodeCertificatesPEM(certs...)
}

// hierarchy is one test PKI: a root, an optional intermediate, and the CA
// that signs leaves (the intermediate if there is one).
type hierarchy struct {
	root, inter *issued
	alg         string
}

func (h *hierarchy) issuer() *issued {
	if h.inter != nil {
		return h.inter
	}
	return h.root
}

// presented is what a client sends: the leaf and any intermediate.
func (h *hierarchy) presented(leaf *issued) []*x509.Certificate {
	if h.inter != nil {
		return []*x509.Certificate{leaf.cert, h.inter.cert}
	}
	return []*x509.Certificate{leaf.cert}
}

var (
	hierMu    sync.Mutex
	hierCache = map[string]*hierarchy{}
)

// testHierarchy returns a cached PKI of alg, with an intermediate if withInter.
func testHierarchy(t testing.TB, alg string, withInter bool) *hierarchy {
	t.Helper()
	k := alg
	if withInter {
		k += "+inter"
	}
	hierMu.Lock()
	defer hierMu.Unlock()
	if h, ok := hierCache[k]; ok {
		return h
	}
	h := &hierarchy{alg: alg}
	h.root = newCA(t, "Test Root "+k, testKey(t, alg, 0), nil, testNow.Add(-365*24*time.Hour), testNow.Add(10*365*24*time.Hour))
	if withInter {
		h.inter = newCA(t, "Test Intermediate "+k, testKey(t, alg, 1), h.root, testNow.Add(-365*24*time.Hour), testNow.Add(5*365*24*time.Hour))
	}
	hierCache[k] = h
	return h
}
