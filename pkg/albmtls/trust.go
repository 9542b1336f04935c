package albmtls

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrInvalidCRL is returned (wrapped) by NewVerifier, and passed to the reload
// error handler, for a CRL that cannot be used: unparsable, not PEM "X509 CRL"
// or DER, or not signed by a certificate in the CA bundle. A CRL from a CA
// outside the bundle is refused rather than silently ignored, as ALB refuses
// it (InvalidRevocationContent): a revocation list that does nothing is a
// configuration mistake worth hearing about.
var ErrInvalidCRL = errors.New("invalid CRL")

// ErrInvalidBundle is returned (wrapped) for a CA bundle that is empty, holds
// PEM blocks other than CERTIFICATE, or a certificate that does not parse.
var ErrInvalidBundle = errors.New("invalid CA bundle")

// source is one input of the trust state: bytes given once, or a file that is
// re-read when it changes.
type source struct {
	data []byte // for in-memory sources
	path string // for file sources
}

// stamp is what a cheap os.Stat tells about a file; a change of any field
// means the file must be read again. Kubernetes updates a mounted Secret by
// swapping a symlink to a fresh directory, which changes the file identity
// even when size and modification time happen to match.
type stamp struct {
	info    os.FileInfo // nil if the stat failed
	size    int64
	modTime time.Time
}

func statSource(s source) stamp {
	if s.path == "" {
		return stamp{}
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return stamp{}
	}
	return stamp{info: fi, size: fi.Size(), modTime: fi.ModTime()}
}

func (a stamp) same(b stamp) bool {
	if a.info == nil || b.info == nil {
		return a.info == nil && b.info == nil
	}
	return a.size == b.size && a.modTime.Equal(b.modTime) && os.SameFile(a.info, b.info)
}

func (s source) read() ([]byte, error) {
	if s.path == "" {
		return s.data, nil
	}
	return os.ReadFile(s.path)
}

// trustState is an immutable snapshot of the CA bundle and the revocations,
// shared by concurrent requests through an atomic pointer.
type trustState struct {
	roots     *x509.CertPool
	rootCerts []*x509.Certificate
	// revoked maps an issuer (its subject and public key) to the set of
	// revoked serial numbers, as big.Int.Text(16).
	revoked map[string]map[string]struct{}
	// revokedAnchors holds bundle certificates (by DER) that another bundle
	// certificate issued and revoked. x509 ends a chain at the first bundle
	// certificate it reaches, so an intermediate placed in the bundle would
	// otherwise never be checked against its own issuer's CRL.
	revokedAnchors map[string]bool
	// stamps records the files as they were when this state was built (or
	// last attempted), in the order bundles, CRLs.
	stamps []stamp
}

func issuerKey(c *x509.Certificate) string {
	return string(c.RawSubject) + "\x00" + string(c.RawSubjectPublicKeyInfo)
}

func (t *trustState) isRevoked(cert, issuer *x509.Certificate) bool {
	serials := t.revoked[issuerKey(issuer)]
	if serials == nil {
		return false
	}
	_, ok := serials[cert.SerialNumber.Text(16)]
	return ok
}

// trustStore builds trust states from the sources and rebuilds them when a
// file source changes.
type trustStore struct {
	bundles  []source // none: no bundle (only allowed in verify-headers mode)
	crls     []source
	hasFiles bool
	onError  func(error)

	state atomic.Pointer[trustState]
	mu    sync.Mutex // serialises rebuilds
}

func (ts *trustStore) sources() []source {
	all := append([]source(nil), ts.bundles...)
	return append(all, ts.crls...)
}

func (ts *trustStore) stampAll() []stamp {
	all := ts.sources()
	st := make([]stamp, len(all))
	for i, s := range all {
		st[i] = statSource(s)
	}
	return st
}

func sameStamps(a, b []stamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].same(b[i]) {
			return false
		}
	}
	return true
}

// init builds the first state; any error is fatal to NewVerifier.
func (ts *trustStore) init() error {
	st, err := ts.build(ts.stampAll())
	if err != nil {
		return err
	}
	ts.state.Store(st)
	return nil
}

