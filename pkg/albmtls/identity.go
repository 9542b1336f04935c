package albmtls

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Identity is a client whose certificate was accepted.
type Identity struct {
	// Mode tells how the identity was established: ModePassthrough (this process
	// verified the chain) or ModeVerifyHeaders (the load balancer did).
	Mode Mode
	// Subject and Issuer are the leaf's distinguished names in RFC 2253 form.
	Subject string
	Issuer  string
	// CommonName is the subject's CN ("" if it has none).
	CommonName string
	// Subject alternative names of the leaf.
	EmailAddresses []string
	URIs           []string
	DNSNames       []string
	// SerialNumber is the leaf's serial in uppercase hex, as ALB prints it.
	SerialNumber string
	// FingerprintSHA256 is the SHA-256 of the leaf's DER as uppercase hex
	// pairs joined by ':', as `openssl x509 -fingerprint -sha256` and the
	// albtrust ClientCertificate status print it ("" when only the Verify
	// headers without the Leaf header were seen).
	FingerprintSHA256 string
	NotBefore         time.Time
	NotAfter          time.Time
	// Chain is the verified chain, leaf first and ending with the trusted CA
	// from the bundle. In ModeVerifyHeaders without a CA bundle it holds only
	// the leaf, and it is nil when the Leaf header was absent.
	Chain []*x509.Certificate
}

// Leaf returns the client's certificate, or nil if it is not known.
func (id *Identity) Leaf() *x509.Certificate {
	if id == nil || len(id.Chain) == 0 {
		return nil
	}
	return id.Chain[0]
}

func newIdentity(chain []*x509.Certificate, mode Mode) *Identity {
	leaf := chain[0]
	id := &Identity{
		Mode:              mode,
		Subject:           leaf.Subject.String(),
		Issuer:            leaf.Issuer.String(),
		CommonName:        leaf.Subject.CommonName,
		EmailAddresses:    leaf.EmailAddresses,
		DNSNames:          leaf.DNSNames,
		SerialNumber:      formatSerial(leaf.SerialNumber),
		FingerprintSHA256: fingerprint(leaf),
		NotBefore:         leaf.NotBefore,
		NotAfter:          leaf.NotAfter,
		Chain:             chain,
	}
	for _, u := range leaf.URIs {
		id.URIs = append(id.URIs, u.String())
	}
	return id
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	var b strings.Builder
	b.Grow(len(sum) * 3)
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

func identityFromHeaders(vh *VerifyModeHeaders) *Identity {
	return &Identity{
		Mode:         ModeVerifyHeaders,
		Subject:      vh.Subject,
		Issuer:       vh.Issuer,
		CommonName:   commonName(vh.Subject),
		SerialNumber: vh.SerialNumber,
		NotBefore:    vh.NotBefore,
		NotAfter:     vh.NotAfter,
	}
}

// commonName returns the first CN attribute of an RFC 2253 distinguished
// name, with its escapes removed ("" if there is none or it is
// hex-encoded).
func commonName(dn string) string {
	for _, rdn := range splitUnescaped(dn, ",;") {
		for _, atv := range splitUnescaped(rdn, "+") {
			typ, val, ok := strings.Cut(atv, "=")
			if !ok {
				continue
			}
			typ = strings.TrimSpace(typ)
			if !strings.EqualFold(typ, "CN") && typ != "2.5.4.3" {
				continue
			}
			val = strings.TrimSpace(val)
			if strings.HasPrefix(val, "#") {
				return "" // BER-encoded value; not decoded here
			}
			return unescapeDNValue(val)
		}
	}
	return ""
}

// splitUnescaped splits s at any byte of seps that is not preceded by a
// backslash escape.
func splitUnescaped(s, seps string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++ // skip the escaped byte (or first hex digit)
		case strings.IndexByte(seps, s[i]) >= 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unescapeDNValue removes RFC 2253 escapes: "\," and friends, and "\XX" hex
// pairs.
func unescapeDNValue(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' || i+1 >= len(v) {
			b.WriteByte(v[i])
			continue
		}
		if i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
			var out [1]byte
			if _, err := hex.Decode(out[:], []byte(v[i+1:i+3])); err == nil {
				b.WriteByte(out[0])
				i += 2
				continue
			}
		}
		b.WriteByte(v[i+1])
		i++
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

type ctxKey struct{}

// ContextWithIdentity returns a copy of ctx carrying id. Middleware does this
// for verified requests; tests of downstream handlers can do it directly.
func ContextWithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// IdentityFromContext returns the identity Middleware stored in ctx.
func IdentityFromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(*Identity)
	return id, ok && id != nil
}
