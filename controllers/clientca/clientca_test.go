package clientca_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/clientca"
	"github.com/albtrust/albtrust/controllers/common"
	"github.com/albtrust/albtrust/internal/albsim"
	"github.com/albtrust/albtrust/internal/pki"
	"github.com/albtrust/albtrust/internal/testenv/stack"
)

// writeActions are the ELB calls that change something.
var writeActions = []string{"CreateTrustStore", "ModifyTrustStore", "DeleteTrustStore", "AddTrustStoreRevocations",
	"RemoveTrustStoreRevocations", "AddTags", "RemoveTags", "ModifyListener", "ModifyListenerAttributes"}

func writes(calls map[string]int) map[string]int {
	out := map[string]int{}
	for _, a := range writeActions {
		if calls[a] > 0 {
			out[a] = calls[a]
		}
	}
	return out
}

// Applying a ClientCA yields a CA in a Secret, the bundle in S3 and an ACTIVE trust store with
// that one CA, and Ready=True.
func TestClientCAPublishesBundleAndTrustStore(t *testing.T) {
	ca := waitReady(t, newClientCA(t, nil))
	m := caMaterial(t, ca)
	if err := pki.ValidateCA(m.Signing.Cert, m.Signing.Key); err != nil {
		t.Fatalf("the Secret's CA is not valid: %v", err)
	}
	if got, want := m.Signing.Cert.Subject.String(), "CN=sample,O=shika-darake,C=JP"; got != want {
		t.Errorf("CA subject %q, want %q", got, want)
	}
	if ca.Status.SigningCAFingerprint != pki.Fingerprint(m.Signing.Cert) {
		t.Errorf("status fingerprint %s does not match the Secret's CA", ca.Status.SigningCAFingerprint)
	}
	b := ca.Status.Bundle
	if b == nil || b.VersionID == "" || b.Certificates != 1 {
		t.Fatalf("bundle status %+v", b)
	}
	key := strings.TrimPrefix(b.URI, "s3://"+stack.Bucket+"/")
	if want := fmt.Sprintf("albtrust/%s/sample/ca-bundle.pem", ca.Namespace); key != want {
		t.Errorf("bundle key %s, want %s", key, want)
	}
	certs, err := pki.ValidateBundle(getObject(t, key, b.VersionID))
	if err != nil || len(certs) != 1 || !certs[0].Equal(m.Signing.Cert) {
		t.Fatalf("the S3 bundle is not the CA: %v (%d certs)", err, len(certs))
	}
	ts := describeStore(t, ca.Status.TrustStore.ARN)
	if ts.Status != elbtypes.TrustStoreStatusActive || aws.ToInt32(ts.NumberOfCaCertificates) != 1 {
		t.Errorf("trust store %s is %s with %d CAs", aws.ToString(ts.Name), ts.Status, aws.ToInt32(ts.NumberOfCaCertificates))
	}
	if ca.Status.TrustStore.Name != clientca.TrustStoreName(ca, "test") {
		t.Errorf("trust store name %s", ca.Status.TrustStore.Name)
	}
	// Metrics: ready and the signing CA's expiry.
	stack.Eventually(t, 10*time.Second, func() error {
		if v, ok := gauge("albtrust_clientca_ready", ca.Namespace, ca.Name); !ok || v != 1 {
			return fmt.Errorf("albtrust_clientca_ready = %v (present %v)", v, ok)
		}
		if v, _ := gauge("albtrust_clientca_not_after_seconds", ca.Namespace, ca.Name); int64(v) != m.Signing.Cert.NotAfter.Unix() {
			return fmt.Errorf("albtrust_clientca_not_after_seconds = %v, want %d", v, m.Signing.Cert.NotAfter.Unix())
		}
		return nil
	})
}

