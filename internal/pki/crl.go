package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// RevokedCertificate is one CRL entry. ReasonCode is an RFC 5280 §5.3.1
// CRLReason (0 unspecified, 1 keyCompromise, ... 10 aACompromise; 7 is
// unused); 0 writes no reasonCode extension, as RFC 5280 recommends.
type RevokedCertificate struct {
	SerialNumber   *big.Int
	RevocationTime time.Time
	ReasonCode     int
}

// CRLRequest describes a CRL signed by a CA.
type CRLRequest struct {
	CA                     *x509.Certificate
	Key                    crypto.Signer
	Number                 *big.Int
	ThisUpdate, NextUpdate time.Time
	Revoked                []RevokedCertificate
}

// ErrInvalidCRL is wrapped by errors about the content of a CRLRequest.
var ErrInvalidCRL = errors.New("invalid CRL request")

// CreateCRL signs an X.509 v2 CRL and returns it as one PEM "X509 CRL" block,
// the only form ALB accepts. Entries are sorted by serial number so equal
// input gives equal content; with an RSA CA key (PKCS #1 v1.5 signatures are
// deterministic) equal input gives equal bytes, while ECDSA signatures differ
// each time, so callers decide "changed?" from the input, not from the bytes.
// The issuer name and the authority key identifier come from the CA, the CRL
// number from req.Number. Serials must be positive (ALB cannot revoke
// negative ones) and unique.
func CreateCRL(req CRLRequest) ([]byte, error) {
	if req.CA == nil || req.Key == nil {
		return nil, errors.New("create CRL: CA certificate and key are required")
	}
	if !KeyMatches(req.Key, req.CA) {
		return nil, fmt.Errorf("create CRL: %w", ErrKeyMismatch)
	}
	if req.CA.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return nil, fmt.Errorf("create CRL: %w", ErrNoCRLSign)
	}
	if len(req.CA.SubjectKeyId) == 0 {
		return nil, fmt.Errorf("create CRL: %w", ErrNoSubjectKeyID)
	}
	if req.Number == nil || req.Number.Sign() < 0 {
		return nil, fmt.Errorf("create CRL: %w: CRL number must be set and non-negative", ErrInvalidCRL)
	}
	if req.Number.BitLen() > 159 {
		return nil, fmt.Errorf("create CRL: %w: CRL number longer than 20 octets", ErrInvalidCRL)
	}
	if err := checkValidity(req.ThisUpdate, req.NextUpdate); err != nil {
		return nil, fmt.Errorf("create CRL: %w: thisUpdate/nextUpdate: %w", ErrInvalidCRL, err)
	}

	entries := make([]x509.RevocationListEntry, len(req.Revoked))
	for i, r := range req.Revoked {
		if r.SerialNumber == nil || r.SerialNumber.Sign() <= 0 {
			return nil, fmt.Errorf("create CRL: %w: entry %d: serial number must be positive (ALB cannot revoke negative serials)", ErrInvalidCRL, i)
		}
		if r.RevocationTime.IsZero() {
			return nil, fmt.Errorf("create CRL: %w: entry %d (serial %s): revocation time is not set", ErrInvalidCRL, i, SerialHex(r.SerialNumber))
		}
		if r.ReasonCode < 0 || r.ReasonCode > 10 || r.ReasonCode == 7 {
			return nil, fmt.Errorf("create CRL: %w: entry %d (serial %s): reason code %d is not an RFC 5280 CRLReason", ErrInvalidCRL, i, SerialHex(r.SerialNumber), r.ReasonCode)
		}
		entries[i] = x509.RevocationListEntry{
			SerialNumber:   r.SerialNumber,
			RevocationTime: r.RevocationTime.UTC(),
			ReasonCode:     r.ReasonCode,
		}
	}
	slices.SortFunc(entries, func(a, b x509.RevocationListEntry) int {
		return a.SerialNumber.Cmp(b.SerialNumber)
	})
	for i := 1; i < len(entries); i++ {
		if entries[i].SerialNumber.Cmp(entries[i-1].SerialNumber) == 0 {
			return nil, fmt.Errorf("create CRL: %w: serial %s is listed twice", ErrInvalidCRL, SerialHex(entries[i].SerialNumber))
		}
	}

	tmpl := &x509.RevocationList{
		SignatureAlgorithm:        SignatureAlgorithmFor(req.Key.Public()),
		RevokedCertificateEntries: entries,
		Number:                    req.Number,
		ThisUpdate:                req.ThisUpdate.UTC(),
		NextUpdate:                req.NextUpdate.UTC(),
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, req.CA, req.Key)
	if err != nil {
		return nil, fmt.Errorf("create CRL: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemTypeCRL, Bytes: der}), nil
}

// ParseCRLPEM parses the first PEM block of data, which must be "X509 CRL".
// It does not check the signature: use (*x509.RevocationList).CheckSignatureFrom.
func ParseCRLPEM(data []byte) (*x509.RevocationList, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("parse CRL: no PEM \"X509 CRL\" block found (ALB accepts PEM CRLs only)")
	}
	if block.Type != pemTypeCRL {
		return nil, fmt.Errorf("parse CRL: PEM block is %q, not %q", block.Type, pemTypeCRL)
	}
	crl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse CRL: %w", err)
	}
	return crl, nil
}
