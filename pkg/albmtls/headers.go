package albmtls

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Default header names ALB uses towards targets. A listener can rename each of
// them through its routing.http.request.x_amzn_mtls_clientcert*.header_name
// attributes; see HeaderNames.
const (
	// HeaderClientCert carries the whole chain in Passthrough mode.
	HeaderClientCert = "X-Amzn-Mtls-Clientcert"
	// The headers below are sent in Verify mode.
	HeaderSerialNumber = "X-Amzn-Mtls-Clientcert-Serial-Number"
	HeaderIssuer       = "X-Amzn-Mtls-Clientcert-Issuer"
	HeaderSubject      = "X-Amzn-Mtls-Clientcert-Subject"
	HeaderValidity     = "X-Amzn-Mtls-Clientcert-Validity"
	HeaderLeaf         = "X-Amzn-Mtls-Clientcert-Leaf"
)

// Limits applied before any certificate is parsed.
const (
	// MaxHeaderBytes is ALB's limit for a single HTTP header (16 KB). A longer
	// value cannot have come from ALB and is refused with ErrHeaderTooLarge.
	MaxHeaderBytes = 16 * 1024
	// MaxIntermediates is how many certificates beyond the leaf a client may
	// send (ALB's maximum chain depth is 4).
	MaxIntermediates = 4
)

// HeaderNames lists the header names to read. The zero value of a field means
// the default name; use DefaultHeaderNames for all defaults.
type HeaderNames struct {
	ClientCert   string // Passthrough: the URL-encoded PEM chain
	SerialNumber string // Verify: leaf serial number, hex
	Issuer       string // Verify: issuer DN, RFC 2253
	Subject      string // Verify: subject DN, RFC 2253
	Validity     string // Verify: NotBefore=...;NotAfter=...
	Leaf         string // Verify: the URL-encoded PEM leaf
}

// DefaultHeaderNames returns the names ALB uses unless a listener renames them.
func DefaultHeaderNames() HeaderNames {
	return HeaderNames{
		ClientCert:   HeaderClientCert,
		SerialNumber: HeaderSerialNumber,
		Issuer:       HeaderIssuer,
		Subject:      HeaderSubject,
		Validity:     HeaderValidity,
		Leaf:         HeaderLeaf,
	}
}

// withDefaults fills empty fields with ALB's default names.
func (n HeaderNames) withDefaults() HeaderNames {
	d := DefaultHeaderNames()
	for _, f := range []struct {
		dst *string
		def string
	}{
		{&n.ClientCert, d.ClientCert}, {&n.SerialNumber, d.SerialNumber}, {&n.Issuer, d.Issuer},
		{&n.Subject, d.Subject}, {&n.Validity, d.Validity}, {&n.Leaf, d.Leaf},
	} {
		if *f.dst == "" {
			*f.dst = f.def
		}
	}
	return n
}

// ParseClientCertHeader decodes the value of a Passthrough-mode
// X-Amzn-Mtls-Clientcert header: the client's chain, leaf first, as PEM that
// is percent-encoded except for '+', '=' and '/'. A '+' is therefore a literal
// plus (base64), never a space. The certificates are decoded, not verified.
//
// It refuses, with a *VerificationError: an empty value (ErrNoCertificate), a
// value over MaxHeaderBytes (ErrHeaderTooLarge), more than MaxIntermediates
// certificates after the leaf (ErrChainTooLong), and bad escapes, PEM blocks
// other than CERTIFICATE, truncated PEM, trailing junk or unparsable
// certificates (ErrMalformed).
func ParseClientCertHeader(value string) ([]*x509.Certificate, error) {
	return parsePEMHeader(value, 1+MaxIntermediates)
}

// parsePEMHeader decodes a URL-encoded PEM header holding 1..maxCerts
// certificates.
func parsePEMHeader(value string, maxCerts int) ([]*x509.Certificate, error) {
	if value == "" {
		return nil, newError(ReasonMissing, nil)
	}
	if len(value) > MaxHeaderBytes {
		return nil, newError(ReasonHeaderTooLarge, fmt.Errorf("%d bytes, limit %d", len(value), MaxHeaderBytes))
	}
	// PathUnescape, unlike QueryUnescape, keeps '+' as '+'.
	decoded, err := url.PathUnescape(value)
	if err != nil {
		// The url error quotes part of the input; keep header bytes out of errors.
		return nil, newError(ReasonMalformed, errors.New("invalid percent-encoding"))
	}
	var ders [][]byte
	rest := []byte(decoded)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, newError(ReasonMalformed, fmt.Errorf("PEM block %d is %q, want CERTIFICATE", len(ders)+1, truncate(block.Type, 40)))
		}
		if len(block.Headers) != 0 {
			return nil, newError(ReasonMalformed, fmt.Errorf("PEM block %d has headers", len(ders)+1))
		}
		ders = append(ders, block.Bytes)
		if len(ders) > maxCerts {
			if maxCerts == 1 {
				return nil, newError(ReasonMalformed, errors.New("more than one certificate"))
			}
			return nil, newError(ReasonMaxChainDepth, fmt.Errorf("more than %d certificates after the leaf", maxCerts-1))
		}
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		// pem.Decode stops at a block without its END line, or at junk.
		return nil, newError(ReasonMalformed, fmt.Errorf("truncated PEM or trailing data after %d certificate(s)", len(ders)))
	}
	if len(ders) == 0 {
		return nil, newError(ReasonMalformed, errors.New("no PEM certificate"))
	}
	certs := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, newError(ReasonMalformed, fmt.Errorf("certificate %d: %w", i+1, err))
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// VerifyModeHeaders holds the decoded Verify-mode headers: what ALB says about a
// client certificate it has already verified.
type VerifyModeHeaders struct {
	// SerialNumber is the leaf's serial number, uppercase hex as ALB sends it
	// ("" when the header is absent).
	SerialNumber string
	// Issuer and Subject are RFC 2253 distinguished names, as sent.
	Issuer  string
	Subject string
	// NotBefore and NotAfter come from the Validity header (zero if absent).
	NotBefore time.Time
	NotAfter  time.Time
	// Leaf is the decoded Leaf header (nil if absent).
	Leaf *x509.Certificate
}

