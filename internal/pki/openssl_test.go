package pki

// Cross-checks against the openssl CLI: a second, independent implementation
// of X.509, PKCS#12 and CRLs. These tests fail (not skip) without openssl.

import (
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestOpenSSLVerifiesClientCertificates(t *testing.T) {
	tests := map[string]struct{ ca, leaf string }{
		"RSA-2048 CA, RSA-2048 client": {ca: "RSA-2048", leaf: "RSA-2048-b"},
		"RSA-4096 CA, P-256 client":    {ca: "RSA-4096", leaf: "P-256"},
		"RSA-8192 CA, RSA-3072 client": {ca: "RSA-8192", leaf: "RSA-3072"},
		"P-256 CA, P-256 client":       {ca: "P-256", leaf: "P-256-b"},
		"P-384 CA, RSA-2048 client":    {ca: "P-384", leaf: "RSA-2048"},
		"P-521 CA, P-384 client":       {ca: "P-521", leaf: "P-384"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			ca, caKey := testCA(t, tc.ca)
			leaf, _ := testClient(t, ca, caKey, tc.leaf, "client "+tc.leaf)
			caFile := writeFile(t, dir, "ca.pem", mustPEMCert(ca))
			leafFile := writeFile(t, dir, "leaf.pem", mustPEMCert(leaf))
			out := mustOpenSSL(t, "verify", "-CAfile", caFile, "-purpose", "sslclient", leafFile)
			if !strings.Contains(out, leafFile+": OK") {
				t.Fatalf("openssl verify: %s", out)
			}
			// A certificate from another CA must not verify: the check can fail.
			other, otherKey := testCA(t, "P-256-b")
			stranger, _ := testClient(t, other, otherKey, "P-256", "stranger")
			strangerFile := writeFile(t, dir, "stranger.pem", mustPEMCert(stranger))
			if out, err := openssl(t, "verify", "-CAfile", caFile, strangerFile); err == nil {
				t.Fatalf("openssl verified a certificate of another CA: %s", out)
			}
		})
	}
}

