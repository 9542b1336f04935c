package albsim_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albtrust/albtrust/internal/albsim"
)

// plane is a load balancer with one HTTPS listener in front of a backend that echoes the
// request headers it receives.
type plane struct {
	*env
	listenerArn *string
	port        int32
}

func newPlane(t *testing.T, ma *types.MutualAuthenticationAttributes) *plane {
	e := newEnv(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	t.Cleanup(backend.Close)
	backendURL, _ := url.Parse(backend.URL)
	lbArn, tgArn := e.lbAndTG("plane")
	port := backendURL.Port()
	var p int32
	fmt.Sscan(port, &p)
	must[*elbv2.RegisterTargetsOutput](t)(e.elb.RegisterTargets(e.ctx, &elbv2.RegisterTargetsInput{
		TargetGroupArn: aws.String(tgArn), Targets: []types.TargetDescription{{Id: aws.String("127.0.0.1"), Port: aws.Int32(p)}},
	}))
	lport := freePort(t)
	l := must[*elbv2.CreateListenerOutput](t)(e.httpsListener(lbArn, tgArn, lport, ma)).Listeners[0]
	return &plane{env: e, listenerArn: l.ListenerArn, port: lport}
}

func (p *plane) setMutualAuth(ma *types.MutualAuthenticationAttributes) {
	p.t.Helper()
	must[*elbv2.ModifyListenerOutput](p.t)(p.elb.ModifyListener(p.ctx, &elbv2.ModifyListenerInput{ListenerArn: p.listenerArn, MutualAuthentication: ma}))
}

// result of one request on a fresh connection.
type result struct {
	headers      http.Header
	err          error
	askedForCert bool
	acceptedCAs  [][]byte
}

// get makes one request on a new TLS connection, presenting chain (if any), with extra headers.
func (p *plane) get(chain *tls.Certificate, extra map[string]string) result {
	p.t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(p.sim.ServerCAPEM()) {
		p.t.Fatal("albsim's server CA PEM does not parse")
	}
	var mu sync.Mutex
	var res result
	tr := &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{
			RootCAs:    roots,
			ServerName: "localhost",
			GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
				mu.Lock()
				res.askedForCert, res.acceptedCAs = true, cri.AcceptableCAs
				mu.Unlock()
				if chain == nil {
					return &tls.Certificate{}, nil
				}
				return chain, nil
			},
		},
	}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/", p.port), nil)
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		res.err = err
		return res
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		res.err = fmt.Errorf("status %d", resp.StatusCode)
		return res
	}
	if err := json.NewDecoder(resp.Body).Decode(&res.headers); err != nil {
		res.err = err
	}
	return res
}

