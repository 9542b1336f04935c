package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/albtrust/albtrust/internal/testenv/s3server"
)

var s3srv *s3server.Server

func TestMain(m *testing.M) {
	os.Exit(s3server.RunTests(m, func(srv *s3server.Server) { s3srv = srv }))
}

func TestHelpDocumentsFlags(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help returned %v", err)
	}
	for _, f := range []string{"-api-address", "-s3-endpoint", "-s3-access-key", "-s3-secret-key", "-region", "-account-id", "-seed", "-server-cert", "-server-key", "-write-server-ca", "-trust-store-activation-delay", "-fault"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("--help does not document %s", f)
		}
	}
}

func TestParseFault(t *testing.T) {
	cases := map[string]struct {
		in      string
		action  string
		code    string
		count   int
		latency time.Duration
		bad     bool
	}{
		"throttling twice":  {in: "CreateTrustStore=Throttling,count=2", action: "CreateTrustStore", code: "Throttling", count: 2},
		"latency only":      {in: "*=none,latency=250ms", action: "*", latency: 250 * time.Millisecond},
		"missing code":      {in: "CreateTrustStore", bad: true},
		"fraction too high": {in: "X=Throttling,fraction=2", bad: true},
		"unknown setting":   {in: "X=Throttling,colour=red", bad: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			action, f, err := parseFault(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("%q was accepted", tc.in)
				}
				return
			}
			if err != nil || action != tc.action || f.Code != tc.code || f.Count != tc.count || f.Latency != tc.latency {
				t.Fatalf("parseFault(%q) = %q %+v %v", tc.in, action, f, err)
			}
		})
	}
}

// TestRunServesSeededALB starts the command with a seed file, drives it through the SDK (a trust
// store from S3, then Verify on the seeded listener), makes a real mTLS request, and stops it.
func TestRunServesSeededALB(t *testing.T) {
	dir := t.TempDir()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("X-Amzn-Mtls-Clientcert-Subject"))
	}))
	defer backend.Close()
	_, backendPort, _ := net.SplitHostPort(strings.TrimPrefix(backend.URL, "http://"))
	listenerPort := freePort(t)
	seed := fmt.Sprintf(`targetGroups:
- name: demo-tg
  port: %s
  targets:
  - id: 127.0.0.1
loadBalancers:
- name: demo
  listeners:
  - port: %d
    targetGroup: demo-tg
`, backendPort, listenerPort)
	seedFile := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seedFile, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	urlFile, caFile := filepath.Join(dir, "url"), filepath.Join(dir, "ca.pem")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{
			"--api-address", "127.0.0.1:0", "--url-file", urlFile, "--seed", seedFile, "--write-server-ca", caFile,
			"--region", "us-east-1", "--s3-endpoint", s3srv.Endpoint(), "--s3-access-key", s3srv.AccessKey, "--s3-secret-key", s3srv.SecretKey,
		}, &logs)
	}()
	apiURL := waitForFile(t, urlFile, done)

	tctx, tcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer tcancel()
	elb := elbv2.New(elbv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(apiURL), Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), Retryer: aws.NopRetryer{}})
	lbs, err := elb.DescribeLoadBalancers(tctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"demo"}})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := elb.DescribeListeners(tctx, &elbv2.DescribeListenersInput{LoadBalancerArn: lbs.LoadBalancers[0].LoadBalancerArn})
	if err != nil || len(ls.Listeners) != 1 || aws.ToInt32(ls.Listeners[0].Port) != int32(listenerPort) {
		t.Fatalf("seeded listener: %+v, %v", ls, err)
	}

	caCert, caKey := makeCA(t)
	if err := s3srv.CreateBucket(tctx, "cmd-albsim"); err != nil {
		t.Fatal(err)
	}
	if _, err := s3srv.Client().PutObject(tctx, &s3.PutObjectInput{Bucket: aws.String("cmd-albsim"), Key: aws.String("bundle.pem"), Body: bytes.NewReader(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw}))}); err != nil {
		t.Fatal(err)
	}
	ts, err := elb.CreateTrustStore(tctx, &elbv2.CreateTrustStoreInput{Name: aws.String("demo"), CaCertificatesBundleS3Bucket: aws.String("cmd-albsim"), CaCertificatesBundleS3Key: aws.String("bundle.pem")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := elb.ModifyListener(tctx, &elbv2.ModifyListenerInput{ListenerArn: ls.Listeners[0].ListenerArn, MutualAuthentication: &types.MutualAuthenticationAttributes{
		Mode: aws.String("verify"), TrustStoreArn: ts.TrustStores[0].TrustStoreArn,
	}}); err != nil {
		t.Fatal(err)
	}

	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{issueClient(t, caCert, caKey)},
	}}}
	resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/", listenerPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "CN=demo-client" {
		t.Fatalf("backend saw subject %q, want CN=demo-client", body)
	}
	client.CloseIdleConnections()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop after its context ended")
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", listenerPort), time.Second); err == nil {
		c.Close()
		t.Fatal("the listener still accepts connections after shutdown")
	}
	if !strings.Contains(logs.String(), "tls_verify_status=Success") {
		t.Fatalf("the log has no connection line with tls_verify_status=Success:\n%s", logs.String())
	}
}

func waitForFile(t *testing.T, path string, done <-chan error) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil {
			return strings.TrimSpace(string(b))
		}
		select {
		case err := <-done:
			t.Fatalf("run ended before serving: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("albsim did not write its URL file")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func makeCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "demo CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func issueClient(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "demo-client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
