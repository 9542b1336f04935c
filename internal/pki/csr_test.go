package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func makeCSR(t testing.TB, key crypto.Signer, cn string) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatalf("CreateCertificateRequest: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestParseCSR(t *testing.T) {
	good := makeCSR(t, testKey(t, "P-256"), "laptop")
	block, _ := pem.Decode(good)
	tampered := append([]byte(nil), block.Bytes...)
	tampered[len(tampered)-3] ^= 0x55 // inside the signature
	tamperedSubject := append([]byte(nil), block.Bytes...)
	if i := strings.Index(string(tamperedSubject), "laptop"); i > 0 {
		tamperedSubject[i] = 'L'
	} else {
		t.Fatal("CN not found in CSR DER")
	}
	ca, _ := testCA(t, "P-256")

	tests := map[string]struct {
		data    []byte
		wantCN  string
		wantErr error
		wantMsg string
	}{
		"RSA 2048":                       {data: makeCSR(t, testKey(t, "RSA-2048"), "rsa"), wantCN: "rsa"},
		"RSA 8192":                       {data: makeCSR(t, testKey(t, "RSA-8192"), "big"), wantCN: "big"},
		"ECDSA P-256":                    {data: good, wantCN: "laptop"},
		"ECDSA P-384":                    {data: makeCSR(t, testKey(t, "P-384"), "p384"), wantCN: "p384"},
		"ECDSA P-521":                    {data: makeCSR(t, testKey(t, "P-521"), "p521"), wantCN: "p521"},
		"NEW CERTIFICATE REQUEST label":  {data: pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: block.Bytes}), wantCN: "laptop"},
		"text before the block":          {data: append([]byte("Certificate Request:\n"), good...), wantCN: "laptop"},
		"refuses Ed25519":                {data: makeCSR(t, testKey(t, "Ed25519"), "ed"), wantErr: ErrUnsupportedKey, wantMsg: "Ed25519"},
		"refuses RSA 1024":               {data: makeCSR(t, testKey(t, "RSA-1024"), "weak"), wantErr: ErrUnsupportedKey, wantMsg: "2048 to 8192"},
		"refuses a bad signature":        {data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}), wantMsg: "signature"},
		"refuses a changed subject":      {data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tamperedSubject}), wantMsg: "signature"},
		"refuses a certificate":          {data: mustPEMCert(ca), wantMsg: `"CERTIFICATE"`},
		"refuses DER without PEM":        {data: block.Bytes, wantMsg: "no PEM"},
		"refuses empty input":            {data: nil, wantMsg: "no PEM"},
		"refuses garbage in a CSR block": {data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte("garbage")}), wantMsg: "parse CSR"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			csr, err := ParseCSR(tc.data)
			if tc.wantErr != nil || tc.wantMsg != "" {
				if err == nil {
					t.Fatalf("accepted CSR for %q, want error", csr.Subject)
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("error %v does not wrap %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("error %q does not mention %q", err, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCSR: %v", err)
			}
			if csr.Subject.CommonName != tc.wantCN {
				t.Errorf("CN %q, want %q", csr.Subject.CommonName, tc.wantCN)
			}
		})
	}
}
