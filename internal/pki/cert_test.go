package pki

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}

func TestEncodeParseCertificatesPEM(t *testing.T) {
	a, _ := testCA(t, "P-256")
	b, _ := testCA(t, "P-384")
	two := EncodeCertificatesPEM(a, nil, b)
	if n := bytes.Count(two, []byte("-----BEGIN CERTIFICATE-----")); n != 2 {
		t.Fatalf("EncodeCertificatesPEM wrote %d blocks, want 2 (nil skipped)", n)
	}
	tests := map[string]struct {
		data    []byte
		want    []*x509.Certificate
		wantErr string
	}{
		"two certificates":                    {data: two, want: []*x509.Certificate{a, b}},
		"text before and between blocks":      {data: slices.Concat([]byte("subject=CN = a\n"), mustPEMCert(a), []byte("issuer=...\n"), mustPEMCert(b)), want: []*x509.Certificate{a, b}},
		"trailing whitespace is fine":         {data: append(mustPEMCert(a), "\n\n  \n"...), want: []*x509.Certificate{a}},
		"refuses empty input":                 {data: nil, wantErr: "no PEM certificate"},
		"refuses plain text":                  {data: []byte("hello"), wantErr: "no complete PEM block"},
		"refuses a private key block":         {data: slices.Concat(mustPEMCert(a), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})), wantErr: `"PRIVATE KEY"`},
		"refuses a truncated second block":    {data: slices.Concat(mustPEMCert(a), mustPEMCert(b)[:100]), wantErr: "unexpected data after certificate 0"},
		"refuses trailing junk":               {data: append(mustPEMCert(a), "junk"...), wantErr: "unexpected data"},
		"refuses garbage DER in a CERT block": {data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")}), wantErr: "parse certificate 0"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseCertificatesPEM(tc.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d certificates, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !got[i].Equal(tc.want[i]) {
					t.Errorf("certificate %d differs", i)
				}
			}
		})
	}
}

func TestNewSerialNumber(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		s, err := NewSerialNumber()
		if err != nil {
			t.Fatal(err)
		}
		if s.Sign() <= 0 {
			t.Fatalf("serial %v is not positive", s)
		}
		if s.BitLen() != 127 {
			t.Fatalf("serial %s has %d bits, want 127 (fixed width, positive DER without padding)", SerialHex(s), s.BitLen())
		}
		der, _ := asn1.Marshal(s)
		if len(der) != 2+16 {
			t.Fatalf("DER of serial is %d bytes, want 18", len(der))
		}
		if seen[s.String()] {
			t.Fatalf("serial %s repeated", SerialHex(s))
		}
		seen[s.String()] = true
	}
}

