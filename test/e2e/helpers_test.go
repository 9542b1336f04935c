package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/internal/albsim"
	"github.com/albtrust/albtrust/internal/pki"
)

// ctx is the background context of API calls; every wait has its own deadline.
var ctx = context.Background()

// eventually polls check every 250ms until it returns nil; after timeout it fails the test
// with the last error.
func eventually(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// --- HTTPS through the albsim listeners ---

// response is what one request through a listener produced.
type response struct {
	status int
	body   string
	// acceptableCAs are the CA names the listener advertised in its CertificateRequest.
	acceptableCAs [][]byte
}

// get makes one GET to https://127.0.0.1:port/ on a fresh connection (so the listener's current
// settings apply), trusting albsim's server CA and presenting cert when it is not nil. An error
// means the request did not get an HTTP answer: the listener refused the handshake.
func get(port int, cert *tls.Certificate) (response, error) {
	caPEM, err := os.ReadFile(st.ServerCA)
	if err != nil {
		return response{}, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return response{}, fmt.Errorf("%s holds no PEM certificate", st.ServerCA)
	}
	var r response
	cfg := &tls.Config{
		RootCAs: roots, MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			r.acceptableCAs = info.AcceptableCAs
			if cert == nil {
				return &tls.Certificate{}, nil
			}
			return cert, nil
		},
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/", port))
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return r, err
	}
	r.status, r.body = resp.StatusCode, string(b)
	return r, nil
}

// expectOK makes the request and wants HTTP 200.
func expectOK(port int, cert *tls.Certificate) (response, error) {
	r, err := get(port, cert)
	if err != nil {
		return r, fmt.Errorf("request refused: %w", err)
	}
	if r.status != http.StatusOK {
		return r, fmt.Errorf("HTTP %d, want 200: %s", r.status, strings.TrimSpace(r.body))
	}
	return r, nil
}

// expectRefused makes the request and wants the listener to refuse the handshake.
func expectRefused(port int, cert *tls.Certificate) error {
	r, err := get(port, cert)
	if err == nil {
		return fmt.Errorf("got HTTP %d (%s), want the handshake refused", r.status, strings.TrimSpace(r.body))
	}
	return nil
}

// connLogEntries reads albsim's connection log over its admin endpoint.
func connLogEntries() ([]albsim.ConnLogEntry, error) {
	resp, err := http.Get(st.AlbsimURL + "/_albsim/connections")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /_albsim/connections: HTTP %d", resp.StatusCode)
	}
	var out []albsim.ConnLogEntry
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// albsimCalls reads albsim's per-action call counters over its admin endpoint.
func albsimCalls() (map[string]int, error) {
	resp, err := http.Get(st.AlbsimURL + "/_albsim/calls")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /_albsim/calls: HTTP %d", resp.StatusCode)
	}
	out := map[string]int{}
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// waitVerifyStatus waits for albsim's connection log to hold a handshake on port by the client
// certificate with serial (empty: without a certificate) after since, and wants its
// tls_verify_status to be want. albsim writes the entry after the handshake ends.
func waitVerifyStatus(t *testing.T, port int, serial string, since time.Time, want string) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("connection log entry for serial %q on port %d", serial, port), func() error {
		entries, err := connLogEntries()
		if err != nil {
			return err
		}
		var last *albsim.ConnLogEntry
		for i := range entries {
			e := &entries[i]
			if e.Port == port && strings.EqualFold(e.ClientSerial, serial) && !e.Time.Before(since.Add(-time.Second)) {
				last = e
			}
		}
		if last == nil {
			return fmt.Errorf("no entry yet")
		}
		if last.VerifyStatus != want {
			return fmt.Errorf("tls_verify_status %q (error %q), want %q", last.VerifyStatus, last.Error, want)
		}
		return nil
	})
}

// --- Kubernetes objects ---

func key(name string) client.ObjectKey { return client.ObjectKey{Namespace: namespace, Name: name} }

func getClientCA(t testing.TB, name string) *mtlsv1alpha1.ClientCA {
	t.Helper()
	ca := &mtlsv1alpha1.ClientCA{}
	if err := st.Kube.Client.Get(ctx, key(name), ca); err != nil {
		t.Fatalf("get ClientCA %s: %v", name, err)
	}
	return ca
}