// gauge reads one series of a gauge from the manager's metrics registry.
func gauge(name, namespace, objName string) (float64, bool) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return 0, false
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
			if labels["namespace"] == namespace && labels["name"] == objName {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// spec.trustStore.tags reach the trust store at creation and follow later spec changes; the
// ownership tags stay.
func TestTrustStoreTagsFollowSpec(t *testing.T) {
	ca := waitReady(t, newClientCA(t, func(ca *mtlsv1alpha1.ClientCA) {
		ca.Spec.TrustStore.Tags = map[string]string{"team": "a", "env": "x"}
	}))
	arn := ca.Status.TrustStore.ARN
	tags := func() map[string]string {
		out, err := st.ELB.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{arn}})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, td := range out.TagDescriptions {
			for _, tag := range td.Tags {
				m[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
			}
		}
		return m
	}
	if got := tags(); got["team"] != "a" || got["env"] != "x" || got[clientca.TagOwner] != ca.Namespace+"/sample" {
		t.Fatalf("tags at creation: %v", got)
	}
	got := getCA(t, ca)
	got.Spec.TrustStore.Tags = map[string]string{"team": "b"}
	if err := st.Kube.Client.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	stack.Eventually(t, 30*time.Second, func() error {
		m := tags()
		if m["team"] != "b" || m["env"] != "" || m[clientca.TagOwner] == "" || m[clientca.TagCluster] != "test" {
			return fmt.Errorf("tags %v", m)
		}
		return nil
	})
}

// A resync with nothing changed makes no write call to ELB and no upload to S3.
func TestSteadyStateMakesNoWrites(t *testing.T) {
	ca := waitReady(t, newClientCA(t, nil))
	key := strings.TrimPrefix(ca.Status.Bundle.URI, "s3://"+stack.Bucket+"/")
	versions := objectVersions(t, key)
	st.Sim.ResetCalls()
	nudge(t, ca)
	// The nudge is seen when the controller has described the store again.
	stack.Eventually(t, 30*time.Second, func() error {
		if st.Sim.Calls()["DescribeTrustStores"] == 0 {
			return fmt.Errorf("no reconcile yet")
		}
		return nil
	})
	// A write would come within the same reconcile, right after the Describe: give that
	// reconcile time to finish before concluding it made none.
	time.Sleep(time.Second)
	if w := writes(st.Sim.Calls()); len(w) > 0 {
		t.Errorf("steady-state resync made ELB writes: %v", w)
	}
	if got := objectVersions(t, key); got != versions {
		t.Errorf("steady-state resync uploaded the bundle again: %d versions, was %d", got, versions)
	}
	after := getCA(t, ca)
	if after.Status.Bundle.VersionID != ca.Status.Bundle.VersionID {
		t.Errorf("bundle version changed")
	}
}

// A manager restart, and a restart after the status was lost, finds the same trust store and
// keeps the same CA: nothing is duplicated or regenerated.
func TestRestartAndLostStatus(t *testing.T) {
	ca := waitReady(t, newClientCA(t, nil))
	fp := ca.Status.SigningCAFingerprint
	name := ca.Status.TrustStore.Name
	arn := ca.Status.TrustStore.ARN
	key := strings.TrimPrefix(ca.Status.Bundle.URI, "s3://"+stack.Bucket+"/")
	versions := objectVersions(t, key)

	if err := st.StopManager(); err != nil {
		t.Fatal(err)
	}
	// Lose the status entirely.
	lost := getCA(t, ca)
	lost.Status = mtlsv1alpha1.ClientCAStatus{}
	if err := st.Kube.Client.Status().Update(ctx, lost); err != nil {
		t.Fatal(err)
	}
	if err := st.StartManager(stack.ManagerOptions{}); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, ca)
	if got.Status.SigningCAFingerprint != fp {
		t.Errorf("CA changed after restart: %s, was %s", got.Status.SigningCAFingerprint, fp)
	}
	if got.Status.TrustStore.ARN != arn {
		t.Errorf("trust store ARN changed: %s, was %s", got.Status.TrustStore.ARN, arn)
	}
	if n := storesNamed(t, name); n != 1 {
		t.Errorf("%d trust stores named %s, want 1", n, name)
	}
	if v := objectVersions(t, key); v != versions {
		t.Errorf("the bundle was uploaded again after a lost status: %d versions, was %d", v, versions)
	}
}

