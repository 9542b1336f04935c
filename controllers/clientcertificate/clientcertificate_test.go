package clientcertificate_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/internal/albsim"
	"github.com/albtrust/albtrust/internal/pki"
	"github.com/albtrust/albtrust/internal/testenv/stack"
)

// The walkthrough's sample: ClientCA "sample" and ClientCertificate CN=sample-2 with a
// LegacyDES keystore. openssl verifies the chain, shows the walkthrough's extensions and opens
// the keystore with the sample password only. A password change re-encodes the keystore
// without reissuing the certificate.
func TestSampleWalkthrough(t *testing.T) {
	ns := st.NewNamespace(t, "sample")
	ca := &mtlsv1alpha1.ClientCA{}
	loadSample(t, "mtls_v1alpha1_clientca.yaml", ca)
	ca.Namespace = ns
	ca.Spec.Bundle.S3.Bucket = stack.Bucket
	pw := &corev1.Secret{}
	loadSample(t, "sample-2-p12-password.yaml", pw)
	pw.Namespace = ns
	cc := &mtlsv1alpha1.ClientCertificate{}
	loadSample(t, "mtls_v1alpha1_clientcertificate.yaml", cc)
	cc.Namespace = ns
	for _, o := range []client.Object{pw, ca, cc} {
		if err := st.Kube.Client.Create(ctx, o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
	waitCAReady(t, ca)
	got := waitCertReady(t, cc)
	s := getSecret(t, cc)
	if s.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %s", s.Type)
	}
	leaf := leafOf(t, s)
	if got.Status.SerialNumber != pki.SerialHex(leaf.SerialNumber) || got.Status.Fingerprint != pki.Fingerprint(leaf) {
		t.Errorf("status serial/fingerprint %s/%s do not describe the Secret's certificate", got.Status.SerialNumber, got.Status.Fingerprint)
	}
	if got.Status.Revision != 1 || got.Status.NotAfter == nil || got.Status.RenewalTime == nil || got.Status.IssuerFingerprint != getCA(t, ca).Status.SigningCAFingerprint {
		t.Errorf("status %+v", got.Status)
	}
	if want := leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3); !got.Status.RenewalTime.Time.Equal(want) {
		t.Errorf("renewalTime %s, want a third of the validity before notAfter (%s)", got.Status.RenewalTime, want)
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d != 8760*time.Hour {
		t.Errorf("validity %s, want 8760h", d)
	}
	if s.Labels[mtlsv1alpha1.LabelSecretRole] != "certificate" || s.Labels[mtlsv1alpha1.LabelClientCertificate] != cc.Name || !metav1.IsControlledBy(s, got) {
		t.Errorf("Secret labels %v owners %v", s.Labels, s.OwnerReferences)
	}
	waitEvent(t, ns, cc.Name, corev1.EventTypeNormal, "Issued")

	dir := t.TempDir()
	crt := writeFile(t, dir, "tls.crt", s.Data[mtlsv1alpha1.TLSCertKey])
	caCrt := writeFile(t, dir, "ca.crt", s.Data[mtlsv1alpha1.CACertKey])
	p12 := writeFile(t, dir, "keystore.p12", s.Data[mtlsv1alpha1.PKCS12Key])
	if out, err := openssl(t, "verify", "-CAfile", caCrt, crt); err != nil || !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
	text, err := openssl(t, "x509", "-in", crt, "-noout", "-text")
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s", err, text)
	}
	for _, want := range []string{"TLS Web Client Authentication", "TLS Web Server Authentication", "CA:FALSE", "Digital Signature", "Key Encipherment",
		"X509v3 Authority Key Identifier", "C = JP", "ST = Yamanashi", "L = Tsuru", "O = shika-darake", "OU = tech", "CN = sample-2"} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl x509 -text lacks %q", want)
		}
	}
	if out, err := openssl(t, "pkcs12", "-in", p12, "-info", "-legacy", "-noout", "-passin", "pass:"+samplePassword); err != nil {
		t.Errorf("openssl pkcs12 with the sample password: %v\n%s", err, out)
	}
	if out, err := openssl(t, "pkcs12", "-in", p12, "-info", "-legacy", "-noout", "-passin", "pass:wrong"); err == nil {
		t.Errorf("openssl pkcs12 opened the keystore with a wrong password\n%s", out)
	}

	// A new password, now on a Secret labelled role=input so that the change is watched.
	oldHash := s.Annotations[mtlsv1alpha1.AnnotationKeystoreHash]
	live := &corev1.Secret{}
	if err := st.Kube.Client.Get(ctx, client.ObjectKeyFromObject(pw), live); err != nil {
		t.Fatal(err)
	}
	live.Labels = map[string]string{mtlsv1alpha1.LabelSecretRole: "input"}
	live.Data = map[string][]byte{"password": []byte(changedPassword)}
	if err := st.Kube.Client.Update(ctx, live); err != nil {
		t.Fatal(err)
	}
	stack.Eventually(t, 30*time.Second, func() error {
		s = getSecret(t, cc)
		if s.Annotations[mtlsv1alpha1.AnnotationKeystoreHash] == oldHash {
			return fmt.Errorf("keystore not re-encoded yet")
		}
		return nil
	})
	if serial := pki.SerialHex(leafOf(t, s).SerialNumber); serial != got.Status.SerialNumber {
		t.Errorf("a password change reissued the certificate: %s -> %s", got.Status.SerialNumber, serial)
	}
	p12 = writeFile(t, dir, "keystore2.p12", s.Data[mtlsv1alpha1.PKCS12Key])
	if out, err := openssl(t, "pkcs12", "-in", p12, "-info", "-legacy", "-noout", "-passin", "pass:"+changedPassword); err != nil {
		t.Errorf("openssl pkcs12 with the new password: %v\n%s", err, out)
	}
	if _, err := openssl(t, "pkcs12", "-in", p12, "-info", "-legacy", "-noout", "-passin", "pass:"+samplePassword); err == nil {
		t.Error("the re-encoded keystore still opens with the old password")
	}
}

