package listenermtls_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/internal/albsim"
	"github.com/albtrust/albtrust/internal/pki"
	"github.com/albtrust/albtrust/internal/testenv/stack"
)

const (
	ns           = "default"
	resyncPeriod = 2 * time.Second
	// waitTimeout bounds every poll; reconciles take milliseconds, so this only matters on failure.
	waitTimeout = 30 * time.Second
)

// Listeners seeded into albsim, one set per test so that tests cannot disturb each other.
var ports = map[string]int{}

var (
	st     *stack.Stack
	target *recordingTarget
	// shared is an ACTIVE trust store most tests verify against.
	shared *testCA
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	target = newRecordingTarget()
	defer target.srv.Close()
	targetPort, _ := strconv.Atoi(strings.TrimPrefix(target.srv.URL[strings.LastIndex(target.srv.URL, ":"):], ":"))

	names := []string{"life", "retain", "delete", "http", "steady", "drift", "slow", "caref", "q1", "q2", "q3", "throttle", "move-a", "move-b"}
	free, err := freePorts(len(names))
	if err != nil {
		fmt.Fprintln(os.Stderr, "free ports:", err)
		return 1
	}
	for i, n := range names {
		ports[n] = free[i]
	}
	https := func(name string) albsim.SeedListener {
		return albsim.SeedListener{Port: ports[name], TargetGroup: "tg"}
	}
	seed := &albsim.SeedState{
		TargetGroups: []albsim.SeedTargetGroup{{Name: "tg", Port: targetPort, Targets: []albsim.SeedTarget{{ID: "127.0.0.1"}}}},
		LoadBalancers: []albsim.SeedLoadBalancer{
			{Name: "life", Listeners: []albsim.SeedListener{https("life"), https("retain"), https("delete"),
				{Port: ports["http"], Protocol: "HTTP", TargetGroup: "tg"}}},
			{Name: "steady", Listeners: []albsim.SeedListener{https("steady"), https("drift")}},
			{Name: "slow", Listeners: []albsim.SeedListener{https("slow"), https("caref")}},
			{Name: "quota", Listeners: []albsim.SeedListener{https("q1"), https("q2"), https("q3")}},
			{Name: "throttle", Listeners: []albsim.SeedListener{https("throttle")}},
			{Name: "move", Listeners: []albsim.SeedListener{https("move-a"), https("move-b")}},
		},
	}
	st, err = stack.Start(stack.Options{Seed: seed})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start stack:", err)
		return 1
	}
	defer st.Stop()
	if err := st.StartManager(stack.ManagerOptions{ListenerResyncPeriod: resyncPeriod}); err != nil {
		fmt.Fprintln(os.Stderr, "start manager:", err)
		return 1
	}
	if shared, err = newTrustStore("shared"); err != nil {
		fmt.Fprintln(os.Stderr, "shared trust store:", err)
		return 1
	}
	code := m.Run()
	if code != 0 && os.Getenv("ALBTRUST_TEST_VERBOSE") == "" {
		fmt.Fprintln(os.Stderr, "manager logs (last 8 KiB):")
		logs := st.Logs()
		fmt.Fprintln(os.Stderr, logs[max(0, len(logs)-8192):])
	}
	return code
}

func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	var out []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// ---- the target behind the listeners ----

// recordingTarget is the HTTP server the listeners forward to; it keeps the headers of each
// request by path, so a test can send a unique path and read what ALB added.
type recordingTarget struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]http.Header
}

func newRecordingTarget() *recordingTarget {
	rt := &recordingTarget{got: map[string]http.Header{}}
	rt.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.mu.Lock()
		rt.got[r.URL.Path] = r.Header.Clone()
		rt.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	return rt
}

func (rt *recordingTarget) headers(path string) http.Header {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.got[path]
}

var requestSeq struct {
	sync.Mutex
	n int
}

// get sends one HTTPS request to the listener on port through a new connection, presenting
// chain (nil: no client certificate). It returns the headers the target received.
func get(port int, chain *tls.Certificate) (http.Header, error) {
	requestSeq.Lock()
	requestSeq.n++
	path := fmt.Sprintf("/req-%d", requestSeq.n)
	requestSeq.Unlock()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(st.Sim.ServerCAPEM()) {
		return nil, errors.New("albsim server CA PEM did not parse")
	}
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if chain != nil {
		cfg.Certificates = []tls.Certificate{*chain}
	}
	c := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true, Proxy: nil},
	}
	resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d%s", port, path))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	h := target.headers(path)
	if h == nil {
		return nil, errors.New("the target saw no request")
	}
	return h, nil
}

