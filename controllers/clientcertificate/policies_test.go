package clientcertificate

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
	"github.com/albtrust/albtrust/internal/pki"
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func testCA(t *testing.T, cn string, notAfter time.Time) common.CAKeyPair {
	t.Helper()
	key, err := pki.GenerateKey(pki.AlgorithmECDSA, 256)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.CreateCA(pki.CARequest{Subject: pkix.Name{CommonName: cn}, Key: key, NotBefore: testNow.Add(-time.Hour), NotAfter: notAfter})
	if err != nil {
		t.Fatal(err)
	}
	return common.CAKeyPair{Cert: cert, Key: key}
}

func baseSpec() mtlsv1alpha1.ClientCertificateSpec {
	return mtlsv1alpha1.ClientCertificateSpec{
		ClientCARef: mtlsv1alpha1.LocalObjectReference{Name: "ca"},
		Subject:     &mtlsv1alpha1.Subject{CommonName: "alice", Organization: []string{"example"}},
		DNSNames:    []string{"alice.example.com", "a.example.com"},
		PrivateKey:  &mtlsv1alpha1.CertificatePrivateKey{Algorithm: mtlsv1alpha1.ECDSAKeyAlgorithm},
		Duration:    &metav1.Duration{Duration: 90 * time.Hour},
	}
}

