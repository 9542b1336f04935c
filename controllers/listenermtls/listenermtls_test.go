package listenermtls_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
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

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/listenermtls"
	"github.com/albtrust/albtrust/internal/albsim"
	"github.com/albtrust/albtrust/internal/pki"
	"github.com/albtrust/albtrust/internal/testenv/stack"
)

// Verify lets a client with a certificate from the trust store's CA through, with ALB's verify
// headers (renamed where the spec says so); Passthrough forwards the presented chain; Off
// forwards no certificate. Each switch is a spec edit, and none of them touches the listener's
// certificates or actions.
func TestModesVerifyPassthroughOff(t *testing.T) {
	arn := listenerARN(t, "life", "life")
	before := describe(t, arn)
	create(t, "life", mtlsv1alpha1.ListenerMTLSSpec{
		LoadBalancer:  &mtlsv1alpha1.LoadBalancerRef{Name: "life", Port: int32(ports["life"])},
		Mode:          mtlsv1alpha1.ModeVerify,
		TrustStoreARN: shared.arn,
		HeaderNames:   &mtlsv1alpha1.HeaderNames{SerialNumber: "X-Client-Serial"},
	})
	obj := waitReady(t, "life")
	if l := obj.Status.Listener; l == nil || l.ARN != arn || l.Port != int32(ports["life"]) || l.Protocol != "HTTPS" || l.LoadBalancerARN != aws.ToString(before.LoadBalancerArn) {
		t.Errorf("status.listener = %+v, want %s on port %d", obj.Status.Listener, arn, ports["life"])
	}
	if a := obj.Status.Applied; a == nil || a.Mode != "verify" || a.TrustStoreARN != shared.arn || a.AdvertiseTrustStoreCaNames != "off" ||
		a.HeaderNames[listenermtls.AttrHeaderSerialNumber] != "X-Client-Serial" {
		t.Errorf("status.applied = %+v", obj.Status.Applied)
	}
	l := describe(t, arn)
	if ma := l.MutualAuthentication; mode(l) != "verify" || aws.ToString(ma.TrustStoreArn) != shared.arn || aws.ToBool(ma.IgnoreClientCertificateExpiry) {
		t.Fatalf("listener MutualAuthentication = %+v", l.MutualAuthentication)
	}
	assertListenerUntouched(t, before, l)
	waitEvent(t, "life", listenermtls.EventListenerConfigured)

	chain, leaf := shared.client(t, "alice", false)
	h, err := get(ports["life"], chain)
	if err != nil {
		t.Fatalf("Verify with a certificate from the trust store's CA: %v", err)
	}
	if got, want := h.Get("X-Client-Serial"), pki.SerialHex(leaf.SerialNumber); got != want {
		t.Errorf("renamed serial header = %q, want %q", got, want)
	}
	if h.Get("X-Amzn-Mtls-Clientcert-Serial-Number") != "" {
		t.Errorf("the default serial header is still sent after renaming it")
	}
	if got := h.Get("X-Amzn-Mtls-Clientcert-Subject"); !strings.Contains(got, "CN=alice") {
		t.Errorf("subject header = %q", got)
	}
	if got := h.Get("X-Amzn-Mtls-Clientcert-Issuer"); !strings.Contains(got, "listenermtls test CA shared") {
		t.Errorf("issuer header = %q", got)
	}
	if got := h.Get("X-Amzn-Mtls-Clientcert-Validity"); !strings.HasPrefix(got, "NotBefore=") {
		t.Errorf("validity header = %q", got)
	}
	if leafs := decodeCertHeader(t, h.Get("X-Amzn-Mtls-Clientcert-Leaf")); len(leafs) != 1 || !leafs[0].Equal(leaf) {
		t.Errorf("leaf header does not decode to the client certificate")
	}
	if _, err := get(ports["life"], nil); err == nil {
		t.Errorf("Verify let a client without a certificate through")
	}
	other, err := newTrustStore("untrusted")
	if err != nil {
		t.Fatal(err)
	}
	if stranger, _ := other.client(t, "mallory", false); stranger != nil {
		if _, err := get(ports["life"], stranger); err == nil {
			t.Errorf("Verify let a client with a certificate from another CA through")
		}
	}

	// Passthrough, and the renamed header goes back to ALB's default name.
	update(t, "life", func(s *mtlsv1alpha1.ListenerMTLSSpec) {
		s.Mode, s.TrustStoreARN, s.HeaderNames = mtlsv1alpha1.ModePassthrough, "", nil
	})
	obj = waitReady(t, "life")
	if a := obj.Status.Applied; a == nil || a.Mode != "passthrough" || a.TrustStoreARN != "" || len(a.HeaderNames) != 0 {
		t.Errorf("status.applied = %+v", obj.Status.Applied)
	}
	l = waitMode(t, arn, "passthrough")
	if got := attribute(t, arn, listenermtls.AttrHeaderSerialNumber); got != "X-Amzn-Mtls-Clientcert-Serial-Number" {
		t.Errorf("serial header attribute = %q, want ALB's default back", got)
	}
	assertListenerUntouched(t, before, l)
	fullChain, leaf2 := shared.client(t, "bob", true)
	h, err = get(ports["life"], fullChain)
	if err != nil {
		t.Fatalf("Passthrough request: %v", err)
	}
	certs := decodeCertHeader(t, h.Get("X-Amzn-Mtls-Clientcert"))
	if len(certs) != 2 || !certs[0].Equal(leaf2) || !certs[1].Equal(shared.cert) {
		t.Errorf("X-Amzn-Mtls-Clientcert holds %d certificates, want the presented leaf and CA", len(certs))
	}
	if h.Get("X-Amzn-Mtls-Clientcert-Serial-Number") != "" {
		t.Errorf("Passthrough sent a verify header")
	}

	// Off.
	update(t, "life", func(s *mtlsv1alpha1.ListenerMTLSSpec) { s.Mode = mtlsv1alpha1.ModeOff })
	obj = waitReady(t, "life")
	if a := obj.Status.Applied; a == nil || a.Mode != "off" {
		t.Errorf("status.applied = %+v", obj.Status.Applied)
	}
	assertListenerUntouched(t, before, waitMode(t, arn, "off"))
	h, err = get(ports["life"], fullChain)
	if err != nil {
		t.Fatalf("Off request: %v", err)
	}
	if h.Get("X-Amzn-Mtls-Clientcert") != "" {
		t.Errorf("Off forwarded the client certificate")
	}
}

