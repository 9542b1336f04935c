package albsim

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// This file reads trust-store content from S3 the way ALB does (once, at Create/Modify/Add time,
// keeping a snapshot) and applies ALB's rules for CA bundles and CRLs.

// caBundle is a validated snapshot of a trust store's CA certificates bundle.
type caBundle struct {
	pem     []byte
	certs   []*x509.Certificate
	pool    *x509.CertPool
	bucket  string
	key     string
	version string
}

// s3Object is what albsim read from S3.
type s3Object struct {
	body    []byte
	version string
}

// getObject reads bucket/key (at version, when given). notFoundCode is the ELB error code to
// report when the object cannot be read (CaCertificatesBundleNotFound or RevocationContentNotFound).
func (s *Sim) getObject(ctx context.Context, bucket, key, version, notFoundCode string, limit int64) (*s3Object, *apiError) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := s.s3.GetObject(ctx, in)
	if err != nil {
		var apiErr smithy.APIError
		var respErr *smithyhttp.ResponseError
		switch {
		case errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500:
			return nil, &apiError{Status: http.StatusInternalServerError, Code: codeInternalFailure, Message: fmt.Sprintf("S3 returned an error reading s3://%s/%s", bucket, key)}
		case errors.As(err, &apiErr):
			return nil, errorf(notFoundCode, "Unable to read s3://%s/%s (version %q): %s", bucket, key, version, apiErr.ErrorCode())
		default:
			s.log.Warn("S3 request failed", "bucket", bucket, "key", key, "error", err)
			return nil, &apiError{Status: http.StatusInternalServerError, Code: codeInternalFailure, Message: fmt.Sprintf("Unable to reach S3 to read s3://%s/%s", bucket, key)}
		}
	}
	defer out.Body.Close()
	body, err := io.ReadAll(io.LimitReader(out.Body, limit+1))
	if err != nil {
		return nil, &apiError{Status: http.StatusInternalServerError, Code: codeInternalFailure, Message: fmt.Sprintf("Reading s3://%s/%s failed", bucket, key)}
	}
	obj := &s3Object{body: body, version: aws.ToString(out.VersionId)}
	if obj.version == "" {
		obj.version = version
	}
	return obj, nil
}

// parseCABundle applies ALB's CA bundle rules and returns the snapshot.
func parseCABundle(data []byte) (*caBundle, *apiError) {
	bad := func(format string, args ...any) (*caBundle, *apiError) {
		return nil, errorf(codeInvalidCaBundle, "The CA certificates bundle is not valid: "+format, args...)
	}
	if err := checkBundleLines(data); err != "" {
		return bad("%s", err)
	}
	b := &caBundle{pem: data, pool: x509.NewCertPool()}
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return bad("it contains a %q PEM block; only CERTIFICATE blocks are allowed", block.Type)
		}
		if len(pem.EncodeToMemory(block)) > maxCACertBytes {
			return bad("certificate %d is larger than 16 KB", len(b.certs)+1)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return bad("certificate %d cannot be parsed: %v", len(b.certs)+1, err)
		}
		if msg := checkCACertificate(cert); msg != "" {
			return bad("certificate %d (%s): %s", len(b.certs)+1, cert.Subject, msg)
		}
		b.certs = append(b.certs, cert)
		b.pool.AddCert(cert)
	}
	if len(bytes.TrimSpace(rest)) != 0 && !onlyComments(rest) {
		return bad("it contains data that is not a PEM certificate")
	}
	if len(b.certs) == 0 {
		return bad("it contains no certificate")
	}
	if len(b.certs) > maxCACertificates {
		return bad("it contains %d CA certificates; the limit is %d", len(b.certs), maxCACertificates)
	}
	for _, c := range b.certs {
		if d := b.depth(c); d > maxChainDepth {
			return bad("the chain of %s is %d certificates deep; the limit is %d", c.Subject, d, maxChainDepth)
		}
	}
	return b, nil
}