// When status records an issued CA and its Secret is deleted, albtrust stops with
// CASecretMissing instead of minting a new CA.
func TestSecretDeletedAfterIssuance(t *testing.T) {
	ca := waitReady(t, newClientCA(t, nil))
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ca.Namespace, Name: "sample-ca"}}
	if err := st.Kube.Client.Delete(ctx, secret); err != nil {
		t.Fatal(err)
	}
	got := waitCondition(t, ca, mtlsv1alpha1.ConditionKeyPairReady, metav1.ConditionFalse, mtlsv1alpha1.ReasonCASecretMissing, 30*time.Second)
	if c := common.Condition(got.Status.Conditions, mtlsv1alpha1.ConditionReady); c == nil || c.Reason != mtlsv1alpha1.ReasonCASecretMissing {
		t.Errorf("Ready condition %+v, want reason CASecretMissing", c)
	}
	nudge(t, ca)
	time.Sleep(2 * time.Second)
	err := st.Kube.Client.Get(ctx, client.ObjectKeyFromObject(secret), &corev1.Secret{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("a CA Secret was created again (err=%v): a new CA must never replace an issued one", err)
	}
	if got := getCA(t, ca); got.Status.SigningCAFingerprint != ca.Status.SigningCAFingerprint {
		t.Errorf("status fingerprint changed")
	}
}

// Rotation: at renewBefore a new CA signs, the old one stays in the bundle, and a certificate
// from the old CA still passes a Verify handshake.
func TestRotationKeepsOldCertificatesWorking(t *testing.T) {
	ca := waitReady(t, newClientCA(t, func(ca *mtlsv1alpha1.ClientCA) {
		ca.Spec.Duration = &metav1.Duration{Duration: 3 * time.Minute}
		// A new CA every 30s: each one renews 30s after it starts.
		ca.Spec.RenewBefore = &metav1.Duration{Duration: 2*time.Minute + 30*time.Second}
	}))
	first := caMaterial(t, ca)
	oldCert := issueClient(t, first.Signing, "old-ca-client")
	setListener(t, "verify", ca.Status.TrustStore.ARN)
	defer setListener(t, "off", "")
	if code, err := handshake(&oldCert); err != nil || code != 200 {
		t.Fatalf("certificate from the first CA: %d %v", code, err)
	}

	var rotated *mtlsv1alpha1.ClientCA
	stack.Eventually(t, 60*time.Second, func() error {
		rotated = getCA(t, ca)
		if len(rotated.Status.CACertificates) < 2 || rotated.Status.TrustStore == nil || rotated.Status.TrustStore.NumberOfCACertificates < 2 {
			return fmt.Errorf("bundle has %d CAs", len(rotated.Status.CACertificates))
		}
		return nil
	})
	second := caMaterial(t, ca)
	if second.Signing.Cert.Equal(first.Signing.Cert) {
		t.Fatal("the signing CA did not change")
	}
	if _, ok := second.ByFingerprint(pki.Fingerprint(first.Signing.Cert)); !ok || len(second.Retired) == 0 {
		t.Fatal("the first CA is not kept as retired")
	}
	if rotated.Status.SigningCAFingerprint != pki.Fingerprint(second.Signing.Cert) {
		t.Error("status does not name the new signing CA")
	}
	ts := describeStore(t, rotated.Status.TrustStore.ARN)
	if n := aws.ToInt32(ts.NumberOfCaCertificates); n < 2 {
		t.Errorf("trust store holds %d CAs, want the old and the new", n)
	}
	newCert := issueClient(t, second.Signing, "new-ca-client")
	for name, cert := range map[string]*tls.Certificate{"old CA": &oldCert, "new CA": &newCert} {
		if code, err := handshake(cert); err != nil || code != 200 {
			t.Errorf("certificate from the %s during overlap: %d %v", name, code, err)
		}
	}
}

