package clientca_test

import (
	"context"
	"crypto/tls"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
	"github.com/albtrust/albtrust/internal/pki"
	"github.com/albtrust/albtrust/internal/testenv/stack"
)

var (
	st *stack.Stack
	// listenerPort is the HTTPS listener of the seeded load balancer "lb".
	listenerPort int
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	return stack.RunWithListener(m, stack.ManagerOptions{}, func(s *stack.Stack, port int) {
		st, listenerPort = s, port
	})
}

var ctx = context.Background()

// newClientCA applies a ClientCA with an ECDSA key (fast) into a new namespace.
func newClientCA(t *testing.T, mutate func(*mtlsv1alpha1.ClientCA)) *mtlsv1alpha1.ClientCA {
	t.Helper()
	ca := &mtlsv1alpha1.ClientCA{
		ObjectMeta: metav1.ObjectMeta{Namespace: st.NewNamespace(t, "ca"), Name: "sample"},
		Spec: mtlsv1alpha1.ClientCASpec{
			Subject:    &mtlsv1alpha1.Subject{CommonName: "sample", Organization: []string{"shika-darake"}, Country: []string{"JP"}},
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
	// Delete it after the test, so that its time-based work (rotation, CRL re-signing) does
	// not make calls that later tests count.
	t.Cleanup(func() { _ = st.Kube.Client.Delete(ctx, ca) })
	return ca
}

func getCA(t *testing.T, ca *mtlsv1alpha1.ClientCA) *mtlsv1alpha1.ClientCA {
	t.Helper()
	got := &mtlsv1alpha1.ClientCA{}
	if err := st.Kube.Client.Get(ctx, client.ObjectKeyFromObject(ca), got); err != nil {
		t.Fatalf("get ClientCA: %v", err)
	}
	return got
}

// waitCondition waits until the condition has the status and reason (reason "" = any).
func waitCondition(t *testing.T, ca *mtlsv1alpha1.ClientCA, condType string, status metav1.ConditionStatus, reason string, timeout time.Duration) *mtlsv1alpha1.ClientCA {
	t.Helper()
	var got *mtlsv1alpha1.ClientCA
	stack.Eventually(t, timeout, func() error {
		got = getCA(t, ca)
		return stack.CheckCondition(got.Status.Conditions, got.Generation, condType, status, reason)
	})
	return got
}

func waitReady(t *testing.T, ca *mtlsv1alpha1.ClientCA) *mtlsv1alpha1.ClientCA {
	t.Helper()
	return waitCondition(t, ca, mtlsv1alpha1.ConditionReady, metav1.ConditionTrue, "", 60*time.Second)
}

// caMaterial reads the CA Secret through the live client.
func caMaterial(t *testing.T, ca *mtlsv1alpha1.ClientCA) *common.CAMaterial {
	t.Helper()
	m, _, err := common.LoadCAMaterial(ctx, st.Kube.Client, st.Kube.Client, ca)
	if err != nil {
		t.Fatalf("load CA secret: %v", err)
	}
	return m
}

// describeStore returns the trust store by ARN.
func describeStore(t *testing.T, arn string) elbtypes.TrustStore {
	t.Helper()
	out, err := st.ELB.DescribeTrustStores(ctx, &elbv2.DescribeTrustStoresInput{TrustStoreArns: []string{arn}})
	if err != nil || len(out.TrustStores) != 1 {
		t.Fatalf("describe trust store %s: %v", arn, err)
	}
	return out.TrustStores[0]
}

// storesNamed counts the trust stores with that name (albsim holds few, one page).
func storesNamed(t *testing.T, name string) int {
	t.Helper()
	out, err := st.ELB.DescribeTrustStores(ctx, &elbv2.DescribeTrustStoresInput{PageSize: aws.Int32(400)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ts := range out.TrustStores {
		if aws.ToString(ts.Name) == name {
			n++
		}
	}
	return n
}

// objectVersions counts the versions of an S3 object.
func objectVersions(t *testing.T, key string) int {
	t.Helper()
	out, err := st.S3Client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(stack.Bucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Versions {
		if aws.ToString(v.Key) == key {
			n++
		}
	}
	return n
}

func getObject(t *testing.T, key, version string) []byte {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(stack.Bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := st.S3Client.GetObject(ctx, in)
	if err != nil {
		t.Fatalf("get s3 object %s: %v", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// issueClient signs a client certificate with a CA key pair, as the ClientCertificate
// controller would, for handshake tests.
func issueClient(t *testing.T, kp common.CAKeyPair, cn string) tls.Certificate {
	t.Helper()
	key, err := pki.GenerateKey(pki.AlgorithmECDSA, 256)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cert, err := pki.IssueClientCertificate(pki.ClientRequest{
		Subject: pki.Subject{CommonName: cn}.Name(), PublicKey: key.Public(),
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour), CA: kp.Cert, CAKey: kp.Key,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// setListener sets the seeded listener's mutual authentication behind the operator's back.
func setListener(t *testing.T, mode, storeARN string) {
	t.Helper()
	st.SetListenerMode(t, "lb", listenerPort, mode, storeARN)
}

// handshake makes a request through the listener and returns the status code, or an error
// when the TLS handshake or request fails.
func handshake(cert *tls.Certificate) (int, error) {
	resp, err := st.ListenerGet(listenerPort, cert)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// nudge forces a reconcile by changing an annotation.
func nudge(t *testing.T, ca *mtlsv1alpha1.ClientCA) {
	t.Helper()
	got := getCA(t, ca)
	patch := client.MergeFrom(got.DeepCopy())
	if got.Annotations == nil {
		got.Annotations = map[string]string{}
	}
	got.Annotations[mtlsv1alpha1.AnnotationReconcileRequest] = time.Now().Format(time.RFC3339Nano)
	if err := st.Kube.Client.Patch(ctx, got, patch); err != nil {
		t.Fatal(err)
	}
}

func containsAny(s string, subs ...string) string {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return sub
		}
	}
	return ""
}
