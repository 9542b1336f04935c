package clientcertificate

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net/url"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
	"github.com/albtrust/albtrust/internal/pki"
)

// Defaults the CRD also applies; repeated here so that an object written without them (or a
// test building a spec by hand) behaves the same.
const (
	defaultDuration = 365 * 24 * time.Hour
	// durationTolerance absorbs the second granularity of X.509 times.
	durationTolerance = time.Second
)

// template is what the spec (and, in CSR mode, the CSR) asks the certificate to be. Both the
// issuing code and the "does the certificate still match?" policies use it, so the two cannot
// disagree.
type template struct {
	Subject    pkix.Name
	RawSubject []byte
	Emails     []string
	URIs       []string
	DNSNames   []string
	ServerAuth bool
	// KeyEncipherment nil means automatic (RSA keys only, as pki does).
	KeyEncipherment *bool
	Duration        time.Duration
	// RenewBefore nil means a third of the certificate's actual validity.
	RenewBefore *time.Duration

	// Key mode: the key albtrust generates.
	KeyAlgorithm string
	KeySize      int
	KeyEncoding  string
	// CSR mode: the key is the CSR's.
	CSRPublicKey crypto.PublicKey
}

// csrMode reports whether the certificate signs spec.csr instead of a generated key.
func (t *template) csrMode() bool { return t.CSRPublicKey != nil }

// desiredTemplate builds the template from the spec and the parsed CSR (nil in key mode).
//
// CSR mode decisions: the subject is spec.subject when set, else the CSR's subject (attribute
// order kept). SANs: when the spec names any SAN (emailAddresses, uris, dnsNames), the spec's
// SANs are used and the CSR's ignored; otherwise the CSR's e-mail, URI and DNS SANs are used.
// IP SANs and every other requested extension are never copied.
func desiredTemplate(spec *mtlsv1alpha1.ClientCertificateSpec, csr *x509.CertificateRequest) (template, error) {
	t := template{
		Emails:   slices.Clone(spec.EmailAddresses),
		URIs:     slices.Clone(spec.URIs),
		DNSNames: slices.Clone(spec.DNSNames),
		Duration: mtlsv1alpha1.DurationOrDefault(spec.Duration, metav1.Duration{Duration: defaultDuration}).Duration,
	}
	if t.Duration <= 0 {
		t.Duration = defaultDuration
	}
	if spec.RenewBefore != nil {
		rb := spec.RenewBefore.Duration
		t.RenewBefore = &rb
	}
	switch {
	case spec.Subject != nil:
		t.Subject = pki.Subject{
			CommonName:         spec.Subject.CommonName,
			Organization:       spec.Subject.Organization,
			OrganizationalUnit: spec.Subject.OrganizationalUnit,
			Country:            spec.Subject.Country,
			Province:           spec.Subject.Province,
			Locality:           spec.Subject.Locality,
		}.Name()
	case csr != nil:
		// ExtraNames alone keeps the CSR's attributes in their order, unknown ones included.
		t.Subject = pkix.Name{ExtraNames: slices.Clone(csr.Subject.Names)}
	}
	raw, err := asn1.Marshal(t.Subject.ToRDNSequence())
	if err != nil {
		return template{}, fmt.Errorf("encode subject: %w", err)
	}
	t.RawSubject = raw

	isRSA := true
	if csr != nil {
		t.CSRPublicKey = csr.PublicKey
		_, isRSA = csr.PublicKey.(*rsa.PublicKey)
		if len(t.Emails)+len(t.URIs)+len(t.DNSNames) == 0 {
			t.Emails = slices.Clone(csr.EmailAddresses)
			t.DNSNames = slices.Clone(csr.DNSNames)
			for _, u := range csr.URIs {
				t.URIs = append(t.URIs, u.String())
			}
		}
	} else {
		pk := mtlsv1alpha1.CertificatePrivateKey{}
		if spec.PrivateKey != nil {
			pk = *spec.PrivateKey
		}
		ks := pk.KeySpec()
		t.KeyAlgorithm = string(ks.KeyAlgorithmOrDefault())
		t.KeySize = ks.KeySize()
		t.KeyEncoding = string(pk.Encoding)
		if t.KeyEncoding == "" {
			t.KeyEncoding = pki.EncodingPKCS1
		}
		isRSA = t.KeyAlgorithm == pki.AlgorithmRSA
	}

	for _, u := range spec.Usages {
		if u == mtlsv1alpha1.UsageServerAuth {
			t.ServerAuth = true
		}
	}
	if len(spec.Usages) > 0 {
		// keyEncipherment is meaningless for ECDSA (RFC 5480). The CRD refuses it with a
		// generated ECDSA key; with a CSR the key type is only known now, so it is dropped.
		ke := isRSA && slices.Contains(spec.Usages, mtlsv1alpha1.UsageKeyEncipherment)
		t.KeyEncipherment = &ke
	}
	slices.Sort(t.Emails)
	slices.Sort(t.URIs)
	slices.Sort(t.DNSNames)
	return t, nil
}

