package pki

import (
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"testing"
	"time"
)

// Run with: go test -run '^$' -bench . -benchtime=1x ./internal/pki
// (or -benchtime=20x for steadier per-op figures on the small cases).
// Figures are recorded in docs/performance.md.

func BenchmarkIssueClientCertificate(b *testing.B) {
	for _, tc := range []struct {
		name, kind string
		alg        string
		size       int
	}{
		{name: "ECDSA-P256", kind: "P-256", alg: AlgorithmECDSA, size: 256},
		{name: "RSA-2048", kind: "RSA-2048", alg: AlgorithmRSA, size: 2048},
	} {
		// The CA uses the same algorithm as the client key.
		ca, caKey := testCA(b, tc.kind)
		leafKey := testKey(b, tc.kind+"-b")
		req := ClientRequest{
			Subject:   pkix.Name{CommonName: "bench"},
			NotBefore: testNow, NotAfter: testNow.Add(365 * 24 * time.Hour),
			CA: ca, CAKey: caKey,
		}
		b.Run(tc.name+"/sign-only", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := req
				r.PublicKey = leafKey.Public()
				if _, err := IssueClientCertificate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/with-keygen", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				k, err := GenerateKey(tc.alg, tc.size)
				if err != nil {
					b.Fatal(err)
				}
				r := req
				r.PublicKey = k.Public()
				if _, err := IssueClientCertificate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCreateCRL(b *testing.B) {
	ca, caKey := testCA(b, "P-256")
	for _, n := range []int{1_000, 100_000, 500_000} {
		revoked := make([]RevokedCertificate, n)
		for i := range revoked {
			s, err := NewSerialNumber()
			if err != nil {
				b.Fatal(err)
			}
			revoked[i] = RevokedCertificate{SerialNumber: s, RevocationTime: testNow.Add(-time.Duration(i) * time.Second), ReasonCode: i % 2}
		}
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				crl, err := CreateCRL(CRLRequest{CA: ca, Key: caKey, Number: big.NewInt(1), ThisUpdate: testNow, NextUpdate: testNow.Add(7 * 24 * time.Hour), Revoked: revoked})
				if err != nil {
					b.Fatal(err)
				}
				size = len(crl)
			}
			b.ReportMetric(float64(size)/1e6, "MB-pem")
		})
	}
}