// CSR mode: the key stays with its owner; the Secret holds tls.crt and ca.crt only.
func TestCSRMode(t *testing.T) {
	ca := newClientCA(t, nil)
	dir := t.TempDir()
	keyPath, csrPath := dir+"/key.pem", dir+"/req.csr"
	if out, err := openssl(t, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", csrPath,
		"-subj", "/C=JP/O=laptop-org/CN=laptop-user"); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	csrPEM := readFile(t, csrPath)
	cc := newCert(t, ca, "laptop", func(c *mtlsv1alpha1.ClientCertificate) {
		c.Spec.Subject, c.Spec.PrivateKey = nil, nil
		c.Spec.CSR = string(csrPEM)
		c.Spec.EmailAddresses = []string{"user@example.com"}
	})
	waitCertReady(t, cc)
	s := getSecret(t, cc)
	if s.Type != corev1.SecretTypeOpaque {
		t.Errorf("Secret type %s, want Opaque", s.Type)
	}
	if _, ok := s.Data[mtlsv1alpha1.TLSKeyKey]; ok {
		t.Error("CSR mode Secret holds tls.key")
	}
	leaf := leafOf(t, s)
	key, err := pki.ParsePrivateKeyPEM(readFile(t, keyPath))
	if err != nil {
		t.Fatal(err)
	}
	if !pki.KeyMatches(key, leaf) {
		t.Error("the certificate's public key is not the CSR's")
	}
	if leaf.Subject.CommonName != "laptop-user" || len(leaf.EmailAddresses) != 1 || leaf.EmailAddresses[0] != "user@example.com" {
		t.Errorf("subject %s, emails %v", leaf.Subject, leaf.EmailAddresses)
	}
	crt := writeFile(t, dir, "tls.crt", s.Data[mtlsv1alpha1.TLSCertKey])
	caCrt := writeFile(t, dir, "ca.crt", s.Data[mtlsv1alpha1.CACertKey])
	if out, err := openssl(t, "verify", "-CAfile", caCrt, crt); err != nil {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
}

// Revocation: the serial goes into the ClientCA's record, the CRL reaches the trust store and
// the listener refuses the certificate. Revocation survives the loss of status. Deleting a
// ClientCertificate revokes its certificate too, and drops its metric series.
// Moving a ClientCertificate from a generated key to a CSR replaces the Secret (its type is
// immutable): the new one is Opaque, holds no tls.key, and certifies the CSR's key.
func TestSwitchFromKeyModeToCSRMode(t *testing.T) {
	ca := newClientCA(t, nil)
	cc := newCert(t, ca, "switcher", nil)
	first := waitCertReady(t, cc)
	if s := getSecret(t, cc); s.Type != corev1.SecretTypeTLS || len(s.Data[mtlsv1alpha1.TLSKeyKey]) == 0 {
		t.Fatalf("key mode Secret: type %s, tls.key %d bytes", s.Type, len(s.Data[mtlsv1alpha1.TLSKeyKey]))
	}
	laptopKey, err := pki.GenerateKey(pki.AlgorithmECDSA, 256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "switcher"}}, laptopKey)
	if err != nil {
		t.Fatal(err)
	}
	patchCert(t, cc, func(c *mtlsv1alpha1.ClientCertificate) {
		c.Spec.PrivateKey = nil
		c.Spec.CSR = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	})
	stack.Eventually(t, 30*time.Second, func() error {
		s := &corev1.Secret{}
		if err := st.Kube.Client.Get(ctx, client.ObjectKey{Namespace: cc.Namespace, Name: secretName(cc)}, s); err != nil {
			return err
		}
		if s.Type != corev1.SecretTypeOpaque {
			return fmt.Errorf("Secret type %s", s.Type)
		}
		if _, ok := s.Data[mtlsv1alpha1.TLSKeyKey]; ok {
			return fmt.Errorf("CSR mode Secret still holds tls.key")
		}
		if leaf := leafOf(t, s); !pki.KeyMatches(laptopKey, leaf) {
			return fmt.Errorf("the certificate does not certify the CSR's key")
		}
		return nil
	})
	if got := waitCertReady(t, cc); got.Status.SerialNumber == first.Status.SerialNumber {
		t.Error("switching to a CSR did not issue a new certificate")
	}
}