// lastStatus returns the verify outcome of the newest handshake on the listener. The log line is
// written by the handshake goroutine, so wait for it (bounded) rather than assume it is there.
func (p *plane) lastStatus(before int) string {
	p.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		log := p.sim.ConnectionLog()
		if len(log) > before {
			return log[len(log)-1].VerifyStatus
		}
		if time.Now().After(deadline) {
			p.t.Fatal("no connection-log entry for the handshake")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func withChain(leaf tls.Certificate, more ...*x509.Certificate) *tls.Certificate {
	c := leaf
	for _, m := range more {
		c.Certificate = append(c.Certificate, m.Raw)
	}
	return &c
}

func TestOffRequestsNoCertificate(t *testing.T) {
	p := newPlane(t, nil)
	ca := newCA(t, "Off CA")
	leaf, _ := ca.issue(t, "client", leafOpts{})
	res := p.get(&leaf, map[string]string{"X-Amzn-Mtls-Clientcert": "spoofed"})
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.askedForCert {
		t.Fatal("an Off listener asked the client for a certificate")
	}
	if v := res.headers.Get("X-Amzn-Mtls-Clientcert"); v != "" {
		t.Fatalf("a spoofed header reached the target: %q", v)
	}
	if res.headers.Get("X-Forwarded-Proto") != "https" {
		t.Fatalf("X-Forwarded-Proto = %q", res.headers.Get("X-Forwarded-Proto"))
	}
}

func TestPassthroughForwardsChain(t *testing.T) {
	p := newPlane(t, &types.MutualAuthenticationAttributes{Mode: aws.String("passthrough")})
	root := newCA(t, "Passthrough root")
	inter := makeCA(t, "Passthrough intermediate", newCA(t, "x").key, root)
	leaf, leafCert := inter.issue(t, "laptop", leafOpts{})

	res := p.get(withChain(leaf, inter.cert), map[string]string{"X-Amzn-Mtls-Clientcert-Subject": "CN=admin"})
	if res.err != nil {
		t.Fatal(res.err)
	}
	if !res.askedForCert || len(res.acceptedCAs) != 0 {
		t.Fatalf("passthrough must request a certificate without naming CAs (asked %v, CAs %d)", res.askedForCert, len(res.acceptedCAs))
	}
	raw := res.headers.Get("X-Amzn-Mtls-Clientcert")
	if strings.ContainsAny(raw, "\n ") || strings.Contains(raw, "%2B") || strings.Contains(raw, "%3D") || strings.Contains(raw, "%2F") {
		t.Fatalf("header is not encoded as ALB does (+, =, / unescaped; spaces and newlines escaped): %.120s", raw)
	}
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		t.Fatal(err)
	}
	var got []*x509.Certificate
	rest := []byte(decoded)
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	if len(got) != 2 || !got[0].Equal(leafCert) || !got[1].Equal(inter.cert) {
		t.Fatalf("header decodes to %d certificates, want leaf then intermediate", len(got))
	}
	if v := res.headers.Get("X-Amzn-Mtls-Clientcert-Subject"); v != "" {
		t.Fatalf("spoofed subject header reached the target: %q", v)
	}

	// An untrusted certificate passes too: passthrough does not verify.
	other, _ := newCA(t, "Anyone").issue(t, "stranger", leafOpts{notAfter: time.Now().Add(-time.Hour), notBefore: time.Now().Add(-2 * time.Hour)})
	if res := p.get(&other, nil); res.err != nil {
		t.Fatalf("passthrough refused an unverified certificate: %v", res.err)
	}
	// No certificate: the request goes through without the header.
	res = p.get(nil, nil)
	if res.err != nil || res.headers.Get("X-Amzn-Mtls-Clientcert") != "" {
		t.Fatalf("without a certificate: err %v, header %q", res.err, res.headers.Get("X-Amzn-Mtls-Clientcert"))
	}

	// A renamed header through listener attributes.
	must[*elbv2.ModifyListenerAttributesOutput](t)(p.elb.ModifyListenerAttributes(p.ctx, &elbv2.ModifyListenerAttributesInput{
		ListenerArn: p.listenerArn, Attributes: []types.ListenerAttribute{{Key: aws.String("routing.http.request.x_amzn_mtls_clientcert.header_name"), Value: aws.String("X-Client-Chain")}},
	}))
	res = p.get(&leaf, map[string]string{"X-Client-Chain": "spoofed"})
	if res.err != nil || res.headers.Get("X-Amzn-Mtls-Clientcert") != "" || !strings.HasPrefix(res.headers.Get("X-Client-Chain"), "-----BEGIN%20CERTIFICATE-----%0A") {
		t.Fatalf("renamed header: err %v, headers %v", res.err, res.headers)
	}
}

func TestVerifyHandshakes(t *testing.T) {
	p := newPlane(t, nil)
	ca := newCA(t, "Verify CA")
	ts := p.trustStore("verify", ca.pem)
	p.setMutualAuth(&types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: ts.TrustStoreArn})

	good, goodCert := ca.issue(t, "alice", leafOpts{})
	expired, _ := ca.issue(t, "old", leafOpts{notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)})
	future, _ := ca.issue(t, "early", leafOpts{notBefore: time.Now().Add(24 * time.Hour), notAfter: time.Now().Add(48 * time.Hour)})
	serverOnly, _ := ca.issue(t, "server", leafOpts{eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	untrusted, _ := newCA(t, "Stranger CA").issue(t, "mallory", leafOpts{})

	cases := map[string]struct {
		cert   *tls.Certificate
		ok     bool
		status string
	}{
		"trusted certificate":     {&good, true, albsim.VerifySuccess},
		"no certificate":          {nil, false, albsim.VerifyNoClientCert},
		"untrusted certificate":   {&untrusted, false, albsim.VerifyClientCertUntrusted},
		"expired certificate":     {&expired, false, albsim.VerifyClientCertExpired},
		"not yet valid":           {&future, false, albsim.VerifyClientCertNotYetValid},
		"serverAuth-only purpose": {&serverOnly, false, albsim.VerifyClientCertPurpose},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := len(p.sim.ConnectionLog())
			res := p.get(tc.cert, nil)
			if (res.err == nil) != tc.ok {
				t.Fatalf("request error %v, want success=%v", res.err, tc.ok)
			}
			if got := p.lastStatus(before); got != tc.status {
				t.Fatalf("tls_verify_status %q, want %q", got, tc.status)
			}
		})
	}

	// The connection log is also served as JSON by the admin endpoint.
	var logged []albsim.ConnLogEntry
	if err := json.Unmarshal([]byte(httpGet(t, p.apiURL+"/_albsim/connections")), &logged); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range logged {
		seen[l.VerifyStatus] = true
	}
	for _, tc := range cases {
		if !seen[tc.status] {
			t.Errorf("the admin connection log lacks %s (has %v)", tc.status, seen)
		}
	}

	// The headers ALB sends for a verified certificate; spoofed ones are replaced.
	res := p.get(&good, map[string]string{"X-Amzn-Mtls-Clientcert-Serial-Number": "FFFF", "X-Amzn-Mtls-Clientcert-Leaf": "spoofed"})
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := map[string]string{
		"X-Amzn-Mtls-Clientcert-Serial-Number": fmt.Sprintf("%X", goodCert.SerialNumber.Bytes()),
		"X-Amzn-Mtls-Clientcert-Issuer":        "CN=Verify CA,O=albtrust tests",
		"X-Amzn-Mtls-Clientcert-Subject":       "CN=alice,O=albtrust tests",
		"X-Amzn-Mtls-Clientcert-Validity": fmt.Sprintf("NotBefore=%s;NotAfter=%s",
			goodCert.NotBefore.UTC().Format("2006-01-02T15:04:05Z"), goodCert.NotAfter.UTC().Format("2006-01-02T15:04:05Z")),
		"X-Amzn-Mtls-Clientcert-Leaf": albsim.EncodeCertificateHeader(pemCert(goodCert)),
	}
	for h, v := range want {
		if got := res.headers.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	if got := res.headers.Values("X-Amzn-Mtls-Clientcert-Serial-Number"); len(got) != 1 {
		t.Errorf("serial header has %d values, want only albsim's", len(got))
	}
	if !strings.HasPrefix(want["X-Amzn-Mtls-Clientcert-Serial-Number"], "03") {
		t.Errorf("serial %s is not zero-padded upper-case hex", want["X-Amzn-Mtls-Clientcert-Serial-Number"])
	}

	// IgnoreClientCertificateExpiry accepts the expired certificate (and only changes expiry).
	p.setMutualAuth(&types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: ts.TrustStoreArn, IgnoreClientCertificateExpiry: aws.Bool(true)})
	if res := p.get(&expired, nil); res.err != nil {
		t.Fatalf("expired certificate refused with IgnoreClientCertificateExpiry: %v", res.err)
	}
	if res := p.get(&untrusted, nil); res.err == nil {
		t.Fatal("untrusted certificate accepted with IgnoreClientCertificateExpiry")
	}
}

