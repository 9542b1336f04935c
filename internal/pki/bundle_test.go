package pki

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// bundleCAs returns n distinct P-256 CA certificates with distinct notBefore.
func bundleCAs(t testing.TB, n int) []*x509.Certificate {
	t.Helper()
	key := testKey(t, "P-256")
	var out []*x509.Certificate
	for i := range n {
		c, err := CreateCA(CARequest{
			Subject:   pkix.Name{CommonName: fmt.Sprintf("bundle CA %02d", i)},
			Key:       key,
			NotBefore: testNow.Add(time.Duration(i) * time.Hour),
			NotAfter:  testNow.Add(24 * 365 * time.Hour),
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func TestBuildBundle(t *testing.T) {
	cas := bundleCAs(t, 4)
	entries := []BundleEntry{
		{Comment: "signing CA, serial " + SerialHex(cas[2].SerialNumber), Certificate: cas[2]},
		{Certificate: cas[0]},
		{Comment: "corporate root (ConfigMap corp/roots)", Certificate: cas[3]},
		{Comment: "previous CA", Certificate: cas[1]},
		{Comment: "duplicate, dropped", Certificate: cas[1]},
	}
	out, err := BuildBundle(entries)
	if err != nil {
		t.Fatalf("BuildBundle: %v", err)
	}
	want := string(EncodeCertificatesPEM(cas[0])) +
		"# previous CA\n" + string(EncodeCertificatesPEM(cas[1])) +
		"# signing CA, serial " + SerialHex(cas[2].SerialNumber) + "\n" + string(EncodeCertificatesPEM(cas[2])) +
		"# corporate root (ConfigMap corp/roots)\n" + string(EncodeCertificatesPEM(cas[3]))
	if string(out) != want {
		t.Fatalf("bundle:\n%s\nwant:\n%s", out, want)
	}
	if bytes.Contains(out, []byte("\n\n")) || !bytes.HasSuffix(out, []byte("\n")) {
		t.Error("bundle has blank lines or no final newline")
	}
	certs, err := ValidateBundle(out)
	if err != nil {
		t.Fatalf("ValidateBundle refuses BuildBundle's output: %v", err)
	}
	if len(certs) != 4 {
		t.Errorf("%d certificates, want 4 (duplicate dropped)", len(certs))
	}

	// Same entries in any order give the same bytes: an unchanged CA set must
	// never cause an upload.
	for range 5 {
		shuffled := slices.Clone(entries[:4])
		rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		again, err := BuildBundle(shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, out) {
			t.Fatal("bundle bytes depend on input order")
		}
	}
}

func TestBuildBundleSameNotBeforeSortsByFingerprint(t *testing.T) {
	key := testKey(t, "P-384")
	var cas []*x509.Certificate
	for i := range 3 {
		c, err := CreateCA(CARequest{Subject: pkix.Name{CommonName: fmt.Sprint("twin ", i)}, Key: key, NotBefore: testNow, NotAfter: testNow.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		cas = append(cas, c)
	}
	out, err := BuildBundle([]BundleEntry{{Certificate: cas[0]}, {Certificate: cas[1]}, {Certificate: cas[2]}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ValidateBundle(out)
	if err != nil {
		t.Fatal(err)
	}
	var fps []string
	for _, c := range got {
		fps = append(fps, Fingerprint(c))
	}
	if !slices.IsSorted(fps) {
		t.Errorf("equal notBefore not ordered by fingerprint: %v", fps)
	}
}

func TestBuildBundleRefusals(t *testing.T) {
	cas := bundleCAs(t, 26)
	ca, caKey := cas[0], testKey(t, "P-256")
	leaf, _ := testClient(t, ca, caKey, "P-256-b", "leaf")
	tests := map[string]struct {
		entries   []BundleEntry
		wantRule  string
		wantIndex int
	}{
		"empty":                  {entries: nil, wantRule: RuleEmpty, wantIndex: -1},
		"comment with a dash":    {entries: []BundleEntry{{Comment: "ca-2024", Certificate: ca}}, wantRule: RuleCommentDash},
		"comment with a newline": {entries: []BundleEntry{{Certificate: cas[1]}, {Comment: "a\nb", Certificate: ca}}, wantRule: RuleCommentNewline, wantIndex: 1},
		"nil certificate":        {entries: []BundleEntry{{Certificate: nil}}, wantRule: RuleNilCertificate},
		"client certificate":     {entries: []BundleEntry{{Certificate: ca}, {Certificate: leaf}}, wantRule: RuleNotCA, wantIndex: 1},
		"26 certificates":        {entries: entriesOf(cas), wantRule: RuleTooManyCerts, wantIndex: 25},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := BuildBundle(tc.entries)
			if err == nil {
				t.Fatalf("built %d bytes, want error", len(out))
			}
			var be *BundleError
			if !errors.As(err, &be) {
				t.Fatalf("error %T is not a *BundleError", err)
			}
			if !slices.ContainsFunc(be.Problems, func(p BundleProblem) bool { return p.Rule == tc.wantRule && p.Index == tc.wantIndex }) {
				t.Errorf("problems %+v lack rule %q at index %d", be.Problems, tc.wantRule, tc.wantIndex)
			}
		})
	}
	if _, err := BuildBundle(entriesOf(cas[:25])); err != nil {
		t.Errorf("25 certificates refused: %v", err)
	}
}

func entriesOf(cs []*x509.Certificate) []BundleEntry {
	var es []BundleEntry
	for _, c := range cs {
		es = append(es, BundleEntry{Certificate: c})
	}
	return es
}

type badCert struct {
	cert *x509.Certificate
	rule string
}

// badCerts builds certificates that each break one per-certificate ALB rule.
func badCerts(t testing.TB) map[string]badCert {
	t.Helper()
	rsaKey := testKey(t, "RSA-2048").(*rsa.PrivateKey)
	good, _ := testCA(t, "RSA-2048")
	caTemplate := func(cn string) *x509.Certificate {
		return &x509.Certificate{
			Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
	}
	ed := testKey(t, "Ed25519")
	rsa1024 := testKey(t, "RSA-1024")
	big := caTemplate("big")
	big.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 55555, 1}, Value: bytes.Repeat([]byte{0x04}, 13000)}}
	return map[string]badCert{
		"Ed25519 key":               {rawTemplateCert(t, caTemplate("ed25519"), nil, ed.Public(), ed), RuleKey},
		"RSA 1024 key":              {rawTemplateCert(t, caTemplate("rsa1024"), nil, rsa1024.Public(), rsa1024), RuleKey},
		"P-224 key":                 {rawTemplateCert(t, caTemplate("p224"), good, testKey(t, "P-224").Public(), rsaKey), RuleKey},
		"SHA-1 signature":           {resign(t, good, rsaKey, oidSHA1WithRSA, crypto.SHA1, nil), RuleSignature},
		"X.509 v1":                  {resign(t, good, rsaKey, oidSHA256WithRSA, crypto.SHA256, func(tbs *tbsCertificate) { tbs.Version, tbs.Extensions = 0, nil }), RuleNotV3},
		"larger than 16 KB":         {rawTemplateCert(t, big, nil, rsaKey.Public(), rsaKey), RuleTooLarge},
		"not a CA (CA:FALSE)":       {rawTemplateCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "leaf"}, BasicConstraintsValid: true}, good, testKey(t, "P-256").Public(), rsaKey), RuleNotCA},
		"not a CA (no constraints)": {rawTemplateCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "bare"}}, good, testKey(t, "P-256").Public(), rsaKey), RuleNotCA},
	}
}

