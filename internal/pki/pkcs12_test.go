package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

func TestEncodePKCS12RoundTrip(t *testing.T) {
	ca, caKey := testCA(t, "P-256")
	rsaLeaf, rsaKey := testClient(t, ca, caKey, "RSA-2048", "rsa leaf")
	ecLeaf, ecKey := testClient(t, ca, caKey, "P-384", "ec leaf")
	tests := map[string]struct {
		profile string
		key     crypto.Signer
		leaf    *x509.Certificate
	}{
		"LegacyDES with RSA key":     {profile: ProfileLegacyDES, key: rsaKey, leaf: rsaLeaf},
		"LegacyRC2 with RSA key":     {profile: ProfileLegacyRC2, key: rsaKey, leaf: rsaLeaf},
		"Modern2023 with ECDSA key":  {profile: ProfileModern2023, key: ecKey, leaf: ecLeaf},
		"empty profile is LegacyDES": {profile: "", key: ecKey, leaf: ecLeaf},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			const password = "correct horse"
			p12, err := EncodePKCS12(tc.key, tc.leaf, []*x509.Certificate{ca}, password, tc.profile)
			if err != nil {
				t.Fatalf("EncodePKCS12: %v", err)
			}
			key, cert, chain, err := pkcs12.DecodeChain(p12, password)
			if err != nil {
				t.Fatalf("DecodeChain: %v", err)
			}
			if !cert.Equal(tc.leaf) || len(chain) != 1 || !chain[0].Equal(ca) {
				t.Error("certificates did not survive the round trip")
			}
			if !tc.key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.(crypto.Signer).Public()) {
				t.Error("key did not survive the round trip")
			}
			if _, _, _, err := pkcs12.DecodeChain(p12, "wrong"); err == nil {
				t.Error("decoded with a wrong password")
			}
		})
	}
}

func TestEncodePKCS12Refusals(t *testing.T) {
	ca, caKey := testCA(t, "P-256")
	leaf, leafKey := testClient(t, ca, caKey, "P-256-b", "leaf")
	const password = "s3cret-Passw0rd"
	tests := map[string]struct {
		key     crypto.Signer
		cert    *x509.Certificate
		chain   []*x509.Certificate
		profile string
		wantErr error
	}{
		"unknown profile":         {key: leafKey, cert: leaf, profile: "Modern2026"},
		"profile names are exact": {key: leafKey, cert: leaf, profile: "legacydes"},
		"key of another cert":     {key: caKey, cert: leaf, profile: ProfileLegacyDES, wantErr: ErrKeyMismatch},
		"nil certificate":         {key: leafKey, cert: nil, profile: ProfileLegacyDES},
		"nil key":                 {key: nil, cert: leaf, profile: ProfileLegacyDES},
		"nil CA certificate":      {key: leafKey, cert: leaf, chain: []*x509.Certificate{nil}, profile: ProfileLegacyDES},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := EncodePKCS12(tc.key, tc.cert, tc.chain, password, tc.profile)
			if err == nil {
				t.Fatal("succeeded, want error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}