// ---- trust stores and client certificates ----

type testCA struct {
	arn  string
	cert *x509.Certificate
	key  crypto.Signer
}

// newTrustStore makes a CA with internal/pki, uploads its bundle to S3 and creates an ELB trust
// store from it directly in albsim, independent of the ClientCA controller.
func newTrustStore(name string) (*testCA, error) {
	key, err := pki.GenerateKey(pki.AlgorithmECDSA, 256)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	cert, err := pki.CreateCA(pki.CARequest{Subject: pkix.Name{CommonName: "listenermtls test CA " + name, Organization: []string{"albtrust"}},
		Key: key, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		return nil, err
	}
	bundle, err := pki.BuildBundle([]pki.BundleEntry{{Certificate: cert}})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	objKey := "listenermtls-test/" + name + ".pem"
	if _, err := st.S3Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(stack.Bucket), Key: aws.String(objKey), Body: bytes.NewReader(bundle)}); err != nil {
		return nil, fmt.Errorf("put bundle: %w", err)
	}
	out, err := st.ELB.CreateTrustStore(ctx, &elbv2.CreateTrustStoreInput{
		Name: aws.String("lmtls-" + name), CaCertificatesBundleS3Bucket: aws.String(stack.Bucket), CaCertificatesBundleS3Key: aws.String(objKey),
	})
	if err != nil {
		return nil, fmt.Errorf("create trust store: %w", err)
	}
	return &testCA{arn: aws.ToString(out.TrustStores[0].TrustStoreArn), cert: cert, key: key}, nil
}

// client issues a client certificate; the returned chain holds the leaf and, with withCA, the CA.
func (ca *testCA) client(t *testing.T, cn string, withCA bool) (*tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := pki.GenerateKey(pki.AlgorithmECDSA, 256)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	leaf, err := pki.IssueClientCertificate(pki.ClientRequest{Subject: pkix.Name{CommonName: cn}, PublicKey: key.Public(),
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour), CA: ca.cert, CAKey: ca.key})
	if err != nil {
		t.Fatal(err)
	}
	chain := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	if withCA {
		chain.Certificate = append(chain.Certificate, ca.cert.Raw)
	}
	return chain, leaf
}

// ---- Kubernetes helpers ----

func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// create creates a ListenerMTLS and, at the end of the test, deletes it and waits until it is
// gone, which also proves that its finalizer never blocks deletion.
func create(t *testing.T, name string, spec mtlsv1alpha1.ListenerMTLSSpec) *mtlsv1alpha1.ListenerMTLS {
	t.Helper()
	obj := &mtlsv1alpha1.ListenerMTLS{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
	if err := st.Kube.Client.Create(ctxT(t), obj); err != nil {
		t.Fatalf("create ListenerMTLS %s: %v", name, err)
	}
	t.Cleanup(func() { deleteAndWait(t, name) })
	return obj
}

func deleteAndWait(t *testing.T, name string) {
	t.Helper()
	obj := &mtlsv1alpha1.ListenerMTLS{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := st.Kube.Client.Delete(context.Background(), obj); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("delete %s: %v", name, err)
	}
	eventually(t, waitTimeout, func() error {
		err := st.Kube.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("ListenerMTLS %s still exists (finalizers %v, err %v)", name, obj.Finalizers, err)
	})
}

func getLM(t *testing.T, name string) *mtlsv1alpha1.ListenerMTLS {
	t.Helper()
	obj := &mtlsv1alpha1.ListenerMTLS{}
	if err := st.Kube.Client.Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return obj
}

// waitCondition waits until Ready has status and reason for the object's current generation.
func waitCondition(t *testing.T, name string, status metav1.ConditionStatus, reason string) *mtlsv1alpha1.ListenerMTLS {
	t.Helper()
	var obj *mtlsv1alpha1.ListenerMTLS
	eventually(t, waitTimeout, func() error {
		obj = &mtlsv1alpha1.ListenerMTLS{}
		if err := st.Kube.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
			return err
		}
		c := meta.FindStatusCondition(obj.Status.Conditions, mtlsv1alpha1.ConditionReady)
		if c == nil {
			return errors.New("no Ready condition yet")
		}
		if c.ObservedGeneration != obj.Generation || c.Status != status || c.Reason != reason {
			return fmt.Errorf("Ready = %s/%s (generation %d of %d): %s; want %s/%s", c.Status, c.Reason, c.ObservedGeneration, obj.Generation, c.Message, status, reason)
		}
		return nil
	})
	return obj
}