func TestValidateBundleCertificateRules(t *testing.T) {
	cas := bundleCAs(t, 2)
	for name, bad := range badCerts(t) {
		t.Run(name, func(t *testing.T) {
			data := slices.Concat([]byte("# good\n"), mustPEMCert(cas[0]), mustPEMCert(bad.cert), mustPEMCert(cas[1]))
			_, err := ValidateBundle(data)
			var be *BundleError
			if !errors.As(err, &be) {
				t.Fatalf("error %v is not a *BundleError", err)
			}
			if len(be.Problems) == 0 {
				t.Fatal("no problems listed")
			}
			for _, p := range be.Problems {
				if p.Index != 1 || p.Subject != bad.cert.Subject.String() {
					t.Errorf("problem %+v is not about certificate 1 (%s)", p, bad.cert.Subject)
				}
			}
			if !be.HasRule(bad.rule) {
				t.Errorf("problems %+v lack rule %q", be.Problems, bad.rule)
			}
			if !strings.Contains(err.Error(), "certificate 1 ("+bad.cert.Subject.String()+")") {
				t.Errorf("message %q does not name the certificate", err)
			}
			// The same certificate must not get into a bundle we build either.
			if _, err := BuildBundle([]BundleEntry{{Certificate: bad.cert}}); err == nil {
				t.Error("BuildBundle accepted it")
			}
		})
	}
}

func TestValidateBundleAcceptsPSS(t *testing.T) {
	rsaKey := testKey(t, "RSA-3072").(*rsa.PrivateKey)
	pss := rawTemplateCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "pss"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SignatureAlgorithm: x509.SHA384WithRSAPSS,
	}, nil, rsaKey.Public(), rsaKey)
	if _, err := ValidateBundle(mustPEMCert(pss)); err != nil {
		t.Fatalf("RSASSA-PSS CA refused: %v", err)
	}
}