// checkBundleLines enforces ALB's text rules: comments start with '#' and contain no '-',
// and there are no blank lines.
func checkBundleLines(data []byte) string {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.TrimSuffix(text, "\n")
	inBlock := false
	for i, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "-----BEGIN "):
			inBlock = true
		case strings.HasPrefix(line, "-----END "):
			inBlock = false
		case inBlock:
		case strings.TrimSpace(line) == "":
			return fmt.Sprintf("line %d is blank", i+1)
		case strings.HasPrefix(line, "#"):
			if strings.Contains(line, "-") {
				return fmt.Sprintf("comment on line %d contains '-'", i+1)
			}
		default:
			return fmt.Sprintf("line %d is neither a comment nor part of a PEM certificate", i+1)
		}
	}
	return ""
}

func onlyComments(rest []byte) bool {
	for _, line := range strings.Split(strings.TrimSpace(string(rest)), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			return false
		}
	}
	return true
}

// checkCACertificate applies ALB's certificate rules: X.509v3, RSA 2048-8192 or ECDSA
// P-256/P-384/P-521 keys, SHA-256/384/512 signatures with RSA, RSASSA-PSS or ECDSA.
func checkCACertificate(c *x509.Certificate) string {
	if c.Version != 3 {
		return fmt.Sprintf("it is X.509 version %d; only version 3 is supported", c.Version)
	}
	if !c.BasicConstraintsValid || !c.IsCA {
		return "it is not a CA certificate (basicConstraints CA:TRUE is missing)"
	}
	if msg := checkPublicKey(c); msg != "" {
		return msg
	}
	switch c.SignatureAlgorithm {
	case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA,
		x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS,
		x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512:
	default:
		return fmt.Sprintf("signature algorithm %s is not supported", c.SignatureAlgorithm)
	}
	return ""
}

func checkPublicKey(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 8192 {
			return fmt.Sprintf("RSA key size %d is not supported (2048-8192)", n)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return "ECDSA curve is not supported (P-256, P-384, P-521)"
		}
	default:
		return fmt.Sprintf("public key algorithm %s is not supported", c.PublicKeyAlgorithm)
	}
	return ""
}

// issuerOf returns the bundle certificate that signed c, if any (other than c itself).
func (b *caBundle) issuerOf(c *x509.Certificate) *x509.Certificate {
	for _, p := range b.certs {
		if p == c || !bytes.Equal(p.RawSubject, c.RawIssuer) {
			continue
		}
		if c.CheckSignatureFrom(p) == nil {
			return p
		}
	}
	return nil
}

// depth is the length of c's chain inside the bundle, c included.
func (b *caBundle) depth(c *x509.Certificate) int {
	d := 1
	for cur := c; d <= len(b.certs); d++ {
		next := b.issuerOf(cur)
		if next == nil {
			return d
		}
		cur = next
	}
	return d
}

// subjects lists the bundle's subject DNs (DER), as advertised in a CertificateRequest.
func (b *caBundle) subjects() [][]byte {
	out := make([][]byte, 0, len(b.certs))
	for _, c := range b.certs {
		out = append(out, c.RawSubject)
	}
	return out
}

// parseCRL applies ALB's CRL rules: PEM, signed by a CA of the store's bundle, no negative serials.
func parseCRL(data []byte, bundle *caBundle) (*revocation, *apiError) {
	bad := func(format string, args ...any) (*revocation, *apiError) {
		return nil, errorf(codeInvalidRevocationContent, "The revocation content is not valid: "+format, args...)
	}
	if len(data) > maxCRLBytes {
		return bad("the CRL is larger than 50 MB")
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return bad("it is not PEM (DER CRLs are not accepted)")
	}
	if block.Type != "X509 CRL" {
		return bad("it contains a %q PEM block, not an X509 CRL", block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return bad("it contains more than one PEM block")
	}
	crl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		return bad("the CRL cannot be parsed: %v", err)
	}
	var signer *x509.Certificate
	for _, ca := range bundle.certs {
		if bytes.Equal(ca.RawSubject, crl.RawIssuer) && crl.CheckSignatureFrom(ca) == nil {
			signer = ca
			break
		}
	}
	if signer == nil {
		return bad("the CRL issued by %s is not signed by a CA certificate of the trust store", crl.Issuer)
	}
	r := &revocation{pem: data, issuer: crl.RawIssuer, entries: len(crl.RevokedCertificateEntries)}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber == nil || e.SerialNumber.Sign() < 0 {
			return bad("the CRL revokes a negative serial number, which ALB cannot match")
		}
		r.serials = append(r.serials, e.SerialNumber.Text(16))
	}
	return r, nil
}
