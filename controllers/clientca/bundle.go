package clientca

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
	albaws "github.com/albtrust/albtrust/internal/aws"
	"github.com/albtrust/albtrust/internal/pki"
)

// shaMetadataKey is the S3 user metadata under which albtrust records an object's SHA-256, so
// that after a lost status it can recognise its own upload instead of uploading again.
const shaMetadataKey = "albtrust-sha256"

type bundleResult struct {
	bucket, key, versionID, sha256 string
}

// bundleKey is the S3 key of the bundle object.
func bundleKey(ca *mtlsv1alpha1.ClientCA) string {
	if ca.Spec.Bundle.S3.Key != "" {
		return ca.Spec.Bundle.S3.Key
	}
	return fmt.Sprintf("albtrust/%s/%s/ca-bundle.pem", ca.Namespace, ca.Name)
}

// crlKeyFor is the S3 key of the CRL signed by one CA: revocation.s3Key (or crl.pem next to
// the bundle), with the issuer's serial added so that CRLs of rotated CAs live side by side.
func crlKeyFor(ca *mtlsv1alpha1.ClientCA, issuer *x509.Certificate) string {
	return crlKeyForSerial(ca, pki.SerialHex(issuer.SerialNumber))
}

func crlKeyForSerial(ca *mtlsv1alpha1.ClientCA, serialHex string) string {
	base := ca.Spec.Revocation.S3Key
	if base == "" {
		base = path.Join(path.Dir(bundleKey(ca)), "crl.pem")
	}
	ext := path.Ext(base)
	return strings.TrimSuffix(base, ext) + "-" + serialHex + ext
}

func s3Region(ca *mtlsv1alpha1.ClientCA) func(*s3.Options) {
	return func(o *s3.Options) {
		if r := ca.Spec.Bundle.S3.Region; r != "" {
			o.Region = r
		}
	}
}

// publishBundle assembles the bundle (every unexpired CA of ours, signing first, plus
// additionalTrustedCAs), checks it against ALB's rules and uploads it only when its SHA-256
// differs from what was published.
func (r *Reconciler) publishBundle(ctx context.Context, s *scope) (stepResult, error) {
	ca := s.ca
	entries := []pki.BundleEntry{}
	var statusCerts []mtlsv1alpha1.CACertificateStatus
	for i, kp := range s.material.All() {
		if !kp.Cert.NotAfter.After(s.now) {
			continue
		}
		comment := "albtrust signing CA"
		if i > 0 {
			comment = "albtrust previous CA"
		}
		entries = append(entries, pki.BundleEntry{Comment: comment, Certificate: kp.Cert})
		statusCerts = append(statusCerts, caStatus(kp.Cert, i == 0, "albtrust"))
	}
	extra, res := r.additionalCAs(ctx, s)
	if res.stop {
		return res, nil
	}
	for _, c := range extra {
		entries = append(entries, pki.BundleEntry{Comment: "additional trusted CA", Certificate: c})
		statusCerts = append(statusCerts, caStatus(c, false, "additional"))
	}
	bundle, err := pki.BuildBundle(entries)
	if err != nil {
		return r.bundleFailed(s, mtlsv1alpha1.ReasonInvalidBundle, fmt.Sprintf("The CA bundle breaks ALB's rules: %v", err)), nil
	}
	sum := sha256.Sum256(bundle)
	sha := hex.EncodeToString(sum[:])
	bucket, key := ca.Spec.Bundle.S3.Bucket, bundleKey(ca)
	uri := fmt.Sprintf("s3://%s/%s", bucket, key)
	ca.Status.CACertificates = statusCerts

	if b := ca.Status.Bundle; b != nil && b.SHA256 == sha && b.URI == uri && b.VersionID != "" {
		s.bundle = &bundleResult{bucket: bucket, key: key, versionID: b.VersionID, sha256: sha}
		return r.bundleReady(s, len(entries)), nil
	}
	versionID, found, err := r.findUpload(ctx, ca, bucket, key, sha)
	if err != nil {
		return r.s3Failure(s, mtlsv1alpha1.ConditionBundlePublished, "read", uri, err)
	}
	if !found {
		out, err := r.AWS.S3.PutObject(ctx, &s3.PutObjectInput{
			Bucket:      aws.String(bucket),
			Key:         aws.String(key),
			Body:        bytes.NewReader(bundle),
			ContentType: aws.String("application/x-pem-file"),
			Metadata:    map[string]string{shaMetadataKey: sha},
		}, s3Region(ca))
		if err != nil {
			return r.s3Failure(s, mtlsv1alpha1.ConditionBundlePublished, "upload", uri, err)
		}
		versionID = aws.ToString(out.VersionId)
		if versionID == "" {
			return r.bundleFailed(s, mtlsv1alpha1.ReasonS3Error, fmt.Sprintf(
				"Bucket %s returned no object version: enable versioning on it, since ELB reads the bundle by version", bucket)), nil
		}
		r.event(ca, corev1.EventTypeNormal, "BundlePublished", "Upload", "Published a CA bundle with %d certificates to %s (version %s)", len(entries), uri, versionID)
	}
	ca.Status.Bundle = &mtlsv1alpha1.BundleStatus{URI: uri, VersionID: versionID, SHA256: sha, Certificates: int32(len(entries))}
	s.bundle = &bundleResult{bucket: bucket, key: key, versionID: versionID, sha256: sha}
	return r.bundleReady(s, len(entries)), nil
}