// assertListenerUntouched checks that albtrust left what is not its own alone.
func assertListenerUntouched(t *testing.T, before, after elbtypes.Listener) {
	t.Helper()
	if aws.ToInt32(after.Port) != aws.ToInt32(before.Port) || after.Protocol != before.Protocol ||
		fmt.Sprint(certARNs(after)) != fmt.Sprint(certARNs(before)) || len(after.DefaultActions) != len(before.DefaultActions) ||
		aws.ToString(after.DefaultActions[0].TargetGroupArn) != aws.ToString(before.DefaultActions[0].TargetGroupArn) {
		t.Errorf("listener port/protocol/certificates/actions changed: before %+v, after %+v", before, after)
	}
}

func certARNs(l elbtypes.Listener) []string {
	var out []string
	for _, c := range l.Certificates {
		out = append(out, aws.ToString(c.CertificateArn))
	}
	return out
}

// Deleting a ListenerMTLS sends mode=off explicitly (ModifyListener keeps what it is not
// told); onDelete Retain leaves the listener as it is.
func TestDeleteTurnsOffOrRetains(t *testing.T) {
	t.Run("Off", func(t *testing.T) {
		arn := listenerARN(t, "life", "delete")
		create(t, "delete-off", mtlsv1alpha1.ListenerMTLSSpec{ListenerARN: arn, Mode: mtlsv1alpha1.ModeVerify, TrustStoreARN: shared.arn})
		waitReady(t, "delete-off")
		waitMode(t, arn, "verify")
		deleteAndWait(t, "delete-off")
		if got := mode(describe(t, arn)); got != "off" {
			t.Errorf("after deletion the listener mode is %s, want off", got)
		}
	})
	t.Run("Retain", func(t *testing.T) {
		arn := listenerARN(t, "life", "retain")
		create(t, "delete-retain", mtlsv1alpha1.ListenerMTLSSpec{ListenerARN: arn, Mode: mtlsv1alpha1.ModePassthrough, OnDelete: mtlsv1alpha1.OnDeleteRetain})
		waitReady(t, "delete-retain")
		waitMode(t, arn, "passthrough")
		deleteAndWait(t, "delete-retain")
		if got := mode(describe(t, arn)); got != "passthrough" {
			t.Errorf("after deletion with Retain the listener mode is %s, want passthrough", got)
		}
		// Leave the listener as the seed made it.
		if _, err := st.ELB.ModifyListener(ctxT(t), &elbv2.ModifyListenerInput{ListenerArn: aws.String(arn),
			MutualAuthentication: &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("off")}}); err != nil {
			t.Fatal(err)
		}
	})
}

