package clientcertificate_test

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
	"github.com/albtrust/albtrust/internal/pki"
	"github.com/albtrust/albtrust/internal/testenv/kubeenv"
	"github.com/albtrust/albtrust/internal/testenv/stack"
)

var (
	st  *stack.Stack
	ctx = context.Background()
	// listenerPort is the HTTPS listener of the seeded load balancer "lb".
	listenerPort int
)

// Passwords used by the tests; TestZNoSecretsLeak looks for each of them in logs, Events and status.
const (
	samplePassword  = "changeit"
	repairPassword  = "pw-repair-5f0c1e"
	changedPassword = "pw-changed-9a7d42"
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	return stack.RunWithListener(m, stack.ManagerOptions{}, func(s *stack.Stack, port int) {
		st, listenerPort = s, port
	})
}

// newClientCA applies a ClientCA (ECDSA unless mutated) into a new namespace and waits until
// it is Ready: key pair, bundle, trust store and CRL in place.
func newClientCA(t *testing.T, mutate func(*mtlsv1alpha1.ClientCA)) *mtlsv1alpha1.ClientCA {
	t.Helper()
	ca := &mtlsv1alpha1.ClientCA{
		ObjectMeta: metav1.ObjectMeta{Namespace: st.NewNamespace(t, "cc"), Name: "ca"},
		Spec: mtlsv1alpha1.ClientCASpec{
			Subject:    &mtlsv1alpha1.Subject{CommonName: "test ca", Organization: []string{"albtrust"}},
			PrivateKey: &mtlsv1alpha1.KeySpec{Algorithm: mtlsv1alpha1.ECDSAKeyAlgorithm, Size: 256},
			Bundle:     mtlsv1alpha1.BundleSpec{S3: mtlsv1alpha1.S3Location{Bucket: stack.Bucket}},
		},
	}
	if mutate != nil {
		mutate(ca)
	}
	if err := st.Kube.Client.Create(ctx, ca); err != nil {
		t.Fatalf("create ClientCA: %v", err)
	}
	return waitCAReady(t, ca)
}

func waitCAReady(t *testing.T, ca *mtlsv1alpha1.ClientCA) *mtlsv1alpha1.ClientCA {
	t.Helper()
	got := &mtlsv1alpha1.ClientCA{}
	stack.Eventually(t, 60*time.Second, func() error {
		if err := st.Kube.Client.Get(ctx, client.ObjectKeyFromObject(ca), got); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(got.Status.Conditions, mtlsv1alpha1.ConditionReady) {
			return fmt.Errorf("ClientCA not Ready: %+v", got.Status.Conditions)
		}
		return nil
	})
	return got
}

func getCA(t *testing.T, ca *mtlsv1alpha1.ClientCA) *mtlsv1alpha1.ClientCA {
	t.Helper()
	got := &mtlsv1alpha1.ClientCA{}
	if err := st.Kube.Client.Get(ctx, client.ObjectKeyFromObject(ca), got); err != nil {
		t.Fatalf("get ClientCA: %v", err)
	}
	return got
}

// newCert creates a ClientCertificate (ECDSA P-256, 1 day) for ca.
func newCert(t *testing.T, ca *mtlsv1alpha1.ClientCA, name string, mutate func(*mtlsv1alpha1.ClientCertificate)) *mtlsv1alpha1.ClientCertificate {
	t.Helper()
	cc := &mtlsv1alpha1.ClientCertificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ca.Namespace, Name: name},
		Spec: mtlsv1alpha1.ClientCertificateSpec{
			ClientCARef: mtlsv1alpha1.LocalObjectReference{Name: ca.Name},
			Subject:     &mtlsv1alpha1.Subject{CommonName: name, Organization: []string{"albtrust"}},
			PrivateKey:  &mtlsv1alpha1.CertificatePrivateKey{Algorithm: mtlsv1alpha1.ECDSAKeyAlgorithm, Size: 256},
			Duration:    &metav1.Duration{Duration: 24 * time.Hour},
		},
	}
	if mutate != nil {
		mutate(cc)
	}
	if err := st.Kube.Client.Create(ctx, cc); err != nil {
		t.Fatalf("create ClientCertificate %s: %v", name, err)
	}
	return cc
}