func TestRevocation(t *testing.T) {
	ca := newClientCA(t, nil)
	cc := newCert(t, ca, "revoke-me", nil)
	waitCertReady(t, cc)
	s := getSecret(t, cc)
	serial := pki.SerialHex(leafOf(t, s).SerialNumber)

	setListener(t, "verify", getCA(t, ca).Status.TrustStore.ARN)
	defer setListener(t, "off", "")
	if code, err := handshake(t, s); err != nil || code != 200 {
		t.Fatalf("before revocation: %d %v", code, err)
	}

	patchCert(t, cc, func(c *mtlsv1alpha1.ClientCertificate) {
		c.Spec.Revoked = true
		c.Spec.RevocationReason = "KeyCompromise"
	})
	got := waitCondition(t, cc, mtlsv1alpha1.ConditionRevoked, metav1.ConditionTrue, mtlsv1alpha1.ReasonRevoked, 60*time.Second)
	if err := checkCondition(got, mtlsv1alpha1.ConditionReady, metav1.ConditionFalse, mtlsv1alpha1.ReasonRevoked); err != nil {
		t.Error(err)
	}
	if got.Status.RevokedAt == nil {
		t.Error("status.revokedAt not set")
	}
	entry, ok := record(t, ca).Find(serial, got.Status.IssuerFingerprint)
	if !ok || entry.ReasonCode != 1 || entry.Certificate != cc.Namespace+"/"+cc.Name {
		t.Fatalf("record entry for %s: %+v found=%v", serial, entry, ok)
	}
	waitEvent(t, cc.Namespace, cc.Name, corev1.EventTypeNormal, mtlsv1alpha1.ReasonRevoked)
	code, err := handshake(t, s)
	if err == nil {
		t.Errorf("the revoked certificate got through: %d", code)
	}
	// albsim logs the handshake from its own goroutine, possibly after the client saw the alert.
	stack.Eventually(t, 5*time.Second, func() error {
		if last := lastVerifyStatus(serial); last != albsim.VerifyClientCertCrlHit {
			return fmt.Errorf("connection log for the revoked certificate says %q, want %s (handshake error: %v)", last, albsim.VerifyClientCertCrlHit, err)
		}
		return nil
	})
	if got := getSecret(t, cc); pki.SerialHex(leafOf(t, got).SerialNumber) != serial {
		t.Error("a revoked certificate was reissued")
	}

	// Status lost: the record is the truth.
	lost := getCert(t, cc)
	lost.Status = mtlsv1alpha1.ClientCertificateStatus{}
	if err := st.Kube.Client.Status().Update(ctx, lost); err != nil {
		t.Fatal(err)
	}
	got = waitCondition(t, cc, mtlsv1alpha1.ConditionRevoked, metav1.ConditionTrue, mtlsv1alpha1.ReasonRevoked, 30*time.Second)
	if got.Status.RevokedAt == nil || !got.Status.RevokedAt.Time.Equal(entry.RevokedAt) {
		t.Errorf("revokedAt %v after status loss, record says %s", got.Status.RevokedAt, entry.RevokedAt)
	}

	// Deletion revokes.
	del := newCert(t, ca, "delete-me", nil)
	delGot := waitCertReady(t, del)
	delSerial := delGot.Status.SerialNumber
	if v := gaugeValue(t, "albtrust_clientcertificate_ready", del.Namespace, del.Name); v == nil || *v != 1 {
		t.Errorf("ready metric %v, want 1", v)
	}
	if err := st.Kube.Client.Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	stack.Eventually(t, 30*time.Second, func() error {
		err := st.Kube.Client.Get(ctx, client.ObjectKeyFromObject(del), &mtlsv1alpha1.ClientCertificate{})
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	entry, ok = record(t, ca).Find(delSerial, delGot.Status.IssuerFingerprint)
	if !ok || entry.ReasonCode != 5 {
		t.Fatalf("deleted certificate %s not in record as cessationOfOperation: %+v %v", delSerial, entry, ok)
	}
	if v := gaugeValue(t, "albtrust_clientcertificate_ready", del.Namespace, del.Name); v != nil {
		t.Errorf("ready metric of a deleted ClientCertificate still exported: %v", *v)
	}
	stack.Eventually(t, 60*time.Second, func() error {
		if crl := getCA(t, ca).Status.CRL; crl == nil || crl.RecordGeneration < entry.Generation {
			return fmt.Errorf("CRL not rebuilt from record generation %d yet", entry.Generation)
		}
		return nil
	})
}

// Renewal at renewalTime: a new serial; rotationPolicy Always brings a new key, Never keeps
// it. A renewed-then-deleted ClientCertificate revokes its earlier certificate as well.
func TestRenewal(t *testing.T) {
	ca := newClientCA(t, nil)
	short := func(policy mtlsv1alpha1.RotationPolicy) func(*mtlsv1alpha1.ClientCertificate) {
		return func(c *mtlsv1alpha1.ClientCertificate) {
			c.Spec.Duration = &metav1.Duration{Duration: time.Minute}
			c.Spec.RenewBefore = &metav1.Duration{Duration: 50 * time.Second}
			c.Spec.PrivateKey.RotationPolicy = policy
		}
	}
	always := newCert(t, ca, "always", short(mtlsv1alpha1.RotationPolicyAlways))
	never := newCert(t, ca, "never", short(mtlsv1alpha1.RotationPolicyNever))
	a1, n1 := waitCertReady(t, always), waitCertReady(t, never)
	if want := a1.Status.NotAfter.Add(-50 * time.Second); !a1.Status.RenewalTime.Time.Equal(want) {
		t.Errorf("renewalTime %s, want notAfter-50s %s", a1.Status.RenewalTime, want)
	}
	aKey, nKey := publicKeyOf(t, getSecret(t, always)), publicKeyOf(t, getSecret(t, never))

	a2 := waitSerialChange(t, always, a1.Status.SerialNumber, 40*time.Second)
	n2 := waitSerialChange(t, never, n1.Status.SerialNumber, 40*time.Second)
	if samePublicKey(aKey, publicKeyOf(t, a2)) {
		t.Error("rotationPolicy Always kept the key")
	}
	if !samePublicKey(nKey, publicKeyOf(t, n2)) {
		t.Error("rotationPolicy Never changed the key")
	}
	waitEvent(t, always.Namespace, always.Name, corev1.EventTypeNormal, "Renewed")
	if got := getCert(t, always); got.Status.Revision < 2 {
		t.Errorf("revision %d after a renewal", got.Status.Revision)
	}

	// Delete "always": both its first and its current certificate are revoked.
	if err := st.Kube.Client.Delete(ctx, always); err != nil {
		t.Fatal(err)
	}
	stack.Eventually(t, 30*time.Second, func() error {
		rec := record(t, ca)
		for _, serial := range []string{a1.Status.SerialNumber, pki.SerialHex(leafOf(t, a2).SerialNumber)} {
			if _, ok := rec.Find(serial, a1.Status.IssuerFingerprint); !ok {
				return fmt.Errorf("serial %s not revoked", serial)
			}
		}
		return nil
	})
}

// Only a change that alters the certificate reissues it; labels, annotations, status and
// secretTemplate do not. Issuing makes no AWS call.
// When the ClientCA rotates, existing certificates stay as they are (the old CA is still in the
// bundle) and their Secret's ca.crt follows the ClientCA's CAs, without a reissue.
func TestCARotationUpdatesCABundleWithoutReissue(t *testing.T) {
	ca := newClientCA(t, func(ca *mtlsv1alpha1.ClientCA) {
		ca.Spec.Duration = &metav1.Duration{Duration: 2 * time.Minute}
		ca.Spec.RenewBefore = &metav1.Duration{Duration: 105 * time.Second} // rotates 15s after start
	})
	// This CA rotates every 15s; delete it afterwards so that its ELB calls do not reach the
	// call counts of later tests.
	t.Cleanup(func() { _ = st.Kube.Client.Delete(ctx, ca) })
	cc := newCert(t, ca, "before-rotation", nil)
	issued := waitCertReady(t, cc)
	stack.Eventually(t, 45*time.Second, func() error {
		s := getSecret(t, cc)
		certs, err := pki.ParseCertificatesPEM(s.Data[mtlsv1alpha1.CACertKey])
		if err != nil {
			return err
		}
		if len(certs) < 2 {
			return fmt.Errorf("ca.crt holds %d CA certificates", len(certs))
		}
		return nil
	})
	got := getCert(t, cc)
	if got.Status.SerialNumber != issued.Status.SerialNumber {
		t.Errorf("the CA rotation reissued the certificate: serial %s, was %s", got.Status.SerialNumber, issued.Status.SerialNumber)
	}
	if got.Status.IssuerFingerprint != issued.Status.IssuerFingerprint {
		t.Errorf("issuer changed without a reissue")
	}
}

func TestReissueOnlyOnCertificateChanges(t *testing.T) {
	ca := newClientCA(t, nil)
	st.Sim.ResetCalls()
	cc := newCert(t, ca, "stable", func(c *mtlsv1alpha1.ClientCertificate) { c.Spec.DNSNames = []string{"a.example.com"} })
	first := waitCertReady(t, cc)
	serial := first.Status.SerialNumber

	patchCert(t, cc, func(c *mtlsv1alpha1.ClientCertificate) {
		c.Labels = map[string]string{"team": "blue"}
		c.Annotations = map[string]string{mtlsv1alpha1.AnnotationReconcileRequest: time.Now().String()}
	})
	lost := getCert(t, cc)
	lost.Status.Revision, lost.Status.Fingerprint = 0, ""
	if err := st.Kube.Client.Status().Update(ctx, lost); err != nil {
		t.Fatal(err)
	}
	stack.Eventually(t, 30*time.Second, func() error {
		if got := getCert(t, cc); got.Status.Fingerprint == "" {
			return fmt.Errorf("status not rebuilt yet")
		}
		return nil
	})
	// A spec change that does not alter the certificate: the Secret gets the label, and the
	// certificate stays.
	patchCert(t, cc, func(c *mtlsv1alpha1.ClientCertificate) {
		c.Spec.SecretTemplate = &mtlsv1alpha1.SecretTemplate{Labels: map[string]string{"app": "demo"}}
	})
	stack.Eventually(t, 30*time.Second, func() error {
		if s := getSecret(t, cc); s.Labels["app"] != "demo" {
			return fmt.Errorf("secretTemplate label not applied yet")
		}
		return checkCondition(getCert(t, cc), mtlsv1alpha1.ConditionReady, metav1.ConditionTrue, mtlsv1alpha1.ReasonIssued)
	})
	if got := pki.SerialHex(leafOf(t, getSecret(t, cc)).SerialNumber); got != serial {
		t.Fatalf("serial changed from %s to %s without a certificate change", serial, got)
	}

	patchCert(t, cc, func(c *mtlsv1alpha1.ClientCertificate) { c.Spec.DNSNames = append(c.Spec.DNSNames, "b.example.com") })
	s := waitSerialChange(t, cc, serial, 30*time.Second)
	if leaf := leafOf(t, s); len(leaf.DNSNames) != 2 {
		t.Errorf("DNS names %v after the change", leaf.DNSNames)
	}
	if w := writeCalls(st.Sim.Calls()); len(w) > 0 {
		t.Errorf("issuing made AWS write calls: %v", w)
	}
	t.Logf("AWS calls while issuing and reissuing: %v (ClientCA steady before ResetCalls)", st.Sim.Calls())
}

// A Secret edited or deleted by someone else is repaired from the spec.
func TestSecretRepair(t *testing.T) {
	ca := newClientCA(t, nil)
	passwordSecret(t, ca.Namespace, "p12", repairPassword, true)
	cc := newCert(t, ca, "repair", func(c *mtlsv1alpha1.ClientCertificate) {
		c.Spec.Keystores = &mtlsv1alpha1.Keystores{PKCS12: &mtlsv1alpha1.PKCS12Keystore{
			PasswordSecretRef: mtlsv1alpha1.KeySelector{Name: "p12", Key: "password"}, Profile: mtlsv1alpha1.PKCS12Modern2023,
		}}
	})
	first := waitCertReady(t, cc)

	// keystore.p12 removed: encoded again, same certificate.
	s := getSecret(t, cc)
	delete(s.Data, mtlsv1alpha1.PKCS12Key)
	if err := st.Kube.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	stack.Eventually(t, 30*time.Second, func() error {
		if len(getSecret(t, cc).Data[mtlsv1alpha1.PKCS12Key]) == 0 {
			return fmt.Errorf("keystore.p12 not restored")
		}
		return nil
	})
	if got := pki.SerialHex(leafOf(t, getSecret(t, cc)).SerialNumber); got != first.Status.SerialNumber {
		t.Errorf("restoring keystore.p12 reissued the certificate")
	}

	// Secret deleted: a new certificate.
	if err := st.Kube.Client.Delete(ctx, getSecret(t, cc)); err != nil {
		t.Fatal(err)
	}
	s = waitSerialChange(t, cc, first.Status.SerialNumber, 30*time.Second)
	if len(s.Data[mtlsv1alpha1.PKCS12Key]) == 0 {
		t.Error("recreated Secret has no keystore.p12")
	}

	// tls.key replaced by another key: reissued, with a Warning Event.
	other, err := pki.GenerateKey(pki.AlgorithmECDSA, 256)
	if err != nil {
		t.Fatal(err)
	}
	otherPEM, err := pki.MarshalPrivateKeyPEM(other, pki.EncodingPKCS1)
	if err != nil {
		t.Fatal(err)
	}
	before := pki.SerialHex(leafOf(t, s).SerialNumber)
	s.Data[mtlsv1alpha1.TLSKeyKey] = otherPEM
	if err := st.Kube.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	s = waitSerialChange(t, cc, before, 30*time.Second)
	if !pki.KeyMatches(mustKey(t, s), leafOf(t, s)) {
		t.Error("repaired Secret's key does not match its certificate")
	}
	if pki.KeyMatches(other, leafOf(t, s)) {
		t.Error("the planted key was certified")
	}
	waitEvent(t, cc.Namespace, cc.Name, corev1.EventTypeWarning, mtlsv1alpha1.ReasonSecretMismatch)
}

// 200 ECDSA ClientCertificates applied at once all become Ready.
func TestManyCertificates(t *testing.T) {
	ca := newClientCA(t, nil)
	const n = 200
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cc := &mtlsv1alpha1.ClientCertificate{
				ObjectMeta: metav1.ObjectMeta{Namespace: ca.Namespace, Name: fmt.Sprintf("user-%03d", i)},
				Spec: mtlsv1alpha1.ClientCertificateSpec{
					ClientCARef: mtlsv1alpha1.LocalObjectReference{Name: ca.Name},
					Subject:     &mtlsv1alpha1.Subject{CommonName: fmt.Sprintf("user-%03d", i)},
					PrivateKey:  &mtlsv1alpha1.CertificatePrivateKey{Algorithm: mtlsv1alpha1.ECDSAKeyAlgorithm, Size: 256},
				},
			}
			errs <- st.Kube.Client.Create(ctx, cc)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	stack.Eventually(t, 3*time.Minute, func() error {
		list := &mtlsv1alpha1.ClientCertificateList{}
		if err := st.Kube.Client.List(ctx, list, client.InNamespace(ca.Namespace)); err != nil {
			return err
		}
		ready := 0
		for i := range list.Items {
			if checkCondition(&list.Items[i], mtlsv1alpha1.ConditionReady, metav1.ConditionTrue, mtlsv1alpha1.ReasonIssued) == nil {
				ready++
			}
		}
		if ready != n {
			return fmt.Errorf("%d of %d Ready", ready, n)
		}
		return nil
	})
	t.Logf("%d ECDSA P-256 ClientCertificates Ready in %s", n, time.Since(start).Round(10*time.Millisecond))
	secrets := &corev1.SecretList{}
	if err := st.Kube.Client.List(ctx, secrets, client.InNamespace(ca.Namespace), client.MatchingLabels{mtlsv1alpha1.LabelSecretRole: "certificate"}); err != nil {
		t.Fatal(err)
	}
	if len(secrets.Items) != n {
		t.Errorf("%d certificate Secrets, want %d", len(secrets.Items), n)
	}
}

// A ClientCertificate waits for its ClientCA (ClientCANotFound) and its keystore password
// (PasswordSecretNotFound) and goes on by itself when they appear: the ClientCA watch and the
// watch on password Secrets labelled role=input map back to it.
func TestWaitsForClientCAAndPassword(t *testing.T) {
	ns := st.NewNamespace(t, "wait")
	cc := &mtlsv1alpha1.ClientCertificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "early"},
		Spec: mtlsv1alpha1.ClientCertificateSpec{
			ClientCARef: mtlsv1alpha1.LocalObjectReference{Name: "later"},
			Subject:     &mtlsv1alpha1.Subject{CommonName: "early"},
			Keystores: &mtlsv1alpha1.Keystores{PKCS12: &mtlsv1alpha1.PKCS12Keystore{
				PasswordSecretRef: mtlsv1alpha1.KeySelector{Name: "later-pw", Key: "password"},
			}},
		},
	}
	if err := st.Kube.Client.Create(ctx, cc); err != nil {
		t.Fatal(err)
	}
	got := waitCondition(t, cc, mtlsv1alpha1.ConditionReady, metav1.ConditionFalse, mtlsv1alpha1.ReasonClientCANotFound, 30*time.Second)
	if err := checkCondition(got, mtlsv1alpha1.ConditionIssuing, metav1.ConditionTrue, mtlsv1alpha1.ReasonDoesNotExist); err != nil {
		t.Error(err)
	}
	if v := gaugeValue(t, "albtrust_clientcertificate_ready", ns, cc.Name); v == nil || *v != 0 {
		t.Errorf("ready metric %v, want 0", v)
	}

	newClientCA(t, func(ca *mtlsv1alpha1.ClientCA) { ca.Namespace, ca.Name = ns, "later" })
	// Issued, but the keystore waits for its password.
	got = waitCondition(t, cc, mtlsv1alpha1.ConditionReady, metav1.ConditionFalse, mtlsv1alpha1.ReasonPasswordSecretNotFound, 60*time.Second)
	s := getSecret(t, cc)
	if _, ok := s.Data[mtlsv1alpha1.PKCS12Key]; ok || got.Status.SerialNumber == "" {
		t.Fatalf("without a password: keystore present=%v, serial %q", ok, got.Status.SerialNumber)
	}
	passwordSecret(t, ns, "later-pw", repairPassword, true)
	got = waitCertReady(t, cc)
	s = getSecret(t, cc)
	if len(s.Data[mtlsv1alpha1.PKCS12Key]) == 0 {
		t.Error("keystore.p12 missing once the password exists")
	}
	if got.Status.Revision != 1 {
		t.Errorf("revision %d: the certificate was issued more than once", got.Status.Revision)
	}
	if v := gaugeValue(t, "albtrust_clientcertificate_not_after_seconds", ns, cc.Name); v == nil || int64(*v) != got.Status.NotAfter.Unix() {
		t.Errorf("not_after metric %v, want %d", v, got.Status.NotAfter.Unix())
	}
}