func TestOpenSSLShowsWalkthroughProfile(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := testCA(t, "RSA-2048")
	uri, _ := url.Parse("spiffe://example.org/sample-2")
	key := testKey(t, "RSA-2048-b")
	leaf, err := IssueClientCertificate(ClientRequest{
		Subject:        Subject{CommonName: "sample-2", Organization: []string{"shika-darake"}, Country: []string{"JP"}}.Name(),
		PublicKey:      key.Public(),
		EmailAddresses: []string{"sample-2@example.org"},
		URIs:           []*url.URL{uri},
		DNSNames:       []string{"sample-2.example.org"},
		ServerAuth:     true,
		NotBefore:      testNow, NotAfter: testNow.Add(365 * 24 * time.Hour),
		CA: ca, CAKey: caKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	caText := mustOpenSSL(t, "x509", "-text", "-noout", "-in", writeFile(t, dir, "ca.pem", mustPEMCert(ca)))
	leafText := mustOpenSSL(t, "x509", "-text", "-noout", "-in", writeFile(t, dir, "leaf.pem", mustPEMCert(leaf)))

	tests := map[string]struct {
		text    string
		pattern string
	}{
		"CA is X.509 v3":                         {caText, `Version: 3 \(0x2\)`},
		"CA basicConstraints critical CA:TRUE":   {caText, `X509v3 Basic Constraints: critical\s+CA:TRUE\s`},
		"CA keyUsage sign, cert sign, CRL sign":  {caText, `X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign\s`},
		"CA subject key identifier":              {caText, `X509v3 Subject Key Identifier:\s+([0-9A-F]{2}:){19}[0-9A-F]{2}\s`},
		"CA signed with sha256WithRSA":           {caText, `Signature Algorithm: sha256WithRSAEncryption`},
		"CA has no path length":                  {caText, `CA:TRUE\s*\n`},
		"client is X.509 v3":                     {leafText, `Version: 3 \(0x2\)`},
		"client basicConstraints CA:FALSE":       {leafText, `X509v3 Basic Constraints: critical\s+CA:FALSE\s`},
		"client keyUsage sign and key encipher":  {leafText, `X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment\s`},
		"client EKU server and client auth":      {leafText, `X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication\s`},
		"client authority key identifier = CA's": {leafText, `X509v3 Authority Key Identifier:\s+(keyid:)?` + regexp.QuoteMeta(colonHex(ca.SubjectKeyId)) + `\s`},
		"client SANs":                            {leafText, `X509v3 Subject Alternative Name:\s+DNS:sample-2.example.org, email:sample-2@example.org, URI:spiffe://example.org/sample-2\s`},
		"client subject":                         {leafText, `Subject: C = JP, O = shika-darake, CN = sample-2\s`},
		"client issuer is the CA":                {leafText, `Issuer: O = albtrust, CN = test CA RSA-2048\s`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if !regexp.MustCompile(tc.pattern).MatchString(tc.text) {
				t.Errorf("openssl x509 -text output does not match %s:\n%s", tc.pattern, tc.text)
			}
		})
	}
	t.Run("CA has no authority key identifier", func(t *testing.T) {
		if strings.Contains(caText, "Authority Key Identifier") {
			t.Error("self-signed CA carries an AKI")
		}
	})
}

func TestOpenSSLAgreesOnFingerprintAndSerial(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := testCA(t, "P-256")
	leaf, _ := testClient(t, ca, caKey, "P-384", "leaf")
	for name, c := range map[string]*x509.Certificate{"CA": ca, "client": leaf} {
		t.Run(name, func(t *testing.T) {
			f := writeFile(t, dir, name+".pem", mustPEMCert(c))
			out := mustOpenSSL(t, "x509", "-noout", "-fingerprint", "-sha256", "-serial", "-in", f)
			if !strings.Contains(out, "sha256 Fingerprint="+Fingerprint(c)+"\n") {
				t.Errorf("openssl says %q, we say %s", out, Fingerprint(c))
			}
			if !strings.Contains(out, "serial="+SerialHex(c.SerialNumber)+"\n") {
				t.Errorf("openssl says %q, we say serial %s", out, SerialHex(c.SerialNumber))
			}
		})
	}
}

func TestOpenSSLReadsPrivateKeys(t *testing.T) {
	for _, kind := range []string{"RSA-2048", "P-256", "P-521"} {
		for _, enc := range []string{EncodingPKCS1, EncodingPKCS8} {
			t.Run(kind+" "+enc, func(t *testing.T) {
				dir := t.TempDir()
				key := testKey(t, kind)
				data, err := MarshalPrivateKeyPEM(key, enc)
				if err != nil {
					t.Fatal(err)
				}
				out := mustOpenSSL(t, "pkey", "-in", writeFile(t, dir, "key.pem", data), "-pubout")
				der, err := x509.MarshalPKIXPublicKey(key.Public())
				if err != nil {
					t.Fatal(err)
				}
				if want := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); out != want {
					t.Errorf("openssl derived public key\n%s\nwant\n%s", out, want)
				}
			})
		}
	}
	t.Run("we read openssl's keys", func(t *testing.T) {
		dir := t.TempDir()
		for name, args := range map[string][]string{
			"genrsa (PKCS8 in OpenSSL 3)": {"genrsa", "-out", "OUT", "2048"},
			"genpkey EC P-384":            {"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "OUT"},
			"ecparam -genkey (SEC1)":      {"ecparam", "-name", "prime256v1", "-genkey", "-out", "OUT"},
			"rsa -traditional (PKCS1)":    {"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-outform", "PEM", "-out", "OUT"},
		} {
			out := dir + "/" + strings.NewReplacer(" ", "_", "(", "", ")", "").Replace(name) + ".pem"
			for i := range args {
				if args[i] == "OUT" {
					args[i] = out
				}
			}
			mustOpenSSL(t, args...)
			if strings.Contains(name, "PKCS1") {
				mustOpenSSL(t, "rsa", "-in", out, "-traditional", "-out", out)
			}
			data := readFile(t, out)
			if _, err := ParsePrivateKeyPEM(data); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

func TestOpenSSLCSRIsSignedAndVerifies(t *testing.T) {
	dir := t.TempDir()
	csrFile, keyFile := dir+"/sample-2.csr", dir+"/sample-2.key"
	mustOpenSSL(t, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", csrFile,
		"-subj", "/C=JP/ST=Yamanashi/L=Tsuru/O=shika-darake/OU=tech/CN=sample-2")
	csr, err := ParseCSR(readFile(t, csrFile))
	if err != nil {
		t.Fatalf("ParseCSR: %v", err)
	}
	ca, caKey := testCA(t, "RSA-2048")
	leaf, err := IssueClientCertificate(ClientRequest{
		Subject: csr.Subject, PublicKey: csr.PublicKey, ServerAuth: true,
		NotBefore: testNow, NotAfter: testNow.Add(365 * 24 * time.Hour), CA: ca, CAKey: caKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	caFile := writeFile(t, dir, "ca.pem", mustPEMCert(ca))
	leafFile := writeFile(t, dir, "sample-2.crt", mustPEMCert(leaf))
	if out := mustOpenSSL(t, "verify", "-CAfile", caFile, "-purpose", "sslclient", leafFile); !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify: %s", out)
	}
	subject := mustOpenSSL(t, "x509", "-noout", "-subject", "-nameopt", "compat", "-in", leafFile)
	if want := "subject=/C=JP/ST=Yamanashi/L=Tsuru/O=shika-darake/OU=tech/CN=sample-2\n"; subject != want {
		t.Errorf("subject %q, want %q", subject, want)
	}
	// The laptop's key (never seen by us) belongs to the certificate we signed.
	certMod := mustOpenSSL(t, "x509", "-noout", "-modulus", "-in", leafFile)
	keyMod := mustOpenSSL(t, "rsa", "-noout", "-modulus", "-in", keyFile)
	if certMod != keyMod {
		t.Error("certificate does not hold the CSR's key")
	}

	for name, newkey := range map[string][]string{
		"refuses an openssl RSA-1024 CSR": {"-newkey", "rsa:1024"},
		"refuses an openssl P-224 CSR":    {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-224"},
		"refuses an openssl Ed25519 CSR":  {"-newkey", "ed25519"},
	} {
		t.Run(name, func(t *testing.T) {
			f := t.TempDir() + "/x.csr"
			args := append([]string{"req", "-new", "-nodes", "-keyout", f + ".key", "-out", f, "-subj", "/CN=x"}, newkey...)
			mustOpenSSL(t, args...)
			if _, err := ParseCSR(readFile(t, f)); err == nil {
				t.Fatal("accepted")
			} else if !strings.Contains(err.Error(), "ALB accepts") {
				t.Errorf("error %q does not say what is accepted", err)
			}
		})
	}
}

func TestOpenSSLReadsPKCS12(t *testing.T) {
	ca, caKey := testCA(t, "RSA-2048")
	leaf, key := testClient(t, ca, caKey, "RSA-2048-b", "laptop")
	const password = "walkthrough-pass"
	tests := map[string]struct {
		profile  string
		legacy   bool
		wantAlgo string
	}{
		"LegacyDES with -legacy":     {profile: ProfileLegacyDES, legacy: true, wantAlgo: "pbeWithSHA1And3-KeyTripleDES-CBC"},
		"LegacyRC2 with -legacy":     {profile: ProfileLegacyRC2, legacy: true, wantAlgo: "pbeWithSHA1And40BitRC2-CBC"},
		"Modern2023 without -legacy": {profile: ProfileModern2023, legacy: false, wantAlgo: "PBES2, PBKDF2, AES-256-CBC"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p12, err := EncodePKCS12(key, leaf, []*x509.Certificate{ca}, password, tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			f := writeFile(t, t.TempDir(), "keystore.p12", p12)
			args := func(pass string) []string {
				a := []string{"pkcs12", "-info", "-in", f, "-passin", "pass:" + pass, "-nodes"}
				if tc.legacy {
					a = append(a, "-legacy")
				}
				return a
			}
			out := mustOpenSSL(t, args(password)...)
			if !strings.Contains(out, tc.wantAlgo) {
				t.Errorf("openssl output lacks %q:\n%s", tc.wantAlgo, out)
			}
			if n := strings.Count(out, "-----BEGIN CERTIFICATE-----"); n != 2 {
				t.Errorf("%d certificates in keystore, want client + CA", n)
			}
			if !strings.Contains(out, "-----BEGIN PRIVATE KEY-----") {
				t.Error("no private key in keystore")
			}
			if !strings.Contains(out, "subject=O = albtrust, CN = test CA RSA-2048") || !strings.Contains(out, "subject=CN = laptop") {
				t.Errorf("keystore certificates are not client + CA:\n%s", out)
			}
			if out, err := openssl(t, args("wrong")...); err == nil {
				t.Errorf("openssl read the keystore with a wrong password:\n%s", out)
			}
		})
	}
}

func TestOpenSSLAcceptsCRLs(t *testing.T) {
	for _, kind := range []string{"RSA-2048", "P-384"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			ca, caKey := testCA(t, kind)
			revokedLeaf, _ := testClient(t, ca, caKey, "P-256", "revoked")
			goodLeaf, _ := testClient(t, ca, caKey, "P-256-b", "still good")
			crl, err := CreateCRL(CRLRequest{
				CA: ca, Key: caKey, Number: big.NewInt(42), ThisUpdate: testNow.Add(-time.Minute), NextUpdate: testNow.Add(7 * 24 * time.Hour),
				Revoked: []RevokedCertificate{
					{SerialNumber: revokedLeaf.SerialNumber, RevocationTime: testNow.Add(-time.Minute), ReasonCode: 1},
					{SerialNumber: big.NewInt(0x03A5B1), RevocationTime: testNow.Add(-time.Hour)},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			caFile := writeFile(t, dir, "ca.pem", mustPEMCert(ca))
			crlFile := writeFile(t, dir, "crl.pem", crl)
			out := mustOpenSSL(t, "crl", "-in", crlFile, "-CAfile", caFile, "-noout", "-verify", "-text")
			for _, want := range []string{"verify OK", "X509v3 CRL Number: \n                42", "X509v3 Authority Key Identifier", "Serial Number: 03A5B1", "Serial Number: " + SerialHex(revokedLeaf.SerialNumber), "Key Compromise"} {
				if !strings.Contains(out, want) {
					t.Errorf("openssl crl output lacks %q:\n%s", want, out)
				}
			}
			revokedFile := writeFile(t, dir, "revoked.pem", mustPEMCert(revokedLeaf))
			if out, err := openssl(t, "verify", "-crl_check", "-CAfile", caFile, "-CRLfile", crlFile, revokedFile); err == nil || !strings.Contains(out, "certificate revoked") {
				t.Errorf("openssl verify -crl_check on a revoked certificate: err=%v\n%s", err, out)
			}
			goodFile := writeFile(t, dir, "good.pem", mustPEMCert(goodLeaf))
			if out := mustOpenSSL(t, "verify", "-crl_check", "-CAfile", caFile, "-CRLfile", crlFile, goodFile); !strings.Contains(out, ": OK") {
				t.Errorf("openssl verify -crl_check on a good certificate:\n%s", out)
			}
			// A CRL signed by another CA must not verify against ours.
			other, otherKey := testCA(t, "P-256-b")
			foreign, err := CreateCRL(CRLRequest{CA: other, Key: otherKey, Number: big.NewInt(1), ThisUpdate: testNow, NextUpdate: testNow.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if out, err := openssl(t, "crl", "-in", writeFile(t, dir, "foreign.pem", foreign), "-CAfile", caFile, "-noout", "-verify"); err == nil && strings.Contains(out, "verify OK") {
				t.Errorf("openssl verified a foreign CRL against our CA:\n%s", out)
			}
		})
	}
}

func TestOpenSSLUsesBuiltBundle(t *testing.T) {
	dir := t.TempDir()
	oldCA, oldKey := testCA(t, "RSA-2048")
	newCA, newKey := testCA(t, "P-384")
	bundle, err := BuildBundle([]BundleEntry{
		{Comment: "current CA " + SerialHex(newCA.SerialNumber), Certificate: newCA},
		{Comment: "previous CA, kept until it expires", Certificate: oldCA},
	})
	if err != nil {
		t.Fatal(err)
	}
	bundleFile := writeFile(t, dir, "bundle.pem", bundle)
	// openssl skips the '#' comment lines and trusts both CAs, so clients of
	// the previous CA keep working during a CA rollover.
	oldLeaf, _ := testClient(t, oldCA, oldKey, "P-256", "client of the old CA")
	newLeaf, _ := testClient(t, newCA, newKey, "RSA-2048-b", "client of the new CA")
	for name, leaf := range map[string]*x509.Certificate{"old": oldLeaf, "new": newLeaf} {
		f := writeFile(t, dir, name+".pem", mustPEMCert(leaf))
		if out := mustOpenSSL(t, "verify", "-CAfile", bundleFile, "-purpose", "sslclient", f); !strings.Contains(out, f+": OK") {
			t.Errorf("client of the %s CA: %s", name, out)
		}
	}
}