func waitReady(t *testing.T, name string) *mtlsv1alpha1.ListenerMTLS {
	t.Helper()
	return waitCondition(t, name, metav1.ConditionTrue, mtlsv1alpha1.ReasonConfigured)
}

// update changes the spec with retries on conflict.
func update(t *testing.T, name string, mutate func(*mtlsv1alpha1.ListenerMTLSSpec)) {
	t.Helper()
	eventually(t, waitTimeout, func() error {
		obj := getLM(t, name)
		mutate(&obj.Spec)
		return st.Kube.Client.Update(context.Background(), obj)
	})
}

// reasons watches one ListenerMTLS and records every distinct Ready reason in order, so that a
// short-lived state (Throttled, TrustStoreNotReady) is seen even when polling would miss it.
func reasons(t *testing.T, name string) func() []string {
	t.Helper()
	wc, err := client.NewWithWatch(st.Kube.Config, client.Options{Scheme: st.Kube.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := wc.Watch(ctx, &mtlsv1alpha1.ListenerMTLSList{}, client.InNamespace(ns), client.MatchingFields{"metadata.name": name})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			obj, ok := ev.Object.(*mtlsv1alpha1.ListenerMTLS)
			if !ok {
				continue
			}
			if c := meta.FindStatusCondition(obj.Status.Conditions, mtlsv1alpha1.ConditionReady); c != nil {
				mu.Lock()
				if len(seen) == 0 || seen[len(seen)-1] != c.Reason {
					seen = append(seen, c.Reason)
				}
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		w.Stop()
		cancel()
		<-done
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// waitEvent waits for an Event about the named ListenerMTLS with that reason; it returns its note.
func waitEvent(t *testing.T, name, reason string) string {
	t.Helper()
	var note string
	eventually(t, waitTimeout, func() error {
		var list eventsv1.EventList
		if err := st.Kube.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, ev := range list.Items {
			if ev.Regarding.Kind == "ListenerMTLS" && ev.Regarding.Name == name && ev.Reason == reason {
				note = ev.Note
				return nil
			}
		}
		return fmt.Errorf("no %s Event for %s yet", reason, name)
	})
	return note
}

// ---- ELB helpers (behind the operator's back) ----

func listenerARN(t *testing.T, lb, name string) string {
	t.Helper()
	arn, ok := st.Sim.ListenerARN(lb, ports[name])
	if !ok {
		t.Fatalf("albsim has no listener %s:%d", lb, ports[name])
	}
	return arn
}

func describe(t *testing.T, arn string) elbtypes.Listener {
	t.Helper()
	out, err := st.ELB.DescribeListeners(ctxT(t), &elbv2.DescribeListenersInput{ListenerArns: []string{arn}})
	if err != nil {
		t.Fatalf("DescribeListeners: %v", err)
	}
	return out.Listeners[0]
}

func mode(l elbtypes.Listener) string {
	if l.MutualAuthentication == nil {
		return "off"
	}
	return aws.ToString(l.MutualAuthentication.Mode)
}

func waitMode(t *testing.T, arn, want string) elbtypes.Listener {
	t.Helper()
	var l elbtypes.Listener
	eventually(t, waitTimeout, func() error {
		l = describe(t, arn)
		if got := mode(l); got != want {
			return fmt.Errorf("listener mode %s, want %s", got, want)
		}
		return nil
	})
	return l
}

func attribute(t *testing.T, arn, key string) string {
	t.Helper()
	out, err := st.ELB.DescribeListenerAttributes(ctxT(t), &elbv2.DescribeListenerAttributesInput{ListenerArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("DescribeListenerAttributes: %v", err)
	}
	for _, a := range out.Attributes {
		if aws.ToString(a.Key) == key {
			return aws.ToString(a.Value)
		}
	}
	return ""
}

// decodeCertHeader undoes ALB's URL encoding of a PEM header ('+', '=' and '/' are left as
// they are, so '+' must not turn into a space).
func decodeCertHeader(t *testing.T, v string) []*x509.Certificate {
	t.Helper()
	pemText, err := url.PathUnescape(v)
	if err != nil {
		t.Fatalf("header is not URL-encoded: %v", err)
	}
	certs, err := pki.ParseCertificatesPEM([]byte(pemText))
	if err != nil {
		t.Fatalf("header is not PEM certificates: %v", err)
	}
	return certs
}