// issued builds the input of a ClientCertificate whose Secret holds a certificate issued at
// issuedAt from spec, as the reconciler would have written it.
func issued(t *testing.T, spec mtlsv1alpha1.ClientCertificateSpec, ca common.CAKeyPair, issuedAt time.Time) *Input {
	t.Helper()
	tmpl, err := desiredTemplate(&spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.GenerateKey(tmpl.KeyAlgorithm, tmpl.KeySize)
	if err != nil {
		t.Fatal(err)
	}
	req, err := tmpl.request(key.Public(), ca, issuedAt)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.IssueClientCertificate(req)
	if err != nil {
		t.Fatal(err)
	}
	return &Input{
		Template:     tmpl,
		OwnerUID:     "uid-1",
		IssuedBefore: true,
		Now:          testNow,
		Current: current{
			Exists: true, OwnerUID: "uid-1", SerialAnnotation: pki.SerialHex(leaf.SerialNumber),
			Leaf: leaf, Key: key, Issuer: ca.Cert,
		},
	}
}

func otherKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := pki.GenerateKey(pki.AlgorithmECDSA, 256)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func withSpec(t *testing.T, in *Input, mutate func(*mtlsv1alpha1.ClientCertificateSpec)) {
	t.Helper()
	spec := baseSpec()
	mutate(&spec)
	tmpl, err := desiredTemplate(&spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.Template = tmpl
}

func TestDecide(t *testing.T) {
	ca := testCA(t, "ca", testNow.Add(10*365*24*time.Hour))
	otherCA := testCA(t, "other", testNow.Add(10*365*24*time.Hour))
	shortCA := testCA(t, "short", testNow.Add(30*time.Hour))
	issuedAt := testNow.Add(-time.Hour)

	cases := map[string]struct {
		mutate     func(t *testing.T, in *Input)
		wantIssue  bool
		wantReason string
	}{
		"up to date certificate is kept": {
			mutate: func(*testing.T, *Input) {}, wantReason: mtlsv1alpha1.ReasonIssued,
		},
		"no Secret and nothing issued yet": {
			mutate:    func(_ *testing.T, in *Input) { in.Current = current{}; in.IssuedBefore = false },
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonDoesNotExist,
		},
		"Secret deleted after issuing": {
			mutate:    func(_ *testing.T, in *Input) { in.Current = current{} },
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSecretMismatch,
		},
		"Secret owned by an earlier object of the same name": {
			mutate:    func(_ *testing.T, in *Input) { in.Current.OwnerUID = types.UID("uid-0") },
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSecretMismatch,
		},
		"tls.crt is not a certificate": {
			mutate:    func(_ *testing.T, in *Input) { in.Current.Leaf = nil },
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSecretMismatch,
		},
		"tls.crt replaced by another certificate": {
			mutate:    func(_ *testing.T, in *Input) { in.Current.SerialAnnotation = "0123" },
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSecretMismatch,
		},
		"tls.key missing": {
			mutate:    func(_ *testing.T, in *Input) { in.Current.Key = nil },
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSecretMismatch,
		},
		"tls.key replaced by another key": {
			mutate:    func(t *testing.T, in *Input) { in.Current.Key = otherKey(t) },
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSecretMismatch,
		},
		"certificate not signed by the ClientCA (CA ref changed)": {
			mutate: func(_ *testing.T, in *Input) {
				in.Current.Issuer = findIssuer(in.Current.Leaf, []*x509.Certificate{otherCA.Cert})
			},
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSpecChanged,
		},
		"common name changed": {
			mutate: func(t *testing.T, in *Input) {
				withSpec(t, in, func(s *mtlsv1alpha1.ClientCertificateSpec) { s.Subject.CommonName = "bob" })
			},
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSpecChanged,
		},
		"organizational unit added": {
			mutate: func(t *testing.T, in *Input) {
				withSpec(t, in, func(s *mtlsv1alpha1.ClientCertificateSpec) { s.Subject.OrganizationalUnit = []string{"tech"} })
			},
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSpecChanged,
		},
		"DNS name added": {
			mutate: func(t *testing.T, in *Input) {
				withSpec(t, in, func(s *mtlsv1alpha1.ClientCertificateSpec) { s.DNSNames = append(s.DNSNames, "b.example.com") })
			},
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSpecChanged,
		},
		"DNS names reordered": {
			mutate: func(t *testing.T, in *Input) {
				withSpec(t, in, func(s *mtlsv1alpha1.ClientCertificateSpec) {
					s.DNSNames = []string{"a.example.com", "alice.example.com"}
				})
			},
			wantReason: mtlsv1alpha1.ReasonIssued,
		},
		"URI added": {
			mutate: func(t *testing.T, in *Input) {
				withSpec(t, in, func(s *mtlsv1alpha1.ClientCertificateSpec) { s.URIs = []string{"spiffe://example.org/alice"} })
			},
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSpecChanged,
		},
		"e-mail added": {
			mutate: func(t *testing.T, in *Input) {
				withSpec(t, in, func(s *mtlsv1alpha1.ClientCertificateSpec) { s.EmailAddresses = []string{"alice@example.com"} })
			},
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSpecChanged,
		},
		"serverAuth usage added": {
			mutate: func(t *testing.T, in *Input) {
				withSpec(t, in, func(s *mtlsv1alpha1.ClientCertificateSpec) {
					s.Usages = []mtlsv1alpha1.KeyUsage{mtlsv1alpha1.UsageClientAuth, mtlsv1alpha1.UsageServerAuth}
				})
			},
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSpecChanged,
		},
		"explicit default usages match": {
			mutate: func(t *testing.T, in *Input) {
				withSpec(t, in, func(s *mtlsv1alpha1.ClientCertificateSpec) {
					s.Usages = []mtlsv1alpha1.KeyUsage{mtlsv1alpha1.UsageDigitalSignature, mtlsv1alpha1.UsageClientAuth}
				})
			},
			wantReason: mtlsv1alpha1.ReasonIssued,
		},
		"key size changed": {
			mutate: func(t *testing.T, in *Input) {
				withSpec(t, in, func(s *mtlsv1alpha1.ClientCertificateSpec) { s.PrivateKey.Size = 384 })
			},
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSpecChanged,
		},
		"key algorithm changed": {
			mutate: func(t *testing.T, in *Input) {
				withSpec(t, in, func(s *mtlsv1alpha1.ClientCertificateSpec) { s.PrivateKey.Algorithm = mtlsv1alpha1.RSAKeyAlgorithm })
			},
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSpecChanged,
		},
		"key encoding or rotation policy changed": {
			mutate: func(t *testing.T, in *Input) {
				withSpec(t, in, func(s *mtlsv1alpha1.ClientCertificateSpec) {
					s.PrivateKey.Encoding = mtlsv1alpha1.PKCS8
					s.PrivateKey.RotationPolicy = mtlsv1alpha1.RotationPolicyNever
				})
			},
			wantReason: mtlsv1alpha1.ReasonIssued,
		},
		"secretTemplate and keystore changes do not alter the certificate": {
			mutate: func(t *testing.T, in *Input) {
				withSpec(t, in, func(s *mtlsv1alpha1.ClientCertificateSpec) {
					s.SecretTemplate = &mtlsv1alpha1.SecretTemplate{Labels: map[string]string{"team": "a"}}
					s.Keystores = &mtlsv1alpha1.Keystores{PKCS12: &mtlsv1alpha1.PKCS12Keystore{}}
				})
			},
			wantReason: mtlsv1alpha1.ReasonIssued,
		},
		"duration changed": {
			mutate: func(t *testing.T, in *Input) {
				withSpec(t, in, func(s *mtlsv1alpha1.ClientCertificateSpec) { s.Duration.Duration = 100 * time.Hour })
			},
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonSpecChanged,
		},
		"renewBefore changed within the validity": {
			mutate: func(t *testing.T, in *Input) {
				withSpec(t, in, func(s *mtlsv1alpha1.ClientCertificateSpec) { s.RenewBefore = &metav1.Duration{Duration: time.Hour} })
			},
			wantReason: mtlsv1alpha1.ReasonIssued,
		},
		"renewal time reached": {
			mutate:    func(_ *testing.T, in *Input) { in.Now = issuedAt.Add(60*time.Hour + time.Second) },
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonRenewing,
		},
		"just before the renewal time": {
			mutate:     func(_ *testing.T, in *Input) { in.Now = issuedAt.Add(60*time.Hour - time.Second) },
			wantReason: mtlsv1alpha1.ReasonIssued,
		},
		"expired": {
			mutate:    func(_ *testing.T, in *Input) { in.Now = issuedAt.Add(91 * time.Hour) },
			wantIssue: true, wantReason: mtlsv1alpha1.ReasonRenewing,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := issued(t, baseSpec(), ca, issuedAt)
			tc.mutate(t, in)
			d := Decide(in)
			if d.Issue != tc.wantIssue || d.Reason != tc.wantReason {
				t.Fatalf("Decide = %+v, want issue=%v reason=%s", d, tc.wantIssue, tc.wantReason)
			}
			if d.Message == "" {
				t.Error("decision has no message")
			}
		})
	}

	t.Run("certificate cut short by its CA still matches a longer duration", func(t *testing.T) {
		in := issued(t, baseSpec(), shortCA, issuedAt)
		if got := in.Current.Leaf.NotAfter; !got.Equal(shortCA.Cert.NotAfter) {
			t.Fatalf("leaf notAfter %s, want capped at CA notAfter %s", got, shortCA.Cert.NotAfter)
		}
		if d := Decide(in); d.Issue {
			t.Fatalf("capped certificate reissued: %+v", d)
		}
	})
}

func TestDecideCSRMode(t *testing.T) {
	ca := testCA(t, "ca", testNow.Add(10*365*24*time.Hour))
	csr := func(t *testing.T, key crypto.Signer, tmpl *x509.CertificateRequest) *x509.CertificateRequest {
		t.Helper()
		der, err := x509.CreateCertificateRequest(nil, tmpl, key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificateRequest(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	key := otherKey(t)
	req := csr(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "laptop", Organization: []string{"o"}}, DNSNames: []string{"laptop.example.com"}})
	spec := mtlsv1alpha1.ClientCertificateSpec{ClientCARef: mtlsv1alpha1.LocalObjectReference{Name: "ca"}, CSR: "x"}
	tmpl, err := desiredTemplate(&spec, req)
	if err != nil {
		t.Fatal(err)
	}
	if !tmpl.csrMode() || len(tmpl.DNSNames) != 1 || tmpl.DNSNames[0] != "laptop.example.com" {
		t.Fatalf("CSR SANs not taken when the spec names none: %+v", tmpl.DNSNames)
	}
	r, err := tmpl.request(req.PublicKey, ca, testNow)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.IssueClientCertificate(r)
	if err != nil {
		t.Fatal(err)
	}
	if string(leaf.RawSubject) != string(req.RawSubject) {
		t.Fatalf("subject %s differs from the CSR's %s", leaf.Subject, req.Subject)
	}
	in := &Input{Template: tmpl, OwnerUID: "u", IssuedBefore: true, Now: testNow, Current: current{
		Exists: true, OwnerUID: "u", SerialAnnotation: pki.SerialHex(leaf.SerialNumber), Leaf: leaf, Issuer: ca.Cert,
	}}
	if d := Decide(in); d.Issue {
		t.Fatalf("fresh CSR certificate reissued: %+v", d)
	}

	spec.DNSNames = []string{"spec.example.com"}
	tmpl2, _ := desiredTemplate(&spec, req)
	if len(tmpl2.DNSNames) != 1 || tmpl2.DNSNames[0] != "spec.example.com" {
		t.Fatalf("spec SANs do not win over the CSR's: %v", tmpl2.DNSNames)
	}
	in.Template = tmpl2
	if d := Decide(in); !d.Issue || d.Reason != mtlsv1alpha1.ReasonSpecChanged {
		t.Fatalf("spec SAN change: %+v", d)
	}

	tmpl3, _ := desiredTemplate(&mtlsv1alpha1.ClientCertificateSpec{CSR: "x"}, csr(t, otherKey(t), &x509.CertificateRequest{Subject: pkix.Name{CommonName: "laptop", Organization: []string{"o"}}, DNSNames: []string{"laptop.example.com"}}))
	in.Template = tmpl3
	if d := Decide(in); !d.Issue || d.Reason != mtlsv1alpha1.ReasonSpecChanged || !strings.Contains(d.Message, "public key") {
		t.Fatalf("new CSR key: %+v", d)
	}
}

func TestRenewalTime(t *testing.T) {
	nb := testNow
	leaf := &x509.Certificate{NotBefore: nb, NotAfter: nb.Add(90 * time.Hour)}
	d := func(x time.Duration) *time.Duration { return &x }
	cases := map[string]struct {
		renewBefore *time.Duration
		want        time.Time
	}{
		"default is a third of the validity":           {nil, nb.Add(60 * time.Hour)},
		"renewBefore set":                              {d(50 * time.Hour), nb.Add(40 * time.Hour)},
		"renewBefore longer than a capped validity":    {d(100 * time.Hour), nb.Add(60 * time.Hour)},
		"renewBefore equal to the validity is ignored": {d(90 * time.Hour), nb.Add(60 * time.Hour)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := RenewalTime(leaf, tc.renewBefore); !got.Equal(tc.want) {
				t.Fatalf("RenewalTime = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestClientCAChangeMatters(t *testing.T) {
	base := func() *mtlsv1alpha1.ClientCA {
		ca := &mtlsv1alpha1.ClientCA{}
		ca.Generation = 1
		ca.Status.SigningCAFingerprint = "AA"
		ca.Status.Conditions = []metav1.Condition{{Type: mtlsv1alpha1.ConditionKeyPairReady, Status: metav1.ConditionTrue}}
		ca.Status.CRL = &mtlsv1alpha1.CRLStatus{RecordGeneration: 1}
		ca.Status.CACertificates = []mtlsv1alpha1.CACertificateStatus{{Fingerprint: "AA"}}
		return ca
	}
	cases := map[string]struct {
		mutate func(*mtlsv1alpha1.ClientCA)
		want   bool
	}{
		"nothing changed":        {func(*mtlsv1alpha1.ClientCA) {}, false},
		"trust store churn only": {func(c *mtlsv1alpha1.ClientCA) { c.Status.TrustStore = &mtlsv1alpha1.TrustStoreStatus{Status: "ACTIVE"} }, false},
		"new signing CA":         {func(c *mtlsv1alpha1.ClientCA) { c.Status.SigningCAFingerprint = "BB" }, true},
		"key pair not ready":     {func(c *mtlsv1alpha1.ClientCA) { c.Status.Conditions[0].Status = metav1.ConditionFalse }, true},
		"newer CRL":              {func(c *mtlsv1alpha1.ClientCA) { c.Status.CRL.RecordGeneration = 2 }, true},
		"CRL appears":            {func(c *mtlsv1alpha1.ClientCA) { c.Status.CRL = nil }, true},
		"CA retired":             {func(c *mtlsv1alpha1.ClientCA) { c.Status.CACertificates = nil }, true},
		"spec changed":           {func(c *mtlsv1alpha1.ClientCA) { c.Generation = 2 }, true},
		"deleted":                {func(c *mtlsv1alpha1.ClientCA) { c.DeletionTimestamp = &metav1.Time{Time: testNow} }, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cur := base()
			tc.mutate(cur)
			if got := ClientCAChangeMatters(base(), cur); got != tc.want {
				t.Fatalf("ClientCAChangeMatters = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReasonCode(t *testing.T) {
	for reason, want := range map[mtlsv1alpha1.RevocationReason]int{
		"": 0, "Unspecified": 0, "KeyCompromise": 1, "CACompromise": 2, "AffiliationChanged": 3,
		"Superseded": 4, "CessationOfOperation": 5, "PrivilegeWithdrawn": 9,
	} {
		if got := ReasonCode(reason); got != want {
			t.Errorf("ReasonCode(%q) = %d, want %d", reason, got, want)
		}
	}
}

func TestApplySecret(t *testing.T) {
	ca := testCA(t, "ca", testNow.Add(10*365*24*time.Hour))
	in := issued(t, baseSpec(), ca, testNow)
	cc := &mtlsv1alpha1.ClientCertificate{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "alice", UID: "uid-1"}, Spec: baseSpec()}
	cc.Spec.SecretTemplate = &mtlsv1alpha1.SecretTemplate{
		Labels:      map[string]string{"team": "a", mtlsv1alpha1.LabelSecretRole: "spoofed"},
		Annotations: map[string]string{"note": "x"},
	}
	keyPEM, err := pki.MarshalPrivateKeyPEM(in.Current.Key, pki.EncodingPKCS1)
	if err != nil {
		t.Fatal(err)
	}
	content := secretContent{Leaf: in.Current.Leaf, Issuer: ca.Cert, KeyPEM: keyPEM, CACerts: []*x509.Certificate{ca.Cert}}

	s, changed := applySecret(nil, cc, content)
	if !changed || s.Name != "alice-tls" || s.Type != corev1.SecretTypeTLS {
		t.Fatalf("new Secret: changed=%v name=%s type=%s", changed, s.Name, s.Type)
	}
	if s.Labels[mtlsv1alpha1.LabelSecretRole] != "certificate" || s.Labels["team"] != "a" || s.Annotations["note"] != "x" {
		t.Fatalf("labels %v annotations %v", s.Labels, s.Annotations)
	}
	if !metav1.IsControlledBy(s, cc) {
		t.Fatal("Secret not controlled by the ClientCertificate")
	}
	certs, err := pki.ParseCertificatesPEM(s.Data[mtlsv1alpha1.TLSCertKey])
	if err != nil || len(certs) != 2 || !certs[1].Equal(ca.Cert) {
		t.Fatalf("tls.crt is not leaf + CA: %d certificates, %v", len(certs), err)
	}

	s.Labels["added-by-someone"] = "y"
	if _, changed := applySecret(s, cc, content); changed {
		t.Fatal("applying the same content again reports a change")
	}
	content.KeyPEM = nil
	if s2, changed := applySecret(s, cc, content); !changed || s2.Type != corev1.SecretTypeOpaque || s2.Data[mtlsv1alpha1.TLSKeyKey] != nil {
		t.Fatal("CSR mode Secret must be Opaque without tls.key")
	}
}

func TestKeystoreHash(t *testing.T) {
	ca := testCA(t, "ca", testNow.Add(10*365*24*time.Hour))
	in := issued(t, baseSpec(), ca, testNow)
	h := func(key crypto.Signer, password, profile string) string {
		t.Helper()
		out, err := keystoreHash(key, in.Current.Leaf, []*x509.Certificate{ca.Cert}, password, profile)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, password) {
			t.Fatal("hash contains the password")
		}
		return out
	}
	base := h(in.Current.Key, "changeit", pki.ProfileLegacyDES)
	if again := h(in.Current.Key, "changeit", pki.ProfileLegacyDES); again != base {
		t.Fatal("hash is not deterministic")
	}
	for name, other := range map[string]string{
		"password": h(in.Current.Key, "changeit2", pki.ProfileLegacyDES),
		"profile":  h(in.Current.Key, "changeit", pki.ProfileModern2023),
		"key":      h(otherKey(t), "changeit", pki.ProfileLegacyDES),
	} {
		if other == base {
			t.Errorf("changing the %s does not change the hash", name)
		}
	}
}
