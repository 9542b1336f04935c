package e2e

// The tests run in source order on one stack and build on each other: the walkthrough of
// config/samples first, then its follow-ups, the destructive ones last.

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"software.sslmate.com/src/go-pkcs12"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/internal/albsim"
	"github.com/albtrust/albtrust/internal/pki"
)

// The walkthrough's objects in config/samples.
const (
	sampleCA        = "sample"
	sampleCASecret  = "sample-ca"
	sampleCert      = "sample-2"
	sampleSecret    = "sample-2-tls"
	sampleListener  = "sample"
	samplePassword  = "sample-2-p12-password"
	rotatingCA      = "rotating"
	rotatingLM      = "rotating"
	passthroughLM   = "passthrough"
	revokedInFlow   = "leaver"
	rotatingBefore  = "rotating-before"
	rotatingAfter   = "rotating-after"
	restartJoiner   = "restart-joiner"
	restartLeaver   = "restart-leaver"
	passthroughGone = "pt-leaver"
)

// Applying the walkthrough costs AWS what doing it by hand costs: one bundle upload, one
// CreateTrustStore (created with the bundle, so there is nothing to modify afterwards), one
// ModifyListener; and resyncs after that write nothing. Runs first, while albsim's counters
// hold only the walkthrough.
func TestWalkthroughIsEconomical(t *testing.T) {
	// Only the ClientCA controller calls DescribeTrustStores, once per reconcile, and reconciles
	// of one object never overlap: when a nudge's DescribeTrustStores shows up, every reconcile
	// queued before it has finished. Two nudges in a row so that the first one's reconcile has
	// also finished.
	for i := 1; i <= 2; i++ {
		calls, err := albsimCalls()
		if err != nil {
			t.Fatal(err)
		}
		described := calls["DescribeTrustStores"]
		nudge(t, &mtlsv1alpha1.ClientCA{ObjectMeta: metav1.ObjectMeta{Name: sampleCA}}, fmt.Sprintf("e2e-economy-%d", i))
		eventually(t, 30*time.Second, "the nudged ClientCA reconciled", func() error {
			calls, err := albsimCalls()
			if err != nil {
				return err
			}
			if calls["DescribeTrustStores"] <= described {
				return fmt.Errorf("no DescribeTrustStores since the nudge")
			}
			return nil
		})
	}

	ca := getClientCA(t, sampleCA)
	if ca.Status.Bundle == nil {
		t.Fatalf("ClientCA %s has no bundle in status", sampleCA)
	}
	bundleKey := strings.TrimPrefix(ca.Status.Bundle.URI, "s3://"+bucket+"/")
	if n := countVersions(t, bundleKey); n != 1 {
		t.Errorf("%d versions of the bundle %s, want 1: an unchanged bundle is never uploaded again", n, bundleKey)
	}
	calls, err := albsimCalls()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"CreateTrustStore": 1, "ModifyTrustStore": 0, "ModifyListener": 1, "AddTrustStoreRevocations": 0, "DeleteTrustStore": 0}
	for action, n := range want {
		if calls[action] != n {
			t.Errorf("%s called %d times for the walkthrough and two resyncs, want %d (all calls: %v)", action, calls[action], n, calls)
		}
	}
}

// The Verify listener of the walkthrough lets sample-2 in, passes its identity to the backend,
// and refuses a client without a certificate and one from an impostor CA with the same name.
func TestVerifyListenerAdmitsOnlyTheSampleCA(t *testing.T) {
	pair := keyPairFromSecret(t, sampleSecret)
	cc := &mtlsv1alpha1.ClientCertificate{}
	if err := st.Kube.Client.Get(ctx, key(sampleCert), cc); err != nil {
		t.Fatal(err)
	}
	serial := pki.SerialHex(pair.Leaf.SerialNumber)
	if cc.Status.SerialNumber != serial {
		t.Errorf("status.serialNumber %q, the Secret's certificate has %q", cc.Status.SerialNumber, serial)
	}

	// An impostor: a CA with exactly the sample CA's subject but another key.
	realCA, _ := caKeyPair(t, sampleCASecret)
	impostorKey, err := pki.GenerateKey(pki.AlgorithmRSA, 2048)
	if err != nil {
		t.Fatal(err)
	}
	impostorCA, err := pki.CreateCA(pki.CARequest{Subject: realCA.Subject, Key: impostorKey, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	impostor := signClient(t, impostorCA, impostorKey, "sample-2", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))

	tests := []struct {
		name       string
		cert       *tls.Certificate
		wantOK     bool
		wantStatus string
	}{
		{name: "sample-2 from its Secret", cert: &pair, wantOK: true, wantStatus: albsim.VerifySuccess},
		{name: "no client certificate", cert: nil, wantStatus: albsim.VerifyNoClientCert},
		{name: "certificate from an unrelated CA with the same name", cert: &impostor, wantStatus: albsim.VerifyClientCertUntrusted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			since := time.Now()
			if tc.wantOK {
				r, err := expectOK(samplePort, tc.cert)
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{"client subject: " + tc.cert.Leaf.Subject.String() + ";", "serial: " + serial} {
					if !strings.Contains(r.body, want) {
						t.Errorf("the backend answered %q; want it to contain %q", r.body, want)
					}
				}
			} else if err := expectRefused(samplePort, tc.cert); err != nil {
				t.Fatal(err)
			}
			connSerial := ""
			if tc.cert != nil {
				connSerial = pki.SerialHex(tc.cert.Leaf.SerialNumber)
			}
			waitVerifyStatus(t, samplePort, connSerial, since, tc.wantStatus)
		})
	}
}