func getSecret(t testing.TB, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := st.Kube.Client.Get(ctx, key(name), s); err != nil {
		t.Fatalf("get Secret %s: %v", name, err)
	}
	return s
}

func create(t testing.TB, obj client.Object) {
	t.Helper()
	obj.SetNamespace(namespace)
	if err := st.Kube.Client.Create(ctx, obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// update re-reads obj, applies change and writes it back, retrying on conflicts with the
// controllers' status writes.
func update[T client.Object](t testing.TB, obj T, change func(T)) {
	t.Helper()
	eventually(t, 20*time.Second, fmt.Sprintf("update %s", obj.GetName()), func() error {
		if err := st.Kube.Client.Get(ctx, key(obj.GetName()), obj); err != nil {
			return err
		}
		change(obj)
		err := st.Kube.Client.Update(ctx, obj)
		if apierrors.IsConflict(err) {
			return err
		}
		if err != nil {
			t.Fatalf("update %s: %v", obj.GetName(), err)
		}
		return nil
	})
}

// conditionsOf returns the status conditions and observed generation of an albtrust object.
func conditionsOf(obj client.Object) []metav1.Condition {
	switch o := obj.(type) {
	case *mtlsv1alpha1.ClientCA:
		return o.Status.Conditions
	case *mtlsv1alpha1.ClientCertificate:
		return o.Status.Conditions
	case *mtlsv1alpha1.ListenerMTLS:
		return o.Status.Conditions
	}
	return nil
}

// waitReady waits until obj's Ready condition is True for its current generation, then returns
// with obj refreshed.
func waitReady(t testing.TB, obj client.Object, timeout time.Duration) {
	t.Helper()
	waitFor(t, obj, timeout, "Ready", func() error {
		c := meta.FindStatusCondition(conditionsOf(obj), mtlsv1alpha1.ConditionReady)
		switch {
		case c == nil:
			return fmt.Errorf("no Ready condition yet")
		case c.ObservedGeneration != obj.GetGeneration():
			return fmt.Errorf("Ready is for generation %d, object is at %d", c.ObservedGeneration, obj.GetGeneration())
		case c.Status != metav1.ConditionTrue:
			return fmt.Errorf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
		}
		return nil
	})
}

// waitFor re-reads obj until check (which looks at obj) passes.
func waitFor(t testing.TB, obj client.Object, timeout time.Duration, what string, check func() error) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%T %s %s", obj, obj.GetName(), what), func() error {
		if err := st.Kube.Client.Get(ctx, key(obj.GetName()), obj); err != nil {
			return err
		}
		return check()
	})
}

// deleteAndWait deletes obj and waits until its finalizers are done and it is gone.
func deleteAndWait(t testing.TB, obj client.Object, timeout time.Duration) {
	t.Helper()
	obj.SetNamespace(namespace)
	if err := st.Kube.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("delete %s: %v", obj.GetName(), err)
	}
	eventually(t, timeout, fmt.Sprintf("%T %s deleted", obj, obj.GetName()), func() error {
		err := st.Kube.Client.Get(ctx, key(obj.GetName()), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		conds, _ := json.Marshal(conditionsOf(obj))
		return fmt.Errorf("still there, finalizers %v, conditions %s", obj.GetFinalizers(), conds)
	})
}

// newClientCertificate is a ClientCertificate for commonName signed by ClientCA caName with
// the defaults (RSA 2048, one year, capped at the CA's notAfter).
func newClientCertificate(name, caName, commonName string) *mtlsv1alpha1.ClientCertificate {
	return &mtlsv1alpha1.ClientCertificate{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: mtlsv1alpha1.ClientCertificateSpec{
			ClientCARef: mtlsv1alpha1.LocalObjectReference{Name: caName},
			Subject:     &mtlsv1alpha1.Subject{CommonName: commonName, Organization: []string{"albtrust-e2e"}},
		},
	}
}

// issue creates a ClientCertificate, waits until it is Ready and returns it with the key pair
// from its Secret.
func issue(t testing.TB, cc *mtlsv1alpha1.ClientCertificate) (*mtlsv1alpha1.ClientCertificate, tls.Certificate) {
	t.Helper()
	create(t, cc)
	waitReady(t, cc, 60*time.Second)
	return cc, keyPairFromSecret(t, secretNameOf(cc))
}