// Pointing a ListenerMTLS at another listener turns mutual TLS off on the one it leaves, as
// deleting it would; the new listener gets the settings.
func TestMovingToAnotherListenerReleasesTheOld(t *testing.T) {
	a, b := listenerARN(t, "move", "move-a"), listenerARN(t, "move", "move-b")
	create(t, "mover", mtlsv1alpha1.ListenerMTLSSpec{ListenerARN: a, Mode: mtlsv1alpha1.ModePassthrough})
	waitReady(t, "mover")
	waitMode(t, a, "passthrough")
	update(t, "mover", func(s *mtlsv1alpha1.ListenerMTLSSpec) { s.ListenerARN = b })
	waitMode(t, b, "passthrough")
	waitMode(t, a, "off")
	if got := getLM(t, "mover").Status.Listener; got == nil || got.ARN != b {
		t.Errorf("status names listener %+v, want %s", got, b)
	}
	deleteAndWait(t, "mover")
	waitMode(t, b, "off")
}

// Verify with a trust store that is still CREATING reports TrustStoreNotReady, polls, and
// applies once the store is ACTIVE.
func TestVerifyWaitsForCreatingTrustStore(t *testing.T) {
	st.Sim.SetTrustStoreActivationDelay(4 * time.Second)
	slow, err := newTrustStore("slow")
	st.Sim.SetTrustStoreActivationDelay(0)
	if err != nil {
		t.Fatal(err)
	}
	arn := listenerARN(t, "slow", "slow")
	seen := reasons(t, "slow")
	create(t, "slow", mtlsv1alpha1.ListenerMTLSSpec{ListenerARN: arn, Mode: mtlsv1alpha1.ModeVerify, TrustStoreARN: slow.arn})
	waitReady(t, "slow")
	if got := seen(); !slices.Equal(got, []string{mtlsv1alpha1.ReasonTrustStoreNotReady, mtlsv1alpha1.ReasonConfigured}) {
		t.Errorf("Ready reasons over time = %v, want TrustStoreNotReady then Configured", got)
	}
	l := waitMode(t, arn, "verify")
	if aws.ToString(l.MutualAuthentication.TrustStoreArn) != slow.arn {
		t.Errorf("trust store = %s, want %s", aws.ToString(l.MutualAuthentication.TrustStoreArn), slow.arn)
	}
	chain, _ := slow.client(t, "carol", false)
	if _, err := get(ports["slow"], chain); err != nil {
		t.Errorf("Verify request after activation: %v", err)
	}
}