func TestAdvertiseTrustStoreCaNames(t *testing.T) {
	p := newPlane(t, nil)
	ca := newCA(t, "Advertised CA")
	ts := p.trustStore("advertise", ca.pem)
	leaf, _ := ca.issue(t, "c", leafOpts{})
	cases := map[string]struct {
		advertise types.AdvertiseTrustStoreCaNamesEnum
		wantCAs   int
	}{
		"on":  {types.AdvertiseTrustStoreCaNamesEnumOn, 1},
		"off": {types.AdvertiseTrustStoreCaNamesEnumOff, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p.setMutualAuth(&types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: ts.TrustStoreArn, AdvertiseTrustStoreCaNames: tc.advertise})
			res := p.get(&leaf, nil)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if len(res.acceptedCAs) != tc.wantCAs {
				t.Fatalf("CertificateRequest named %d CAs, want %d", len(res.acceptedCAs), tc.wantCAs)
			}
			if tc.wantCAs == 1 && string(res.acceptedCAs[0]) != string(ca.cert.RawSubject) {
				t.Fatal("advertised CA name is not the bundle's subject")
			}
		})
	}
}

// TestBundleAndCRLReplacement proves API changes reach the next handshake without a restart.
func TestBundleAndCRLReplacement(t *testing.T) {
	p := newPlane(t, nil)
	ca1, ca2 := newCA(t, "First CA"), newCA(t, "Second CA")
	ts := p.trustStore("rotate", ca1.pem)
	p.setMutualAuth(&types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: ts.TrustStoreArn})
	a, aCert := ca1.issue(t, "a", leafOpts{})
	b, bCert := ca1.issue(t, "b", leafOpts{})
	c, _ := ca2.issue(t, "c", leafOpts{})

	check := func(name string, cert *tls.Certificate, ok bool, status string) {
		t.Helper()
		before := len(p.sim.ConnectionLog())
		res := p.get(cert, nil)
		if (res.err == nil) != ok {
			t.Fatalf("%s: request error %v, want success=%v", name, res.err, ok)
		}
		if got := p.lastStatus(before); got != status {
			t.Fatalf("%s: tls_verify_status %q, want %q", name, got, status)
		}
	}
	check("a before revocation", &a, true, albsim.VerifySuccess)

	addCRL := func(key string, crl []byte) int64 {
		p.put(key, crl)
		out := must[*elbv2.AddTrustStoreRevocationsOutput](t)(p.elb.AddTrustStoreRevocations(p.ctx, &elbv2.AddTrustStoreRevocationsInput{
			TrustStoreArn: ts.TrustStoreArn, RevocationContents: []types.RevocationContent{{S3Bucket: aws.String(p.bucket), S3Key: aws.String(key)}},
		}))
		return aws.ToInt64(out.TrustStoreRevocations[0].RevocationId)
	}
	first := addCRL("crl-a.pem", ca1.crl(t, aCert.SerialNumber))
	check("a revoked", &a, false, albsim.VerifyClientCertCrlHit)
	check("b not revoked", &b, true, albsim.VerifySuccess)

	// Replace the CRL the ALB way: add the new one, then remove the old ID.
	addCRL("crl-b.pem", ca1.crl(t, bCert.SerialNumber))
	must[*elbv2.RemoveTrustStoreRevocationsOutput](t)(p.elb.RemoveTrustStoreRevocations(p.ctx, &elbv2.RemoveTrustStoreRevocationsInput{TrustStoreArn: ts.TrustStoreArn, RevocationIds: []int64{first}}))
	check("a after its CRL was removed", &a, true, albsim.VerifySuccess)
	check("b revoked by the new CRL", &b, false, albsim.VerifyClientCertCrlHit)

	// Replace the bundle: certificates of the old CA stop working, the new CA's start.
	check("c before bundle change", &c, false, albsim.VerifyClientCertUntrusted)
	p.put("rotate/bundle.pem", ca2.pem)
	must[*elbv2.ModifyTrustStoreOutput](t)(p.elb.ModifyTrustStore(p.ctx, &elbv2.ModifyTrustStoreInput{
		TrustStoreArn: ts.TrustStoreArn, CaCertificatesBundleS3Bucket: aws.String(p.bucket), CaCertificatesBundleS3Key: aws.String("rotate/bundle.pem"),
	}))
	check("c after bundle change", &c, true, albsim.VerifySuccess)
	check("a after bundle change", &a, false, albsim.VerifyClientCertUntrusted)

	// Mode changes apply too.
	p.setMutualAuth(&types.MutualAuthenticationAttributes{Mode: aws.String("off")})
	if res := p.get(nil, nil); res.err != nil || res.askedForCert {
		t.Fatalf("after Mode=off: err %v, asked for a certificate %v", res.err, res.askedForCert)
	}
}