func secretNameOf(cc *mtlsv1alpha1.ClientCertificate) string {
	if cc.Spec.SecretName != "" {
		return cc.Spec.SecretName
	}
	return cc.Name + "-tls"
}

// keyPairFromSecret loads tls.crt and tls.key of a certificate Secret, as a user would after
// `kubectl get secret`.
func keyPairFromSecret(t testing.TB, name string) tls.Certificate {
	t.Helper()
	s := getSecret(t, name)
	pair, err := tls.X509KeyPair(s.Data[mtlsv1alpha1.TLSCertKey], s.Data[mtlsv1alpha1.TLSKeyKey])
	if err != nil {
		t.Fatalf("Secret %s: load key pair: %v", name, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			t.Fatal(err)
		}
	}
	return pair
}

// caKeyPair loads the signing CA of a ClientCA from its Secret (tls.crt, tls.key).
func caKeyPair(t testing.TB, secretName string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	s := getSecret(t, secretName)
	certs, err := pki.ParseCertificatesPEM(s.Data[mtlsv1alpha1.TLSCertKey])
	if err != nil || len(certs) == 0 {
		t.Fatalf("Secret %s: tls.crt: %v", secretName, err)
	}
	k, err := pki.ParsePrivateKeyPEM(s.Data[mtlsv1alpha1.TLSKeyKey])
	if err != nil {
		t.Fatalf("Secret %s: tls.key does not parse", secretName)
	}
	if !pki.KeyMatches(k, certs[0]) {
		t.Fatalf("Secret %s: tls.key does not belong to the first certificate of tls.crt", secretName)
	}
	return certs[0], k
}

// signClient issues a client certificate with a fresh key from ca, valid between notBefore and
// notAfter, as tls.Certificate.
func signClient(t testing.TB, ca *x509.Certificate, caKey crypto.Signer, commonName string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	k, err := pki.GenerateKey(pki.AlgorithmECDSA, 256)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.IssueClientCertificate(pki.ClientRequest{
		Subject: pki.Subject{CommonName: commonName}.Name(), PublicKey: k.Public(),
		NotBefore: notBefore, NotAfter: notAfter, CA: ca, CAKey: caKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: k, Leaf: leaf}
}

// --- AWS clients pointed at the stack ---

// elbClient talks to albsim with the stack's test credentials, as the manager does.
func elbClient() *elbv2.Client {
	return elbv2.New(elbv2.Options{
		Region: st.S3.Region, BaseEndpoint: aws.String(st.AlbsimURL),
		Credentials: credentials.NewStaticCredentialsProvider(st.S3.AccessKey, st.S3.SecretKey, ""),
	})
}

// s3Client talks to versitygw with the stack's credentials, path-style.
func s3Client() *s3.Client { return st.S3.Client() }

// downloadS3 fetches an s3://bucket/key URI.
func downloadS3(t testing.TB, uri string) []byte {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		t.Fatalf("not an s3:// URI: %q", uri)
	}
	out, err := s3Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(u.Host), Key: aws.String(strings.TrimPrefix(u.Path, "/"))})
	if err != nil {
		t.Fatalf("get %s: %v", uri, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// --- files and processes ---

// writeFileAtomic replaces path in one rename, so a reader never sees half a file.
func writeFileAtomic(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// startProcess runs a binary with its output in logPath, stops it on the test's cleanup
// (SIGTERM, then SIGKILL after 10s) and waits until something accepts connections on addr.
func startProcess(t *testing.T, logPath, addr string, bin string, args ...string) {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", filepath.Base(bin), err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", filepath.Base(bin), b)
		}
	})
	eventually(t, 20*time.Second, filepath.Base(bin)+" listening on "+addr, func() error {
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited early:\n%s", filepath.Base(bin), b)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// --- helpers of particular tests ---

// nudge asks the controllers to reconcile obj now, through the reconcile-request annotation.
func nudge[T client.Object](t testing.TB, obj T, value string) {
	t.Helper()
	update(t, obj, func(o T) {
		a := o.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[mtlsv1alpha1.AnnotationReconcileRequest] = value
		o.SetAnnotations(a)
	})
}

func crlLists(crl *x509.RevocationList, leaf *x509.Certificate) bool {
	return crlEntry(crl, leaf) != nil
}

func crlEntry(crl *x509.RevocationList, leaf *x509.Certificate) *x509.RevocationListEntry {
	for i, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
			return &crl.RevokedCertificateEntries[i]
		}
	}
	return nil
}