func getCert(t *testing.T, cc *mtlsv1alpha1.ClientCertificate) *mtlsv1alpha1.ClientCertificate {
	t.Helper()
	got := &mtlsv1alpha1.ClientCertificate{}
	if err := st.Kube.Client.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
		t.Fatalf("get ClientCertificate: %v", err)
	}
	return got
}

// checkCondition says whether cond is status/reason ("" = any reason) for the current generation.
func checkCondition(cc *mtlsv1alpha1.ClientCertificate, condType string, status metav1.ConditionStatus, reason string) error {
	return stack.CheckCondition(cc.Status.Conditions, cc.Generation, condType, status, reason)
}

func waitCondition(t *testing.T, cc *mtlsv1alpha1.ClientCertificate, condType string, status metav1.ConditionStatus, reason string, timeout time.Duration) *mtlsv1alpha1.ClientCertificate {
	t.Helper()
	var got *mtlsv1alpha1.ClientCertificate
	stack.Eventually(t, timeout, func() error {
		got = getCert(t, cc)
		return checkCondition(got, condType, status, reason)
	})
	return got
}

func waitCertReady(t *testing.T, cc *mtlsv1alpha1.ClientCertificate) *mtlsv1alpha1.ClientCertificate {
	t.Helper()
	return waitCondition(t, cc, mtlsv1alpha1.ConditionReady, metav1.ConditionTrue, mtlsv1alpha1.ReasonIssued, 60*time.Second)
}

func secretName(cc *mtlsv1alpha1.ClientCertificate) string {
	if cc.Spec.SecretName != "" {
		return cc.Spec.SecretName
	}
	return cc.Name + "-tls"
}

func getSecret(t *testing.T, cc *mtlsv1alpha1.ClientCertificate) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := st.Kube.Client.Get(ctx, client.ObjectKey{Namespace: cc.Namespace, Name: secretName(cc)}, s); err != nil {
		t.Fatalf("get Secret: %v", err)
	}
	return s
}

// leafOf parses the Secret's leaf certificate.
func leafOf(t *testing.T, s *corev1.Secret) *x509.Certificate {
	t.Helper()
	certs, err := pki.ParseCertificatesPEM(s.Data[mtlsv1alpha1.TLSCertKey])
	if err != nil {
		t.Fatalf("parse tls.crt: %v", err)
	}
	return certs[0]
}

func publicKeyOf(t *testing.T, s *corev1.Secret) crypto.PublicKey {
	t.Helper()
	key, err := pki.ParsePrivateKeyPEM(s.Data[mtlsv1alpha1.TLSKeyKey])
	if err != nil {
		t.Fatalf("parse tls.key: %v", err)
	}
	return key.Public()
}

// waitSerialChange waits until the Secret holds a certificate other than old and Ready is True.
func waitSerialChange(t *testing.T, cc *mtlsv1alpha1.ClientCertificate, old string, timeout time.Duration) *corev1.Secret {
	t.Helper()
	var s *corev1.Secret
	stack.Eventually(t, timeout, func() error {
		s = &corev1.Secret{}
		if err := st.Kube.Client.Get(ctx, client.ObjectKey{Namespace: cc.Namespace, Name: secretName(cc)}, s); err != nil {
			return err
		}
		certs, err := pki.ParseCertificatesPEM(s.Data[mtlsv1alpha1.TLSCertKey])
		if err != nil {
			return err
		}
		if serial := pki.SerialHex(certs[0].SerialNumber); serial == old {
			return fmt.Errorf("still serial %s", old)
		}
		got := getCert(t, cc)
		if err := checkCondition(got, mtlsv1alpha1.ConditionReady, metav1.ConditionTrue, mtlsv1alpha1.ReasonIssued); err != nil {
			return err
		}
		if got.Status.SerialNumber != pki.SerialHex(certs[0].SerialNumber) {
			return fmt.Errorf("status serial %s, Secret serial %s", got.Status.SerialNumber, pki.SerialHex(certs[0].SerialNumber))
		}
		return nil
	})
	return s
}