// TestIntermediateChain proves a leaf under an intermediate verifies when the client sends the
// intermediate, and when the bundle holds it.
func TestIntermediateChain(t *testing.T) {
	p := newPlane(t, nil)
	root := newCA(t, "Chain root")
	inter := makeCA(t, "Chain intermediate", newCA(t, "k").key, root)
	ts := p.trustStore("chain", root.pem)
	p.setMutualAuth(&types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: ts.TrustStoreArn})
	leaf, _ := inter.issue(t, "deep", leafOpts{})
	if res := p.get(withChain(leaf, inter.cert), nil); res.err != nil {
		t.Fatalf("leaf with its intermediate: %v", res.err)
	}
	if res := p.get(&leaf, nil); res.err == nil {
		t.Fatal("leaf without its intermediate verified against a root-only bundle")
	}
}

// TestMaxChainDepth proves a chain longer than four certificates is refused as ALB refuses it.
func TestMaxChainDepth(t *testing.T) {
	p := newPlane(t, nil)
	root := newCA(t, "Depth root")
	i1 := makeCA(t, "Depth 1", newCA(t, "k1").key, root)
	i2 := makeCA(t, "Depth 2", newCA(t, "k2").key, i1)
	i3 := makeCA(t, "Depth 3", newCA(t, "k3").key, i2)
	ts := p.trustStore("depth", root.pem)
	p.setMutualAuth(&types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: ts.TrustStoreArn})
	deep, _ := i3.issue(t, "deep", leafOpts{})
	shallow, _ := i2.issue(t, "shallow", leafOpts{})

	before := len(p.sim.ConnectionLog())
	if res := p.get(withChain(shallow, i2.cert, i1.cert), nil); res.err != nil {
		t.Fatalf("a chain of four certificates was refused: %v", res.err)
	}
	if got := p.lastStatus(before); got != albsim.VerifySuccess {
		t.Fatalf("four-certificate chain: %s", got)
	}
	before = len(p.sim.ConnectionLog())
	if res := p.get(withChain(deep, i3.cert, i2.cert, i1.cert), nil); res.err == nil {
		t.Fatal("a chain of five certificates was accepted")
	}
	if got := p.lastStatus(before); got != albsim.VerifyClientCertMaxChainDepth {
		t.Fatalf("five-certificate chain: %s", got)
	}
}

