package albsim_test

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albtrust/albtrust/internal/albsim"
	"github.com/albtrust/albtrust/internal/pki"
)

// TestPKIArtifactsAccepted proves what internal/pki produces for the operator (an RSA CA, a
// commented bundle, a client certificate, a CRL) passes albsim's ALB rules and verifies on a
// listener, so the two implementations agree.
func TestPKIArtifactsAccepted(t *testing.T) {
	p := newPlane(t, nil)
	now := time.Now()
	caKey, err := pki.GenerateKey(pki.AlgorithmRSA, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.CreateCA(pki.CARequest{Subject: pkix.Name{CommonName: "pki root", Organization: []string{"albtrust"}}, Key: caKey, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := pki.BuildBundle([]pki.BundleEntry{{Comment: "albtrust pki root", Certificate: ca}})
	if err != nil {
		t.Fatal(err)
	}
	ts := p.trustStore("pki", bundle)
	p.setMutualAuth(&types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: ts.TrustStoreArn})

	issue := func(cn string) tls.Certificate {
		key, err := pki.GenerateKey(pki.AlgorithmECDSA, 256)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := pki.IssueClientCertificate(pki.ClientRequest{Subject: pkix.Name{CommonName: cn}, PublicKey: key.Public(), ServerAuth: true,
			NotBefore: now.Add(-time.Minute), NotAfter: now.Add(24 * time.Hour), CA: ca, CAKey: caKey})
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	}
	kept, revoked := issue("kept"), issue("revoked")
	crl, err := pki.CreateCRL(pki.CRLRequest{CA: ca, Key: caKey, Number: revoked.Leaf.SerialNumber, ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(7 * 24 * time.Hour),
		Revoked: []pki.RevokedCertificate{{SerialNumber: revoked.Leaf.SerialNumber, RevocationTime: now.Add(-time.Minute)}}})
	if err != nil {
		t.Fatal(err)
	}
	p.put("pki.crl", crl)
	must[*elbv2.AddTrustStoreRevocationsOutput](t)(p.elb.AddTrustStoreRevocations(p.ctx, &elbv2.AddTrustStoreRevocationsInput{
		TrustStoreArn: ts.TrustStoreArn, RevocationContents: []types.RevocationContent{{S3Bucket: aws.String(p.bucket), S3Key: aws.String("pki.crl")}},
	}))
	for name, tc := range map[string]struct {
		cert   tls.Certificate
		status string
	}{"kept": {kept, albsim.VerifySuccess}, "revoked": {revoked, albsim.VerifyClientCertCrlHit}} {
		t.Run(name, func(t *testing.T) {
			before := len(p.sim.ConnectionLog())
			p.get(&tc.cert, nil)
			if got := p.lastStatus(before); got != tc.status {
				t.Fatalf("tls_verify_status %q, want %q", got, tc.status)
			}
		})
	}
}