// parsedURIs converts the template's URIs for pki.ClientRequest.
func (t *template) parsedURIs() ([]*url.URL, error) {
	var out []*url.URL
	for _, s := range t.URIs {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("uri %q: %w", s, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// request is the pki request for this template: pub certified by the signing CA from now
// (whole seconds, as X.509 keeps them) for the template's duration.
func (t *template) request(pub crypto.PublicKey, signing common.CAKeyPair, now time.Time) (pki.ClientRequest, error) {
	uris, err := t.parsedURIs()
	if err != nil {
		return pki.ClientRequest{}, err
	}
	notBefore := now.UTC().Truncate(time.Second)
	return pki.ClientRequest{
		Subject:         t.Subject,
		PublicKey:       pub,
		EmailAddresses:  t.Emails,
		URIs:            uris,
		DNSNames:        t.DNSNames,
		ServerAuth:      t.ServerAuth,
		KeyEncipherment: t.KeyEncipherment,
		NotBefore:       notBefore,
		NotAfter:        notBefore.Add(t.Duration),
		CA:              signing.Cert,
		CAKey:           signing.Key,
	}, nil
}

// wantKeyUsage is the key usage pki writes for a public key under this template.
func (t *template) wantKeyUsage(pub crypto.PublicKey) x509.KeyUsage {
	_, isRSA := pub.(*rsa.PublicKey)
	ke := isRSA
	if t.KeyEncipherment != nil {
		ke = *t.KeyEncipherment && isRSA
	}
	u := x509.KeyUsageDigitalSignature
	if ke {
		u |= x509.KeyUsageKeyEncipherment
	}
	return u
}

// current is what the certificate Secret holds, parsed.
type current struct {
	// Secret is nil when it does not exist.
	Exists bool
	// OwnerUID is the UID of the Secret's controller owner reference, if any.
	OwnerUID types.UID
	// SerialAnnotation is AnnotationIssuedSerial.
	SerialAnnotation string
	// Leaf is tls.crt's first certificate; LeafErr says why it is nil.
	Leaf    *x509.Certificate
	LeafErr error
	// Key is tls.key (key mode); KeyErr says why it is nil.
	Key    crypto.Signer
	KeyErr error
	// Issuer is the CA among the ClientCA's that signed Leaf, nil when none did.
	Issuer *x509.Certificate
}

// Input is everything the issuing decision looks at. It holds no clients: the decision is a
// pure function of it, table-tested without a cluster.
type Input struct {
	Template template
	// OwnerUID is the ClientCertificate's UID.
	OwnerUID types.UID
	// IssuedBefore is true when status records an issued certificate.
	IssuedBefore bool
	Current      current
	Now          time.Time
}

// Decision says whether to issue, and why.
type Decision struct {
	Issue   bool
	Reason  string
	Message string
}

// policy inspects the input and reports a reason to issue; failed is true when it found one.
type policy func(in *Input) (reason, message string, failed bool)

// issuePolicies run in order; the first that fails decides the reason. Problems with the
// Secret come first (they make the later checks meaningless), then spec changes, then time.
var issuePolicies = []policy{
	secretDoesNotExist,
	secretNotOwned,
	certificateUnreadable,
	certificateReplaced,
	keyMismatch,
	csrKeyChanged,
	issuerNotInClientCA,
	subjectChanged,
	sansChanged,
	usagesChanged,
	keySpecChanged,
	durationChanged,
	renewalDue,
}

// Decide runs the policy chain.
func Decide(in *Input) Decision {
	for _, p := range issuePolicies {
		if reason, msg, failed := p(in); failed {
			return Decision{Issue: true, Reason: reason, Message: msg}
		}
	}
	return Decision{Reason: mtlsv1alpha1.ReasonIssued, Message: "Certificate is up to date"}
}

func secretDoesNotExist(in *Input) (string, string, bool) {
	if in.Current.Exists {
		return "", "", false
	}
	if in.IssuedBefore {
		return mtlsv1alpha1.ReasonSecretMismatch, "The certificate Secret was deleted; issuing a new certificate", true
	}
	return mtlsv1alpha1.ReasonDoesNotExist, "No certificate has been issued yet", true
}

func secretNotOwned(in *Input) (string, string, bool) {
	if in.Current.OwnerUID == in.OwnerUID {
		return "", "", false
	}
	return mtlsv1alpha1.ReasonSecretMismatch, "The Secret is not owned by this ClientCertificate; replacing its content", true
}

func certificateUnreadable(in *Input) (string, string, bool) {
	if in.Current.Leaf != nil {
		return "", "", false
	}
	return mtlsv1alpha1.ReasonSecretMismatch, "The Secret's tls.crt is missing or not a certificate; issuing a new certificate", true
}

func certificateReplaced(in *Input) (string, string, bool) {
	if in.Current.SerialAnnotation == pki.SerialHex(in.Current.Leaf.SerialNumber) {
		return "", "", false
	}
	return mtlsv1alpha1.ReasonSecretMismatch, "The Secret's tls.crt is not the certificate albtrust issued; issuing a new certificate", true
}

func keyMismatch(in *Input) (string, string, bool) {
	if in.Template.csrMode() {
		return "", "", false
	}
	if in.Current.Key == nil {
		return mtlsv1alpha1.ReasonSecretMismatch, "The Secret's tls.key is missing or not a supported private key; issuing a new certificate", true
	}
	if !pki.KeyMatches(in.Current.Key, in.Current.Leaf) {
		return mtlsv1alpha1.ReasonSecretMismatch, "The Secret's tls.key does not match its certificate; issuing a new certificate", true
	}
	return "", "", false
}

func csrKeyChanged(in *Input) (string, string, bool) {
	if !in.Template.csrMode() {
		return "", "", false
	}
	if samePublicKey(in.Template.CSRPublicKey, in.Current.Leaf.PublicKey) {
		return "", "", false
	}
	return mtlsv1alpha1.ReasonSpecChanged, "spec.csr holds a different public key than the certificate", true
}

func issuerNotInClientCA(in *Input) (string, string, bool) {
	if in.Current.Issuer != nil {
		return "", "", false
	}
	return mtlsv1alpha1.ReasonSpecChanged, "The certificate was not signed by any CA of the referenced ClientCA", true
}

func subjectChanged(in *Input) (string, string, bool) {
	if bytes.Equal(in.Current.Leaf.RawSubject, in.Template.RawSubject) {
		return "", "", false
	}
	return mtlsv1alpha1.ReasonSpecChanged, "The subject changed", true
}

func sansChanged(in *Input) (string, string, bool) {
	leaf := in.Current.Leaf
	var uris []string
	for _, u := range leaf.URIs {
		uris = append(uris, u.String())
	}
	if sameSet(leaf.EmailAddresses, in.Template.Emails) && sameSet(uris, in.Template.URIs) &&
		sameSet(leaf.DNSNames, in.Template.DNSNames) && len(leaf.IPAddresses) == 0 {
		return "", "", false
	}
	return mtlsv1alpha1.ReasonSpecChanged, "The subject alternative names changed", true
}

func usagesChanged(in *Input) (string, string, bool) {
	leaf := in.Current.Leaf
	want := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if in.Template.ServerAuth {
		want = append(want, x509.ExtKeyUsageServerAuth)
	}
	if leaf.KeyUsage == in.Template.wantKeyUsage(leaf.PublicKey) && sameSet(leaf.ExtKeyUsage, want) {
		return "", "", false
	}
	return mtlsv1alpha1.ReasonSpecChanged, "The key usages changed", true
}

func keySpecChanged(in *Input) (string, string, bool) {
	if in.Template.csrMode() {
		return "", "", false
	}
	alg, size, err := pki.KeyDescription(in.Current.Leaf.PublicKey)
	if err == nil && alg == in.Template.KeyAlgorithm && size == in.Template.KeySize {
		return "", "", false
	}
	return mtlsv1alpha1.ReasonSpecChanged, fmt.Sprintf("The private key changed to %s %d", in.Template.KeyAlgorithm, in.Template.KeySize), true
}

func durationChanged(in *Input) (string, string, bool) {
	leaf := in.Current.Leaf
	actual := leaf.NotAfter.Sub(leaf.NotBefore)
	diff := actual - in.Template.Duration
	if diff < 0 {
		diff = -diff
	}
	if diff <= durationTolerance {
		return "", "", false
	}
	// A certificate cut short by its CA's notAfter still matches a longer duration.
	if actual < in.Template.Duration && in.Current.Issuer != nil && !leaf.NotAfter.Before(in.Current.Issuer.NotAfter) {
		return "", "", false
	}
	return mtlsv1alpha1.ReasonSpecChanged, fmt.Sprintf("The duration changed to %s", in.Template.Duration), true
}

func renewalDue(in *Input) (string, string, bool) {
	leaf := in.Current.Leaf
	if !in.Now.Before(leaf.NotAfter) {
		return mtlsv1alpha1.ReasonRenewing, fmt.Sprintf("The certificate expired at %s; renewing", leaf.NotAfter.UTC().Format(time.RFC3339)), true
	}
	rt := RenewalTime(leaf, in.Template.RenewBefore)
	if in.Now.Before(rt) {
		return "", "", false
	}
	return mtlsv1alpha1.ReasonRenewing, fmt.Sprintf("The renewal time %s was reached; renewing", rt.UTC().Format(time.RFC3339)), true
}

// RenewalTime is notAfter - renewBefore, or notAfter - a third of the certificate's validity
// when renewBefore is unset or does not fit in the validity (a certificate cut short by its
// CA's notAfter).
func RenewalTime(leaf *x509.Certificate, renewBefore *time.Duration) time.Time {
	validity := leaf.NotAfter.Sub(leaf.NotBefore)
	rb := validity / 3
	if renewBefore != nil && *renewBefore > 0 && *renewBefore < validity {
		rb = *renewBefore
	}
	return leaf.NotAfter.Add(-rb)
}

func sameSet[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[T]int{}
	for _, x := range a {
		count[x]++
	}
	for _, x := range b {
		count[x]--
		if count[x] < 0 {
			return false
		}
	}
	return true
}

func samePublicKey(a, b crypto.PublicKey) bool {
	ka, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && b != nil && ka.Equal(b)
}

// findIssuer returns the CA among cas whose key signed leaf.
func findIssuer(leaf *x509.Certificate, cas []*x509.Certificate) *x509.Certificate {
	if leaf == nil {
		return nil
	}
	for _, ca := range cas {
		if bytes.Equal(leaf.RawIssuer, ca.RawSubject) && leaf.CheckSignatureFrom(ca) == nil {
			return ca
		}
	}
	return nil
}