// waitRevoked waits for Revoked=True (with Ready=False, reason Revoked).
func waitRevoked(t testing.TB, cc *mtlsv1alpha1.ClientCertificate) {
	t.Helper()
	waitFor(t, cc, 30*time.Second, "Revoked=True", func() error {
		c := meta.FindStatusCondition(cc.Status.Conditions, mtlsv1alpha1.ConditionRevoked)
		if c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Revoked condition %+v", c)
		}
		if r := meta.FindStatusCondition(cc.Status.Conditions, mtlsv1alpha1.ConditionReady); r == nil || r.Status != metav1.ConditionFalse || r.Reason != mtlsv1alpha1.ReasonRevoked {
			return fmt.Errorf("Ready condition %+v, want False/Revoked", r)
		}
		return nil
	})
}

// waitAllConverged waits until every albtrust object in the namespace reports its current
// generation: Ready=True, or Revoked=True for a revoked ClientCertificate.
func waitAllConverged(t testing.TB, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "every object converged", func() error {
		var objs []client.Object
		var cas mtlsv1alpha1.ClientCAList
		var ccs mtlsv1alpha1.ClientCertificateList
		var lms mtlsv1alpha1.ListenerMTLSList
		for _, l := range []client.ObjectList{&cas, &ccs, &lms} {
			if err := st.Kube.Client.List(ctx, l, client.InNamespace(namespace)); err != nil {
				return err
			}
		}
		for i := range cas.Items {
			objs = append(objs, &cas.Items[i])
		}
		for i := range ccs.Items {
			objs = append(objs, &ccs.Items[i])
		}
		for i := range lms.Items {
			objs = append(objs, &lms.Items[i])
		}
		for _, o := range objs {
			want := mtlsv1alpha1.ConditionReady
			if cc, ok := o.(*mtlsv1alpha1.ClientCertificate); ok && cc.Spec.Revoked {
				want = mtlsv1alpha1.ConditionRevoked
			}
			c := meta.FindStatusCondition(conditionsOf(o), want)
			if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != o.GetGeneration() {
				return fmt.Errorf("%T %s: %s %+v (generation %d)", o, o.GetName(), want, c, o.GetGeneration())
			}
		}
		return nil
	})
}

// issueWait waits for an already created ClientCertificate and returns its key pair.
func issueWait(t testing.TB, cc *mtlsv1alpha1.ClientCertificate) (*mtlsv1alpha1.ClientCertificate, tls.Certificate) {
	t.Helper()
	waitReady(t, cc, 60*time.Second)
	return cc, keyPairFromSecret(t, secretNameOf(cc))
}

// advertises reports whether ca's subject is among the advertised CA names.
func advertises(names [][]byte, ca *x509.Certificate) bool {
	for _, n := range names {
		if bytes.Equal(n, ca.RawSubject) {
			return true
		}
	}
	return false
}

// countVersions counts object versions and delete markers under prefix in the bucket.
func countVersions(t testing.TB, prefix string) int {
	t.Helper()
	n := 0
	p := s3.NewListObjectVersionsPaginator(s3Client(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list versions under %s: %v", prefix, err)
		}
		n += len(page.Versions) + len(page.DeleteMarkers)
	}
	return n
}

// keyNeedles returns pieces of a PEM private key that would show up if the key were written
// out: a line of its base64 body, and pieces of the base64 of the whole PEM text (as a Secret's
// data appears in JSON), at the three base64 alignments.
func keyNeedles(pemKey []byte) []string {
	var out []string
	lines := strings.Split(strings.TrimSpace(string(pemKey)), "\n")
	if len(lines) > 2 {
		out = append(out, strings.TrimSpace(lines[len(lines)/2]))
	}
	for off := 0; off < 3 && off+60 < len(pemKey); off++ {
		enc := base64.StdEncoding.EncodeToString(pemKey[off+30:])
		if len(enc) > 48 {
			out = append(out, enc[4:48])
		}
	}
	return out
}
