package pki

import (
	"bytes"
	"encoding/pem"
	"strings"
	"testing"
)

// The fuzz targets run their seed corpus as ordinary tests under `go test`;
// `go test -fuzz FuzzValidateBundle ./internal/pki` explores further. All
// three parse untrusted input (users' bundles, laptops' CSRs, ConfigMaps)
// and must never panic.

func FuzzValidateBundle(f *testing.F) {
	cas := bundleCAs(f, 2)
	good, err := BuildBundle([]BundleEntry{{Comment: "first", Certificate: cas[0]}, {Certificate: cas[1]}})
	if err != nil {
		f.Fatal(err)
	}
	leaf, _ := testClient(f, cas[0], testKey(f, "P-256"), "P-256-b", "leaf")
	keyPEM, _ := MarshalPrivateKeyPEM(testKey(f, "P-256-b"), EncodingPKCS8)
	f.Add(good)
	f.Add([]byte(""))
	f.Add([]byte("\n"))
	f.Add([]byte("# comment only\n"))
	f.Add(append([]byte("# bad-comment\n"), good...))
	f.Add(bytes.Replace(good, []byte("-----\n"), []byte("-----\n\n"), 1))
	f.Add(good[:len(good)/2])
	f.Add(append(good, keyPEM...))
	f.Add(mustPEMCert(leaf))
	f.Add(bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN \n-----END \n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ValidateBundle(data)
		if err != nil {
			be, ok := err.(*BundleError)
			if !ok || len(be.Problems) == 0 {
				t.Fatalf("error %v is not a *BundleError with problems", err)
			}
			if certs != nil {
				t.Fatal("certificates returned with an error")
			}
			return
		}
		if len(certs) == 0 || len(certs) > MaxBundleCertificates {
			t.Fatalf("accepted a bundle with %d certificates", len(certs))
		}
		// A valid bundle rebuilt by BuildBundle must stay valid.
		var entries []BundleEntry
		for _, c := range certs {
			entries = append(entries, BundleEntry{Certificate: c})
		}
		rebuilt, err := BuildBundle(entries)
		if err != nil {
			t.Fatalf("BuildBundle refuses certificates ValidateBundle accepted: %v", err)
		}
		if _, err := ValidateBundle(rebuilt); err != nil {
			t.Fatalf("rebuilt bundle is invalid: %v", err)
		}
	})
}

func FuzzParseCSR(f *testing.F) {
	f.Add(makeCSR(f, testKey(f, "P-256"), "laptop"))
	f.Add(makeCSR(f, testKey(f, "RSA-2048"), "laptop"))
	f.Add(makeCSR(f, testKey(f, "Ed25519"), "ed"))
	f.Add([]byte(""))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{0x30, 0x82, 0xff, 0xff}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ParseCSR(data)
		if err != nil {
			return
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("accepted a CSR whose signature does not verify: %v", err)
		}
		if err := checkALBKey(csr.PublicKey); err != nil {
			t.Fatalf("accepted a CSR with a key ALB refuses: %v", err)
		}
	})
}

func FuzzParseCertificatesPEM(f *testing.F) {
	cas := bundleCAs(f, 2)
	two := EncodeCertificatesPEM(cas...)
	f.Add(two)
	f.Add([]byte(""))
	f.Add([]byte("text\n"))
	f.Add(two[:len(two)-30])
	f.Add(append([]byte("subject=CN = x\n"), two...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificatesPEM(data)
		if err != nil {
			if certs != nil {
				t.Fatal("certificates returned with an error")
			}
			return
		}
		if len(certs) == 0 {
			t.Fatal("no error and no certificates")
		}
		again, err := ParseCertificatesPEM(EncodeCertificatesPEM(certs...))
		if err != nil || len(again) != len(certs) {
			t.Fatalf("re-encoding lost certificates: %v", err)
		}
		for i := range certs {
			if !bytes.Equal(again[i].Raw, certs[i].Raw) {
				t.Fatalf("certificate %d changed on re-encoding", i)
			}
			if strings.TrimSpace(Fingerprint(certs[i])) == "" {
				t.Fatal("empty fingerprint")
			}
		}
	})
}
