package albmtls_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/albtrust/albtrust/pkg/albmtls"
)

func pemDecodeOne(b []byte) ([]byte, string) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, ""
	}
	return block.Bytes, block.Type
}

// albEscape percent-encodes s the way ALB documents it, through a second
// implementation (net/url) so the package's own encoder is not the only
// judge: everything escaped except unreserved characters and '+', '=', '/'.
func albEscape(s string) string {
	e := url.QueryEscape(s) // escapes '+', '=', '/', turns ' ' into '+'
	e = strings.ReplaceAll(e, "+", "%20")
	for _, keep := range []string{"+", "=", "/"} {
		e = strings.ReplaceAll(e, url.QueryEscape(keep), keep)
	}
	return e
}

func TestParseClientCertHeader(t *testing.T) {
	h := testHierarchy(t, "rsa", true)
	leaf := newLeaf(t, testKey(t, "rsa", 2), h.issuer(), leafOpts{cn: "alice"})
	chainPEM := string(pemCerts(leaf.cert, h.inter.cert))
	good := albEscape(chainPEM)
	if !strings.Contains(good, "+") && !strings.Contains(good, "/") {
		t.Fatal("fixture has no '+' or '/' in its base64; the test would not exercise them")
	}
	ownEncoding := albmtls.EncodeClientCertHeader(leaf.cert, h.inter.cert)
	if ownEncoding != good {
		t.Errorf("EncodeClientCertHeader differs from the reference encoding")
	}
	leafPEM := string(pemCerts(leaf.cert))
	keyBlock := "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n"
	junkDER := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER at all")}))
	withHeaders := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: leaf.cert.Raw}))
	six := strings.Repeat(leafPEM, 6)

	tests := []struct {
		name      string
		value     string
		wantCerts int
		want      error
	}{
		{name: "leaf and intermediate", value: good, wantCerts: 2},
		{name: "leaf only", value: albEscape(leafPEM), wantCerts: 1},
		{name: "leaf plus four", value: albEscape(strings.Repeat(leafPEM, 5)), wantCerts: 5},
		{name: "unescaped PEM with literal newlines", value: chainPEM, wantCerts: 2},
		{name: "plus decoded as space (QueryUnescape bug) is refused", value: strings.ReplaceAll(good, "+", "%20"), want: albmtls.ErrMalformed},
		{name: "empty", value: "", want: albmtls.ErrNoCertificate},
		{name: "bad percent escape", value: good[:40] + "%zz" + good[40:], want: albmtls.ErrMalformed},
		{name: "dangling percent", value: good + "%", want: albmtls.ErrMalformed},
		{name: "truncated PEM", value: good[:len(good)/2], want: albmtls.ErrMalformed},
		{name: "missing END line", value: albEscape(strings.TrimSuffix(leafPEM, "-----END CERTIFICATE-----\n")), want: albmtls.ErrMalformed},
		{name: "junk", value: "hello%20world", want: albmtls.ErrMalformed},
		{name: "trailing junk", value: good + "junk", want: albmtls.ErrMalformed},
		{name: "private key block", value: albEscape(leafPEM + keyBlock), want: albmtls.ErrMalformed},
		{name: "certificate block that is not DER", value: albEscape(junkDER), want: albmtls.ErrMalformed},
		{name: "PEM headers", value: albEscape(withHeaders), want: albmtls.ErrMalformed},
		{name: "five certificates after the leaf", value: albEscape(six), want: albmtls.ErrChainTooLong},
		{name: "over 16 KB", value: good + strings.Repeat("%0A", (albmtls.MaxHeaderBytes-len(good))/3+1), want: albmtls.ErrHeaderTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certs, err := albmtls.ParseClientCertHeader(tc.value)
			assertReason(t, err, tc.want)
			if len(certs) != tc.wantCerts {
				t.Fatalf("got %d certificates, want %d", len(certs), tc.wantCerts)
			}
			if tc.want == nil && !certs[0].Equal(leaf.cert) {
				t.Error("first certificate is not the leaf")
			}
			if err != nil && strings.Contains(err.Error(), tc.value[:min(len(tc.value), 64)]) && len(tc.value) > 8 {
				t.Errorf("error repeats the header value: %v", err)
			}
		})
	}
}