// Runs last (tests run in source order; keep it at the end of the file): no private key or password in the manager's logs, in Events or in any status.
func TestZNoSecretsLeak(t *testing.T) {
	needles := []string{"PRIVATE KEY-----", samplePassword, repairPassword, changedPassword}
	check := func(where, text string) {
		for _, n := range needles {
			if strings.Contains(text, n) {
				t.Errorf("%s contains %q", where, n)
			}
		}
	}
	logs := st.Logs()
	if logs == "" {
		t.Error("no manager logs captured; the scan would prove nothing")
	}
	check("manager logs", logs)
	evs := &eventsv1.EventList{}
	if err := st.Kube.Client.List(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if len(evs.Items) == 0 {
		t.Error("no Events to scan")
	}
	for _, e := range evs.Items {
		check("Event "+e.Name, e.Note+" "+e.Reason)
	}
	certs := &mtlsv1alpha1.ClientCertificateList{}
	if err := st.Kube.Client.List(ctx, certs); err != nil {
		t.Fatal(err)
	}
	for _, c := range certs.Items {
		b, _ := json.Marshal(c.Status)
		check("status of "+c.Namespace+"/"+c.Name, string(b))
		b, _ = json.Marshal(c.Annotations)
		check("annotations of "+c.Namespace+"/"+c.Name, string(b))
	}
	secrets := &corev1.SecretList{}
	if err := st.Kube.Client.List(ctx, secrets, client.MatchingLabels{mtlsv1alpha1.LabelSecretRole: "certificate"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		b, _ := json.Marshal(s.Annotations)
		check("annotations of Secret "+s.Namespace+"/"+s.Name, string(b))
	}
}

func gaugeValue(t *testing.T, name, ns, obj string) *float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == ns && labels["name"] == obj {
				v := m.GetGauge().GetValue()
				return &v
			}
		}
	}
	return nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	ka, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		panic(fmt.Sprintf("public key %T has no Equal method", a))
	}
	return ka.Equal(b)
}

func mustKey(t *testing.T, s *corev1.Secret) crypto.Signer {
	t.Helper()
	key, err := pki.ParsePrivateKeyPEM(s.Data[mtlsv1alpha1.TLSKeyKey])
	if err != nil {
		t.Fatalf("parse tls.key: %v", err)
	}
	return key
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
