package pki

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParseCSR reads a PEM "CERTIFICATE REQUEST" (or the older "NEW CERTIFICATE
// REQUEST"), as written by `openssl req -new`. Text before the block is
// ignored, as is anything after the first block. The request's self-signature must verify, and its key must be one
// ALB accepts (RSA 2048-8192 bits, ECDSA P-256/P-384/P-521); otherwise the
// error wraps ErrUnsupportedKey and says which keys are allowed.
//
// Only the public key and the subject of a CSR are meant to be used; requested
// extensions are not copied into issued certificates.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("parse CSR: no PEM \"CERTIFICATE REQUEST\" block found")
	}
	if block.Type != pemTypeCSR && block.Type != pemTypeCSRLegacy {
		return nil, fmt.Errorf("parse CSR: PEM block is %q, not %q", block.Type, pemTypeCSR)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("parse CSR: signature does not verify: %w", err)
	}
	if err := checkALBKey(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("parse CSR: %w", err)
	}
	return csr, nil
}
