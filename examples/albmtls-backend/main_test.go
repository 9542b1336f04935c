package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/albtrust/albtrust/internal/pki"
	"github.com/albtrust/albtrust/pkg/albmtls"
)

// syncBuffer collects the server's log across goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testPKI struct {
	dir            string
	caPath, crl    string
	alice, mallory *x509.Certificate
	ca             *x509.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	now := time.Now()
	caKey, err := pki.GenerateKey(pki.AlgorithmECDSA, 256)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.CreateCA(pki.CARequest{Subject: pkix.Name{CommonName: "Backend Test CA"}, Key: caKey, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(cn string) *x509.Certificate {
		k, err := pki.GenerateKey(pki.AlgorithmECDSA, 256)
		if err != nil {
			t.Fatal(err)
		}
		c, err := pki.IssueClientCertificate(pki.ClientRequest{Subject: pkix.Name{CommonName: cn}, PublicKey: k.Public(),
			EmailAddresses: []string{cn + "@example.com"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour), CA: ca, CAKey: caKey})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	p := &testPKI{dir: t.TempDir(), ca: ca, alice: issue("alice"), mallory: issue("mallory")}
	p.caPath = filepath.Join(p.dir, "ca.crt")
	p.crl = filepath.Join(p.dir, "ca.crl")
	crl, err := pki.CreateCRL(pki.CRLRequest{CA: ca, Key: caKey, Number: big.NewInt(1), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour),
		Revoked: []pki.RevokedCertificate{{SerialNumber: p.mallory.SerialNumber, RevocationTime: now.Add(-time.Minute)}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.caPath, pki.EncodeCertificatesPEM(ca), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.crl, crl, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startBackend runs the command with args on 127.0.0.1:0 and returns its URL
// and log; the server stops when the test ends.
func startBackend(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-listen", "127.0.0.1:0"}, args...), logs, func(a string) { addrc <- a })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case addr := <-addrc:
		return "http://" + addr, logs
	case err := <-done:
		t.Fatalf("backend did not start: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		t.Fatal("backend did not start within 10s")
	}
	return "", nil
}

func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestPassthroughBackend(t *testing.T) {
	p := newTestPKI(t)
	url, logs := startBackend(t, "-ca-bundle", p.caPath, "-crl", p.crl, "-mode", "passthrough")
	hdr := func(c *x509.Certificate) http.Header {
		return http.Header{albmtls.HeaderClientCert: {albmtls.EncodeClientCertHeader(c)}}
	}

	code, body := get(t, url+"/whoami", hdr(p.alice))
	if code != 200 {
		t.Fatalf("alice: %d %q", code, body)
	}
	for _, want := range []string{"mode: passthrough\n", "commonName: alice\n", "serialNumber: " + pki.SerialHex(p.alice.SerialNumber) + "\n",
		"fingerprintSHA256: " + pki.Fingerprint(p.alice) + "\n", "emails: alice@example.com\n", "chain[1]: CN=Backend Test CA\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if !strings.Contains(logs.String(), `msg="Client verified"`) || !strings.Contains(logs.String(), pki.SerialHex(p.alice.SerialNumber)) {
		t.Errorf("log lacks the verified identity:\n%s", logs)
	}

	code, body = get(t, url+"/", hdr(p.mallory))
	if code != 403 || body != "client certificate revoked\n" {
		t.Errorf("mallory: %d %q", code, body)
	}
	code, body = get(t, url+"/", http.Header{})
	if code != 403 || body != "no client certificate\n" {
		t.Errorf("no header: %d %q", code, body)
	}
	if !strings.Contains(logs.String(), `msg="Client refused"`) {
		t.Errorf("log lacks the refusal:\n%s", logs)
	}
}

func TestVerifyHeadersBackend(t *testing.T) {
	p := newTestPKI(t)
	url, _ := startBackend(t, "-mode", "verify-headers")
	code, body := get(t, url+"/", http.Header{
		albmtls.HeaderSubject:      {"CN=bob,O=Example"},
		albmtls.HeaderSerialNumber: {"03A5B1"},
		albmtls.HeaderValidity:     {"NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z"},
	})
	if code != 200 || !strings.Contains(body, "commonName: bob\n") || !strings.Contains(body, "notAfter: 2024-09-20T01:50:17Z\n") {
		t.Errorf("%d %q", code, body)
	}
	code, body = get(t, url+"/", http.Header{albmtls.HeaderLeaf: {albmtls.EncodeClientCertHeader(p.alice)}})
	if code != 200 || !strings.Contains(body, "fingerprintSHA256: "+pki.Fingerprint(p.alice)) {
		t.Errorf("%d %q", code, body)
	}
}

func TestBadFlags(t *testing.T) {
	for name, args := range map[string][]string{
		"passthrough without a bundle": {"-mode", "passthrough"},
		"unknown mode":                 {"-mode", "strict"},
		"missing bundle file":          {"-ca-bundle", filepath.Join(t.TempDir(), "nope")},
		"stray argument":               {"-mode", "verify-headers", "extra"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := run(context.Background(), args, io.Discard, nil); err == nil {
				t.Fatal("run accepted it")
			}
		})
	}
}
