package albmtls_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"sync"
	"testing"
	"time"
)

// testNow is the fixed instant every test verifies at (through WithClock).
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

// Keys are the slow part of a fixture; tests share a few per algorithm.
var (
	keyMu    sync.Mutex
	keyCache = map[string][]crypto.Signer{}
)

// testKey returns the i-th cached key of alg ("rsa" or "ecdsa").
func testKey(t testing.TB, alg string, i int) crypto.Signer {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	for len(keyCache[alg]) <= i {
		var k crypto.Signer
		var err error
		switch alg {
		case "rsa":
			k, err = rsa.GenerateKey(rand.Reader, 2048)
		case "ecdsa":
			k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
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

var serialCounter = big.NewInt(0x1000)
var serialMu sync.Mutex

func nextSerial() *big.Int {
	serialMu.Lock()
	defer serialMu.Unlock()
	serialCounter.Add(serialCounter, big.NewInt(0x10101))
	return new(big.Int).Set(serialCounter)
}

type issued struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// newCA makes a CA certificate with the walkthrough's CA profile, self-signed
// when parent is nil.
func newCA(t testing.TB, cn string, key crypto.Signer, parent *issued, notBefore, notAfter time.Time) *issued {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"albtrust tests"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return sign(t, tmpl, key, parent)
}

type leafOpts struct {
	cn        string
	notBefore time.Time
	notAfter  time.Time
	eku       []x509.ExtKeyUsage
	emails    []string
	uris      []string
	dns       []string
}

// newLeaf makes a client certificate with the walkthrough's client profile
// (serverAuth+clientAuth unless o.eku says otherwise).
func newLeaf(t testing.TB, key crypto.Signer, parent *issued, o leafOpts) *issued {
	t.Helper()
	if o.eku == nil {
		o.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	if o.notBefore.IsZero() {
		o.notBefore = testNow.Add(-24 * time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = testNow.Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: o.cn, Organization: []string{"albtrust tests"}},
		NotBefore:             o.notBefore,
		NotAfter:              o.notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           o.eku,
		EmailAddresses:        o.emails,
		DNSNames:              o.dns,
	}
	for _, s := range o.uris {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	return sign(t, tmpl, key, parent)
}

func sign(t testing.TB, tmpl *x509.Certificate, key crypto.Signer, parent *issued) *issued {
	t.Helper()
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issued{cert: c, key: key}
}

// newCRL makes a CRL signed by ca listing serials, valid around testNow.
func newCRL(t testing.TB, ca *issued, serials ...*big.Int) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: testNow.Add(-time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(1),
		ThisUpdate:                testNow.Add(-time.Hour),
		NextUpdate:                testNow.Add(7 * 24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

func pemCerts(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
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