// A revocation in the record becomes a CRL in the trust store, and the certificate is refused.
// A burst of revocations is published in fewer CRLs than revocations.
func TestRevocationsBecomeCRL(t *testing.T) {
	ca := waitReady(t, newClientCA(t, nil))
	m := caMaterial(t, ca)
	good := issueClient(t, m.Signing, "good")
	bad := issueClient(t, m.Signing, "bad")
	setListener(t, "verify", ca.Status.TrustStore.ARN)
	defer setListener(t, "off", "")
	if code, err := handshake(&bad); err != nil || code != 200 {
		t.Fatalf("before revocation: %d %v", code, err)
	}
	st.Sim.ResetCalls()
	const burst = 20
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for i := 0; i < burst; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			serial := pki.SerialHex(big.NewInt(int64(1000 + i)))
			if i == 0 {
				serial = pki.SerialHex(bad.Leaf.SerialNumber)
			}
			_, err := common.RecordRevocation(ctx, st.Kube.Client, ca.Namespace, ca.Name, common.RevocationEntry{
				SerialNumber: serial, IssuerFingerprint: pki.Fingerprint(m.Signing.Cert),
				RevokedAt: time.Now().UTC().Truncate(time.Second), ReasonCode: 1, NotAfter: time.Now().Add(time.Hour),
			})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var got *mtlsv1alpha1.ClientCA
	stack.Eventually(t, 30*time.Second, func() error {
		got = getCA(t, ca)
		if got.Status.CRL == nil || got.Status.CRL.Entries != burst {
			return fmt.Errorf("CRL status %+v", got.Status.CRL)
		}
		return nil
	})
	adds := st.Sim.Calls()["AddTrustStoreRevocations"]
	t.Logf("%d revocations were published in %d CRLs", burst, adds)
	if adds >= burst {
		t.Errorf("%d revocations made %d CRLs: a burst must be batched", burst, adds)
	}
	if code, err := handshake(&bad); err == nil {
		t.Errorf("a revoked certificate got through: %d", code)
	}
	if code, err := handshake(&good); err != nil || code != 200 {
		t.Errorf("a good certificate was refused: %d %v", code, err)
	}
	log := st.Sim.ConnectionLog()
	if last := lastStatusFor(log, pki.SerialHex(bad.Leaf.SerialNumber)); last != albsim.VerifyClientCertCrlHit {
		t.Errorf("connection log for the revoked certificate says %q", last)
	}
	// Exactly one set of revocation IDs stays registered.
	out, err := st.ELB.DescribeTrustStoreRevocations(ctx, &elbv2.DescribeTrustStoreRevocationsInput{TrustStoreArn: aws.String(got.Status.TrustStore.ARN)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.TrustStoreRevocations) != 1 {
		t.Errorf("%d revocation IDs registered, want 1 (old CRLs must be removed)", len(out.TrustStoreRevocations))
	}
	// The CRL in S3 verifies against the CA and lists the serial.
	crlKey := strings.TrimPrefix(got.Status.CRL.URI, "s3://"+stack.Bucket+"/")
	crl, err := pki.ParseCRLPEM(getObject(t, crlKey, ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(m.Signing.Cert); err != nil {
		t.Errorf("CRL signature: %v", err)
	}
	if len(crl.RevokedCertificateEntries) != burst {
		t.Errorf("CRL lists %d entries", len(crl.RevokedCertificateEntries))
	}
}

func lastStatusFor(log []albsim.ConnLogEntry, serial string) string {
	last := ""
	for _, e := range log {
		if e.ClientSerial == serial {
			last = e.VerifyStatus
		}
	}
	return last
}

// Problems that only the user can fix become specific reasons, nothing is lost, and the
// ClientCA converges once the problem is gone.
func TestFaultsBecomeReasonsAndConverge(t *testing.T) {
	t.Run("bad imported CA", func(t *testing.T) {
		ns := st.NewNamespace(t, "import")
		caKey, _ := pki.GenerateKey(pki.AlgorithmECDSA, 256)
		root, _ := pki.CreateCA(pki.CARequest{Subject: pki.Subject{CommonName: "root"}.Name(), Key: caKey, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)})
		leafKey, _ := pki.GenerateKey(pki.AlgorithmECDSA, 256)
		leaf, err := pki.IssueClientCertificate(pki.ClientRequest{Subject: pki.Subject{CommonName: "not-a-ca"}.Name(), PublicKey: leafKey.Public(),
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), CA: root, CAKey: caKey})
		if err != nil {
			t.Fatal(err)
		}
		keyPEM, _ := pki.MarshalPrivateKeyPEM(leafKey, pki.EncodingPKCS8)
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "corp-ca"},
			Data: map[string][]byte{"tls.crt": pki.EncodeCertificatesPEM(leaf), "tls.key": keyPEM}}
		if err := st.Kube.Client.Create(ctx, sec); err != nil {
			t.Fatal(err)
		}
		ca := &mtlsv1alpha1.ClientCA{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "imported"},
			Spec: mtlsv1alpha1.ClientCASpec{Import: &mtlsv1alpha1.CAImport{SecretName: "corp-ca"},
				Bundle: mtlsv1alpha1.BundleSpec{S3: mtlsv1alpha1.S3Location{Bucket: stack.Bucket}}}}
		if err := st.Kube.Client.Create(ctx, ca); err != nil {
			t.Fatal(err)
		}
		waitCondition(t, ca, mtlsv1alpha1.ConditionKeyPairReady, metav1.ConditionFalse, mtlsv1alpha1.ReasonInvalidCA, 30*time.Second)
		// Fix it: import a real CA. albtrust never wrote to the Secret.
		rootKeyPEM, _ := pki.MarshalPrivateKeyPEM(caKey, pki.EncodingPKCS1)
		cur := &corev1.Secret{}
		if err := st.Kube.Client.Get(ctx, client.ObjectKeyFromObject(sec), cur); err != nil {
			t.Fatal(err)
		}
		if string(cur.Data["tls.key"]) != string(keyPEM) {
			t.Fatal("albtrust changed an imported Secret")
		}
		cur.Data = map[string][]byte{"tls.crt": pki.EncodeCertificatesPEM(root), "tls.key": rootKeyPEM}
		if err := st.Kube.Client.Update(ctx, cur); err != nil {
			t.Fatal(err)
		}
		got := waitReady(t, ca)
		if got.Status.SigningCAFingerprint != pki.Fingerprint(root) {
			t.Errorf("imported CA not used")
		}
	})

	t.Run("labelled import Secret is watched", func(t *testing.T) {
		ns := st.NewNamespace(t, "import")
		newCA := func(cn string) (*x509.Certificate, []byte) {
			key, _ := pki.GenerateKey(pki.AlgorithmECDSA, 256)
			cert, err := pki.CreateCA(pki.CARequest{Subject: pki.Subject{CommonName: cn}.Name(), Key: key, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			keyPEM, _ := pki.MarshalPrivateKeyPEM(key, pki.EncodingPKCS8)
			return cert, keyPEM
		}
		first, firstKey := newCA("corp-1")
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "corp-ca", Labels: map[string]string{mtlsv1alpha1.LabelSecretRole: "input"}},
			Data: map[string][]byte{"tls.crt": pki.EncodeCertificatesPEM(first), "tls.key": firstKey}}
		if err := st.Kube.Client.Create(ctx, sec); err != nil {
			t.Fatal(err)
		}
		ca := &mtlsv1alpha1.ClientCA{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "imported"},
			Spec: mtlsv1alpha1.ClientCASpec{Import: &mtlsv1alpha1.CAImport{SecretName: "corp-ca"},
				Bundle: mtlsv1alpha1.BundleSpec{S3: mtlsv1alpha1.S3Location{Bucket: stack.Bucket}}}}
		if err := st.Kube.Client.Create(ctx, ca); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Kube.Client.Delete(ctx, ca) })
		if got := waitReady(t, ca); got.Status.SigningCAFingerprint != pki.Fingerprint(first) {
			t.Fatal("imported CA not used")
		}
		// The corporate PKI replaces its CA: a Ready import has no timer, so only the watch
		// on the labelled Secret can bring the change in.
		second, secondKey := newCA("corp-2")
		sec.Data = map[string][]byte{"tls.crt": pki.EncodeCertificatesPEM(second), "tls.key": secondKey}
		if err := st.Kube.Client.Update(ctx, sec); err != nil {
			t.Fatal(err)
		}
		stack.Eventually(t, 30*time.Second, func() error {
			got := getCA(t, ca)
			if got.Status.SigningCAFingerprint != pki.Fingerprint(second) || got.Status.Bundle == nil || got.Status.Bundle.Certificates != 1 {
				return fmt.Errorf("status still names %s", got.Status.SigningCAFingerprint)
			}
			return nil
		})
	})

	t.Run("missing bucket", func(t *testing.T) {
		bucket := fmt.Sprintf("missing-%d", time.Now().UnixNano())
		ca := newClientCA(t, func(ca *mtlsv1alpha1.ClientCA) { ca.Spec.Bundle.S3.Bucket = bucket })
		waitCondition(t, ca, mtlsv1alpha1.ConditionBundlePublished, metav1.ConditionFalse, mtlsv1alpha1.ReasonS3BucketNotFound, 30*time.Second)
		fp := getCA(t, ca).Status.SigningCAFingerprint
		if err := st.S3.CreateBucket(ctx, bucket); err != nil {
			t.Fatal(err)
		}
		got := waitReady(t, ca)
		if got.Status.SigningCAFingerprint != fp {
			t.Error("the CA changed while the bucket was missing")
		}
	})

	t.Run("trust store quota", func(t *testing.T) {
		donor := waitReady(t, newClientCA(t, nil))
		key := strings.TrimPrefix(donor.Status.Bundle.URI, "s3://"+stack.Bucket+"/")
		var fillers []string
		for i := 0; ; i++ {
			out, err := st.ELB.CreateTrustStore(ctx, &elbv2.CreateTrustStoreInput{
				Name: aws.String(fmt.Sprintf("filler-%d", i)), CaCertificatesBundleS3Bucket: aws.String(stack.Bucket),
				CaCertificatesBundleS3Key: aws.String(key), CaCertificatesBundleS3ObjectVersion: aws.String(donor.Status.Bundle.VersionID),
			})
			if err != nil {
				if strings.Contains(err.Error(), "TooManyTrustStores") {
					break
				}
				t.Fatal(err)
			}
			fillers = append(fillers, aws.ToString(out.TrustStores[0].TrustStoreArn))
		}
		ca := newClientCA(t, nil)
		waitCondition(t, ca, mtlsv1alpha1.ConditionTrustStoreReady, metav1.ConditionFalse, mtlsv1alpha1.ReasonTooManyTrustStores, 30*time.Second)
		for _, arn := range fillers {
			if _, err := st.ELB.DeleteTrustStore(ctx, &elbv2.DeleteTrustStoreInput{TrustStoreArn: aws.String(arn)}); err != nil {
				t.Fatal(err)
			}
		}
		waitReady(t, ca)
	})

	t.Run("throttling", func(t *testing.T) {
		st.Sim.InjectFault("CreateTrustStore", albsim.Fault{Code: "Throttling", Count: 12})
		defer st.Sim.ClearFaults()
		ca := newClientCA(t, nil)
		waitCondition(t, ca, mtlsv1alpha1.ConditionTrustStoreReady, metav1.ConditionFalse, mtlsv1alpha1.ReasonThrottled, 30*time.Second)
		got := waitReady(t, ca)
		if n := storesNamed(t, got.Status.TrustStore.Name); n != 1 {
			t.Errorf("%d trust stores after throttling, want 1", n)
		}
	})
}

