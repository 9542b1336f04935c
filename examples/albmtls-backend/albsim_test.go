package main

// Round trips through albsim: a client makes a real TLS handshake with an
// emulated ALB listener, which forwards to this backend with the headers ALB
// produces. The backend's answer shows what pkg/albmtls made of them.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/albtrust/albtrust/internal/albsim"
	"github.com/albtrust/albtrust/internal/pki"
	"github.com/albtrust/albtrust/internal/testenv/s3server"
)

// freePort finds a loopback port for an albsim listener.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// seedListener puts an ALB listener with mutual authentication ma in front of
// the backend at backendURL and returns the listener's port.
func seedListener(t *testing.T, sim *albsim.Sim, name, backendURL string, ma albsim.SeedMutualAuth, attrs map[string]string) int {
	t.Helper()
	u, err := url.Parse(backendURL)
	if err != nil {
		t.Fatal(err)
	}
	bport, _ := strconv.Atoi(u.Port())
	port := freePort(t)
	err = sim.Seed(albsim.SeedState{
		TargetGroups: []albsim.SeedTargetGroup{{Name: name, Port: bport, Targets: []albsim.SeedTarget{{ID: "127.0.0.1"}}}},
		LoadBalancers: []albsim.SeedLoadBalancer{{Name: name, Listeners: []albsim.SeedListener{{
			Port: port, TargetGroup: name, MutualAuthentication: &ma, Attributes: attrs,
		}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// through makes one request over a fresh TLS connection to the albsim
// listener on port, presenting chain (nil: no certificate).
func through(t *testing.T, sim *albsim.Sim, port int, chain *tls.Certificate) (int, string, error) {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(sim.ServerCAPEM()) {
		t.Fatal("albsim server CA does not parse")
	}
	tr := &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost",
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				if chain == nil {
					return &tls.Certificate{}, nil
				}
				return chain, nil
			}},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/whoami", port))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

type client struct {
	tls  tls.Certificate
	cert *x509.Certificate
}

// clientsOf issues a client certificate for each name from a fresh CA and
// returns the CA's PEM and a CRL revoking the names in revoke.
func clientsOf(t *testing.T, caName string, names []string, revoke ...string) (caPEM, crlPEM []byte, clients map[string]client) {
	t.Helper()
	now := time.Now()
	caKey, err := pki.GenerateKey(pki.AlgorithmECDSA, 256)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.CreateCA(pki.CARequest{Subject: pkix.Name{CommonName: caName}, Key: caKey, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	clients = map[string]client{}
	var revoked []pki.RevokedCertificate
	for _, n := range names {
		k, err := pki.GenerateKey(pki.AlgorithmECDSA, 256)
		if err != nil {
			t.Fatal(err)
		}
		c, err := pki.IssueClientCertificate(pki.ClientRequest{Subject: pkix.Name{CommonName: n}, PublicKey: k.Public(), ServerAuth: true,
			EmailAddresses: []string{n + "@example.com"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour), CA: ca, CAKey: caKey})
		if err != nil {
			t.Fatal(err)
		}
		clients[n] = client{tls: tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: k, Leaf: c}, cert: c}
		for _, r := range revoke {
			if r == n {
				revoked = append(revoked, pki.RevokedCertificate{SerialNumber: c.SerialNumber, RevocationTime: now.Add(-time.Minute)})
			}
		}
	}
	crlPEM, err = pki.CreateCRL(pki.CRLRequest{CA: ca, Key: caKey, Number: big.NewInt(1), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour), Revoked: revoked})
	if err != nil {
		t.Fatal(err)
	}
	return pki.EncodeCertificatesPEM(ca), crlPEM, clients
}

func newSim(t *testing.T, s3cfg albsim.S3Config) *albsim.Sim {
	t.Helper()
	// albsim logs every handshake; the assertions say what matters.
	sim, err := albsim.New(albsim.Config{S3: s3cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

func TestBehindAlbsimPassthrough(t *testing.T) {
	caPEM, crlPEM, clients := clientsOf(t, "Passthrough CA", []string{"alice", "mallory"}, "mallory")
	_, _, strangers := clientsOf(t, "Stranger CA", []string{"eve"})
	caPath, crlPath := writeFile(t, "ca.crt", caPEM), writeFile(t, "ca.crl", crlPEM)
	backendURL, logs := startBackend(t, "-ca-bundle", caPath, "-crl", crlPath, "-mode", "passthrough")

	sim := newSim(t, albsim.S3Config{})
	port := seedListener(t, sim, "pass", backendURL, albsim.SeedMutualAuth{Mode: "passthrough"}, nil)

	alice := clients["alice"]
	code, body, err := through(t, sim, port, &alice.tls)
	if err != nil || code != 200 {
		t.Fatalf("alice through passthrough: %d %q %v", code, body, err)
	}
	for _, want := range []string{"commonName: alice\n", "serialNumber: " + pki.SerialHex(alice.cert.SerialNumber) + "\n", "fingerprintSHA256: " + pki.Fingerprint(alice.cert) + "\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	// Passthrough lets every handshake through; the backend decides.
	mallory, eve := clients["mallory"], strangers["eve"]
	for name, tc := range map[string]struct {
		chain *tls.Certificate
		body  string
	}{
		"revoked client":       {&mallory.tls, "client certificate revoked\n"},
		"client of another CA": {&eve.tls, "client certificate untrusted\n"},
		"no client cert":       {nil, "no client certificate\n"},
	} {
		code, body, err := through(t, sim, port, tc.chain)
		if err != nil || code != 403 || body != tc.body {
			t.Errorf("%s: %d %q %v, want 403 %q", name, code, body, err, tc.body)
		}
	}
	if !strings.Contains(logs.String(), "CN=alice") {
		t.Errorf("backend log lacks alice:\n%s", logs)
	}

	// A listener that renames the header, and a backend told so.
	renamedURL, _ := startBackend(t, "-ca-bundle", caPath, "-clientcert-header", "X-Client-Chain")
	renamed := seedListener(t, sim, "renamed", renamedURL, albsim.SeedMutualAuth{Mode: "passthrough"},
		map[string]string{"routing.http.request.x_amzn_mtls_clientcert.header_name": "X-Client-Chain"})
	if code, body, err := through(t, sim, renamed, &alice.tls); err != nil || code != 200 || !strings.Contains(body, "commonName: alice\n") {
		t.Errorf("renamed header: %d %q %v", code, body, err)
	}
	if code, body, err := through(t, sim, port, &alice.tls); err != nil || code != 200 {
		t.Errorf("the first listener changed: %d %q %v", code, body, err)
	}
}

func TestBehindAlbsimVerify(t *testing.T) {
	caPEM, _, clients := clientsOf(t, "Verify CA", []string{"alice"})
	_, _, strangers := clientsOf(t, "Stranger CA", []string{"eve"})
	// verify-headers mode, with the bundle as a second check of the leaf.
	backendURL, _ := startBackend(t, "-ca-bundle", writeFile(t, "ca.crt", caPEM), "-mode", "verify-headers")

	s3srv, err := s3server.Start(t, s3server.Options{})
	if err != nil {
		t.Fatalf("S3 server for albsim (versitygw, see hack/versitygw.sh): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const bucket = "albmtls-backend"
	if err := s3srv.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	put, err := s3srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("ca.pem"), Body: bytes.NewReader(caPEM)})
	if err != nil {
		t.Fatal(err)
	}
	sim := newSim(t, albsim.S3Config{Endpoint: s3srv.Endpoint(), AccessKey: s3srv.AccessKey, SecretKey: s3srv.SecretKey, Region: s3srv.Region, PathStyle: true})
	apiURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	elb := elbv2.New(elbv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(apiURL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDALBSIM", "secret", "")})
	ts, err := elb.CreateTrustStore(ctx, &elbv2.CreateTrustStoreInput{Name: aws.String("backend"), CaCertificatesBundleS3Bucket: aws.String(bucket),
		CaCertificatesBundleS3Key: aws.String("ca.pem"), CaCertificatesBundleS3ObjectVersion: put.VersionId})
	if err != nil {
		t.Fatal(err)
	}
	sim.ActivateTrustStores()
	port := seedListener(t, sim, "verify", backendURL, albsim.SeedMutualAuth{Mode: "verify", TrustStoreArn: aws.ToString(ts.TrustStores[0].TrustStoreArn)}, nil)

	alice := clients["alice"]
	code, body, err := through(t, sim, port, &alice.tls)
	if err != nil || code != 200 {
		t.Fatalf("alice through verify: %d %q %v", code, body, err)
	}
	for _, want := range []string{"mode: verify-headers\n", "commonName: alice\n", "emails: alice@example.com\n",
		"serialNumber: " + pki.SerialHex(alice.cert.SerialNumber) + "\n", "fingerprintSHA256: " + pki.Fingerprint(alice.cert) + "\n", "chain[1]: CN=Verify CA\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	// In Verify mode the load balancer itself refuses a stranger: the handshake fails.
	eve := strangers["eve"]
	if code, body, err := through(t, sim, port, &eve.tls); err == nil {
		t.Errorf("verify listener let a stranger through: %d %q", code, body)
	}
}

// writeFile writes data to a new file named name and returns its path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
