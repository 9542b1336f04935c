package stack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albtrust/albtrust/internal/albsim"
)

// Eventually polls check until it returns nil or the timeout passes, then fails the test with
// the last error. Tests poll with a deadline instead of sleeping.
func Eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// NewNamespace creates a namespace with a generated name.
func (st *Stack) NewNamespace(t testing.TB, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := st.Kube.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}

// FreePort returns a loopback TCP port that is free now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ListenerGet makes one HTTPS GET to an albsim listener at https://127.0.0.1:port, trusting albsim's
// server CA and presenting cert when it is not nil. A fresh connection each time, so that the
// listener's current mutual TLS settings apply.
func (st *Stack) ListenerGet(port int, cert *tls.Certificate) (*http.Response, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(st.Sim.ServerCAPEM()) {
		return nil, fmt.Errorf("albsim server CA is not PEM")
	}
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	c := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true},
	}
	return c.Get(fmt.Sprintf("https://127.0.0.1:%d/", port))
}

// RunWithListener is a TestMain body: it starts a stack whose albsim holds load balancer "lb"
// with an HTTPS listener on a free port forwarding to a backend that echoes the client subject,
// starts the manager, hands the stack and the listener port to setup, runs the tests and stops
// everything.
func RunWithListener(m *testing.M, mo ManagerOptions, setup func(st *Stack, listenerPort int)) int {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.Header.Get("X-Amzn-Mtls-Clientcert-Subject"))
	}))
	defer target.Close()
	targetPort := target.Listener.Addr().(*net.TCPAddr).Port
	listenerPort, err := FreePort()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st, err := Start(Options{Seed: &albsim.SeedState{
		TargetGroups:  []albsim.SeedTargetGroup{{Name: "tg", Port: targetPort, Targets: []albsim.SeedTarget{{ID: "127.0.0.1"}}}},
		LoadBalancers: []albsim.SeedLoadBalancer{{Name: "lb", Listeners: []albsim.SeedListener{{Port: listenerPort, TargetGroup: "tg"}}}},
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start stack:", err)
		return 1
	}
	defer st.Stop()
	if err := st.StartManager(mo); err != nil {
		fmt.Fprintln(os.Stderr, "start manager:", err)
		return 1
	}
	setup(st, listenerPort)
	return m.Run()
}

// SetListenerMode sets a listener's mutual authentication behind the operator's back, as
// someone in the console would: mode off, passthrough or verify (with storeARN).
func (st *Stack) SetListenerMode(t testing.TB, lbName string, port int, mode, storeARN string) {
	t.Helper()
	arn, ok := st.Sim.ListenerARN(lbName, port)
	if !ok {
		t.Fatalf("albsim has no listener %s:%d", lbName, port)
	}
	ma := &elbtypes.MutualAuthenticationAttributes{Mode: aws.String(mode)}
	if storeARN != "" {
		ma.TrustStoreArn = aws.String(storeARN)
	}
	if _, err := st.ELB.ModifyListener(context.Background(), &elbv2.ModifyListenerInput{ListenerArn: aws.String(arn), MutualAuthentication: ma}); err != nil {
		t.Fatalf("modify listener: %v", err)
	}
}

// CheckCondition says whether the condition of that type has the status and reason ("" = any
// reason) and describes the object's current generation.
func CheckCondition(conds []metav1.Condition, generation int64, condType string, status metav1.ConditionStatus, reason string) error {
	c := meta.FindStatusCondition(conds, condType)
	if c == nil {
		return fmt.Errorf("no %s condition yet", condType)
	}
	if c.Status != status || (reason != "" && c.Reason != reason) {
		return fmt.Errorf("%s is %s/%s (%s), want %s/%s", condType, c.Status, c.Reason, c.Message, status, reason)
	}
	if c.ObservedGeneration != generation {
		return fmt.Errorf("%s describes generation %d, object is at %d", condType, c.ObservedGeneration, generation)
	}
	return nil
}
