package clientcertificate

import (
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
	"github.com/albtrust/albtrust/internal/pki"
)

// SecretName is the Secret a ClientCertificate writes: spec.secretName or <name>-tls.
func SecretName(cc *mtlsv1alpha1.ClientCertificate) string {
	if cc.Spec.SecretName != "" {
		return cc.Spec.SecretName
	}
	return cc.Name + "-tls"
}

// parseSecret reads a certificate Secret (nil when missing). cas are the ClientCA's CA
// certificates, used to find the leaf's issuer.
func parseSecret(s *corev1.Secret, cas []*x509.Certificate, csrMode bool) current {
	if s == nil {
		return current{}
	}
	c := current{Exists: true, SerialAnnotation: s.Annotations[mtlsv1alpha1.AnnotationIssuedSerial]}
	if ref := metav1.GetControllerOf(s); ref != nil {
		c.OwnerUID = ref.UID
	}
	if certs, err := pki.ParseCertificatesPEM(s.Data[mtlsv1alpha1.TLSCertKey]); err != nil {
		c.LeafErr = err
	} else {
		c.Leaf = certs[0]
		c.Issuer = findIssuer(c.Leaf, cas)
	}
	if !csrMode {
		// The parse error is not kept verbatim anywhere: only "missing or unsupported".
		c.Key, c.KeyErr = pki.ParsePrivateKeyPEM(s.Data[mtlsv1alpha1.TLSKeyKey])
	}
	return c
}

// previousCertificate is a certificate this ClientCertificate issued before the current one and
// that has not expired yet: revoking or deleting the ClientCertificate revokes it too, since the
// identity must lose access with every certificate it still holds.
type previousCertificate struct {
	SerialNumber      string    `json:"serialNumber"`
	IssuerFingerprint string    `json:"issuerFingerprint"`
	NotAfter          time.Time `json:"notAfter"`
}

// parsePrevious reads previous.json; an unreadable list counts as empty.
func parsePrevious(s *corev1.Secret) []previousCertificate {
	if s == nil || len(s.Data[mtlsv1alpha1.PreviousKey]) == 0 {
		return nil
	}
	var out []previousCertificate
	if json.Unmarshal(s.Data[mtlsv1alpha1.PreviousKey], &out) != nil {
		return nil
	}
	return out
}

// secretContent is what albtrust wants in the certificate Secret.
type secretContent struct {
	Leaf   *x509.Certificate
	Issuer *x509.Certificate
	// KeyPEM is tls.key; nil in CSR mode.
	KeyPEM  []byte
	CACerts []*x509.Certificate
	// Keystore is keystore.p12 and KeystoreHash its annotation; both empty for no keystore.
	Keystore     []byte
	KeystoreHash string
	Previous     []previousCertificate
}

// applySecret makes s (an existing Secret, or a new one when nil) hold content for cc. It
// reports whether anything changed. Labels and annotations others added are kept; the data is
// exactly albtrust's.
func applySecret(s *corev1.Secret, cc *mtlsv1alpha1.ClientCertificate, content secretContent) (*corev1.Secret, bool) {
	if s == nil {
		s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: cc.Namespace, Name: SecretName(cc)}}
	} else {
		s = s.DeepCopy()
	}
	before := s.DeepCopy()

	secretType := corev1.SecretTypeTLS
	if content.KeyPEM == nil {
		// kubernetes.io/tls requires tls.key, which CSR mode never has.
		secretType = corev1.SecretTypeOpaque
	}
	s.Type = secretType

	labels := map[string]string{}
	annotations := map[string]string{}
	if t := cc.Spec.SecretTemplate; t != nil {
		maps.Copy(labels, t.Labels)
		maps.Copy(annotations, t.Annotations)
	}
	// albtrust's own keys win over the template: the cache selects Secrets by them.
	maps.Copy(labels, common.ManagedLabels("certificate", map[string]string{mtlsv1alpha1.LabelClientCertificate: cc.Name}))
	annotations[mtlsv1alpha1.AnnotationIssuedSerial] = pki.SerialHex(content.Leaf.SerialNumber)
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	maps.Copy(s.Labels, labels)
	maps.Copy(s.Annotations, annotations)
	if content.KeystoreHash != "" {
		s.Annotations[mtlsv1alpha1.AnnotationKeystoreHash] = content.KeystoreHash
	} else {
		delete(s.Annotations, mtlsv1alpha1.AnnotationKeystoreHash)
	}

	s.OwnerReferences = slices.DeleteFunc(s.OwnerReferences, func(r metav1.OwnerReference) bool {
		return r.Controller != nil && *r.Controller
	})
	s.OwnerReferences = append(s.OwnerReferences, metav1.OwnerReference{
		APIVersion:         mtlsv1alpha1.GroupVersion.String(),
		Kind:               "ClientCertificate",
		Name:               cc.Name,
		UID:                cc.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	})

	chain := []*x509.Certificate{content.Leaf}
	if content.Issuer != nil {
		chain = append(chain, content.Issuer)
	}
	data := map[string][]byte{
		mtlsv1alpha1.TLSCertKey: pki.EncodeCertificatesPEM(chain...),
		mtlsv1alpha1.CACertKey:  pki.EncodeCertificatesPEM(content.CACerts...),
	}
	if content.KeyPEM != nil {
		data[mtlsv1alpha1.TLSKeyKey] = content.KeyPEM
	}
	if len(content.Keystore) > 0 {
		data[mtlsv1alpha1.PKCS12Key] = content.Keystore
	}
	if len(content.Previous) > 0 {
		prev, _ := json.Marshal(content.Previous)
		data[mtlsv1alpha1.PreviousKey] = prev
	}
	s.Data = data
	s.StringData = nil

	changed := before.Type != s.Type || !maps.Equal(before.Labels, s.Labels) || !maps.Equal(before.Annotations, s.Annotations) ||
		!slices.EqualFunc(before.OwnerReferences, s.OwnerReferences, ownerRefEqual) || !dataEqual(before.Data, s.Data)
	return s, changed
}

func ownerRefEqual(a, b metav1.OwnerReference) bool {
	return a.APIVersion == b.APIVersion && a.Kind == b.Kind && a.Name == b.Name && a.UID == b.UID &&
		ptr.Deref(a.Controller, false) == ptr.Deref(b.Controller, false) &&
		ptr.Deref(a.BlockOwnerDeletion, false) == ptr.Deref(b.BlockOwnerDeletion, false)
}

func dataEqual(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, func(x, y []byte) bool { return string(x) == string(y) })
}

// keystoreHash identifies what keystore.p12 was encoded from: the certificate, its chain, the
// profile and the password. It is an HMAC keyed with the private key, so the annotation gives
// no way to test password guesses without the key (which sits next to it in tls.key anyway).
func keystoreHash(key crypto.Signer, leaf *x509.Certificate, chain []*x509.Certificate, password, profile string) (string, error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, keyDER)
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		mac.Write(n[:])
		mac.Write(b)
	}
	field([]byte(profile))
	field([]byte(password))
	field(leaf.Raw)
	for _, c := range chain {
		field(c.Raw)
	}
	return "hmac-sha256:" + hex.EncodeToString(mac.Sum(nil)), nil
}
