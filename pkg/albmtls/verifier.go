package albmtls

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Mode says which headers a Verifier reads.
type Mode string

const (
	// ModePassthrough reads the X-Amzn-Mtls-Clientcert chain that an ALB listener
	// in Passthrough mode forwards unverified, and verifies it against the CA
	// bundle and CRLs. This is the default.
	ModePassthrough Mode = "passthrough"
	// ModeVerifyHeaders trusts the load balancer: a listener in Verify mode has
	// already checked the chain against its trust store, and the identity is
	// built from the X-Amzn-Mtls-Clientcert-Leaf / -Subject / -Serial-Number /
	// -Issuer / -Validity headers. If a CA bundle is configured too, the leaf
	// is additionally verified against it (the bundle must then hold any
	// intermediate CAs, since Verify mode forwards only the leaf, and
	// WithIgnoreExpiry should match the listener's
	// IgnoreClientCertificateExpiry).
	ModeVerifyHeaders Mode = "verify-headers"
)

// ParseMode accepts "passthrough" or "verify-headers" (for flags).
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModePassthrough, ModeVerifyHeaders:
		return m, nil
	}
	return "", fmt.Errorf("albmtls: unknown mode %q (want %q or %q)", s, ModePassthrough, ModeVerifyHeaders)
}

// An Option configures a Verifier.
type Option func(*config) error

type config struct {
	mode         Mode
	bundles      []source
	crls         []source
	ignoreExpiry bool
	now          func() time.Time
	headers      HeaderNames
	onReloadErr  func(error)
	onReject     func(http.ResponseWriter, *http.Request, error)
}

// WithCABundle adds trusted CA certificates from PEM bytes (CERTIFICATE
// blocks only; text between blocks, such as ALB's '#' comments, is skipped).
// The bundle may hold intermediate CAs as well as roots. Repeated bundle
// options add up.
func WithCABundle(pemBytes []byte) Option {
	return func(c *config) error {
		c.bundles = append(c.bundles, source{data: append([]byte(nil), pemBytes...)})
		return nil
	}
}

// WithCABundleFile adds trusted CA certificates from a PEM file, read again
// whenever it changes (checked with a stat on each request), for example the
// ca.crt key of a Kubernetes Secret mounted as a volume.
func WithCABundleFile(path string) Option {
	return func(c *config) error {
		c.bundles = append(c.bundles, source{path: path})
		return nil
	}
}

// WithCRL adds certificate revocation lists: PEM ("X509 CRL" blocks, one or
// more) or a single DER CRL. Each must be signed by a CA in the bundle;
// NewVerifier refuses one that is not (ErrInvalidCRL). To revoke certificates
// issued by an intermediate CA, put that intermediate in the bundle too, as
// in an ALB trust store.
func WithCRL(data []byte) Option {
	return func(c *config) error {
		c.crls = append(c.crls, source{data: append([]byte(nil), data...)})
		return nil
	}
}

// WithCRLFile adds a CRL file (PEM or DER), re-read whenever it changes.
func WithCRLFile(path string) Option {
	return func(c *config) error {
		c.crls = append(c.crls, source{path: path})
		return nil
	}
}

// WithMode selects ModePassthrough (the default) or ModeVerifyHeaders.
func WithMode(m Mode) Option {
	return func(c *config) error {
		if _, err := ParseMode(string(m)); err != nil {
			return err
		}
		c.mode = m
		return nil
	}
}

// WithIgnoreExpiry accepts a client certificate past its NotAfter, like an
// ALB listener with IgnoreClientCertificateExpiry. Only the leaf's expiry is
// ignored: the CAs in the chain must still be valid now, and a leaf that is
// not yet valid is still refused.
func WithIgnoreExpiry() Option {
	return func(c *config) error { c.ignoreExpiry = true; return nil }
}

// WithClock sets the clock used for validity checks (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("albmtls: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithHeaderNames sets the header names to read, for listeners whose
// routing.http.request.x_amzn_mtls_clientcert*.header_name attributes rename
// them. Empty fields keep ALB's defaults.
func WithHeaderNames(n HeaderNames) Option {
	return func(c *config) error { c.headers = n.withDefaults(); return nil }
}

// WithReloadErrorHandler is called when a changed bundle or CRL file cannot
// be used; the Verifier keeps the last good trust meanwhile. The default
// drops the error.
func WithReloadErrorHandler(f func(error)) Option {
	return func(c *config) error { c.onReloadErr = f; return nil }
}

// WithRejectHandler replaces how Middleware answers a refused request. err is
// a *VerificationError. The default writes 403 with the reason only.
func WithRejectHandler(f func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(c *config) error { c.onReject = f; return nil }
}

// A Verifier checks client certificates forwarded by an ALB. It is safe for
// concurrent use.
type Verifier struct {
	cfg   config
	trust *trustStore
}

// NewVerifier builds a Verifier. Passthrough mode needs a CA bundle. Files
// are read once now (a missing or invalid file is an error) and again when
// they change.
func NewVerifier(opts ...Option) (*Verifier, error) {
	cfg := config{mode: ModePassthrough, now: time.Now, headers: DefaultHeaderNames()}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.mode == ModePassthrough && len(cfg.bundles) == 0 {
		return nil, errors.New("albmtls: passthrough mode needs a CA bundle (WithCABundle or WithCABundleFile)")
	}
	if len(cfg.bundles) == 0 && len(cfg.crls) > 0 {
		return nil, errors.New("albmtls: CRLs need a CA bundle to check their signatures")
	}
	ts := &trustStore{bundles: cfg.bundles, crls: cfg.crls, onError: cfg.onReloadErr}
	for _, s := range ts.sources() {
		if s.path != "" {
			ts.hasFiles = true
		}
	}
	if err := ts.init(); err != nil {
		return nil, err
	}
	return &Verifier{cfg: cfg, trust: ts}, nil
}