func TestSerialHex(t *testing.T) {
	big1, _ := new(big.Int).SetString("4A0B0C0D0E0F101112131415161718", 16)
	tests := map[string]struct {
		in   *big.Int
		want string
	}{
		"header example 03A5B1 keeps leading zero": {in: big.NewInt(0x03A5B1), want: "03A5B1"},
		"single digit padded":                      {in: big.NewInt(5), want: "05"},
		"zero":                                     {in: big.NewInt(0), want: "00"},
		"uppercase":                                {in: big.NewInt(0xabcdef), want: "ABCDEF"},
		"byte boundary":                            {in: big.NewInt(0x100), want: "0100"},
		"long serial":                              {in: big1, want: "4A0B0C0D0E0F101112131415161718"},
		"negative gets a sign":                     {in: big.NewInt(-0x1ff), want: "-01FF"},
		"nil":                                      {in: nil, want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := SerialHex(tc.in); got != tc.want {
				t.Errorf("SerialHex = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	ca, _ := testCA(t, "P-256")
	fp := Fingerprint(ca)
	if !regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(fp) {
		t.Fatalf("fingerprint %q is not 32 uppercase colon-separated hex pairs", fp)
	}
	sum := sha256.Sum256(ca.Raw)
	if strings.ReplaceAll(fp, ":", "") != strings.ToUpper(hex.EncodeToString(sum[:])) {
		t.Fatalf("fingerprint %q is not the SHA-256 of the DER", fp)
	}
	other, _ := testCA(t, "P-384")
	if Fingerprint(other) == fp {
		t.Fatal("different certificates share a fingerprint")
	}
}

func TestSubjectName(t *testing.T) {
	s := Subject{
		CommonName: "sample-2", Organization: []string{"shika-darake"}, OrganizationalUnit: []string{"tech"},
		Country: []string{"JP"}, Province: []string{"Yamanashi"}, Locality: []string{"Tsuru"},
	}
	n := s.Name()
	if got, want := n.String(), "CN=sample-2,OU=tech,O=shika-darake,L=Tsuru,ST=Yamanashi,C=JP"; got != want {
		t.Errorf("Name().String() = %q, want %q", got, want)
	}
	n.Organization[0] = "changed"
	if s.Organization[0] != "shika-darake" {
		t.Error("Name shares slices with Subject")
	}
	if !nameIsEmpty(Subject{}.Name()) {
		t.Error("empty Subject does not give an empty name")
	}
}

func extension(c *x509.Certificate, oid asn1.ObjectIdentifier) *pkix.Extension {
	for i := range c.Extensions {
		if c.Extensions[i].Id.Equal(oid) {
			return &c.Extensions[i]
		}
	}
	return nil
}

func TestCreateCAProfile(t *testing.T) {
	tests := map[string]struct {
		kind    string
		wantSig x509.SignatureAlgorithm
	}{
		"RSA 2048": {kind: "RSA-2048", wantSig: x509.SHA256WithRSA},
		"RSA 3072": {kind: "RSA-3072", wantSig: x509.SHA256WithRSA},
		"RSA 4096": {kind: "RSA-4096", wantSig: x509.SHA384WithRSA},
		"RSA 8192": {kind: "RSA-8192", wantSig: x509.SHA512WithRSA},
		"P-256":    {kind: "P-256", wantSig: x509.ECDSAWithSHA256},
		"P-384":    {kind: "P-384", wantSig: x509.ECDSAWithSHA384},
		"P-521":    {kind: "P-521", wantSig: x509.ECDSAWithSHA512},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ca, key := testCA(t, tc.kind)
			if ca.Version != 3 {
				t.Errorf("version %d, want 3", ca.Version)
			}
			if !ca.BasicConstraintsValid || !ca.IsCA || ca.MaxPathLen != -1 {
				t.Errorf("basicConstraints valid=%v CA=%v maxPathLen=%d, want CA:TRUE without path length", ca.BasicConstraintsValid, ca.IsCA, ca.MaxPathLen)
			}
			if ext := extension(ca, oidBasicConstraints); ext == nil || !ext.Critical {
				t.Error("basicConstraints is not critical")
			}
			if want := x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign; ca.KeyUsage != want {
				t.Errorf("keyUsage %b, want %b", ca.KeyUsage, want)
			}
			if len(ca.ExtKeyUsage) != 0 {
				t.Errorf("CA has extKeyUsage %v", ca.ExtKeyUsage)
			}
			if len(ca.SubjectKeyId) != 20 {
				t.Errorf("subject key identifier is %d bytes, want 20", len(ca.SubjectKeyId))
			}
			if ca.SignatureAlgorithm != tc.wantSig {
				t.Errorf("signature %v, want %v", ca.SignatureAlgorithm, tc.wantSig)
			}
			if ca.SerialNumber.Sign() <= 0 {
				t.Error("serial is not positive")
			}
			if err := ca.CheckSignatureFrom(ca); err != nil {
				t.Errorf("not self-signed: %v", err)
			}
			if err := ValidateCA(ca, key); err != nil {
				t.Errorf("ValidateCA refuses our own CA: %v", err)
			}
			if _, err := ValidateBundle(mustPEMCert(ca)); err != nil {
				t.Errorf("ValidateBundle refuses our own CA: %v", err)
			}
		})
	}
}

func TestCreateCARefusals(t *testing.T) {
	name := pkix.Name{CommonName: "ca"}
	nb, na := testNow, testNow.Add(time.Hour)
	tests := map[string]struct {
		req     CARequest
		wantErr error
	}{
		"nil key":                   {req: CARequest{Subject: name, NotBefore: nb, NotAfter: na}},
		"Ed25519 key":               {req: CARequest{Subject: name, Key: testKey(t, "Ed25519"), NotBefore: nb, NotAfter: na}, wantErr: ErrUnsupportedKey},
		"RSA 1024 key":              {req: CARequest{Subject: name, Key: testKey(t, "RSA-1024"), NotBefore: nb, NotAfter: na}, wantErr: ErrUnsupportedKey},
		"P-224 key":                 {req: CARequest{Subject: name, Key: testKey(t, "P-224"), NotBefore: nb, NotAfter: na}, wantErr: ErrUnsupportedKey},
		"empty subject":             {req: CARequest{Key: testKey(t, "P-256"), NotBefore: nb, NotAfter: na}},
		"zero notBefore":            {req: CARequest{Subject: name, Key: testKey(t, "P-256"), NotAfter: na}},
		"zero notAfter":             {req: CARequest{Subject: name, Key: testKey(t, "P-256"), NotBefore: nb}},
		"notAfter equals notBefore": {req: CARequest{Subject: name, Key: testKey(t, "P-256"), NotBefore: nb, NotAfter: nb}},
		"notAfter before notBefore": {req: CARequest{Subject: name, Key: testKey(t, "P-256"), NotBefore: na, NotAfter: nb}},
	}
	for n, tc := range tests {
		t.Run(n, func(t *testing.T) {
			ca, err := CreateCA(tc.req)
			if err == nil {
				t.Fatalf("created %v, want error", ca.Subject)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tc.wantErr)
			}
		})
	}
}

func TestIssueClientCertificateProfile(t *testing.T) {
	rsaCA, rsaCAKey := testCA(t, "RSA-2048")
	ecCA, ecCAKey := testCA(t, "P-384")
	uri, _ := url.Parse("spiffe://example.org/laptop/sample-2")
	tests := map[string]struct {
		ca        *x509.Certificate
		caKey     crypto.Signer
		leaf      string
		mutate    func(*ClientRequest)
		wantUsage x509.KeyUsage
		wantEKU   []x509.ExtKeyUsage
		wantSig   x509.SignatureAlgorithm
		wantAfter time.Time
	}{
		"RSA leaf gets keyEncipherment": {
			ca: rsaCA, caKey: rsaCAKey, leaf: "RSA-2048",
			wantUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			wantEKU:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, wantSig: x509.SHA256WithRSA,
		},
		"ECDSA leaf gets digitalSignature only": {
			ca: ecCA, caKey: ecCAKey, leaf: "P-256",
			wantUsage: x509.KeyUsageDigitalSignature,
			wantEKU:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, wantSig: x509.ECDSAWithSHA384,
		},
		"walkthrough profile: serverAuth and clientAuth": {
			ca: rsaCA, caKey: rsaCAKey, leaf: "RSA-2048",
			mutate:    func(r *ClientRequest) { r.ServerAuth = true },
			wantUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			wantEKU:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, wantSig: x509.SHA256WithRSA,
		},
		"RSA leaf with keyEncipherment turned off": {
			ca: rsaCA, caKey: rsaCAKey, leaf: "RSA-2048",
			mutate:    func(r *ClientRequest) { r.KeyEncipherment = ptr(false) },
			wantUsage: x509.KeyUsageDigitalSignature,
			wantEKU:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, wantSig: x509.SHA256WithRSA,
		},
		"ECDSA CA signs RSA leaf": {
			ca: ecCA, caKey: ecCAKey, leaf: "RSA-3072",
			wantUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			wantEKU:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, wantSig: x509.ECDSAWithSHA384,
		},
		"notAfter capped at the CA's notAfter": {
			ca: ecCA, caKey: ecCAKey, leaf: "P-256",
			mutate:    func(r *ClientRequest) { r.NotAfter = ecCA.NotAfter.Add(1000 * time.Hour) },
			wantUsage: x509.KeyUsageDigitalSignature,
			wantEKU:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, wantSig: x509.ECDSAWithSHA384,
			wantAfter: ecCA.NotAfter,
		},
		"SANs only, empty subject": {
			ca: ecCA, caKey: ecCAKey, leaf: "P-256",
			mutate:    func(r *ClientRequest) { r.Subject = pkix.Name{} },
			wantUsage: x509.KeyUsageDigitalSignature,
			wantEKU:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, wantSig: x509.ECDSAWithSHA384,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			key := testKey(t, tc.leaf)
			req := ClientRequest{
				Subject:        Subject{CommonName: "sample-2", Organization: []string{"shika-darake"}}.Name(),
				PublicKey:      key.Public(),
				EmailAddresses: []string{"sample-2@example.org"},
				URIs:           []*url.URL{uri},
				DNSNames:       []string{"sample-2.example.org"},
				NotBefore:      testNow,
				NotAfter:       testNow.Add(365 * 24 * time.Hour),
				CA:             tc.ca,
				CAKey:          tc.caKey,
			}
			if tc.mutate != nil {
				tc.mutate(&req)
			}
			c, err := IssueClientCertificate(req)
			if err != nil {
				t.Fatalf("IssueClientCertificate: %v", err)
			}
			if c.Version != 3 || !c.BasicConstraintsValid || c.IsCA {
				t.Errorf("version %d, basicConstraints valid=%v CA=%v; want v3 CA:FALSE", c.Version, c.BasicConstraintsValid, c.IsCA)
			}
			if c.KeyUsage != tc.wantUsage {
				t.Errorf("keyUsage %b, want %b", c.KeyUsage, tc.wantUsage)
			}
			if !slices.Equal(c.ExtKeyUsage, tc.wantEKU) {
				t.Errorf("extKeyUsage %v, want %v", c.ExtKeyUsage, tc.wantEKU)
			}
			if !bytes.Equal(c.AuthorityKeyId, tc.ca.SubjectKeyId) {
				t.Error("authority key identifier is not the CA's subject key identifier")
			}
			if len(c.SubjectKeyId) != 20 {
				t.Error("no subject key identifier")
			}
			if c.SignatureAlgorithm != tc.wantSig {
				t.Errorf("signature %v, want %v", c.SignatureAlgorithm, tc.wantSig)
			}
			if !slices.Equal(c.EmailAddresses, req.EmailAddresses) || !slices.Equal(c.DNSNames, req.DNSNames) ||
				len(c.URIs) != 1 || c.URIs[0].String() != uri.String() {
				t.Errorf("SANs email=%v dns=%v uri=%v", c.EmailAddresses, c.DNSNames, c.URIs)
			}
			if c.Subject.String() != req.Subject.String() {
				t.Errorf("subject %q, want %q", c.Subject, req.Subject)
			}
			if !tc.wantAfter.IsZero() && !c.NotAfter.Equal(tc.wantAfter) {
				t.Errorf("notAfter %v, want %v", c.NotAfter, tc.wantAfter)
			}
			if c.NotAfter.After(tc.ca.NotAfter) {
				t.Error("leaf outlives its CA")
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.Cmp(tc.ca.SerialNumber) == 0 {
				t.Error("serial is not positive or repeats the CA's")
			}
			roots := x509.NewCertPool()
			roots.AddCert(tc.ca)
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow.Add(time.Hour), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("does not verify as a client certificate: %v", err)
			}
		})
	}
}

