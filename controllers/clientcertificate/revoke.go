package clientcertificate

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
	"github.com/albtrust/albtrust/internal/pki"
)

// ReasonCode maps a spec revocationReason to its RFC 5280 CRLReason code; unset is unspecified (0).
func ReasonCode(r mtlsv1alpha1.RevocationReason) int {
	switch r {
	case "KeyCompromise":
		return 1
	case "CACompromise":
		return 2
	case "AffiliationChanged":
		return 3
	case "Superseded":
		return 4
	case "CessationOfOperation":
		return 5
	case "PrivilegeWithdrawn":
		return 9
	default:
		return 0
	}
}

// cessationOfOperation is the reason recorded when a ClientCertificate is deleted.
const cessationOfOperation = 5

// identity is a certificate issued to a ClientCertificate, as the revocation record names it.
type identity struct {
	SerialNumber      string
	IssuerFingerprint string
	NotAfter          time.Time
}

// identities lists the certificates a ClientCertificate holds that have not expired: the one in
// its Secret (if the Secret is its own and unedited), the one its status names (they differ
// when the Secret was lost or edited) and the previous ones kept in previous.json. The first is
// the current certificate.
func identities(cc *mtlsv1alpha1.ClientCertificate, secret *corev1.Secret, cas []*x509.Certificate, now time.Time) []identity {
	var out []identity
	add := func(id identity) {
		if id.SerialNumber == "" || id.IssuerFingerprint == "" || !id.NotAfter.After(now) {
			return
		}
		for _, o := range out {
			if o.SerialNumber == id.SerialNumber && o.IssuerFingerprint == id.IssuerFingerprint {
				return
			}
		}
		out = append(out, id)
	}
	if secret != nil {
		cur := parseSecret(secret, cas, true)
		if cur.OwnerUID == cc.UID && cur.Leaf != nil && cur.Issuer != nil && cur.SerialAnnotation == pki.SerialHex(cur.Leaf.SerialNumber) {
			add(identity{pki.SerialHex(cur.Leaf.SerialNumber), pki.Fingerprint(cur.Issuer), cur.Leaf.NotAfter.UTC()})
		}
	}
	if st := cc.Status; st.SerialNumber != "" && st.NotAfter != nil {
		add(identity{st.SerialNumber, st.IssuerFingerprint, st.NotAfter.UTC()})
	}
	if secret != nil && metav1.IsControlledBy(secret, cc) {
		for _, p := range parsePrevious(secret) {
			add(identity(p))
		}
	}
	return out
}

// record writes every identity into the ClientCA's revocation record and returns the entry of
// the first (the current certificate). Entries already there are kept as they were.
func (r *Reconciler) record(ctx context.Context, cc *mtlsv1alpha1.ClientCertificate, caName string, ids []identity, reason int, now time.Time) (*common.RevocationEntry, error) {
	var first *common.RevocationEntry
	for i, id := range ids {
		entry := common.RevocationEntry{
			SerialNumber:      id.SerialNumber,
			IssuerFingerprint: id.IssuerFingerprint,
			RevokedAt:         now.UTC().Truncate(time.Second),
			ReasonCode:        reason,
			NotAfter:          id.NotAfter,
			Certificate:       cc.Namespace + "/" + cc.Name,
		}
		gen, err := common.RecordRevocation(ctx, r.live, cc.Namespace, caName, entry)
		if err != nil {
			return nil, fmt.Errorf("record revocation of serial %s in %s: %w", id.SerialNumber, common.RevocationSecretName(caName), err)
		}
		entry.Generation = gen
		if i == 0 {
			first = &entry
		}
	}
	return first, nil
}