// clientCARef takes the trust store ARN from a real ClientCA, made and published by the
// ClientCA controller. A missing ClientCA is reported and, through the ClientCA watch, fixed as
// soon as the ClientCA has a trust store (well before the slow requeue of user errors: without
// the watch this test times out). A client certificate signed with the CA from the ClientCA's
// Secret then passes Verify.
func TestClientCARef(t *testing.T) {
	arn := listenerARN(t, "slow", "caref")
	create(t, "caref", mtlsv1alpha1.ListenerMTLSSpec{ListenerARN: arn, Mode: mtlsv1alpha1.ModeVerify,
		ClientCARef: &mtlsv1alpha1.LocalObjectReference{Name: "caref-ca"}})
	waitCondition(t, "caref", metav1.ConditionFalse, mtlsv1alpha1.ReasonClientCANotFoundForListener)
	waitEvent(t, "caref", mtlsv1alpha1.ReasonClientCANotFoundForListener)

	ca := &mtlsv1alpha1.ClientCA{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "caref-ca"},
		Spec: mtlsv1alpha1.ClientCASpec{
			Subject:    &mtlsv1alpha1.Subject{CommonName: "caref"},
			PrivateKey: &mtlsv1alpha1.KeySpec{Algorithm: mtlsv1alpha1.ECDSAKeyAlgorithm, Size: 256},
			Bundle:     mtlsv1alpha1.BundleSpec{S3: mtlsv1alpha1.S3Location{Bucket: stack.Bucket}},
		},
	}
	if err := st.Kube.Client.Create(ctxT(t), ca); err != nil {
		t.Fatal(err)
	}
	// Runs before the ListenerMTLS cleanup (LIFO); the default Retain policy keeps the store.
	t.Cleanup(func() { deleteClientCA(t, ca) })
	storeARN := waitClientCAReady(t, ca)
	obj := waitReady(t, "caref")
	if obj.Status.Applied == nil || obj.Status.Applied.TrustStoreARN != storeARN {
		t.Errorf("applied = %+v, want trust store %s", obj.Status.Applied, storeARN)
	}
	if l := waitMode(t, arn, "verify"); aws.ToString(l.MutualAuthentication.TrustStoreArn) != storeARN {
		t.Errorf("listener trust store = %s, want %s", aws.ToString(l.MutualAuthentication.TrustStoreArn), storeARN)
	}

	secret := &corev1.Secret{}
	if err := st.Kube.Client.Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: "caref-ca-ca"}, secret); err != nil {
		t.Fatalf("CA Secret: %v", err)
	}
	certs, err := pki.ParseCertificatesPEM(secret.Data[mtlsv1alpha1.TLSCertKey])
	if err != nil || len(certs) == 0 {
		t.Fatalf("CA Secret tls.crt: %v", err)
	}
	key, err := pki.ParsePrivateKeyPEM(secret.Data[mtlsv1alpha1.TLSKeyKey])
	if err != nil {
		t.Fatal("CA Secret tls.key does not parse")
	}
	fromCA := &testCA{arn: storeARN, cert: certs[0], key: key}
	chain, _ := fromCA.client(t, "dave", false)
	if _, err := get(ports["caref"], chain); err != nil {
		t.Errorf("Verify with a certificate from the ClientCA: %v", err)
	}
	if _, err := get(ports["caref"], nil); err == nil {
		t.Errorf("Verify let a client without a certificate through")
	}
}