// findUpload looks for the current object carrying the same SHA-256, which happens after a lost
// status or a crash between upload and status write. One HEAD instead of a new upload.
func (r *Reconciler) findUpload(ctx context.Context, ca *mtlsv1alpha1.ClientCA, bucket, key, sha string) (string, bool, error) {
	if ca.Status.Bundle != nil && ca.Status.Bundle.SHA256 != "" {
		// Status knows the previous bundle, so this is a real change: upload.
		return "", false, nil
	}
	out, err := r.AWS.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}, s3Region(ca))
	if err != nil {
		if albaws.IsNotFound(err) {
			return "", false, nil
		}
		return "", false, err
	}
	if out.Metadata[shaMetadataKey] == sha && aws.ToString(out.VersionId) != "" {
		return aws.ToString(out.VersionId), true, nil
	}
	return "", false, nil
}

// additionalCAs reads additionalTrustedCAs. They are user objects, read uncached.
func (r *Reconciler) additionalCAs(ctx context.Context, s *scope) ([]*x509.Certificate, stepResult) {
	var out []*x509.Certificate
	for i, src := range s.ca.Spec.AdditionalTrustedCAs {
		var data []byte
		var what string
		switch {
		case src.ConfigMapKeyRef != nil:
			what = fmt.Sprintf("ConfigMap %s key %s", src.ConfigMapKeyRef.Name, src.ConfigMapKeyRef.Key)
			cm := &corev1.ConfigMap{}
			err := r.apiReader.Get(ctx, client.ObjectKey{Namespace: s.ca.Namespace, Name: src.ConfigMapKeyRef.Name}, cm)
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, r.bundleFailed(s, mtlsv1alpha1.ReasonAdditionalCANotFound, fmt.Sprintf("additionalTrustedCAs[%d]: cannot read %s", i, what))
			}
			data = []byte(cm.Data[src.ConfigMapKeyRef.Key])
		case src.SecretKeyRef != nil:
			what = fmt.Sprintf("Secret %s key %s", src.SecretKeyRef.Name, src.SecretKeyRef.Key)
			sec := &corev1.Secret{}
			err := r.apiReader.Get(ctx, client.ObjectKey{Namespace: s.ca.Namespace, Name: src.SecretKeyRef.Name}, sec)
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, r.bundleFailed(s, mtlsv1alpha1.ReasonAdditionalCANotFound, fmt.Sprintf("additionalTrustedCAs[%d]: cannot read %s", i, what))
			}
			data = sec.Data[src.SecretKeyRef.Key]
		}
		if len(data) == 0 {
			return nil, r.bundleFailed(s, mtlsv1alpha1.ReasonAdditionalCANotFound, fmt.Sprintf("additionalTrustedCAs[%d]: %s not found or empty", i, what))
		}
		certs, err := pki.ParseCertificatesPEM(data)
		if err != nil {
			return nil, r.bundleFailed(s, mtlsv1alpha1.ReasonInvalidBundle, fmt.Sprintf("additionalTrustedCAs[%d]: %s: %v", i, what, err))
		}
		out = append(out, certs...)
	}
	return out, stepResult{}
}

func caStatus(c *x509.Certificate, signing bool, source string) mtlsv1alpha1.CACertificateStatus {
	return mtlsv1alpha1.CACertificateStatus{
		SerialNumber: pki.SerialHex(c.SerialNumber),
		Fingerprint:  pki.Fingerprint(c),
		Subject:      c.Subject.String(),
		NotBefore:    metav1.NewTime(c.NotBefore),
		NotAfter:     metav1.NewTime(c.NotAfter),
		Signing:      signing,
		Source:       source,
	}
}

func (r *Reconciler) bundleFailed(s *scope, reason, msg string) stepResult {
	common.SetCondition(&s.ca.Status.Conditions, s.ca.Generation, mtlsv1alpha1.ConditionBundlePublished, metav1.ConditionFalse, reason, msg)
	return stepResult{stop: true, requeueAfter: r.UserErrorRetry}
}

func (r *Reconciler) bundleReady(s *scope, n int) stepResult {
	common.SetCondition(&s.ca.Status.Conditions, s.ca.Generation, mtlsv1alpha1.ConditionBundlePublished, metav1.ConditionTrue, mtlsv1alpha1.ReasonReady,
		fmt.Sprintf("%s holds %d CA certificates", s.ca.Status.Bundle.URI, n))
	return stepResult{}
}

// s3Failure turns an S3 error into a condition. AccessDenied and a missing bucket need the
// user; anything else is returned for a retry with backoff.
func (r *Reconciler) s3Failure(s *scope, condition, verb, uri string, err error) (stepResult, error) {
	ca := s.ca
	var reason, msg string
	code := albaws.ErrorCode(err)
	switch {
	case code == "AccessDenied" || code == "Forbidden" || albaws.HTTPStatus(err) == 403:
		reason, msg = mtlsv1alpha1.ReasonS3AccessDenied, fmt.Sprintf("S3 denied the %s of %s: grant the manager s3:PutObject and s3:GetObject on it (see config/iam/policy.json)", verb, uri)
	case code == "NoSuchBucket":
		reason, msg = mtlsv1alpha1.ReasonS3BucketNotFound, fmt.Sprintf("The bucket of %s does not exist", uri)
	default:
		if code == "" {
			code = "a network or client error"
		}
		common.SetCondition(&ca.Status.Conditions, ca.Generation, condition, metav1.ConditionFalse, mtlsv1alpha1.ReasonS3Error,
			fmt.Sprintf("The %s of %s failed with %s; retrying", verb, uri, code))
		return stepResult{stop: true}, fmt.Errorf("%s %s: %w", verb, uri, err)
	}
	common.SetCondition(&ca.Status.Conditions, ca.Generation, condition, metav1.ConditionFalse, reason, msg)
	r.event(ca, corev1.EventTypeWarning, reason, "Upload", "%s", msg)
	return stepResult{stop: true, requeueAfter: r.UserErrorRetry}, nil
}