// patchCert applies mutate to the live ClientCertificate with a merge patch.
func patchCert(t *testing.T, cc *mtlsv1alpha1.ClientCertificate, mutate func(*mtlsv1alpha1.ClientCertificate)) {
	t.Helper()
	got := getCert(t, cc)
	patch := client.MergeFrom(got.DeepCopy())
	mutate(got)
	if err := st.Kube.Client.Patch(ctx, got, patch); err != nil {
		t.Fatalf("patch ClientCertificate: %v", err)
	}
}

func passwordSecret(t *testing.T, ns, name, password string, watched bool) {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		StringData: map[string]string{"password": password},
	}
	if watched {
		s.Labels = map[string]string{mtlsv1alpha1.LabelSecretRole: "input"}
	}
	if err := st.Kube.Client.Create(ctx, s); err != nil {
		t.Fatalf("create password Secret: %v", err)
	}
}

// record reads the ClientCA's revocation record through the live client.
func record(t *testing.T, ca *mtlsv1alpha1.ClientCA) *common.RevocationRecord {
	t.Helper()
	rec, err := common.LoadRevocationRecord(ctx, st.Kube.Client, ca.Namespace, ca.Name)
	if err != nil {
		t.Fatalf("load revocation record: %v", err)
	}
	return rec
}

// events returns the events.k8s.io Events about an object.
func events(t *testing.T, ns, name string) []eventsv1.Event {
	t.Helper()
	list := &eventsv1.EventList{}
	if err := st.Kube.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
		t.Fatalf("list events: %v", err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func waitEvent(t *testing.T, ns, name, eventType, reason string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	stack.Eventually(t, 30*time.Second, func() error {
		for _, e := range events(t, ns, name) {
			if e.Reason == reason && e.Type == eventType {
				found = e
				return nil
			}
		}
		return fmt.Errorf("no %s Event %s for %s", eventType, reason, name)
	})
	return found
}

// openssl runs openssl, failing the test clearly when it is not installed.
func openssl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is required by this test and was not found in PATH")
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	return string(out), err
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadSample reads a file of config/samples into obj.
func loadSample(t *testing.T, file string, obj client.Object) {
	t.Helper()
	root, err := kubeenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// setListener sets the seeded listener's mutual authentication behind the operator's back.
func setListener(t *testing.T, mode, storeARN string) {
	t.Helper()
	st.SetListenerMode(t, "lb", listenerPort, mode, storeARN)
}

// handshake makes one request through the listener with the Secret's key pair.
func handshake(t *testing.T, s *corev1.Secret) (int, error) {
	t.Helper()
	pair, err := tls.X509KeyPair(s.Data[mtlsv1alpha1.TLSCertKey], s.Data[mtlsv1alpha1.TLSKeyKey])
	if err != nil {
		t.Fatalf("key pair from Secret: %v", err)
	}
	resp, err := st.ListenerGet(listenerPort, &pair)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func lastVerifyStatus(serial string) string {
	last := ""
	for _, e := range st.Sim.ConnectionLog() {
		if e.ClientSerial == serial {
			last = e.VerifyStatus
		}
	}
	return last
}

// writeCalls counts the AWS calls that change something.
func writeCalls(calls map[string]int) map[string]int {
	out := map[string]int{}
	for action, n := range calls {
		if !strings.HasPrefix(action, "Describe") && !strings.HasPrefix(action, "Get") && !strings.HasPrefix(action, "List") && n > 0 {
			out[action] = n
		}
	}
	return out
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