// Deletion with Retain keeps everything and re-creating adopts it; with Delete the trust store
// waits for its listeners, then the store, the S3 objects and the Secret go.
func TestDeletionPolicies(t *testing.T) {
	t.Run("Retain", func(t *testing.T) {
		ca := waitReady(t, newClientCA(t, nil))
		fp, arn := ca.Status.SigningCAFingerprint, ca.Status.TrustStore.ARN
		if err := st.Kube.Client.Delete(ctx, ca); err != nil {
			t.Fatal(err)
		}
		stack.Eventually(t, 30*time.Second, func() error {
			err := st.Kube.Client.Get(ctx, client.ObjectKeyFromObject(ca), &mtlsv1alpha1.ClientCA{})
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("still there: %v", err)
			}
			return nil
		})
		if err := st.Kube.Client.Get(ctx, client.ObjectKey{Namespace: ca.Namespace, Name: "sample-ca"}, &corev1.Secret{}); err != nil {
			t.Fatalf("Retain lost the CA Secret: %v", err)
		}
		describeStore(t, arn)
		again := &mtlsv1alpha1.ClientCA{ObjectMeta: metav1.ObjectMeta{Namespace: ca.Namespace, Name: ca.Name}, Spec: ca.Spec}
		if err := st.Kube.Client.Create(ctx, again); err != nil {
			t.Fatal(err)
		}
		got := waitReady(t, again)
		if got.Status.SigningCAFingerprint != fp {
			t.Errorf("re-created ClientCA has CA %s, want the retained %s", got.Status.SigningCAFingerprint, fp)
		}
		if got.Status.TrustStore.ARN != arn {
			t.Errorf("re-created ClientCA uses store %s, want the retained %s", got.Status.TrustStore.ARN, arn)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		ca := waitReady(t, newClientCA(t, func(ca *mtlsv1alpha1.ClientCA) { ca.Spec.DeletionPolicy = mtlsv1alpha1.DeletionPolicyDelete }))
		arn := ca.Status.TrustStore.ARN
		key := strings.TrimPrefix(ca.Status.Bundle.URI, "s3://"+stack.Bucket+"/")
		setListener(t, "verify", arn)
		if err := st.Kube.Client.Delete(ctx, ca); err != nil {
			t.Fatal(err)
		}
		waitCondition(t, ca, mtlsv1alpha1.ConditionDeleting, metav1.ConditionFalse, mtlsv1alpha1.ReasonTrustStoreInUse, 30*time.Second)
		describeStore(t, arn)
		setListener(t, "off", "")
		stack.Eventually(t, 60*time.Second, func() error {
			err := st.Kube.Client.Get(ctx, client.ObjectKeyFromObject(ca), &mtlsv1alpha1.ClientCA{})
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("ClientCA still there: %v", err)
			}
			return nil
		})
		_, err := st.ELB.DescribeTrustStores(ctx, &elbv2.DescribeTrustStoresInput{TrustStoreArns: []string{arn}})
		var nf *elbtypes.TrustStoreNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("trust store still exists (err=%v)", err)
		}
		if n := objectVersions(t, key); n != 0 {
			t.Errorf("%d versions of the bundle remain", n)
		}
		err = st.Kube.Client.Get(ctx, client.ObjectKey{Namespace: ca.Namespace, Name: "sample-ca"}, &corev1.Secret{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("CA Secret still exists (err=%v)", err)
		}
	})
}