// checkRevocation makes the revocation record the truth: spec.revoked records every certificate
// the object holds, and a certificate whose serial is in the record is revoked whatever the
// status says. A revoked certificate is never renewed, so the chain stops here.
func (r *Reconciler) checkRevocation(ctx context.Context, s *state) (ctrl.Result, error) {
	cc := s.cc
	rec, err := common.LoadRevocationRecord(ctx, r.client, cc.Namespace, s.ca.Name)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("read revocation record: %w", err)
	}
	ids := identities(cc, s.secret, s.material.Certificates(), s.now)
	var entry *common.RevocationEntry
	if len(ids) > 0 {
		if e, ok := rec.Find(ids[0].SerialNumber, ids[0].IssuerFingerprint); ok {
			entry = &e
		}
	}
	if cc.Spec.Revoked {
		missing := false
		for _, id := range ids {
			if _, ok := rec.Find(id.SerialNumber, id.IssuerFingerprint); !ok {
				missing = true
			}
		}
		if missing {
			// The cache may hold a Secret from before the last renewal: revoke what the
			// apiserver holds now, so that no fresh certificate escapes.
			fresh, err := r.freshSecret(ctx, cc)
			if err != nil {
				return ctrl.Result{}, err
			}
			ids = identities(cc, fresh, s.material.Certificates(), s.now)
			first, err := r.record(ctx, cc, s.ca.Name, ids, ReasonCode(cc.Spec.RevocationReason), s.now)
			if err != nil {
				return ctrl.Result{}, err
			}
			if first != nil {
				entry = first
				if e, ok := rec.Find(first.SerialNumber, first.IssuerFingerprint); ok {
					entry = &e
				} else if cc.Status.RevokedAt != nil {
					entry.RevokedAt = cc.Status.RevokedAt.Time
				}
			}
			log.FromContext(ctx).Info("Recorded revocation", "clientca", s.ca.Name, "certificates", len(ids))
		}
	}
	gen := cc.Generation
	if entry == nil && !cc.Spec.Revoked {
		common.SetCondition(&cc.Status.Conditions, gen, mtlsv1alpha1.ConditionRevoked, metav1.ConditionFalse, mtlsv1alpha1.ReasonNotRevoked, "The certificate is not revoked")
		return ctrl.Result{}, nil
	}

	s.stop = true
	wasRevoked := common.IsTrue(cc.Status.Conditions, mtlsv1alpha1.ConditionRevoked)
	common.SetCondition(&cc.Status.Conditions, gen, mtlsv1alpha1.ConditionIssuing, metav1.ConditionFalse, mtlsv1alpha1.ReasonRevoked, "A revoked certificate is never renewed")
	if entry == nil {
		common.SetCondition(&cc.Status.Conditions, gen, mtlsv1alpha1.ConditionRevoked, metav1.ConditionTrue, mtlsv1alpha1.ReasonRevoked, "No unexpired certificate was issued; none will be")
		common.SetCondition(&cc.Status.Conditions, gen, mtlsv1alpha1.ConditionReady, metav1.ConditionFalse, mtlsv1alpha1.ReasonRevoked, "The ClientCertificate is revoked")
		return ctrl.Result{}, nil
	}
	cc.Status.RevokedAt = &metav1.Time{Time: entry.RevokedAt}
	if crl := s.ca.Status.CRL; crl != nil && crl.RecordGeneration >= entry.Generation {
		common.SetCondition(&cc.Status.Conditions, gen, mtlsv1alpha1.ConditionRevoked, metav1.ConditionTrue, mtlsv1alpha1.ReasonRevoked,
			fmt.Sprintf("Serial %s is in the CRL of ClientCA %s", entry.SerialNumber, s.ca.Name))
	} else {
		common.SetCondition(&cc.Status.Conditions, gen, mtlsv1alpha1.ConditionRevoked, metav1.ConditionTrue, mtlsv1alpha1.ReasonRevocationPending,
			fmt.Sprintf("Serial %s is recorded as revoked; waiting for ClientCA %s to publish its CRL", entry.SerialNumber, s.ca.Name))
	}
	common.SetCondition(&cc.Status.Conditions, gen, mtlsv1alpha1.ConditionReady, metav1.ConditionFalse, mtlsv1alpha1.ReasonRevoked,
		fmt.Sprintf("Certificate %s is revoked", entry.SerialNumber))
	if !wasRevoked {
		r.recorder.Eventf(cc, nil, corev1.EventTypeNormal, mtlsv1alpha1.ReasonRevoked, "Revoke",
			"Revoked certificate %s (reason code %d)", entry.SerialNumber, entry.ReasonCode)
	}
	return ctrl.Result{}, nil
}

// finalize records every certificate of a deleted ClientCertificate as revoked
// (cessationOfOperation) before letting it go: a deleted identity must lose access. When the
// ClientCA is gone there is no CRL to put it in, and the finalizer is simply removed.
func (r *Reconciler) finalize(ctx context.Context, cc *mtlsv1alpha1.ClientCertificate) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(cc, mtlsv1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	ca := &mtlsv1alpha1.ClientCA{}
	err := r.apiReader.Get(ctx, client.ObjectKey{Namespace: cc.Namespace, Name: cc.Spec.ClientCARef.Name}, ca)
	switch {
	case apierrors.IsNotFound(err):
		log.FromContext(ctx).Info("ClientCA is gone; nothing to revoke", "clientca", cc.Spec.ClientCARef.Name)
	case err != nil:
		return ctrl.Result{}, err
	default:
		var cas []*x509.Certificate
		if m, _, err := common.LoadCAMaterial(ctx, r.client, r.apiReader, ca); err == nil {
			cas = m.Certificates()
		}
		secret, err := r.freshSecret(ctx, cc)
		if err != nil {
			return ctrl.Result{}, err
		}
		now := r.Clock.Now()
		ids := identities(cc, secret, cas, now)
		first, err := r.record(ctx, cc, ca.Name, ids, cessationOfOperation, now)
		if err != nil {
			return ctrl.Result{}, err
		}
		if first != nil {
			log.FromContext(ctx).Info("Recorded revocation of deleted ClientCertificate", "clientca", ca.Name, "certificates", len(ids))
			if !cc.Spec.Revoked {
				r.recorder.Eventf(cc, nil, corev1.EventTypeNormal, mtlsv1alpha1.ReasonRevoked, "Revoke",
					"Revoked certificate %s because the ClientCertificate was deleted", first.SerialNumber)
			}
		}
	}
	before := cc.DeepCopy()
	controllerutil.RemoveFinalizer(cc, mtlsv1alpha1.Finalizer)
	if err := r.client.Patch(ctx, cc, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	forget(client.ObjectKeyFromObject(cc))
	return ctrl.Result{}, nil
}