// waitClientCAReady waits for the ClientCA controller to publish an ACTIVE trust store and
// returns its ARN.
func waitClientCAReady(t *testing.T, ca *mtlsv1alpha1.ClientCA) string {
	t.Helper()
	var arn string
	eventually(t, waitTimeout, func() error {
		cur := &mtlsv1alpha1.ClientCA{}
		if err := st.Kube.Client.Get(context.Background(), client.ObjectKeyFromObject(ca), cur); err != nil {
			return err
		}
		c := meta.FindStatusCondition(cur.Status.Conditions, mtlsv1alpha1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionTrue || cur.Status.TrustStore == nil || cur.Status.TrustStore.ARN == "" {
			return fmt.Errorf("ClientCA not Ready yet: %+v", c)
		}
		arn = cur.Status.TrustStore.ARN
		return nil
	})
	return arn
}

func deleteClientCA(t *testing.T, ca *mtlsv1alpha1.ClientCA) {
	t.Helper()
	if err := st.Kube.Client.Delete(context.Background(), ca); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete ClientCA: %v", err)
		return
	}
	eventually(t, waitTimeout, func() error {
		err := st.Kube.Client.Get(context.Background(), client.ObjectKeyFromObject(ca), &mtlsv1alpha1.ClientCA{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("ClientCA still exists (%v)", err)
	})
}

// A change made behind albtrust's back (the console, another tool) is put back at the next
// resync, counted in status and announced in a DriftCorrected Event naming what changed.
func TestDriftIsCorrected(t *testing.T) {
	arn := listenerARN(t, "steady", "drift")
	create(t, "drift", mtlsv1alpha1.ListenerMTLSSpec{ListenerARN: arn, Mode: mtlsv1alpha1.ModeVerify, TrustStoreARN: shared.arn,
		HeaderNames: &mtlsv1alpha1.HeaderNames{Issuer: "X-Issuer"}})
	obj := waitReady(t, "drift")
	if obj.Status.DriftCorrections != 0 {
		t.Fatalf("driftCorrections = %d before any drift", obj.Status.DriftCorrections)
	}

	if _, err := st.ELB.ModifyListener(ctxT(t), &elbv2.ModifyListenerInput{ListenerArn: aws.String(arn),
		MutualAuthentication: &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("passthrough")}}); err != nil {
		t.Fatal(err)
	}
	waitMode(t, arn, "verify")
	eventually(t, waitTimeout, func() error {
		obj = getLM(t, "drift")
		if obj.Status.DriftCorrections != 1 || obj.Status.LastDriftCorrectionTime == nil {
			return fmt.Errorf("driftCorrections = %d, lastDriftCorrectionTime = %v", obj.Status.DriftCorrections, obj.Status.LastDriftCorrectionTime)
		}
		return nil
	})
	if note := waitEvent(t, "drift", listenermtls.EventDriftCorrected); !strings.Contains(note, `mode "passthrough" -> "verify"`) {
		t.Errorf("DriftCorrected note %q does not name the mode change", note)
	}

	if _, err := st.ELB.ModifyListenerAttributes(ctxT(t), &elbv2.ModifyListenerAttributesInput{ListenerArn: aws.String(arn),
		Attributes: []elbtypes.ListenerAttribute{{Key: aws.String(listenermtls.AttrHeaderIssuer), Value: aws.String("X-Other")}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitTimeout, func() error {
		if got := attribute(t, arn, listenermtls.AttrHeaderIssuer); got != "X-Issuer" {
			return fmt.Errorf("issuer header attribute = %q", got)
		}
		if n := getLM(t, "drift").Status.DriftCorrections; n != 2 {
			return fmt.Errorf("driftCorrections = %d, want 2", n)
		}
		return nil
	})
	if c := meta.FindStatusCondition(getLM(t, "drift").Status.Conditions, mtlsv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Ready after drift correction = %+v", c)
	}
}

// A steady-state resync costs one DescribeListeners and one DescribeListenerAttributes and
// writes nothing; a listener found by load balancer name is not searched for again.
func TestSteadyStateResyncMakesNoWrites(t *testing.T) {
	create(t, "steady", mtlsv1alpha1.ListenerMTLSSpec{
		LoadBalancer: &mtlsv1alpha1.LoadBalancerRef{Name: "steady", Port: int32(ports["steady"])},
		Mode:         mtlsv1alpha1.ModePassthrough,
		HeaderNames:  &mtlsv1alpha1.HeaderNames{ClientCert: "X-Client-Chain"},
	})
	waitReady(t, "steady")
	st.Sim.ResetCalls()
	writes := func(calls map[string]int) int {
		return calls["ModifyListener"] + calls["ModifyListenerAttributes"]
	}
	for resync := 1; resync <= 2; resync++ {
		var calls map[string]int
		eventually(t, waitTimeout, func() error {
			calls = st.Sim.Calls()
			if calls["DescribeListenerAttributes"] < resync {
				return fmt.Errorf("resync %d not seen yet: %v", resync, calls)
			}
			return nil
		})
		if calls["DescribeListeners"] != resync || calls["DescribeListenerAttributes"] != resync || writes(calls) != 0 ||
			calls["DescribeLoadBalancers"] != 0 {
			t.Errorf("after %d resyncs the calls were %v; want %d DescribeListeners, %d DescribeListenerAttributes and nothing else",
				resync, calls, resync, resync)
		}
	}
}

// Problems a person must fix become a False Ready condition with a specific reason.
func TestErrorReasons(t *testing.T) {
	missingListener := strings.Replace(listenerARN(t, "life", "life"), "/"+lastSegment(listenerARN(t, "life", "life")), "/00000000000000aa", 1)
	tests := map[string]struct {
		spec   mtlsv1alpha1.ListenerMTLSSpec
		reason string
	}{
		"listener ARN that does not exist": {
			spec:   mtlsv1alpha1.ListenerMTLSSpec{ListenerARN: missingListener, Mode: mtlsv1alpha1.ModePassthrough},
			reason: mtlsv1alpha1.ReasonListenerNotFound,
		},
		"no listener on the port": {
			spec:   mtlsv1alpha1.ListenerMTLSSpec{LoadBalancer: &mtlsv1alpha1.LoadBalancerRef{Name: "life", Port: 1}, Mode: mtlsv1alpha1.ModePassthrough},
			reason: mtlsv1alpha1.ReasonListenerNotFound,
		},
		"load balancer that does not exist": {
			spec:   mtlsv1alpha1.ListenerMTLSSpec{LoadBalancer: &mtlsv1alpha1.LoadBalancerRef{Name: "nope", Port: 443}, Mode: mtlsv1alpha1.ModePassthrough},
			reason: mtlsv1alpha1.ReasonLoadBalancerNotFound,
		},
		"HTTP listener": {
			spec:   mtlsv1alpha1.ListenerMTLSSpec{LoadBalancer: &mtlsv1alpha1.LoadBalancerRef{Name: "life", Port: int32(ports["http"])}, Mode: mtlsv1alpha1.ModePassthrough},
			reason: mtlsv1alpha1.ReasonNotHTTPS,
		},
		"trust store ARN that does not exist": {
			spec: mtlsv1alpha1.ListenerMTLSSpec{ListenerARN: listenerARN(t, "life", "delete"), Mode: mtlsv1alpha1.ModeVerify,
				TrustStoreARN: strings.Replace(shared.arn, "/"+lastSegment(shared.arn), "/00000000000000bb", 1)},
			reason: mtlsv1alpha1.ReasonTrustStoreNotFound,
		},
	}
	i := 0
	for name, tc := range tests {
		i++
		t.Run(name, func(t *testing.T) {
			obj := fmt.Sprintf("err-%d", i)
			create(t, obj, tc.spec)
			c := meta.FindStatusCondition(waitCondition(t, obj, metav1.ConditionFalse, tc.reason).Status.Conditions, mtlsv1alpha1.ConditionReady)
			if strings.Contains(c.Message, "RequestID") || strings.Contains(c.Message, "api error") {
				t.Errorf("message carries raw AWS error text: %q", c.Message)
			}
			waitEvent(t, obj, tc.reason)
		})
	}
	if got := mode(describe(t, listenerARN(t, "life", "http"))); got != "off" {
		t.Errorf("the HTTP listener was changed: mode %s", got)
	}
}

func lastSegment(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

// ELB allows two verify listeners per load balancer; the third gets TooManyVerifyListeners
// and succeeds once a slot is free.
func TestTooManyVerifyListeners(t *testing.T) {
	for _, n := range []string{"q1", "q2"} {
		create(t, "quota-"+n, mtlsv1alpha1.ListenerMTLSSpec{ListenerARN: listenerARN(t, "quota", n), Mode: mtlsv1alpha1.ModeVerify, TrustStoreARN: shared.arn})
		waitReady(t, "quota-"+n)
	}
	create(t, "quota-q3", mtlsv1alpha1.ListenerMTLSSpec{ListenerARN: listenerARN(t, "quota", "q3"), Mode: mtlsv1alpha1.ModeVerify, TrustStoreARN: shared.arn})
	waitCondition(t, "quota-q3", metav1.ConditionFalse, mtlsv1alpha1.ReasonTooManyVerifyListeners)
	if got := mode(describe(t, listenerARN(t, "quota", "q3"))); got != "off" {
		t.Errorf("third listener mode = %s, want off", got)
	}
	// Freeing a slot and editing the spec (a reconcile) lets the third one through.
	deleteAndWait(t, "quota-q1")
	update(t, "quota-q3", func(s *mtlsv1alpha1.ListenerMTLSSpec) { s.AdvertiseTrustStoreCaNames = true })
	obj := waitReady(t, "quota-q3")
	if obj.Status.Applied.AdvertiseTrustStoreCaNames != "on" {
		t.Errorf("applied = %+v", obj.Status.Applied)
	}
}

// Throttling is transient: the condition says Throttled while albtrust backs off, and the
// listener converges once ELB stops throttling.
func TestThrottlingConverges(t *testing.T) {
	arn := listenerARN(t, "throttle", "throttle")
	// The manager's SDK client tries each call 3 times, so 5 throttled calls surface as one
	// failed reconcile and one that succeeds on its third attempt.
	st.Sim.InjectFault("ModifyListener", albsim.Fault{Code: "Throttling", Count: 5})
	t.Cleanup(st.Sim.ClearFaults)
	seen := reasons(t, "throttle")
	st.Sim.ResetCalls()
	create(t, "throttle", mtlsv1alpha1.ListenerMTLSSpec{ListenerARN: arn, Mode: mtlsv1alpha1.ModePassthrough})
	waitReady(t, "throttle")
	waitMode(t, arn, "passthrough")
	if got := seen(); !slices.Contains(got, mtlsv1alpha1.ReasonThrottled) || got[len(got)-1] != mtlsv1alpha1.ReasonConfigured {
		t.Errorf("Ready reasons over time = %v, want Throttled before Configured", got)
	}
	if n := st.Sim.Calls()["ModifyListener"]; n < 6 {
		t.Errorf("ModifyListener was called %d times, want at least 6 (5 throttled)", n)
	}
}

// A second ListenerMTLS on a listener another one already manages is refused with
// ListenerConflict, leaves the listener alone, and deleting it does not turn mutual TLS off.
func TestListenerConflict(t *testing.T) {
	arn := listenerARN(t, "life", "retain")
	create(t, "conflict-a", mtlsv1alpha1.ListenerMTLSSpec{ListenerARN: arn, Mode: mtlsv1alpha1.ModePassthrough})
	waitReady(t, "conflict-a")
	create(t, "conflict-b", mtlsv1alpha1.ListenerMTLSSpec{
		LoadBalancer: &mtlsv1alpha1.LoadBalancerRef{Name: "life", Port: int32(ports["retain"])}, Mode: mtlsv1alpha1.ModeOff})
	waitCondition(t, "conflict-b", metav1.ConditionFalse, mtlsv1alpha1.ReasonListenerConflict)
	if got := mode(describe(t, arn)); got != "passthrough" {
		t.Errorf("the conflicting ListenerMTLS changed the listener: mode %s", got)
	}
	deleteAndWait(t, "conflict-b")
	if got := mode(describe(t, arn)); got != "passthrough" {
		t.Errorf("deleting the conflicting ListenerMTLS changed the listener: mode %s", got)
	}
	if c := meta.FindStatusCondition(getLM(t, "conflict-a").Status.Conditions, mtlsv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("the owner's Ready = %+v", c)
	}
}

// Private keys never reach the manager's log.
func TestNoKeyMaterialInLogs(t *testing.T) {
	if logs := st.Logs(); bytes.Contains([]byte(logs), []byte("PRIVATE KEY")) {
		t.Errorf("manager logs contain a private key")
	}
}