func TestValidateBundleStructure(t *testing.T) {
	cas := bundleCAs(t, 26)
	a, b := string(mustPEMCert(cas[0])), string(mustPEMCert(cas[1]))
	keyPEM, err := MarshalPrivateKeyPEM(testKey(t, "P-256"), EncodingPKCS8)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, c := range cas {
		all.Write(mustPEMCert(c))
	}
	lines := strings.Split(a, "\n")
	tests := map[string]struct {
		data      string
		wantCerts int
		wantRule  string
		wantIndex int
		wantLine  int
	}{
		"two certificates":                {data: a + b, wantCerts: 2},
		"comments between certificates":   {data: "# first\n" + a + "# second CA, 2024\n" + b, wantCerts: 2},
		"no final newline":                {data: strings.TrimSuffix(a, "\n"), wantCerts: 1},
		"CRLF line ends":                  {data: strings.ReplaceAll(a, "\n", "\r\n"), wantCerts: 1},
		"25 certificates":                 {data: strings.Join(strings.SplitAfter(all.String(), "-----END CERTIFICATE-----\n")[:25], ""), wantCerts: 25},
		"empty":                           {data: "", wantRule: RuleEmpty, wantIndex: -1},
		"only comments":                   {data: "# nothing here\n", wantRule: RuleEmpty, wantIndex: -1},
		"blank line between certificates": {data: a + "\n" + b, wantRule: RuleBlankLine, wantIndex: -1, wantLine: len(lines)},
		"blank line at the end":           {data: a + "\n", wantRule: RuleBlankLine, wantIndex: -1, wantLine: len(lines)},
		"whitespace-only line":            {data: "  \n" + a, wantRule: RuleBlankLine, wantIndex: -1, wantLine: 1},
		"blank line inside a block":       {data: strings.Replace(a, "\n", "\n\n", 2), wantRule: RuleBlankLine, wantIndex: -1, wantLine: 2},
		"comment with a dash":             {data: "# ca-1\n" + a, wantRule: RuleCommentDash, wantIndex: -1, wantLine: 1},
		"text outside blocks":             {data: "subject=CN = x\n" + a, wantRule: RuleStrayText, wantIndex: -1, wantLine: 1},
		"indented comment":                {data: " # x\n" + a, wantRule: RuleStrayText, wantIndex: -1, wantLine: 1},
		"private key block":               {data: a + string(keyPEM), wantRule: RuleNotCertificate, wantIndex: -1, wantLine: len(lines)},
		"truncated block":                 {data: a + strings.Join(strings.Split(b, "\n")[:5], "\n") + "\n", wantRule: RuleMalformedPEM, wantIndex: 1, wantLine: len(lines)},
		"wrong END line":                  {data: strings.Replace(a, "-----END CERTIFICATE-----", "-----END X509 CRL-----", 1), wantRule: RuleMalformedPEM, wantIndex: 0, wantLine: 1},
		"bad base64":                      {data: strings.Replace(a, lines[1], "!!!"+lines[1][3:], 1), wantRule: RuleMalformedPEM, wantIndex: 0, wantLine: 1},
		"garbage DER":                     {data: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")})), wantRule: RuleUnparsable, wantIndex: 0, wantLine: 1},
		"26 certificates":                 {data: all.String(), wantRule: RuleTooManyCerts, wantIndex: 25},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			certs, err := ValidateBundle([]byte(tc.data))
			if tc.wantRule == "" {
				if err != nil {
					t.Fatalf("ValidateBundle: %v", err)
				}
				if len(certs) != tc.wantCerts {
					t.Fatalf("%d certificates, want %d", len(certs), tc.wantCerts)
				}
				return
			}
			var be *BundleError
			if !errors.As(err, &be) {
				t.Fatalf("error %v (%T) is not a *BundleError", err, err)
			}
			if certs != nil {
				t.Error("certificates returned with an error")
			}
			found := slices.ContainsFunc(be.Problems, func(p BundleProblem) bool {
				return p.Rule == tc.wantRule && p.Index == tc.wantIndex && (tc.wantLine == 0 || p.Line == tc.wantLine)
			})
			if !found {
				t.Errorf("problems %+v lack rule %q at index %d line %d", be.Problems, tc.wantRule, tc.wantIndex, tc.wantLine)
			}
			// Never echo a pasted private key.
			assertNoKeyMaterial(t, err.Error(), keyPEM)
		})
	}
}