// The PKCS#12 keystore opens with the password from its Secret, in Go and in OpenSSL with
// -legacy (what macOS Keychain needs), and the key and certificate inside get through the listener.
func TestPKCS12KeystoreOpensAndAuthenticates(t *testing.T) {
	s := getSecret(t, sampleSecret)
	p12 := s.Data[mtlsv1alpha1.PKCS12Key]
	if len(p12) == 0 {
		t.Fatalf("Secret %s has no %s", sampleSecret, mtlsv1alpha1.PKCS12Key)
	}
	password := string(getSecret(t, samplePassword).Data["password"])
	if password == "" {
		t.Fatalf("Secret %s has no password", samplePassword)
	}

	key, leaf, caCerts, err := pkcs12.DecodeChain(p12, password)
	if err != nil {
		t.Fatalf("decode keystore.p12 with the password from %s: %v", samplePassword, err)
	}
	if _, _, _, err := pkcs12.DecodeChain(p12, password+"-wrong"); !errors.Is(err, pkcs12.ErrIncorrectPassword) {
		t.Errorf("decode with a wrong password: %v, want ErrIncorrectPassword", err)
	}
	tlsCrt, err := pki.ParseCertificatesPEM(s.Data[mtlsv1alpha1.TLSCertKey])
	if err != nil || len(tlsCrt) == 0 {
		t.Fatalf("tls.crt: %v", err)
	}
	if !leaf.Equal(tlsCrt[0]) {
		t.Error("the keystore's certificate is not the one in tls.crt")
	}
	caCrt, err := pki.ParseCertificatesPEM(s.Data[mtlsv1alpha1.CACertKey])
	if err != nil || len(caCrt) == 0 {
		t.Fatalf("ca.crt: %v", err)
	}
	if len(caCerts) == 0 || !caCerts[0].Equal(caCrt[0]) {
		t.Errorf("the keystore holds %d CA certificates; want the sample CA of ca.crt", len(caCerts))
	}

	t.Run("openssl pkcs12 -info -legacy", func(t *testing.T) {
		openssl, err := exec.LookPath("openssl")
		if err != nil {
			t.Fatal("openssl is not installed (not in PATH): this cross-check needs OpenSSL 3 (`openssl pkcs12 -legacy`); install it, e.g. apt-get install openssl")
		}
		file := filepath.Join(t.TempDir(), "sample-2.p12")
		if err := os.WriteFile(file, p12, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(openssl, "pkcs12", "-info", "-legacy", "-passin", "pass:"+password, "-noout", "-in", file).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl pkcs12 -info -legacy with the Secret's password failed: %v\n%s", err, out)
		}
		t.Logf("openssl pkcs12 -info -legacy:\n%s", bytes.TrimSpace(out))
		// OpenSSL must also be able to say no, or the check above proves nothing.
		if out, err := exec.Command(openssl, "pkcs12", "-info", "-legacy", "-passin", "pass:not-the-password", "-noout", "-in", file).CombinedOutput(); err == nil {
			t.Errorf("openssl opened the keystore with a wrong password:\n%s", out)
		}
	})

	pair := tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	since := time.Now()
	r, err := expectOK(samplePort, &pair)
	if err != nil {
		t.Fatalf("request with the keystore's key and certificate: %v", err)
	}
	if !strings.Contains(r.body, "client subject: "+leaf.Subject.String()+";") {
		t.Errorf("the backend answered %q; want the keystore certificate's subject", r.body)
	}
	waitVerifyStatus(t, samplePort, pki.SerialHex(leaf.SerialNumber), since, albsim.VerifySuccess)
}

