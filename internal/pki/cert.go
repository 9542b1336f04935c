package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"time"
)

// EncodeCertificatesPEM writes each certificate as a "CERTIFICATE" PEM block,
// in the order given. Nil entries are skipped.
func EncodeCertificatesPEM(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		if c == nil {
			continue
		}
		// pem.Encode into a bytes.Buffer cannot fail.
		_ = pem.Encode(&buf, &pem.Block{Type: pemTypeCertificate, Bytes: c.Raw})
	}
	return buf.Bytes()
}

// ParseCertificatesPEM parses every PEM block in data as an X.509
// certificate. Text before or between blocks is ignored, as openssl does, but
// a block that is not a CERTIFICATE, a certificate that does not parse, or
// non-blank data after the last block (typically a truncated block) is an
// error, as is data without any certificate.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			break
		}
		rest = r
		if block.Type != pemTypeCertificate {
			return nil, fmt.Errorf("parse certificates: PEM block %d is %q, not %q", len(certs), block.Type, pemTypeCertificate)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", len(certs), err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		if len(certs) == 0 {
			return nil, errors.New("parse certificates: no complete PEM block found")
		}
		return nil, fmt.Errorf("parse certificates: unexpected data after certificate %d (truncated or malformed PEM?)", len(certs)-1)
	}
	if len(certs) == 0 {
		return nil, errors.New("parse certificates: no PEM certificate found")
	}
	return certs, nil
}

// serialBits is the width of the serials NewSerialNumber returns: the top bit
// of the 128-bit value is always 0 (so the DER INTEGER is positive without a
// padding byte) and the next bit always 1 (so every serial has the same length).
const serialBits = 127

// NewSerialNumber returns a random positive serial number of exactly 127 bits,
// 126 of them random. RFC 5280 allows up to 20 octets; CA/Browser Forum rules
// ask for at least 64 random bits; ALB cannot revoke negative serials.
func NewSerialNumber() (*big.Int, error) {
	floor := new(big.Int).Lsh(big.NewInt(1), serialBits-1)
	n, err := rand.Int(rand.Reader, floor)
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return n.Add(n, floor), nil
}

// SerialHex formats a serial as ALB's X-Amzn-Mtls-Clientcert-Serial-Number
// header does: uppercase hexadecimal, an even number of digits, no colons
// ("03A5B1"). A negative serial (never issued here) gets a leading "-";
// nil gives "".
func SerialHex(serial *big.Int) string {
	if serial == nil {
		return ""
	}
	sign := ""
	if serial.Sign() < 0 {
		sign = "-"
	}
	h := strings.ToUpper(new(big.Int).Abs(serial).Text(16))
	if len(h)%2 == 1 {
		h = "0" + h
	}
	return sign + h
}

// Fingerprint is the SHA-256 digest of the certificate's DER encoding as
// uppercase hex pairs joined by ':', the format of
// `openssl x509 -fingerprint -sha256`.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return colonHex(sum[:])
}

func colonHex(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	var sb strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(h[i : i+2])
	}
	return sb.String()
}

// Subject mirrors the CRDs' subject field.
type Subject struct {
	CommonName         string
	Organization       []string
	OrganizationalUnit []string
	Country            []string
	Province           []string
	Locality           []string
}

// Name converts the subject to a distinguished name. Empty fields are left out.
func (s Subject) Name() pkix.Name {
	return pkix.Name{
		CommonName:         s.CommonName,
		Organization:       slices.Clone(s.Organization),
		OrganizationalUnit: slices.Clone(s.OrganizationalUnit),
		Country:            slices.Clone(s.Country),
		Province:           slices.Clone(s.Province),
		Locality:           slices.Clone(s.Locality),
	}
}

func nameIsEmpty(n pkix.Name) bool {
	return len(n.ToRDNSequence()) == 0
}

// CARequest describes a self-signed CA certificate.
type CARequest struct {
	Subject             pkix.Name
	Key                 crypto.Signer
	NotBefore, NotAfter time.Time
}

