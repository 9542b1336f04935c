package albsim_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/albtrust/albtrust/internal/albsim"
	"github.com/albtrust/albtrust/internal/testenv/s3server"
)

// One S3 server for the whole package; each test gets its own bucket.
var s3srv *s3server.Server

func TestMain(m *testing.M) {
	os.Exit(s3server.RunTests(m, func(srv *s3server.Server) { s3srv = srv }))
}

// env is one albsim with its SDK client and a bucket of its own.
type env struct {
	t      *testing.T
	sim    *albsim.Sim
	apiURL string
	elb    *elbv2.Client
	s3     *s3.Client
	bucket string
	ctx    context.Context
}

var bucketSeq atomic.Int64

func newEnv(t *testing.T) *env {
	t.Helper()
	sim, err := albsim.New(albsim.Config{
		Region:    "eu-west-1",
		AccountID: "111122223333",
		S3:        albsim.S3Config{Endpoint: s3srv.Endpoint(), AccessKey: s3srv.AccessKey, SecretKey: s3srv.SecretKey, Region: s3srv.Region, PathStyle: true},
		Logger:    testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	bucket := fmt.Sprintf("albsim-%d-%s", bucketSeq.Add(1), strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-")))
	if len(bucket) > 60 {
		bucket = bucket[:60]
	}
	bucket = strings.TrimRight(bucket, "-")
	if err := s3srv.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, sim: sim, apiURL: url, elb: elbClient(url), s3: s3srv.Client(), bucket: bucket, ctx: ctx}
}

// elbClient is the real SDK client pointed at albsim, with retries off so injected faults surface.
func elbClient(url string) *elbv2.Client {
	return elbv2.New(elbv2.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDALBSIM", "secret", ""),
		Retryer:      aws.NopRetryer{},
	})
}

// put stores an object and returns its version ID.
func (e *env) put(key string, body []byte) string {
	e.t.Helper()
	out, err := e.s3.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.VersionId)
}

// testCA is a CA made with crypto/x509 directly, in the walkthrough's profile.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

var serialSeq atomic.Int64

func nextSerial() *big.Int { return big.NewInt(0x03A5B0 + serialSeq.Add(1)) }

func newCA(t testing.TB, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return makeCA(t, cn, key, nil)
}

// makeCA creates a CA signed by parent (self-signed when parent is nil).
func makeCA(t testing.TB, cn string, key crypto.Signer, parent *testCA) *testCA {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"albtrust tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	signer, signerCert := key, tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pemCert(cert)}
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

type leafOpts struct {
	notBefore, notAfter time.Time
	eku                 []x509.ExtKeyUsage
}

// issue signs a client certificate (CA:FALSE, digitalSignature+keyEncipherment, serverAuth+clientAuth).
func (ca *testCA) issue(t testing.TB, cn string, o leafOpts) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().AddDate(0, 1, 0)
	}
	if o.eku == nil {
		o.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"albtrust tests"}},
		NotBefore:             o.notBefore,
		NotAfter:              o.notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           o.eku,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, cert
}

// crl returns a PEM CRL signed by ca revoking the given serials.
func (ca *testCA) crl(t testing.TB, serials ...*big.Int) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    nextSerial(),
		ThisUpdate:                time.Now().Add(-time.Minute),
		NextUpdate:                time.Now().Add(7 * 24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

func ed25519CA(t testing.TB) *testCA {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return makeCA(t, "ed25519 CA", key, nil)
}

func freePort(t testing.TB) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

func regexpMatch(pattern, s string) (bool, error) { return regexp.MatchString(pattern, s) }

// pemDecode returns the DER of the first PEM block.
func pemDecode(p []byte) ([]byte, []byte) {
	blk, rest := pem.Decode(p)
	if blk == nil {
		return nil, rest
	}
	return blk.Bytes, rest
}