// ParseVerifyHeaders decodes the Verify-mode headers of h, using names (empty
// fields mean ALB's defaults). At least the Leaf or the Subject header must be
// present. Each header is limited to MaxHeaderBytes and must appear at most
// once; when both Leaf and SerialNumber are present they must agree.
//
// Errors are *VerificationError values matching ErrNoCertificate (none of the
// headers is present), ErrHeaderTooLarge or ErrMalformed.
func ParseVerifyHeaders(h http.Header, names HeaderNames) (*VerifyModeHeaders, error) {
	names = names.withDefaults()
	var vh VerifyModeHeaders
	present := false
	get := func(name string) (string, error) {
		vals := h.Values(name)
		switch {
		case len(vals) == 0:
			return "", nil
		case len(vals) > 1:
			return "", newError(ReasonMalformed, fmt.Errorf("header %s appears %d times", name, len(vals)))
		case len(vals[0]) > MaxHeaderBytes:
			return "", newError(ReasonHeaderTooLarge, fmt.Errorf("header %s: %d bytes, limit %d", name, len(vals[0]), MaxHeaderBytes))
		}
		present = true
		return vals[0], nil
	}

	serial, err := get(names.SerialNumber)
	if err != nil {
		return nil, err
	}
	if serial != "" {
		n, ok := parseHexSerial(serial)
		if !ok {
			return nil, newError(ReasonMalformed, errors.New("serial number header is not hex"))
		}
		vh.SerialNumber = formatSerial(n)
	}
	if vh.Issuer, err = get(names.Issuer); err != nil {
		return nil, err
	}
	if vh.Subject, err = get(names.Subject); err != nil {
		return nil, err
	}
	validity, err := get(names.Validity)
	if err != nil {
		return nil, err
	}
	if validity != "" {
		if vh.NotBefore, vh.NotAfter, err = parseValidity(validity); err != nil {
			return nil, newError(ReasonMalformed, err)
		}
	}
	leaf, err := get(names.Leaf)
	if err != nil {
		return nil, err
	}
	if leaf != "" {
		certs, err := parsePEMHeader(leaf, 1)
		if err != nil {
			return nil, err
		}
		vh.Leaf = certs[0]
		if vh.SerialNumber != "" && vh.SerialNumber != formatSerial(vh.Leaf.SerialNumber) {
			return nil, newError(ReasonMalformed, errors.New("serial number header does not match the leaf header"))
		}
	}
	if !present {
		return nil, newError(ReasonMissing, nil)
	}
	if vh.Leaf == nil && vh.Subject == "" {
		return nil, newError(ReasonMalformed, errors.New("neither leaf nor subject header present"))
	}
	return &vh, nil
}

// parseHexSerial accepts 1-64 hex digits (x509 serials are at most 20 octets;
// some leeway for leading zeros).
func parseHexSerial(s string) (*big.Int, bool) {
	if len(s) == 0 || len(s) > 64 {
		return nil, false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return nil, false
		}
	}
	return new(big.Int).SetString(s, 16)
}

// formatSerial renders a serial number as ALB does: uppercase hex of its
// big-endian bytes (so always an even number of digits).
func formatSerial(n *big.Int) string {
	if n == nil {
		return ""
	}
	if n.Sign() == 0 {
		return "00"
	}
	return fmt.Sprintf("%X", n.Bytes())
}

// parseValidity reads "NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z".
func parseValidity(s string) (notBefore, notAfter time.Time, err error) {
	var seenBefore, seenAfter bool
	for _, part := range strings.Split(s, ";") {
		key, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return notBefore, notAfter, errors.New("validity header: want Key=Value pairs separated by ';'")
		}
		t, perr := time.Parse(time.RFC3339, val)
		if perr != nil {
			return notBefore, notAfter, fmt.Errorf("validity header: %s is not an RFC 3339 time", truncate(key, 20))
		}
		switch key {
		case "NotBefore":
			if seenBefore {
				return notBefore, notAfter, errors.New("validity header: NotBefore twice")
			}
			notBefore, seenBefore = t, true
		case "NotAfter":
			if seenAfter {
				return notBefore, notAfter, errors.New("validity header: NotAfter twice")
			}
			notAfter, seenAfter = t, true
		default:
			return notBefore, notAfter, errors.New("validity header: unknown key")
		}
	}
	if !seenBefore || !seenAfter {
		return notBefore, notAfter, errors.New("validity header: want both NotBefore and NotAfter")
	}
	return notBefore, notAfter, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// EncodeClientCertHeader is the inverse of ParseClientCertHeader: it renders
// certs (leaf first) as PEM and percent-encodes it the way ALB does, leaving
// '+', '=' and '/' as they are. Tests and emulators use it to build requests.
func EncodeClientCertHeader(certs ...*x509.Certificate) string {
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return encodeALB(buf.Bytes())
}

// encodeALB percent-encodes every byte outside the unreserved set
// (A-Z a-z 0-9 - . _ ~) and '+', '=', '/'.
func encodeALB(b []byte) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/8)
	for _, c := range b {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '+', c == '=', c == '/':
			sb.WriteByte(c)
		default:
			sb.WriteByte('%')
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&15])
		}
	}
	return sb.String()
}