// VerifyRequest verifies the client certificate headers of r according to the
// Verifier's mode and returns the client's identity. Errors are
// *VerificationError values; use errors.Is with the Err... sentinels.
func (v *Verifier) VerifyRequest(r *http.Request) (*Identity, error) {
	if v.cfg.mode == ModeVerifyHeaders {
		return v.fromVerifyHeaders(r.Header)
	}
	vals := r.Header.Values(v.cfg.headers.ClientCert)
	if len(vals) > 1 {
		return nil, newError(ReasonMalformed, fmt.Errorf("header %s appears %d times", v.cfg.headers.ClientCert, len(vals)))
	}
	var value string
	if len(vals) == 1 {
		value = vals[0]
	}
	chain, err := ParseClientCertHeader(value)
	if err != nil {
		return nil, err
	}
	return v.VerifyChain(chain)
}

// VerifyChain verifies a chain as presented by a client (leaf first, then
// any intermediates; a trailing root is allowed) against the CA bundle, the
// CRLs, the clock and the clientAuth purpose, and returns the identity.
func (v *Verifier) VerifyChain(presented []*x509.Certificate) (*Identity, error) {
	if len(presented) == 0 {
		return nil, newError(ReasonMissing, nil)
	}
	if len(presented) > 1+MaxIntermediates {
		return nil, newError(ReasonMaxChainDepth, fmt.Errorf("%d certificates after the leaf, limit %d", len(presented)-1, MaxIntermediates))
	}
	st := v.trust.current()
	if st.roots == nil {
		return nil, newError(ReasonUntrusted, errors.New("no CA bundle configured"))
	}
	chain, err := v.verify(st, presented)
	if err != nil {
		return nil, err
	}
	return newIdentity(chain, ModePassthrough), nil
}

func (v *Verifier) verify(st *trustState, presented []*x509.Certificate) ([]*x509.Certificate, error) {
	leaf := presented[0]
	now := v.cfg.now()
	at := now
	if v.cfg.ignoreExpiry && now.After(leaf.NotAfter) {
		// x509 cannot skip the time check, so evaluate the chain at the
		// leaf's last valid instant and check the CAs against now below.
		at = leaf.NotAfter
	}
	inter := x509.NewCertPool()
	for _, c := range presented[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         st.roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, classify(err, leaf, at)
	}
	// Revocation: any CRL hit in any candidate chain refuses the client.
	for _, ch := range chains {
		for i := 0; i+1 < len(ch); i++ {
			if st.isRevoked(ch[i], ch[i+1]) {
				return nil, certError(ReasonCRLHit, ch[i], nil)
			}
		}
		if anchor := ch[len(ch)-1]; st.revokedAnchors[string(anchor.Raw)] {
			return nil, certError(ReasonCRLHit, anchor, nil)
		}
	}
	if at.Equal(now) {
		return chains[0], nil
	}
	// Expiry was ignored for the leaf only: the CAs must be valid now.
	var firstErr error
	for _, ch := range chains {
		bad := false
		for _, c := range ch[1:] {
			if r, ok := timeReason(c, now); !ok {
				if firstErr == nil {
					firstErr = certError(r, c, nil)
				}
				bad = true
				break
			}
		}
		if !bad {
			return ch, nil
		}
	}
	return nil, firstErr
}

// timeReason reports whether c is valid at t and, if not, why.
func timeReason(c *x509.Certificate, t time.Time) (Reason, bool) {
	switch {
	case t.Before(c.NotBefore):
		return ReasonNotYetValid, false
	case t.After(c.NotAfter):
		return ReasonExpired, false
	}
	return "", true
}

// classify maps an x509 verification error to a reason.
func classify(err error, leaf *x509.Certificate, at time.Time) *VerificationError {
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		cert := inv.Cert
		if cert == nil {
			cert = leaf
		}
		switch inv.Reason {
		case x509.Expired:
			r, ok := timeReason(cert, at)
			if ok { // should not happen; keep the x509 verdict
				r = ReasonExpired
			}
			return certError(r, cert, err)
		case x509.IncompatibleUsage:
			return certError(ReasonPurposeInvalid, cert, err)
		case x509.TooManyIntermediates:
			return certError(ReasonMaxChainDepth, cert, err)
		}
		return certError(ReasonUntrusted, cert, err)
	}
	return certError(ReasonUntrusted, leaf, err)
}

func certError(r Reason, c *x509.Certificate, err error) *VerificationError {
	return &VerificationError{Reason: r, Subject: c.Subject.String(), SerialNumber: formatSerial(c.SerialNumber), Err: err}
}

// fromVerifyHeaders builds the identity from Verify-mode headers.
func (v *Verifier) fromVerifyHeaders(h http.Header) (*Identity, error) {
	vh, err := ParseVerifyHeaders(h, v.cfg.headers)
	if err != nil {
		return nil, err
	}
	st := v.trust.current()
	if vh.Leaf == nil {
		if st.roots != nil {
			// A bundle was configured to double-check the load balancer;
			// without the leaf there is nothing to check, so refuse.
			return nil, newError(ReasonMalformed, errors.New("leaf header missing, needed to verify against the CA bundle"))
		}
		return identityFromHeaders(vh), nil
	}
	if st.roots != nil {
		chain, err := v.verify(st, []*x509.Certificate{vh.Leaf})
		if err != nil {
			return nil, err
		}
		return newIdentity(chain, ModeVerifyHeaders), nil
	}
	return newIdentity([]*x509.Certificate{vh.Leaf}, ModeVerifyHeaders), nil
}