func TestIssueClientCertificateRefusals(t *testing.T) {
	ca, caKey := testCA(t, "P-256")
	leaf, leafKey := testClient(t, ca, caKey, "P-384", "leaf")
	base := func() ClientRequest {
		return ClientRequest{
			Subject: pkix.Name{CommonName: "x"}, PublicKey: testKey(t, "P-256-b").Public(),
			NotBefore: testNow, NotAfter: testNow.Add(time.Hour), CA: ca, CAKey: caKey,
		}
	}
	tests := map[string]struct {
		mutate  func(*ClientRequest)
		wantErr error
	}{
		"no CA":                     {mutate: func(r *ClientRequest) { r.CA = nil }},
		"no CA key":                 {mutate: func(r *ClientRequest) { r.CAKey = nil }},
		"CA key does not match":     {mutate: func(r *ClientRequest) { r.CAKey = testKey(t, "P-256-b") }, wantErr: ErrKeyMismatch},
		"leaf used as CA":           {mutate: func(r *ClientRequest) { r.CA, r.CAKey = leaf, leafKey }, wantErr: ErrNotCA},
		"no public key":             {mutate: func(r *ClientRequest) { r.PublicKey = nil }, wantErr: ErrInvalidRequest},
		"Ed25519 public key":        {mutate: func(r *ClientRequest) { r.PublicKey = testKey(t, "Ed25519").Public() }, wantErr: ErrUnsupportedKey},
		"RSA 1024 public key":       {mutate: func(r *ClientRequest) { r.PublicKey = testKey(t, "RSA-1024").Public() }, wantErr: ErrUnsupportedKey},
		"P-224 public key":          {mutate: func(r *ClientRequest) { r.PublicKey = testKey(t, "P-224").Public() }, wantErr: ErrUnsupportedKey},
		"no subject and no SAN":     {mutate: func(r *ClientRequest) { r.Subject = pkix.Name{} }, wantErr: ErrInvalidRequest},
		"nil URI":                   {mutate: func(r *ClientRequest) { r.URIs = []*url.URL{nil} }, wantErr: ErrInvalidRequest},
		"zero notBefore":            {mutate: func(r *ClientRequest) { r.NotBefore = time.Time{} }, wantErr: ErrInvalidRequest},
		"notAfter before notBefore": {mutate: func(r *ClientRequest) { r.NotAfter = testNow.Add(-time.Hour) }, wantErr: ErrInvalidRequest},
		"starts after the CA expires": {mutate: func(r *ClientRequest) {
			r.NotBefore, r.NotAfter = ca.NotAfter.Add(time.Hour), ca.NotAfter.Add(2*time.Hour)
		}, wantErr: ErrInvalidRequest},
		"keyEncipherment with ECDSA key": {mutate: func(r *ClientRequest) { r.KeyEncipherment = ptr(true) }, wantErr: ErrInvalidRequest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req := base()
			tc.mutate(&req)
			c, err := IssueClientCertificate(req)
			if err == nil {
				t.Fatalf("issued %v, want error", c.Subject)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tc.wantErr)
			}
		})
	}
}

