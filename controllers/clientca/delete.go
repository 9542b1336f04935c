package clientca

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
	albaws "github.com/albtrust/albtrust/internal/aws"
	"github.com/albtrust/albtrust/internal/pki"
)

// inUsePoll is how often deletion looks again while listeners still use the trust store.
const inUsePoll = 10 * time.Second

// reconcileDelete runs when the ClientCA is being deleted. Retain keeps the Secret, the S3
// objects and the trust store, so that re-creating the ClientCA adopts them. Delete removes the
// trust store (once no listener uses it), the S3 objects and the Secrets.
func (r *Reconciler) reconcileDelete(ctx context.Context, ca *mtlsv1alpha1.ClientCA) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(ca, mtlsv1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	if ca.Spec.DeletionPolicy == mtlsv1alpha1.DeletionPolicyDelete {
		if res, err := r.deleteExternal(ctx, ca); err != nil || !res.IsZero() {
			return res, err
		}
	}
	patch := client.MergeFrom(ca.DeepCopy())
	controllerutil.RemoveFinalizer(ca, mtlsv1alpha1.Finalizer)
	if err := r.client.Patch(ctx, ca, patch); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	clearMetrics(ca.Namespace, ca.Name)
	return ctrl.Result{}, nil
}

func (r *Reconciler) deleteExternal(ctx context.Context, ca *mtlsv1alpha1.ClientCA) (ctrl.Result, error) {
	arn, adopted := "", ca.Spec.TrustStore.ARN != ""
	if ca.Status.TrustStore != nil {
		arn = ca.Status.TrustStore.ARN
	}
	if arn == "" && !adopted {
		// Status may be lost: find our store by name and tags.
		s := &scope{ca: ca, now: r.Clock.Now()}
		store, res, err := r.findTrustStore(ctx, s)
		if err != nil {
			return ctrl.Result{}, err
		}
		if res.stop {
			return ctrl.Result{RequeueAfter: res.requeueAfter}, nil
		}
		if store != nil {
			arn = aws.ToString(store.TrustStoreArn)
		}
	}
	if arn != "" && !adopted {
		_, err := r.AWS.ELB.DeleteTrustStore(ctx, &elbv2.DeleteTrustStoreInput{TrustStoreArn: aws.String(arn)})
		switch code := albaws.ErrorCode(err); {
		case err == nil:
			r.event(ca, corev1.EventTypeNormal, "TrustStoreDeleted", "Delete", "Deleted trust store %s", arn)
		case code == "TrustStoreNotFound":
		case code == "TrustStoreInUse":
			users := r.storeUsers(ctx, arn)
			msg := fmt.Sprintf("Trust store is still used by %s; set those listeners to mode Off (delete or edit their ListenerMTLS) and deletion continues", users)
			common.SetCondition(&ca.Status.Conditions, ca.Generation, mtlsv1alpha1.ConditionDeleting, metav1.ConditionFalse, mtlsv1alpha1.ReasonTrustStoreInUse, msg)
			common.SetCondition(&ca.Status.Conditions, ca.Generation, mtlsv1alpha1.ConditionReady, metav1.ConditionFalse, mtlsv1alpha1.ReasonTrustStoreInUse, msg)
			r.event(ca, corev1.EventTypeWarning, mtlsv1alpha1.ReasonTrustStoreInUse, "Delete", "%s", msg)
			return ctrl.Result{RequeueAfter: inUsePoll}, nil
		default:
			return ctrl.Result{}, fmt.Errorf("delete trust store %s: %w", arn, err)
		}
	}
	// The bundle and the CRL of every CA, all versions (the bucket is versioned). Exact keys
	// only: a prefix could reach objects that are not albtrust's.
	keys := []string{bundleKey(ca)}
	for _, serial := range r.caSerials(ctx, ca) {
		keys = append(keys, crlKeyForSerial(ca, serial))
	}
	for _, key := range keys {
		if err := r.deleteAllVersions(ctx, ca, key); err != nil {
			return ctrl.Result{}, err
		}
	}
	if ca.Spec.Import == nil {
		for _, name := range []string{common.CASecretName(ca), common.RevocationSecretName(ca.Name)} {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ca.Namespace, Name: name}}
			if err := r.client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
				return ctrl.Result{}, fmt.Errorf("delete secret %s: %w", name, err)
			}
		}
	} else {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ca.Namespace, Name: common.RevocationSecretName(ca.Name)}}
		if err := r.client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// storeUsers names the load balancers whose listeners use the store, for the condition message.
func (r *Reconciler) storeUsers(ctx context.Context, arn string) string {
	out, err := r.AWS.ELB.DescribeTrustStoreAssociations(ctx, &elbv2.DescribeTrustStoreAssociationsInput{TrustStoreArn: aws.String(arn)})
	if err != nil || len(out.TrustStoreAssociations) == 0 {
		return "a listener"
	}
	var names []string
	for _, a := range out.TrustStoreAssociations {
		names = append(names, aws.ToString(a.ResourceArn))
	}
	return strings.Join(names, ", ")
}

// caSerials lists the serials of every CA that may have signed a CRL: from status and from
// the CA Secret, since either may be incomplete.
func (r *Reconciler) caSerials(ctx context.Context, ca *mtlsv1alpha1.ClientCA) []string {
	seen := map[string]bool{}
	var out []string
	add := func(serial string) {
		if serial != "" && !seen[serial] {
			seen[serial] = true
			out = append(out, serial)
		}
	}
	for _, c := range ca.Status.CACertificates {
		if c.Source != "additional" {
			add(c.SerialNumber)
		}
	}
	if m, _, err := common.LoadCAMaterial(ctx, r.client, r.apiReader, ca); err == nil {
		for _, kp := range m.All() {
			add(pki.SerialHex(kp.Cert.SerialNumber))
		}
	}
	return out
}

// deleteAllVersions deletes every version of one object.
func (r *Reconciler) deleteAllVersions(ctx context.Context, ca *mtlsv1alpha1.ClientCA, key string) error {
	bucket := ca.Spec.Bundle.S3.Bucket
	p := s3.NewListObjectVersionsPaginator(r.AWS.S3, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, s3Region(ca))
		if err != nil {
			if albaws.ErrorCode(err) == "NoSuchBucket" {
				return nil
			}
			return fmt.Errorf("list versions of s3://%s/%s: %w", bucket, key, err)
		}
		type ref struct{ key, version *string }
		var refs []ref
		for _, v := range page.Versions {
			if aws.ToString(v.Key) == key {
				refs = append(refs, ref{v.Key, v.VersionId})
			}
		}
		for _, m := range page.DeleteMarkers {
			if aws.ToString(m.Key) == key {
				refs = append(refs, ref{m.Key, m.VersionId})
			}
		}
		for _, o := range refs {
			_, err := r.AWS.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.key, VersionId: o.version}, s3Region(ca))
			if err != nil && !albaws.IsNotFound(err) {
				return fmt.Errorf("delete s3://%s/%s: %w", bucket, aws.ToString(o.key), err)
			}
		}
	}
	return nil
}