// TestSeedAndPortChange seeds a passthrough listener through the Go API, finds it by name and
// port, then moves it to another port with ModifyListener.
func TestSeedAndPortChange(t *testing.T) {
	e := newEnv(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	defer backend.Close()
	bu, _ := url.Parse(backend.URL)
	var bport int
	fmt.Sscan(bu.Port(), &bport)
	port := int(freePort(t))
	err := e.sim.Seed(albsim.SeedState{
		TargetGroups:  []albsim.SeedTargetGroup{{Name: "seeded", Port: bport, Targets: []albsim.SeedTarget{{ID: "127.0.0.1"}}}},
		LoadBalancers: []albsim.SeedLoadBalancer{{Name: "seeded", Listeners: []albsim.SeedListener{{Port: port, TargetGroup: "seeded", MutualAuthentication: &albsim.SeedMutualAuth{Mode: "passthrough"}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn, ok := e.sim.ListenerARN("seeded", port)
	if !ok {
		t.Fatal("ListenerARN does not find the seeded listener")
	}
	p := &plane{env: e, listenerArn: aws.String(arn), port: int32(port)}
	leaf, _ := newCA(t, "Seed CA").issue(t, "seeded-client", leafOpts{})
	if res := p.get(&leaf, nil); res.err != nil || res.headers.Get("X-Amzn-Mtls-Clientcert") == "" {
		t.Fatalf("seeded passthrough listener: err %v, headers %v", res.err, res.headers)
	}
	if err := e.sim.Seed(albsim.SeedState{LoadBalancers: []albsim.SeedLoadBalancer{{Name: "other", Listeners: []albsim.SeedListener{{Port: port, TargetGroup: "seeded"}}}}}); err == nil {
		t.Fatal("seeding a second listener on a used port succeeded")
	}

	newPort := freePort(t)
	out := must[*elbv2.ModifyListenerOutput](t)(e.elb.ModifyListener(e.ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(arn), Port: aws.Int32(newPort)}))
	if aws.ToInt32(out.Listeners[0].Port) != newPort || aws.ToString(out.Listeners[0].MutualAuthentication.Mode) != "passthrough" {
		t.Fatalf("after the port change: %+v", out.Listeners[0])
	}
	p.port = newPort
	if res := p.get(&leaf, nil); res.err != nil {
		t.Fatalf("listener on its new port: %v", res.err)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Fatal("the old port still accepts connections")
	}
}

// Changing only the protocol keeps the port: the listener must come back on it, now in plain HTTP.
func TestModifyListenerProtocolOnSamePort(t *testing.T) {
	e := newEnv(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer backend.Close()
	bu, _ := url.Parse(backend.URL)
	var bport int
	fmt.Sscan(bu.Port(), &bport)
	port := int(freePort(t))
	if err := e.sim.Seed(albsim.SeedState{
		TargetGroups:  []albsim.SeedTargetGroup{{Name: "proto", Port: bport, Targets: []albsim.SeedTarget{{ID: "127.0.0.1"}}}},
		LoadBalancers: []albsim.SeedLoadBalancer{{Name: "proto", Listeners: []albsim.SeedListener{{Port: port, TargetGroup: "proto"}}}},
	}); err != nil {
		t.Fatal(err)
	}
	arn, _ := e.sim.ListenerARN("proto", port)
	out := must[*elbv2.ModifyListenerOutput](t)(e.elb.ModifyListener(e.ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(arn), Protocol: types.ProtocolEnumHttp}))
	if out.Listeners[0].Protocol != types.ProtocolEnumHttp || aws.ToInt32(out.Listeners[0].Port) != int32(port) {
		t.Fatalf("after the protocol change: %+v", out.Listeners[0])
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("plain HTTP on the same port: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("plain HTTP on the same port: %d", resp.StatusCode)
	}
}