// A second ClientCertificate works until it is revoked; then the listener refuses it once the
// CRL is published, and only it.
func TestRevokedCertificateIsRefused(t *testing.T) {
	cc, pair := issue(t, newClientCertificate(revokedInFlow, sampleCA, "leaver"))
	if _, err := expectOK(samplePort, &pair); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	serial := pki.SerialHex(pair.Leaf.SerialNumber)

	start := time.Now()
	update(t, cc, func(cc *mtlsv1alpha1.ClientCertificate) {
		cc.Spec.Revoked = true
		cc.Spec.RevocationReason = "AffiliationChanged"
	})
	eventually(t, 60*time.Second, "the revoked certificate refused by the listener", func() error {
		return expectRefused(samplePort, &pair)
	})
	took := time.Since(start)
	t.Logf("revocation took effect at the listener %s after spec.revoked was set", took.Round(10*time.Millisecond))
	waitVerifyStatus(t, samplePort, serial, start, albsim.VerifyClientCertCrlHit)

	waitRevoked(t, cc)

	// The CRL in S3 is the one a backend would download: signed by the sample CA, naming the serial.
	ca := getClientCA(t, sampleCA)
	if ca.Status.CRL == nil || ca.Status.CRL.URI == "" || ca.Status.CRL.Entries < 1 {
		t.Fatalf("ClientCA status.crl %+v, want a published CRL", ca.Status.CRL)
	}
	crl, err := pki.ParseCRLPEM(downloadS3(t, ca.Status.CRL.URI))
	if err != nil {
		t.Fatalf("CRL at %s: %v", ca.Status.CRL.URI, err)
	}
	caCert, _ := caKeyPair(t, sampleCASecret)
	if err := crl.CheckSignatureFrom(caCert); err != nil {
		t.Errorf("the CRL is not signed by the sample CA: %v", err)
	}
	if e := crlEntry(crl, pair.Leaf); e == nil {
		t.Errorf("the CRL at %s does not list serial %s", ca.Status.CRL.URI, serial)
	} else if e.ReasonCode != 3 {
		t.Errorf("CRL reason code %d for serial %s, want 3 (affiliationChanged, from spec.revocationReason)", e.ReasonCode, serial)
	}
	if crl.Number == nil || crl.Number.Int64() != ca.Status.CRL.Number {
		t.Errorf("CRL number %v, status says %d", crl.Number, ca.Status.CRL.Number)
	}

	// Everyone else keeps access.
	other := keyPairFromSecret(t, sampleSecret)
	if _, err := expectOK(samplePort, &other); err != nil {
		t.Errorf("sample-2 after another certificate was revoked: %v", err)
	}
}