// No private key bytes reach a log line, an Event, a status or an S3 object. Runs last.
func TestZNoPrivateKeyLeaks(t *testing.T) {
	list := &mtlsv1alpha1.ClientCAList{}
	if err := st.Kube.Client.List(ctx, list); err != nil {
		t.Fatal(err)
	}
	// Collect the base64 bodies of every CA key the tests produced.
	var needles []string
	secrets := &corev1.SecretList{}
	if err := st.Kube.Client.List(ctx, secrets); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		for _, k := range []string{"tls.key", common.RetiredKeyKey} {
			if v := s.Data[k]; len(v) > 0 {
				key, err := pki.ParsePrivateKeyPEM(v)
				if err != nil {
					continue
				}
				der, _ := x509.MarshalPKCS8PrivateKey(key)
				needles = append(needles, base64.StdEncoding.EncodeToString(der)[30:70])
			}
		}
	}
	if len(needles) == 0 {
		t.Fatal("no keys found to look for")
	}
	needles = append(needles, "PRIVATE KEY")
	if hit := containsAny(st.Logs(), needles...); hit != "" {
		t.Errorf("manager logs contain key material (%q)", hit)
	}
	events := &corev1.EventList{}
	if err := st.Kube.Client.List(ctx, events); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if hit := containsAny(e.Message, needles...); hit != "" {
			t.Errorf("event %s contains key material", e.Name)
		}
	}
	for _, ca := range list.Items {
		status, _ := json.Marshal(ca.Status)
		if hit := containsAny(string(status), needles...); hit != "" {
			t.Errorf("status of %s/%s contains key material", ca.Namespace, ca.Name)
		}
	}
	// Every object albtrust wrote to the bucket: bundles and CRLs.
	objects, err := st.S3Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(stack.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(objects.Contents) == 0 {
		t.Fatal("no S3 objects to scan")
	}
	for _, o := range objects.Contents {
		if hit := containsAny(string(getObject(t, aws.ToString(o.Key), "")), needles...); hit != "" {
			t.Errorf("S3 object %s contains key material", aws.ToString(o.Key))
		}
	}
}