func TestValidateCA(t *testing.T) {
	ca, caKey := testCA(t, "RSA-2048")
	ecCA, ecKey := testCA(t, "P-256")
	leaf, leafKey := testClient(t, ca, caKey, "P-384", "leaf")
	key2048 := testKey(t, "RSA-2048").(*rsa.PrivateKey)

	noCRLSign := rawTemplateCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "no crl sign"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, SignatureAlgorithm: x509.SHA256WithRSA,
	}, nil, key2048.Public(), key2048)
	noUsage := rawTemplateCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "no key usage"}, IsCA: true, BasicConstraintsValid: true,
	}, nil, key2048.Public(), key2048)
	noSKI := resign(t, ca, key2048, oidSHA256WithRSA, crypto.SHA256, func(tbs *tbsCertificate) {
		tbs.Extensions = slices.DeleteFunc(tbs.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oidSKI) })
	})
	sha1CA := resign(t, ca, key2048, oidSHA1WithRSA, crypto.SHA1, nil)
	v1 := resign(t, ca, key2048, oidSHA256WithRSA, crypto.SHA256, func(tbs *tbsCertificate) { tbs.Version, tbs.Extensions = 0, nil })
	rsa1024 := testKey(t, "RSA-1024")
	weakCA := rawTemplateCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "rsa 1024"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, rsa1024.Public(), rsa1024)

	tests := map[string]struct {
		cert *x509.Certificate
		key  crypto.Signer
		want []error
	}{
		"our RSA CA":                 {cert: ca, key: caKey},
		"our ECDSA CA":               {cert: ecCA, key: ecKey},
		"nil certificate":            {cert: nil, key: caKey, want: []error{ErrMissingKeyOrCRT}},
		"nil key":                    {cert: ca, key: nil, want: []error{ErrMissingKeyOrCRT}},
		"a client certificate":       {cert: leaf, key: leafKey, want: []error{ErrNotCA, ErrNoCertSign, ErrNoCRLSign}},
		"someone else's key":         {cert: ca, key: ecKey, want: []error{ErrKeyMismatch}},
		"CA without cRLSign":         {cert: noCRLSign, key: key2048, want: []error{ErrNoCRLSign}},
		"CA without keyUsage at all": {cert: noUsage, key: key2048, want: []error{ErrNoCertSign, ErrNoCRLSign}},
		"CA without SKI":             {cert: noSKI, key: key2048, want: []error{ErrNoSubjectKeyID}},
		"SHA-1 signed CA":            {cert: sha1CA, key: key2048, want: []error{ErrUnsupportedSignature}},
		"X.509 v1 CA":                {cert: v1, key: key2048, want: []error{ErrNotX509v3, ErrNotCA}},
		"RSA 1024 CA":                {cert: weakCA, key: rsa1024, want: []error{ErrUnsupportedKey}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := ValidateCA(tc.cert, tc.key)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("ValidateCA: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %v", tc.want)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("error %q does not wrap %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines; conditions want one line", err)
			}
		})
	}
}