// An expired certificate signed by the sample CA is refused, accepted while the ListenerMTLS
// sets ignoreClientCertificateExpiry, and refused again when it is set back.
func TestExpiredCertificateRefusedUnlessExpiryIgnored(t *testing.T) {
	caCert, caKey := caKeyPair(t, sampleCASecret)
	now := time.Now()
	expired := signClient(t, caCert, caKey, "expired", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	current := signClient(t, caCert, caKey, "current", now.Add(-time.Minute), now.Add(time.Hour))
	expiredSerial := pki.SerialHex(expired.Leaf.SerialNumber)

	// The same CA key signing a current certificate gets in: the refusal below is about expiry.
	if _, err := expectOK(samplePort, &current); err != nil {
		t.Fatalf("a current certificate signed with the CA key from %s: %v", sampleCASecret, err)
	}
	since := time.Now()
	if err := expectRefused(samplePort, &expired); err != nil {
		t.Fatal(err)
	}
	waitVerifyStatus(t, samplePort, expiredSerial, since, albsim.VerifyClientCertExpired)

	lm := &mtlsv1alpha1.ListenerMTLS{}
	lm.Name = sampleListener
	setIgnore := func(ignore bool) {
		update(t, lm, func(lm *mtlsv1alpha1.ListenerMTLS) { lm.Spec.IgnoreClientCertificateExpiry = ignore })
		waitReady(t, lm, 30*time.Second)
		if lm.Status.Applied == nil || lm.Status.Applied.IgnoreClientCertificateExpiry != ignore {
			t.Fatalf("status.applied %+v, want ignoreClientCertificateExpiry %v", lm.Status.Applied, ignore)
		}
	}
	t.Cleanup(func() {
		if lm.Spec.IgnoreClientCertificateExpiry {
			setIgnore(false)
		}
	})

	setIgnore(true)
	eventually(t, 30*time.Second, "the expired certificate accepted with ignoreClientCertificateExpiry", func() error {
		_, err := expectOK(samplePort, &expired)
		return err
	})

	setIgnore(false)
	eventually(t, 30*time.Second, "the expired certificate refused again", func() error {
		return expectRefused(samplePort, &expired)
	})
}

// A ClientCA that rotates 30s after creation keeps the certificates of its first CA working
// while those of the new CA work too, through a Verify listener on a second load balancer.
func TestCARotationOverlap(t *testing.T) {
	ca := &mtlsv1alpha1.ClientCA{
		ObjectMeta: metav1.ObjectMeta{Name: rotatingCA},
		Spec: mtlsv1alpha1.ClientCASpec{
			Subject:        &mtlsv1alpha1.Subject{CommonName: "e2e rotating CA", Organization: []string{"albtrust-e2e"}},
			PrivateKey:     &mtlsv1alpha1.KeySpec{Algorithm: mtlsv1alpha1.ECDSAKeyAlgorithm, Size: 256},
			Duration:       &metav1.Duration{Duration: 2 * time.Minute},
			RenewBefore:    &metav1.Duration{Duration: 90 * time.Second},
			Bundle:         mtlsv1alpha1.BundleSpec{S3: mtlsv1alpha1.S3Location{Bucket: bucket}},
			DeletionPolicy: mtlsv1alpha1.DeletionPolicyDelete,
		},
	}
	create(t, ca)
	lm := &mtlsv1alpha1.ListenerMTLS{
		ObjectMeta: metav1.ObjectMeta{Name: rotatingLM},
		Spec: mtlsv1alpha1.ListenerMTLSSpec{
			LoadBalancer: &mtlsv1alpha1.LoadBalancerRef{Name: extraLB, Port: int32(rotationPort)},
			Mode:         mtlsv1alpha1.ModeVerify,
			ClientCARef:  &mtlsv1alpha1.LocalObjectReference{Name: rotatingCA},
		},
	}
	create(t, lm)
	waitReady(t, ca, 30*time.Second)
	first := ca.Status.SigningCAFingerprint
	var firstNotAfter time.Time
	for _, c := range ca.Status.CACertificates {
		if c.Fingerprint == first {
			firstNotAfter = c.NotAfter.Time
		}
	}
	if first == "" || firstNotAfter.IsZero() {
		t.Fatalf("ClientCA %s status names no signing CA: %+v", rotatingCA, ca.Status.CACertificates)
	}

	before, beforePair := issue(t, newClientCertificate(rotatingBefore, rotatingCA, "issued before rotation"))
	if before.Status.IssuerFingerprint != first {
		t.Fatalf("%s was issued by %s, want the first CA %s (did the CA rotate before it was issued?)", rotatingBefore, before.Status.IssuerFingerprint, first)
	}
	waitReady(t, lm, 30*time.Second)
	eventually(t, 20*time.Second, "the first CA's certificate through the Verify listener", func() error {
		_, err := expectOK(rotationPort, &beforePair)
		return err
	})

	waitFor(t, ca, 90*time.Second, "rotated, with the old and the new CA in the trust store", func() error {
		switch {
		case ca.Status.SigningCAFingerprint == first:
			return fmt.Errorf("still signing with the first CA")
		case len(ca.Status.CACertificates) < 2:
			return fmt.Errorf("%d CA certificates in the bundle", len(ca.Status.CACertificates))
		case ca.Status.TrustStore == nil || ca.Status.TrustStore.NumberOfCACertificates < 2:
			return fmt.Errorf("trust store status %+v", ca.Status.TrustStore)
		}
		return nil
	})
	t.Logf("CA rotated; %d CA certificates in the bundle", len(ca.Status.CACertificates))

	after, afterPair := issue(t, newClientCertificate(rotatingAfter, rotatingCA, "issued after rotation"))
	if after.Status.IssuerFingerprint == first {
		t.Fatalf("%s was issued by the first CA after rotation; new certificates must come from the newest CA", rotatingAfter)
	}
	if bytes.Equal(beforePair.Leaf.AuthorityKeyId, afterPair.Leaf.AuthorityKeyId) {
		t.Errorf("both certificates name the same issuing key; want the first and a rotated CA")
	}
	eventually(t, 20*time.Second, "both generations through the Verify listener", func() error {
		if time.Now().After(firstNotAfter) {
			t.Fatalf("the first CA expired (%s) before the overlap could be checked; the stack is too slow for this test", firstNotAfter.Format(time.RFC3339))
		}
		for name, pair := range map[string]*tls.Certificate{rotatingBefore: &beforePair, rotatingAfter: &afterPair} {
			if _, err := expectOK(rotationPort, pair); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return nil
	})
	t.Logf("both certificates work %s before the first CA expires", time.Until(firstNotAfter).Round(time.Second))
}

// A Passthrough listener in front of the albmtls-backend example: ALB forwards any certificate,
// the backend verifies it against the sample CA and the CRL downloaded from S3.
func TestPassthroughBackendVerifiesAgainstBundleAndCRL(t *testing.T) {
	ca := getClientCA(t, sampleCA)
	if ca.Status.CRL == nil || ca.Status.CRL.URI == "" {
		t.Fatalf("the sample ClientCA has no CRL yet; this test follows TestRevokedCertificateIsRefused")
	}
	dir := t.TempDir()
	caFile, crlFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.crl")
	writeFileAtomic(t, caFile, getSecret(t, sampleSecret).Data[mtlsv1alpha1.CACertKey])
	writeFileAtomic(t, crlFile, downloadS3(t, ca.Status.CRL.URI))

	lm := &mtlsv1alpha1.ListenerMTLS{
		ObjectMeta: metav1.ObjectMeta{Name: passthroughLM},
		Spec: mtlsv1alpha1.ListenerMTLSSpec{
			LoadBalancer: &mtlsv1alpha1.LoadBalancerRef{Name: extraLB, Port: int32(passthroughPort)},
			Mode:         mtlsv1alpha1.ModePassthrough,
		},
	}
	create(t, lm)
	addr := fmt.Sprintf("127.0.0.1:%d", backendPort)
	startProcess(t, filepath.Join(dir, "backend.log"), addr, backendBin,
		"-listen", addr, "-mode", "passthrough", "-ca-bundle", caFile, "-crl", crlFile)
	waitReady(t, lm, 30*time.Second)

	good := keyPairFromSecret(t, sampleSecret)
	eventually(t, 20*time.Second, "sample-2 through the Passthrough listener", func() error {
		r, err := expectOK(passthroughPort, &good)
		if err != nil {
			return err
		}
		for _, want := range []string{"mode: passthrough\n", "subject: " + good.Leaf.Subject.String() + "\n",
			"commonName: sample-2\n", "serialNumber: " + pki.SerialHex(good.Leaf.SerialNumber) + "\n"} {
			if !strings.Contains(r.body, want) {
				t.Fatalf("the backend answered %q; want it to contain %q", r.body, want)
			}
		}
		return nil
	})

	// Without a certificate ALB lets the request through; the backend refuses it.
	if r, err := get(passthroughPort, nil); err != nil || r.status != http.StatusForbidden {
		t.Errorf("without a certificate: HTTP %d, err %v; want 403 from the backend", r.status, err)
	}
	// The certificate revoked earlier is in the CRL the backend loaded at start.
	leaver := keyPairFromSecret(t, revokedInFlow+"-tls")
	if r, err := get(passthroughPort, &leaver); err != nil || r.status != http.StatusForbidden || !strings.Contains(r.body, "revoked") {
		t.Errorf("the certificate revoked earlier: HTTP %d %q, err %v; want 403 revoked from the backend", r.status, r.body, err)
	}

	// Revoke a fresh certificate; once the new CRL is copied from S3 the backend refuses it.
	cc, pair := issue(t, newClientCertificate(passthroughGone, sampleCA, "pt-leaver"))
	if _, err := expectOK(passthroughPort, &pair); err != nil {
		t.Fatalf("%s before revocation: %v", passthroughGone, err)
	}
	update(t, cc, func(cc *mtlsv1alpha1.ClientCertificate) { cc.Spec.Revoked = true })
	var crlPEM []byte
	eventually(t, 60*time.Second, "a CRL in S3 that lists "+passthroughGone, func() error {
		ca := getClientCA(t, sampleCA)
		if ca.Status.CRL == nil || ca.Status.CRL.URI == "" {
			return fmt.Errorf("no CRL in status")
		}
		data := downloadS3(t, ca.Status.CRL.URI)
		crl, err := pki.ParseCRLPEM(data)
		if err != nil {
			return err
		}
		if !crlLists(crl, pair.Leaf) {
			return fmt.Errorf("CRL %v does not list it yet", crl.Number)
		}
		crlPEM = data
		return nil
	})
	// The backend still accepts it with the old CRL: the 403 below comes from the new file.
	if _, err := expectOK(passthroughPort, &pair); err != nil {
		t.Fatalf("%s with the backend's old CRL: %v", passthroughGone, err)
	}
	writeFileAtomic(t, crlFile, crlPEM)
	eventually(t, 20*time.Second, "the backend refusing "+passthroughGone+" after the CRL file changed", func() error {
		r, err := get(passthroughPort, &pair)
		if err != nil {
			return err
		}
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "revoked") {
			return fmt.Errorf("HTTP %d %q, want 403 revoked", r.status, strings.TrimSpace(r.body))
		}
		return nil
	})
	if _, err := expectOK(passthroughPort, &good); err != nil {
		t.Errorf("sample-2 after the CRL changed: %v", err)
	}
}

// The manager is stopped in the middle of the flow; a certificate is added, another revoked and
// a listener changed while it is down. After the restart everything converges without a second
// trust store or a new CA.
func TestOperatorRestartConverges(t *testing.T) {
	caBefore := getClientCA(t, sampleCA)
	caSecretBefore := getSecret(t, sampleCASecret).Data[mtlsv1alpha1.TLSCertKey]
	caCert, _ := caKeyPair(t, sampleCASecret)
	if caBefore.Status.TrustStore == nil || caBefore.Status.Bundle == nil {
		t.Fatalf("ClientCA %s has no trust store or bundle in status", sampleCA)
	}
	bundleKey := strings.TrimPrefix(caBefore.Status.Bundle.URI, "s3://"+bucket+"/")
	bundleVersions := countVersions(t, bundleKey)
	leaver, leaverPair := issue(t, newClientCertificate(restartLeaver, sampleCA, "restart-leaver"))
	if _, err := expectOK(samplePort, &leaverPair); err != nil {
		t.Fatalf("%s before the restart: %v", restartLeaver, err)
	}

	st.StopManager()
	t.Cleanup(func() { _ = st.StartManager() }) // after a failure with the manager stopped; else a no-op
	joiner := newClientCertificate(restartJoiner, sampleCA, "restart-joiner")
	create(t, joiner)
	update(t, leaver, func(cc *mtlsv1alpha1.ClientCertificate) { cc.Spec.Revoked = true })
	lm := &mtlsv1alpha1.ListenerMTLS{}
	lm.Name = sampleListener
	update(t, lm, func(lm *mtlsv1alpha1.ListenerMTLS) { lm.Spec.AdvertiseTrustStoreCaNames = true })
	t.Cleanup(func() {
		_ = st.StartManager() // when the test failed with the manager stopped
		update(t, lm, func(lm *mtlsv1alpha1.ListenerMTLS) { lm.Spec.AdvertiseTrustStoreCaNames = false })
		waitReady(t, lm, 30*time.Second)
	})
	// A crash between CreateTrustStore and the status write leaves no trust store in status:
	// the restarted manager must find the store again by name and tags, not make a second one.
	eventually(t, 20*time.Second, "clear status.trustStore of ClientCA "+sampleCA, func() error {
		ca := getClientCA(t, sampleCA)
		ca.Status.TrustStore = nil
		return st.Kube.Client.Status().Update(ctx, ca)
	})
	// Nothing happens while the manager is down.
	if err := st.Kube.Client.Get(ctx, key(restartJoiner+"-tls"), &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("Secret %s-tls exists (err %v) while the manager is stopped", restartJoiner, err)
	}
	if _, err := expectOK(samplePort, &leaverPair); err != nil {
		t.Fatalf("%s refused before the manager could revoke it: %v", restartLeaver, err)
	}

	start := time.Now()
	if err := st.StartManager(); err != nil {
		t.Fatal(err)
	}
	joiner, joinerPair := issueWait(t, joiner)
	waitReady(t, lm, 60*time.Second)
	eventually(t, 60*time.Second, "after the restart: joiner in, leaver out, CA names advertised", func() error {
		r, err := expectOK(samplePort, &joinerPair)
		if err != nil {
			return fmt.Errorf("%s: %w", restartJoiner, err)
		}
		if !advertises(r.acceptableCAs, caCert) {
			return fmt.Errorf("the listener advertises %d CA names, not the sample CA", len(r.acceptableCAs))
		}
		if err := expectRefused(samplePort, &leaverPair); err != nil {
			return fmt.Errorf("%s: %w", restartLeaver, err)
		}
		return nil
	})
	waitRevoked(t, leaver)
	waitAllConverged(t, 60*time.Second)
	t.Logf("converged %s after the restart", time.Since(start).Round(100*time.Millisecond))

	// One trust store per name, and the sample's store is the one it had.
	counts := map[string]int{}
	p := elbv2.NewDescribeTrustStoresPaginator(elbClient(), &elbv2.DescribeTrustStoresInput{PageSize: aws.Int32(400)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ts := range page.TrustStores {
			counts[aws.ToString(ts.Name)]++
		}
	}
	for name, n := range counts {
		if n != 1 {
			t.Errorf("%d trust stores named %s, want 1", n, name)
		}
	}
	caAfter := getClientCA(t, sampleCA)
	if caAfter.Status.TrustStore == nil || caAfter.Status.TrustStore.ARN != caBefore.Status.TrustStore.ARN {
		t.Errorf("trust store after the restart %+v, before %+v", caAfter.Status.TrustStore, caBefore.Status.TrustStore)
	}
	if counts[caBefore.Status.TrustStore.Name] != 1 {
		t.Errorf("trust stores by name %v; want the sample's %s once", counts, caBefore.Status.TrustStore.Name)
	}
	if caAfter.Status.SigningCAFingerprint != caBefore.Status.SigningCAFingerprint {
		t.Errorf("CA fingerprint changed across the restart: %s → %s", caBefore.Status.SigningCAFingerprint, caAfter.Status.SigningCAFingerprint)
	}
	if !bytes.Equal(getSecret(t, sampleCASecret).Data[mtlsv1alpha1.TLSCertKey], caSecretBefore) {
		t.Error("the CA certificate in Secret sample-ca changed across the restart")
	}
	if n := countVersions(t, bundleKey); n != bundleVersions {
		t.Errorf("the unchanged bundle was uploaded again across the restart: %d versions of %s, was %d", n, bundleKey, bundleVersions)
	}
	if joiner.Status.IssuerFingerprint != caBefore.Status.SigningCAFingerprint {
		t.Errorf("%s issued by %s, want the unchanged sample CA", restartJoiner, joiner.Status.IssuerFingerprint)
	}
}

// Deleting a ListenerMTLS (onDelete Off by default) sends mode off: the listener then serves a
// client without a certificate.
func TestDeletingListenerMTLSTurnsMutualTLSOff(t *testing.T) {
	lm := &mtlsv1alpha1.ListenerMTLS{}
	if err := st.Kube.Client.Get(ctx, key(rotatingLM), lm); err != nil {
		t.Fatalf("ListenerMTLS %s (made by TestCARotationOverlap): %v", rotatingLM, err)
	}
	if lm.Status.Listener == nil || lm.Status.Listener.ARN == "" {
		t.Fatalf("ListenerMTLS %s status names no listener", rotatingLM)
	}
	listenerARN := lm.Status.Listener.ARN
	if err := expectRefused(rotationPort, nil); err != nil {
		t.Fatalf("before deletion, a client without a certificate: %v", err)
	}

	deleteAndWait(t, lm, 60*time.Second)
	out, err := elbClient().DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{listenerARN}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Listeners) != 1 || out.Listeners[0].MutualAuthentication == nil || aws.ToString(out.Listeners[0].MutualAuthentication.Mode) != "off" {
		t.Errorf("listener after deletion: %+v, want MutualAuthentication mode off", out.Listeners)
	}
	eventually(t, 20*time.Second, "a client without a certificate served", func() error {
		r, err := expectOK(rotationPort, nil)
		if err != nil {
			return err
		}
		if !strings.Contains(r.body, "(no client certificate)") {
			return fmt.Errorf("backend answered %q", r.body)
		}
		return nil
	})
}

// Deleting a ClientCA with deletionPolicy Delete removes its trust store, every version of its
// S3 objects and its Secrets.
func TestDeletingClientCAWithDeletePolicyRemovesEverything(t *testing.T) {
	ca := getClientCA(t, rotatingCA)
	if ca.Status.TrustStore == nil || ca.Status.Bundle == nil {
		t.Fatalf("ClientCA %s has no trust store or bundle in status", rotatingCA)
	}
	storeARN, storeName, bundleURI := ca.Status.TrustStore.ARN, ca.Status.TrustStore.Name, ca.Status.Bundle.URI
	prefix := fmt.Sprintf("albtrust/%s/%s/", namespace, rotatingCA)
	if want := "s3://" + bucket + "/" + prefix + "ca-bundle.pem"; bundleURI != want {
		t.Fatalf("bundle URI %s, want %s", bundleURI, want)
	}
	if n := countVersions(t, prefix); n == 0 {
		t.Fatalf("no object versions under s3://%s/%s before deletion", bucket, prefix)
	}
	for _, name := range []string{rotatingBefore, rotatingAfter} {
		cc := &mtlsv1alpha1.ClientCertificate{}
		cc.Name = name
		deleteAndWait(t, cc, 60*time.Second)
	}

	deleteAndWait(t, ca, 90*time.Second)

	elb := elbClient()
	var notFound *elbtypes.TrustStoreNotFoundException
	if _, err := elb.DescribeTrustStores(ctx, &elbv2.DescribeTrustStoresInput{TrustStoreArns: []string{storeARN}}); !errors.As(err, &notFound) {
		t.Errorf("DescribeTrustStores %s after deletion: %v, want TrustStoreNotFound", storeARN, err)
	}
	if _, err := elb.DescribeTrustStores(ctx, &elbv2.DescribeTrustStoresInput{Names: []string{storeName}}); !errors.As(err, &notFound) {
		t.Errorf("DescribeTrustStores by name %s after deletion: %v, want TrustStoreNotFound", storeName, err)
	}
	if n := countVersions(t, prefix); n != 0 {
		t.Errorf("%d object versions or delete markers left under s3://%s/%s", n, bucket, prefix)
	}
	for _, name := range []string{rotatingCA + "-ca"} {
		if err := st.Kube.Client.Get(ctx, key(name), &corev1.Secret{}); !apierrors.IsNotFound(err) {
			t.Errorf("Secret %s after deletion: %v, want NotFound", name, err)
		}
	}
	// The walkthrough's CA (Retain) is untouched.
	sample := getClientCA(t, sampleCA)
	if c := meta.FindStatusCondition(sample.Status.Conditions, mtlsv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("ClientCA %s Ready %+v after another CA was deleted", sampleCA, c)
	}
}

// Last, over everything the suite made happen: no private key and no keystore password in the
// manager's or albsim's log, in Events, or in the status of any object.
func TestNoKeyMaterialInLogsEventsOrStatus(t *testing.T) {
	var secrets corev1.SecretList
	if err := st.Kube.Client.List(ctx, &secrets, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	needles := map[string]string{"PRIVATE KEY": "a PEM private key header"}
	keys := 0
	for _, s := range secrets.Items {
		if pemKey := s.Data[mtlsv1alpha1.TLSKeyKey]; len(pemKey) > 0 {
			keys++
			for _, n := range keyNeedles(pemKey) {
				needles[n] = "part of tls.key of Secret " + s.Name
			}
		}
	}
	if keys < 3 {
		t.Fatalf("found %d Secrets with tls.key in %s; the scan needs the suite's keys", keys, namespace)
	}
	password := string(getSecret(t, samplePassword).Data["password"])
	needles[password] = "the PKCS#12 password of " + samplePassword

	haystacks := map[string]string{}
	for _, f := range []string{st.ManagerLog(), filepath.Join(workDir, "stack", "albsim.log")} {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			t.Fatalf("read %s: %v (%d bytes)", f, err, len(b))
		}
		haystacks[filepath.Base(f)] = string(b)
	}
	var events corev1.EventList
	if err := st.Kube.Client.List(ctx, &events, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	if len(events.Items) == 0 {
		t.Fatal("no Events in the namespace; the manager records some for issuing and publishing")
	}
	var ev strings.Builder
	for _, e := range events.Items {
		fmt.Fprintf(&ev, "%s %s\n", e.Reason, e.Message)
	}
	haystacks["Events"] = ev.String()
	var cas mtlsv1alpha1.ClientCAList
	var ccs mtlsv1alpha1.ClientCertificateList
	var lms mtlsv1alpha1.ListenerMTLSList
	for _, l := range []client.ObjectList{&cas, &ccs, &lms} {
		if err := st.Kube.Client.List(ctx, l, client.InNamespace(namespace)); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		haystacks[fmt.Sprintf("%T", l)] = string(b)
	}
	for where, text := range haystacks {
		for needle, what := range needles {
			if strings.Contains(text, needle) {
				t.Errorf("%s contains %s", where, what)
			}
		}
	}
}