// current returns the trust state to verify a request with, rebuilding it
// first if a file changed. A rebuild that fails keeps the previous state (a
// half-written or briefly missing file must not lock every client out) and
// reports the error once per change through onError.
func (ts *trustStore) current() *trustState {
	st := ts.state.Load()
	if !ts.hasFiles {
		return st
	}
	now := ts.stampAll()
	if sameStamps(now, st.stamps) {
		return st
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	st = ts.state.Load()
	if sameStamps(now, st.stamps) { // another request rebuilt it meanwhile
		return st
	}
	next, err := ts.build(now)
	if err != nil {
		// Keep the old trust, remember the new stamps so the broken files
		// are not re-read on every request.
		kept := *st
		kept.stamps = now
		next = &kept
		if ts.onError != nil {
			ts.onError(err)
		}
	}
	ts.state.Store(next)
	return next
}

func (ts *trustStore) build(stamps []stamp) (*trustState, error) {
	st := &trustState{stamps: stamps, revoked: map[string]map[string]struct{}{}}
	for _, src := range ts.bundles {
		data, err := src.read()
		if err != nil {
			return nil, fmt.Errorf("albmtls: read CA bundle: %w", err)
		}
		certs, err := parseBundle(data)
		if err != nil {
			return nil, fmt.Errorf("albmtls: CA bundle %s: %w", src.name(), err)
		}
		st.rootCerts = append(st.rootCerts, certs...)
	}
	if len(st.rootCerts) > 0 {
		st.roots = x509.NewCertPool()
		for _, c := range st.rootCerts {
			st.roots.AddCert(c)
		}
	}
	for _, src := range ts.crls {
		data, err := src.read()
		if err != nil {
			return nil, fmt.Errorf("albmtls: read CRL: %w", err)
		}
		if err := st.addCRLs(data); err != nil {
			return nil, fmt.Errorf("albmtls: CRL %s: %w", src.name(), err)
		}
	}
	st.findRevokedAnchors()
	return st, nil
}

func (s source) name() string {
	if s.path != "" {
		return s.path
	}
	return "(in memory)"
}

// parseBundle reads PEM CERTIFICATE blocks; text between blocks (ALB allows
// '#' comments) is skipped, any other block type is refused.
func parseBundle(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: PEM block %q, want CERTIFICATE", ErrInvalidBundle, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrInvalidBundle, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no PEM certificate", ErrInvalidBundle)
	}
	return certs, nil
}

// addCRLs parses one or more PEM "X509 CRL" blocks, or one DER CRL, and
// records their entries under the bundle certificate that signed each.
func (t *trustState) addCRLs(data []byte) error {
	var ders [][]byte
	if bytes.Contains(data, []byte("-----BEGIN")) {
		rest := data
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "X509 CRL" {
				return fmt.Errorf("%w: PEM block %q, want X509 CRL", ErrInvalidCRL, block.Type)
			}
			ders = append(ders, block.Bytes)
		}
		if len(ders) == 0 {
			return fmt.Errorf("%w: no PEM CRL", ErrInvalidCRL)
		}
	} else {
		ders = [][]byte{data}
	}
	for _, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidCRL, err)
		}
		issuer := t.crlIssuer(crl)
		if issuer == nil {
			return fmt.Errorf("%w: issuer %q is not a CA in the bundle (or the signature does not verify)", ErrInvalidCRL, crl.Issuer.String())
		}
		k := issuerKey(issuer)
		if t.revoked[k] == nil {
			t.revoked[k] = map[string]struct{}{}
		}
		for _, e := range crl.RevokedCertificateEntries {
			t.revoked[k][e.SerialNumber.Text(16)] = struct{}{}
		}
	}
	return nil
}

// crlIssuer finds the bundle certificate whose key signed crl. Several bundle
// certificates may share a subject (a CA rotated with a new key), so the
// signature, not the name, decides.
func (t *trustState) crlIssuer(crl *x509.RevocationList) *x509.Certificate {
	for _, c := range t.rootCerts {
		if !bytes.Equal(c.RawSubject, crl.RawIssuer) {
			continue
		}
		if crl.CheckSignatureFrom(c) == nil {
			return c
		}
	}
	return nil
}

func (t *trustState) findRevokedAnchors() {
	if len(t.revoked) == 0 {
		return
	}
	for _, c := range t.rootCerts {
		for _, issuer := range t.rootCerts {
			if c == issuer || !bytes.Equal(c.RawIssuer, issuer.RawSubject) || !t.isRevoked(c, issuer) {
				continue
			}
			if c.CheckSignatureFrom(issuer) == nil {
				if t.revokedAnchors == nil {
					t.revokedAnchors = map[string]bool{}
				}
				t.revokedAnchors[string(c.Raw)] = true
			}
		}
	}
}