func TestParseVerifyHeaders(t *testing.T) {
	h := testHierarchy(t, "ecdsa", true)
	leaf := newLeaf(t, testKey(t, "ecdsa", 2), h.issuer(), leafOpts{cn: "alice"})
	serial := strings.ToUpper(leaf.cert.SerialNumber.Text(16))
	if len(serial)%2 == 1 {
		serial = "0" + serial
	}
	full := func() http.Header {
		hd := http.Header{}
		hd.Set(albmtls.HeaderSerialNumber, serial)
		hd.Set(albmtls.HeaderIssuer, leaf.cert.Issuer.String())
		hd.Set(albmtls.HeaderSubject, leaf.cert.Subject.String())
		hd.Set(albmtls.HeaderValidity, "NotBefore="+leaf.cert.NotBefore.UTC().Format(time.RFC3339)+";NotAfter="+leaf.cert.NotAfter.UTC().Format(time.RFC3339))
		hd.Set(albmtls.HeaderLeaf, albEscape(string(pemCerts(leaf.cert))))
		return hd
	}
	with := func(f func(http.Header)) http.Header { hd := full(); f(hd); return hd }

	tests := []struct {
		name string
		h    http.Header
		want error
	}{
		{name: "all headers", h: full()},
		{name: "lowercase serial", h: with(func(hd http.Header) { hd.Set(albmtls.HeaderSerialNumber, strings.ToLower(serial)) })},
		{name: "subject only", h: http.Header{albmtls.HeaderSubject: {"CN=bob,O=Example"}}},
		{name: "none", h: http.Header{}, want: albmtls.ErrNoCertificate},
		{name: "serial not hex", h: with(func(hd http.Header) { hd.Set(albmtls.HeaderSerialNumber, "0xZZ") }), want: albmtls.ErrMalformed},
		{name: "serial of another certificate", h: with(func(hd http.Header) { hd.Set(albmtls.HeaderSerialNumber, "03A5B1") }), want: albmtls.ErrMalformed},
		{name: "validity with a date only", h: with(func(hd http.Header) { hd.Set(albmtls.HeaderValidity, "NotBefore=2023-09-21;NotAfter=2024-09-20") }), want: albmtls.ErrMalformed},
		{name: "validity without NotAfter", h: with(func(hd http.Header) { hd.Set(albmtls.HeaderValidity, "NotBefore=2023-09-21T01:50:17Z") }), want: albmtls.ErrMalformed},
		{name: "validity with an unknown key", h: with(func(hd http.Header) {
			hd.Set(albmtls.HeaderValidity, "NotBefore=2023-09-21T01:50:17Z;Until=2024-09-20T01:50:17Z")
		}), want: albmtls.ErrMalformed},
		{name: "leaf with two certificates", h: with(func(hd http.Header) {
			hd.Set(albmtls.HeaderLeaf, albmtls.EncodeClientCertHeader(leaf.cert, h.inter.cert))
		}), want: albmtls.ErrMalformed},
		{name: "leaf with a bad escape", h: with(func(hd http.Header) { hd.Set(albmtls.HeaderLeaf, "%G0") }), want: albmtls.ErrMalformed},
		{name: "subject twice", h: with(func(hd http.Header) { hd.Add(albmtls.HeaderSubject, "CN=mallory") }), want: albmtls.ErrMalformed},
		{name: "issuer over 16 KB", h: with(func(hd http.Header) { hd.Set(albmtls.HeaderIssuer, "CN="+strings.Repeat("a", albmtls.MaxHeaderBytes)) }), want: albmtls.ErrHeaderTooLarge},
		{name: "serial and issuer without leaf or subject", h: http.Header{albmtls.HeaderSerialNumber: {"01"}, albmtls.HeaderIssuer: {"CN=CA"}}, want: albmtls.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vh, err := albmtls.ParseVerifyHeaders(tc.h, albmtls.HeaderNames{})
			assertReason(t, err, tc.want)
			if err != nil {
				return
			}
			if vh.Leaf != nil && (vh.SerialNumber != serial || !vh.NotAfter.Equal(leaf.cert.NotAfter) || vh.Subject != leaf.cert.Subject.String()) {
				t.Errorf("decoded %+v, want the leaf's values", vh)
			}
		})
	}
}