// CreateCA self-signs a CA certificate with the walkthrough's profile:
// X.509 v3, basicConstraints critical CA:TRUE (no path length limit), keyUsage
// digitalSignature, keyCertSign and cRLSign, a subject key identifier, a
// random positive serial and the signature algorithm SignatureAlgorithmFor
// picks for the key. The key must be one ALB accepts.
func CreateCA(req CARequest) (*x509.Certificate, error) {
	if req.Key == nil {
		return nil, errors.New("create CA: key is nil")
	}
	if err := checkALBKey(req.Key.Public()); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	if nameIsEmpty(req.Subject) {
		return nil, errors.New("create CA: subject is empty")
	}
	if err := checkValidity(req.NotBefore, req.NotAfter); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	serial, err := NewSerialNumber()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               req.Subject,
		NotBefore:             req.NotBefore,
		NotAfter:              req.NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SignatureAlgorithm:    SignatureAlgorithmFor(req.Key.Public()),
		// SubjectKeyId is left empty: crypto/x509 derives it from the public
		// key for CA templates (RFC 7093 method 1).
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, req.Key.Public(), req.Key)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	return x509.ParseCertificate(der)
}

func checkValidity(notBefore, notAfter time.Time) error {
	if notBefore.IsZero() || notAfter.IsZero() {
		return errors.New("notBefore and notAfter must both be set")
	}
	if !notAfter.After(notBefore) {
		return fmt.Errorf("notAfter %s is not after notBefore %s", notAfter.UTC().Format(time.RFC3339), notBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// ClientRequest describes a client certificate signed by a CA.
type ClientRequest struct {
	Subject   pkix.Name
	PublicKey crypto.PublicKey

	EmailAddresses []string
	URIs           []*url.URL
	DNSNames       []string

	// ServerAuth adds the serverAuth extended key usage next to clientAuth,
	// as the walkthrough's client profile does.
	ServerAuth bool
	// KeyEncipherment sets the keyEncipherment key usage. Nil means
	// automatic: set for RSA keys, never for ECDSA keys (RFC 5480 forbids it
	// there, so an explicit true with an ECDSA key is refused).
	KeyEncipherment *bool

	// NotAfter is capped at CA.NotAfter: a leaf never outlives its CA.
	NotBefore, NotAfter time.Time

	CA    *x509.Certificate
	CAKey crypto.Signer
}

// ErrInvalidRequest is wrapped by errors caused by the content of a
// ClientRequest (as opposed to the CA or the key).
var ErrInvalidRequest = errors.New("invalid certificate request")

// IssueClientCertificate signs a client certificate with the walkthrough's
// profile: X.509 v3, basicConstraints CA:FALSE, keyUsage digitalSignature
// (+ keyEncipherment for RSA), extKeyUsage clientAuth (+ serverAuth when
// asked), authority key identifier (the CA's key id), subject key identifier,
// SANs from the request and a random positive serial. The CA must pass
// ValidateCA and the subject key must be one ALB accepts.
func IssueClientCertificate(req ClientRequest) (*x509.Certificate, error) {
	if req.CA == nil || req.CAKey == nil {
		return nil, errors.New("issue client certificate: CA certificate and CA key are required")
	}
	if err := ValidateCA(req.CA, req.CAKey); err != nil {
		return nil, fmt.Errorf("issue client certificate: %w", err)
	}
	if req.PublicKey == nil {
		return nil, fmt.Errorf("issue client certificate: %w: public key is nil", ErrInvalidRequest)
	}
	if err := checkALBKey(req.PublicKey); err != nil {
		return nil, fmt.Errorf("issue client certificate: %w", err)
	}
	if nameIsEmpty(req.Subject) && len(req.EmailAddresses)+len(req.URIs)+len(req.DNSNames) == 0 {
		return nil, fmt.Errorf("issue client certificate: %w: needs a subject or at least one subject alternative name", ErrInvalidRequest)
	}
	for _, u := range req.URIs {
		if u == nil {
			return nil, fmt.Errorf("issue client certificate: %w: nil URI", ErrInvalidRequest)
		}
	}
	notAfter := req.NotAfter
	if notAfter.After(req.CA.NotAfter) {
		notAfter = req.CA.NotAfter
	}
	if err := checkValidity(req.NotBefore, notAfter); err != nil {
		return nil, fmt.Errorf("issue client certificate: %w: %w (notAfter is capped at the CA's notAfter)", ErrInvalidRequest, err)
	}

	_, isRSA := req.PublicKey.(*rsa.PublicKey)
	_, isECDSA := req.PublicKey.(*ecdsa.PublicKey)
	keyEncipherment := isRSA
	if req.KeyEncipherment != nil {
		keyEncipherment = *req.KeyEncipherment
		if keyEncipherment && isECDSA {
			return nil, fmt.Errorf("issue client certificate: %w: keyEncipherment is not allowed for ECDSA keys (RFC 5480)", ErrInvalidRequest)
		}
	}
	usage := x509.KeyUsageDigitalSignature
	if keyEncipherment {
		usage |= x509.KeyUsageKeyEncipherment
	}
	ext := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if req.ServerAuth {
		ext = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	skid, err := subjectKeyID(req.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("issue client certificate: %w", err)
	}
	serial, err := NewSerialNumber()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               req.Subject,
		NotBefore:             req.NotBefore,
		NotAfter:              notAfter,
		KeyUsage:              usage,
		ExtKeyUsage:           ext,
		BasicConstraintsValid: true,
		IsCA:                  false,
		SubjectKeyId:          skid,
		EmailAddresses:        slices.Clone(req.EmailAddresses),
		URIs:                  slices.Clone(req.URIs),
		DNSNames:              slices.Clone(req.DNSNames),
		SignatureAlgorithm:    SignatureAlgorithmFor(req.CAKey.Public()),
		// AuthorityKeyId comes from req.CA.SubjectKeyId (crypto/x509 copies it).
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, req.CA, req.PublicKey, req.CAKey)
	if err != nil {
		return nil, fmt.Errorf("issue client certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// subjectKeyID computes an RFC 7093 method 1 key identifier (leftmost 160
// bits of the SHA-256 of the subjectPublicKey bits), the same method
// crypto/x509 uses for CA certificates.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("unmarshal public key: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

// Errors returned (wrapped, possibly several joined) by ValidateCA. Test with errors.Is.
var (
	ErrNotCA           = errors.New("certificate is not a CA (basicConstraints CA:TRUE required)")
	ErrNoCertSign      = errors.New("CA certificate lacks the keyCertSign key usage")
	ErrNoCRLSign       = errors.New("CA certificate lacks the cRLSign key usage")
	ErrNoSubjectKeyID  = errors.New("CA certificate has no subject key identifier")
	ErrKeyMismatch     = errors.New("private key does not match the certificate")
	ErrNotX509v3       = errors.New("certificate is not X.509 v3")
	ErrMissingKeyOrCRT = errors.New("CA certificate and private key are required")
)

// ValidateCA checks that cert and key can serve as an albtrust ClientCA
// (typically an imported one): X.509 v3; basicConstraints CA:TRUE; keyUsage
// with keyCertSign and cRLSign (the operator signs CRLs with it, and
// crypto/x509 insists on the bit); a subject key identifier (so that issued
// certificates and CRLs carry the authority key identifier ALB matches);
// the key matches the certificate; key and signature algorithms ALB accepts.
// All problems found are returned, joined; each wraps one of the Err*
// values of this package, so callers pick a condition reason with errors.Is.
// Messages never include key material.
func ValidateCA(cert *x509.Certificate, key crypto.Signer) error {
	if cert == nil || key == nil {
		return ErrMissingKeyOrCRT
	}
	var errs []error
	if cert.Version != 3 {
		errs = append(errs, fmt.Errorf("%w (version %d)", ErrNotX509v3, cert.Version))
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		errs = append(errs, ErrNotCA)
	}
	if cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		errs = append(errs, ErrNoCertSign)
	}
	if cert.KeyUsage&x509.KeyUsageCRLSign == 0 {
		errs = append(errs, ErrNoCRLSign)
	}
	if len(cert.SubjectKeyId) == 0 {
		errs = append(errs, ErrNoSubjectKeyID)
	}
	if err := checkALBKey(cert.PublicKey); err != nil {
		errs = append(errs, fmt.Errorf("CA certificate key: %w", err))
	}
	if err := checkALBSignature(cert.SignatureAlgorithm); err != nil {
		errs = append(errs, fmt.Errorf("CA certificate signature: %w", err))
	}
	if !KeyMatches(key, cert) {
		errs = append(errs, ErrKeyMismatch)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid CA %q: %w", cert.Subject.String(), joinedErrors(errs))
}

// joinedErrors is errors.Join on one line ("; "), fit for a condition message.
type joinedErrors []error

func (j joinedErrors) Error() string {
	parts := make([]string, len(j))
	for i, e := range j {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (j joinedErrors) Unwrap() []error { return j }
