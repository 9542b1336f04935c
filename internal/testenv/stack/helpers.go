package stack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