func TestVerifyHeadersMode(t *testing.T) {
	h := testHierarchy(t, "ecdsa", false)
	leaf := newLeaf(t, testKey(t, "ecdsa", 2), h.issuer(), leafOpts{cn: "alice", emails: []string{"alice@example.com"}})
	foreignCA := newCA(t, "Other", testKey(t, "ecdsa", 3), nil, testNow.Add(-time.Hour), testNow.Add(time.Hour*24*365))
	stranger := newLeaf(t, testKey(t, "ecdsa", 2), foreignCA, leafOpts{cn: "alice"})

	trusting, err := albmtls.NewVerifier(albmtls.WithMode(albmtls.ModeVerifyHeaders), albmtls.WithClock(fixedClock),
		albmtls.WithHeaderNames(albmtls.HeaderNames{Subject: "X-Cert-Subject", Leaf: "X-Cert-Leaf"}))
	if err != nil {
		t.Fatal(err)
	}
	doubleChecking, err := albmtls.NewVerifier(albmtls.WithMode(albmtls.ModeVerifyHeaders), albmtls.WithClock(fixedClock),
		albmtls.WithCABundle(pemCerts(h.root.cert)), albmtls.WithHeaderNames(albmtls.HeaderNames{Subject: "X-Cert-Subject", Leaf: "X-Cert-Leaf"}))
	if err != nil {
		t.Fatal(err)
	}
	req := func(hdr map[string]string) *http.Request {
		r, _ := http.NewRequest("GET", "http://backend/", nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		return r
	}
	leafHdr := map[string]string{"X-Cert-Leaf": albmtls.EncodeClientCertHeader(leaf.cert)}
	strangerHdr := map[string]string{"X-Cert-Leaf": albmtls.EncodeClientCertHeader(stranger.cert)}
	subjectOnly := map[string]string{"X-Cert-Subject": `CN=O\2C Brien\, Pat,OU=eng+O=Example`, albmtls.HeaderSerialNumber: "0a1b"}

	t.Run("leaf header trusted", func(t *testing.T) {
		id, err := trusting.VerifyRequest(req(leafHdr))
		if err != nil {
			t.Fatal(err)
		}
		checkIdentity(t, id, leaf.cert)
		if id.Mode != albmtls.ModeVerifyHeaders || len(id.EmailAddresses) != 1 {
			t.Errorf("mode %s, emails %v", id.Mode, id.EmailAddresses)
		}
	})
	t.Run("subject header only", func(t *testing.T) {
		id, err := trusting.VerifyRequest(req(subjectOnly))
		if err != nil {
			t.Fatal(err)
		}
		if id.CommonName != "O, Brien, Pat" || id.SerialNumber != "0A1B" || id.Leaf() != nil || id.FingerprintSHA256 != "" {
			t.Errorf("identity %+v", id)
		}
	})
	t.Run("passthrough header ignored", func(t *testing.T) {
		_, err := trusting.VerifyRequest(req(map[string]string{albmtls.HeaderClientCert: albmtls.EncodeClientCertHeader(leaf.cert)}))
		assertReason(t, err, albmtls.ErrNoCertificate)
	})
	t.Run("bundle double-check accepts a trusted leaf", func(t *testing.T) {
		id, err := doubleChecking.VerifyRequest(req(leafHdr))
		if err != nil {
			t.Fatal(err)
		}
		checkIdentity(t, id, leaf.cert, h.root.cert)
	})
	t.Run("bundle double-check refuses a foreign leaf", func(t *testing.T) {
		_, err := doubleChecking.VerifyRequest(req(strangerHdr))
		assertReason(t, err, albmtls.ErrUntrusted)
	})
	t.Run("bundle double-check needs the leaf", func(t *testing.T) {
		_, err := doubleChecking.VerifyRequest(req(subjectOnly))
		assertReason(t, err, albmtls.ErrMalformed)
	})
}

func TestVerificationErrorMessage(t *testing.T) {
	err := &albmtls.VerificationError{Reason: albmtls.ReasonCRLHit, Subject: "CN=alice", SerialNumber: "0A", Err: errors.New("detail")}
	if got := err.Error(); !strings.Contains(got, "revoked") || !strings.Contains(got, "CN=alice") || !strings.Contains(got, "detail") {
		t.Errorf("message %q", got)
	}
	if !errors.Is(err, albmtls.ErrRevoked) || errors.Is(err, albmtls.ErrUntrusted) {
		t.Error("errors.Is does not follow the reason")
	}
	if albmtls.Reason("SomethingNew").Sentinel() != albmtls.ErrUntrusted {
		t.Error("unknown reasons should read as untrusted")
	}
}

func FuzzParseClientCertHeader(f *testing.F) {
	h := testHierarchy(f, "ecdsa", true)
	leaf := newLeaf(f, testKey(f, "ecdsa", 2), h.issuer(), leafOpts{cn: "alice"})
	good := albmtls.EncodeClientCertHeader(leaf.cert, h.inter.cert)
	for _, seed := range []string{good, good[:len(good)/3], "", "%", "%zz", "-----BEGIN CERTIFICATE-----", "+/=", strings.ReplaceAll(good, "%0A", "\n")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		certs, err := albmtls.ParseClientCertHeader(value)
		if err != nil {
			var ve *albmtls.VerificationError
			if !errors.As(err, &ve) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(certs) < 1 || len(certs) > 1+albmtls.MaxIntermediates || len(value) > albmtls.MaxHeaderBytes {
			t.Fatalf("accepted %d certificates from %d bytes", len(certs), len(value))
		}
		// Whatever parses must survive our own encoding unchanged.
		again, err := albmtls.ParseClientCertHeader(albmtls.EncodeClientCertHeader(certs...))
		if err != nil || len(again) != len(certs) {
			t.Fatalf("re-encoded chain does not parse: %v", err)
		}
		for i := range certs {
			if !again[i].Equal(certs[i]) {
				t.Fatalf("certificate %d changed in a round trip", i)
			}
		}
	})
}

func FuzzParseVerifyHeaders(f *testing.F) {
	h := testHierarchy(f, "ecdsa", false)
	leaf := newLeaf(f, testKey(f, "ecdsa", 2), h.issuer(), leafOpts{cn: "alice"})
	f.Add("03A5B1", "CN=CA", "CN=alice", "NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z", "")
	f.Add(strings.ToUpper(leaf.cert.SerialNumber.Text(16)), leaf.cert.Issuer.String(), leaf.cert.Subject.String(), "NotBefore=x;NotAfter=y", albmtls.EncodeClientCertHeader(leaf.cert))
	f.Add("", "", "", "", "")
	f.Add("zz", `CN=a\`, `CN=\`, ";;==", "%")
	f.Fuzz(func(t *testing.T, serial, issuer, subject, validity, leafHdr string) {
		hd := http.Header{}
		for k, v := range map[string]string{albmtls.HeaderSerialNumber: serial, albmtls.HeaderIssuer: issuer,
			albmtls.HeaderSubject: subject, albmtls.HeaderValidity: validity, albmtls.HeaderLeaf: leafHdr} {
			if v != "" {
				hd[k] = []string{v}
			}
		}
		vh, err := albmtls.ParseVerifyHeaders(hd, albmtls.HeaderNames{})
		if err != nil {
			var ve *albmtls.VerificationError
			if !errors.As(err, &ve) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if vh.Leaf == nil && vh.Subject == "" {
			t.Fatal("accepted headers with neither leaf nor subject")
		}
		if vh.Leaf != nil && vh.SerialNumber != "" {
			var want x509.Certificate
			want.SerialNumber = vh.Leaf.SerialNumber
			if !strings.EqualFold(strings.TrimLeft(vh.SerialNumber, "0"), strings.TrimLeft(want.SerialNumber.Text(16), "0")) {
				t.Fatalf("serial %s accepted for leaf %x", vh.SerialNumber, want.SerialNumber)
			}
		}
		// The verify-headers mode must not panic on anything the parser takes.
		v, _ := albmtls.NewVerifier(albmtls.WithMode(albmtls.ModeVerifyHeaders))
		r, _ := http.NewRequest("GET", "http://backend/", nil)
		r.Header = hd
		_, _ = v.VerifyRequest(r)
	})
}
