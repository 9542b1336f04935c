package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Test keys are generated once per test binary: RSA generation dominates the
// run time otherwise. RSA-8192 comes from testdata/rsa8192.key.pem (made
// with `openssl genrsa 8192`, a throwaway test key), because generating one
// takes from seconds to over a minute on a 2-core machine.
var (
	keyMu    sync.Mutex
	keyCache = map[string]crypto.Signer{}
)

func testKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if k, ok := keyCache[kind]; ok {
		return k
	}
	var (
		k   crypto.Signer
		err error
	)
	switch kind {
	case "RSA-2048":
		k, err = GenerateKey(AlgorithmRSA, 2048)
	case "RSA-2048-b": // a second key of the same kind, for mismatch tests
		k, err = GenerateKey(AlgorithmRSA, 2048)
	case "RSA-3072":
		k, err = GenerateKey(AlgorithmRSA, 3072)
	case "RSA-4096":
		k, err = GenerateKey(AlgorithmRSA, 4096)
	case "RSA-8192":
		var data []byte
		data, err = os.ReadFile(filepath.Join("testdata", "rsa8192.key.pem"))
		if err == nil {
			k, err = ParsePrivateKeyPEM(data)
		}
	case "RSA-1024":
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	case "P-256":
		k, err = GenerateKey(AlgorithmECDSA, 256)
	case "P-256-b":
		k, err = GenerateKey(AlgorithmECDSA, 256)
	case "P-384":
		k, err = GenerateKey(AlgorithmECDSA, 384)
	case "P-521":
		k, err = GenerateKey(AlgorithmECDSA, 521)
	case "P-224":
		k, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case "Ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unknown test key kind %q", kind)
	}
	if err != nil {
		t.Fatalf("test key %s: %v", kind, err)
	}
	keyCache[kind] = k
	return k
}

// testNow is a fixed point in time so validity checks do not depend on the clock.
var testNow = time.Now().UTC().Truncate(time.Second)

func testCA(t testing.TB, kind string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := testKey(t, kind)
	ca, err := CreateCA(CARequest{
		Subject:   Subject{CommonName: "test CA " + kind, Organization: []string{"albtrust"}}.Name(),
		Key:       key,
		NotBefore: testNow.Add(-time.Hour),
		NotAfter:  testNow.Add(10 * 365 * 24 * time.Hour),
	})
	if err != nil {
		t.Fatalf("CreateCA(%s): %v", kind, err)
	}
	return ca, key
}

func testClient(t testing.TB, ca *x509.Certificate, caKey crypto.Signer, leafKind, cn string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := testKey(t, leafKind)
	cert, err := IssueClientCertificate(ClientRequest{
		Subject:   pkix.Name{CommonName: cn},
		PublicKey: key.Public(),
		NotBefore: testNow.Add(-time.Minute),
		NotAfter:  testNow.Add(365 * 24 * time.Hour),
		CA:        ca,
		CAKey:     caKey,
	})
	if err != nil {
		t.Fatalf("IssueClientCertificate(%s): %v", cn, err)
	}
	return cert, key
}

// rawTemplateCert signs template with x509.CreateCertificate and parses it,
// for certificates the package itself refuses to make.
func rawTemplateCert(t testing.TB, template, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	if template.SerialNumber == nil {
		template.SerialNumber = big.NewInt(time.Now().UnixNano())
	}
	if template.NotBefore.IsZero() {
		template.NotBefore, template.NotAfter = testNow.Add(-time.Hour), testNow.Add(24*time.Hour)
	}
	if parent == nil {
		parent = template
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, pub, signer)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	return c
}

// ASN.1 shapes for rewriting a certificate's TBS part (version, extensions,
// signature algorithm) in ways crypto/x509 will not produce.
type tbsCertificate struct {
	Raw          asn1.RawContent
	Version      int `asn1:"optional,explicit,default:0,tag:0"`
	SerialNumber *big.Int
	SigAlg       pkix.AlgorithmIdentifier
	Issuer       asn1.RawValue
	Validity     asn1.RawValue
	Subject      asn1.RawValue
	PublicKey    asn1.RawValue
	Extensions   []pkix.Extension `asn1:"omitempty,optional,explicit,tag:3"`
}

type certificateASN1 struct {
	TBS       asn1.RawValue
	SigAlg    pkix.AlgorithmIdentifier
	Signature asn1.BitString
}

var (
	oidSHA1WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSKI           = asn1.ObjectIdentifier{2, 5, 29, 14}
)

// resign rewrites cert's TBS with mutate and signs it with an RSA key using
// sigOID/hash (PKCS #1 v1.5). It makes v1 and SHA-1 certificates and CAs
// without a subject key identifier.
func resign(t testing.TB, cert *x509.Certificate, key *rsa.PrivateKey, sigOID asn1.ObjectIdentifier, hash crypto.Hash, mutate func(*tbsCertificate)) *x509.Certificate {
	t.Helper()
	var tbs tbsCertificate
	if rest, err := asn1.Unmarshal(cert.RawTBSCertificate, &tbs); err != nil || len(rest) > 0 {
		t.Fatalf("unmarshal TBS: %v", err)
	}
	tbs.Raw = nil
	tbs.SigAlg = pkix.AlgorithmIdentifier{Algorithm: sigOID, Parameters: asn1.NullRawValue}
	if mutate != nil {
		mutate(&tbs)
	}
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		t.Fatalf("marshal TBS: %v", err)
	}
	h := hash.New()
	h.Write(tbsDER)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, hash, h.Sum(nil))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	der, err := asn1.Marshal(certificateASN1{
		TBS:       asn1.RawValue{FullBytes: tbsDER},
		SigAlg:    tbs.SigAlg,
		Signature: asn1.BitString{Bytes: sig, BitLength: len(sig) * 8},
	})
	if err != nil {
		t.Fatalf("marshal certificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse rewritten certificate: %v", err)
	}
	return c
}

// requireOpenSSL returns the openssl binary or fails the test: the
// cross-checks are the point of these tests, so a missing openssl must not
// turn them into silent passes.
func requireOpenSSL(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl CLI not found in PATH (%v): install OpenSSL 3 (e.g. apt-get install openssl) to run the pki cross-checks", err)
	}
	return path
}

// openssl runs the CLI with a deadline and returns combined output and the
// exit error (nil on success).
func openssl(t testing.TB, args ...string) (string, error) {
	t.Helper()
	bin := requireOpenSSL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("openssl %v: timed out", args)
	}
	return out.String(), err
}

func mustOpenSSL(t testing.TB, args ...string) string {
	t.Helper()
	out, err := openssl(t, args...)
	if err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
	return out
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustPEMCert(c *x509.Certificate) []byte { return EncodeCertificatesPEM(c) }

func ptr[T any](v T) *T { return &v }

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
