package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"software.sslmate.com/src/go-pkcs12"
)

// PKCS#12 profiles (keystores.pkcs12.profile in the ClientCertificate CRD).
const (
	// ProfileLegacyDES: 3DES-encrypted key and certificates, SHA-1 MAC; what
	// `openssl pkcs12 -export -legacy` writes and what macOS Keychain and
	// older Java import. The default.
	ProfileLegacyDES = "LegacyDES"
	// ProfileLegacyRC2: RC2-40 encrypted certificates, 3DES key; the
	// pre-OpenSSL-3 default. Readers need `-legacy` on OpenSSL 3.
	ProfileLegacyRC2 = "LegacyRC2"
	// ProfileModern2023: PBES2 with AES-256-CBC and PBKDF2, SHA-256 MAC; what
	// OpenSSL 3 writes by default. Not importable on older macOS.
	ProfileModern2023 = "Modern2023"
)

// EncodePKCS12 writes key, cert and the CA chain into a password-protected
// PKCS#12 keystore using the go-pkcs12 encoder of the profile. An empty
// profile means ProfileLegacyDES. The key must match cert. The password is
// never included in errors.
func EncodePKCS12(key crypto.Signer, cert *x509.Certificate, caCerts []*x509.Certificate, password, profile string) ([]byte, error) {
	var enc *pkcs12.Encoder
	switch profile {
	case ProfileLegacyDES, "":
		enc = pkcs12.LegacyDES
	case ProfileLegacyRC2:
		enc = pkcs12.LegacyRC2
	case ProfileModern2023:
		enc = pkcs12.Modern2023
	default:
		return nil, fmt.Errorf("encode PKCS#12: unknown profile %q: must be %s, %s or %s", profile, ProfileLegacyDES, ProfileLegacyRC2, ProfileModern2023)
	}
	if key == nil || cert == nil {
		return nil, errors.New("encode PKCS#12: key and certificate are required")
	}
	if !KeyMatches(key, cert) {
		return nil, fmt.Errorf("encode PKCS#12: %w", ErrKeyMismatch)
	}
	for i, c := range caCerts {
		if c == nil {
			return nil, fmt.Errorf("encode PKCS#12: CA certificate %d is nil", i)
		}
	}
	out, err := enc.Encode(key, cert, caCerts, password)
	if err != nil {
		return nil, fmt.Errorf("encode PKCS#12 (%s): %w", profile, err)
	}
	return out, nil
}
