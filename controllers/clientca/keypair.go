package clientca

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
	"github.com/albtrust/albtrust/internal/pki"
)

// Defaults of a generated CA.
var (
	defaultCADuration = metav1.Duration{Duration: 10 * 365 * 24 * time.Hour}
)

// caDuration is the validity of each generated CA certificate.
func caDuration(ca *mtlsv1alpha1.ClientCA) time.Duration {
	return mtlsv1alpha1.DurationOrDefault(ca.Spec.Duration, defaultCADuration).Duration
}

// renewalTime is when a new CA should take over from cert: renewBefore ahead of its notAfter,
// by default a third of its validity.
func renewalTime(ca *mtlsv1alpha1.ClientCA, cert *x509.Certificate) time.Time {
	validity := cert.NotAfter.Sub(cert.NotBefore)
	before := validity / 3
	if ca.Spec.RenewBefore != nil {
		before = ca.Spec.RenewBefore.Duration
	}
	return cert.NotAfter.Add(-before)
}

// ensureKeyPair makes sure the CA Secret holds a valid signing CA: it generates one only when
// no CA was ever issued, adopts a retained Secret, rotates at the renewal time and drops
// expired CAs. It never overwrites a key it did not just generate.
func (r *Reconciler) ensureKeyPair(ctx context.Context, s *scope) (stepResult, error) {
	ca := s.ca
	if ca.Spec.Import != nil {
		return r.importedKeyPair(ctx, s)
	}
	name := common.CASecretName(ca)
	secret := &corev1.Secret{}
	err := r.client.Get(ctx, client.ObjectKey{Namespace: ca.Namespace, Name: name}, secret)
	if apierrors.IsNotFound(err) {
		// Not in the cache: it may exist without albtrust's label.
		err = r.apiReader.Get(ctx, client.ObjectKey{Namespace: ca.Namespace, Name: name}, secret)
		if err == nil && secret.Labels[mtlsv1alpha1.LabelSecretRole] == "" {
			return r.keyPairFailed(s, mtlsv1alpha1.ReasonSecretConflict, fmt.Sprintf(
				"Secret %s exists and was not written by albtrust; albtrust will not touch it. Use import.secretName to use it as the CA, or choose another secretName", name)), nil
		}
	}
	switch {
	case apierrors.IsNotFound(err):
		if ca.Status.SigningCAFingerprint != "" {
			// A CA was issued and its key is gone. Minting a new one would silently break every
			// client certificate it signed, so stop and say so.
			r.event(ca, corev1.EventTypeWarning, mtlsv1alpha1.ReasonCASecretMissing, "Verify",
				"CA Secret %s is missing; restore it from backup or delete and re-create the ClientCA to start a new CA", name)
			return r.keyPairFailed(s, mtlsv1alpha1.ReasonCASecretMissing, fmt.Sprintf(
				"Status records CA %s but Secret %s is missing; albtrust will not generate a new CA. Restore the Secret, or delete and re-create the ClientCA", ca.Status.SigningCAFingerprint, name)), nil
		}
		return r.generateCA(ctx, s, name)
	case err != nil:
		return stepResult{}, fmt.Errorf("get CA secret %s: %w", name, err)
	}

	material, err := common.ParseCASecret(secret)
	if err != nil {
		return r.keyPairFailed(s, mtlsv1alpha1.ReasonInvalidCA, err.Error()), nil
	}
	if err := pki.ValidateCA(material.Signing.Cert, material.Signing.Key); err != nil {
		return r.keyPairFailed(s, mtlsv1alpha1.ReasonInvalidCA, fmt.Sprintf("Secret %s: %v", name, err)), nil
	}
	if fp := ca.Status.SigningCAFingerprint; fp != "" {
		if _, ok := material.ByFingerprint(fp); !ok {
			// The Secret was replaced by one without the CA status names. Refuse it rather than
			// lose track of the issued CA.
			return r.keyPairFailed(s, mtlsv1alpha1.ReasonInvalidCA, fmt.Sprintf(
				"Secret %s no longer holds CA %s that status records; restore the original Secret", name, fp)), nil
		}
	}

	changed := dropExpired(material, s.now)
	reason, verb := mtlsv1alpha1.ReasonReady, "holds"
	if !s.now.Before(renewalTime(ca, material.Signing.Cert)) {
		next, err := r.newCA(ca, s.now)
		if err != nil {
			return stepResult{}, err
		}
		material.Retired = append([]common.CAKeyPair{material.Signing}, material.Retired...)
		material.Signing = next
		changed = true
		reason, verb = mtlsv1alpha1.ReasonGenerated, "rotated to"
	}
	if changed || secret.Labels[mtlsv1alpha1.LabelClientCA] != ca.Name {
		if err := material.EncodeInto(secret); err != nil {
			return stepResult{}, err
		}
		secret.Labels = mergeLabels(secret.Labels, common.ManagedLabels("ca", map[string]string{mtlsv1alpha1.LabelClientCA: ca.Name}))
		if err := r.client.Update(ctx, secret); err != nil {
			return stepResult{}, fmt.Errorf("update CA secret %s: %w", name, err)
		}
		if reason == mtlsv1alpha1.ReasonGenerated {
			r.event(ca, corev1.EventTypeNormal, "Renewed", "Rotate",
				"Rotated to a new CA %s; the previous CA stays in the bundle until it expires", pki.Fingerprint(material.Signing.Cert))
		}
	}
	s.material = material
	return r.keyPairReady(s, reason, fmt.Sprintf("Secret %s %s CA %s", name, verb, pki.Fingerprint(material.Signing.Cert))), nil
}

// importedKeyPair validates an imported CA; albtrust never writes to that Secret.
func (r *Reconciler) importedKeyPair(ctx context.Context, s *scope) (stepResult, error) {
	material, _, err := common.LoadCAMaterial(ctx, r.client, r.apiReader, s.ca)
	name := common.CASecretName(s.ca)
	switch {
	case apierrors.IsNotFound(err):
		return r.keyPairFailed(s, mtlsv1alpha1.ReasonCASecretMissing, fmt.Sprintf("Import Secret %s not found", name)), nil
	case errors.Is(err, common.ErrInvalidCASecret):
		return r.keyPairFailed(s, mtlsv1alpha1.ReasonInvalidCA, err.Error()), nil
	case err != nil:
		return stepResult{}, err
	}
	if err := pki.ValidateCA(material.Signing.Cert, material.Signing.Key); err != nil {
		return r.keyPairFailed(s, mtlsv1alpha1.ReasonInvalidCA, fmt.Sprintf("Import Secret %s: %v", name, err)), nil
	}
	if !material.Signing.Cert.NotAfter.After(s.now) {
		return r.keyPairFailed(s, mtlsv1alpha1.ReasonInvalidCA, fmt.Sprintf("Imported CA in Secret %s expired at %s", name, material.Signing.Cert.NotAfter.UTC().Format(time.RFC3339))), nil
	}
	s.material = material
	return r.keyPairReady(s, mtlsv1alpha1.ReasonImported, fmt.Sprintf("Using the imported CA %s from Secret %s", pki.Fingerprint(material.Signing.Cert), name)), nil
}

// generateCA creates the first CA. Create fails if the Secret appeared meanwhile, so a key is
// never overwritten.
func (r *Reconciler) generateCA(ctx context.Context, s *scope, name string) (stepResult, error) {
	ca := s.ca
	kp, err := r.newCA(ca, s.now)
	if err != nil {
		return stepResult{}, err
	}
	material := &common.CAMaterial{Signing: kp}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ca.Namespace,
			Name:      name,
			Labels:    common.ManagedLabels("ca", map[string]string{mtlsv1alpha1.LabelClientCA: ca.Name}),
		},
		Type: corev1.SecretTypeTLS,
	}
	if err := material.EncodeInto(secret); err != nil {
		return stepResult{}, err
	}
	if err := r.client.Create(ctx, secret); err != nil {
		return stepResult{}, fmt.Errorf("create CA secret %s: %w", name, err)
	}
	fp := pki.Fingerprint(kp.Cert)
	r.event(ca, corev1.EventTypeNormal, "Generated", "Generate", "Generated CA %s into Secret %s", fp, name)
	s.material = material
	return r.keyPairReady(s, mtlsv1alpha1.ReasonGenerated, fmt.Sprintf("Secret %s holds CA %s", name, fp)), nil
}

// newCA generates a key pair and a self-signed CA certificate from the spec.
func (r *Reconciler) newCA(ca *mtlsv1alpha1.ClientCA, now time.Time) (common.CAKeyPair, error) {
	spec := mtlsv1alpha1.KeySpec{}
	if ca.Spec.PrivateKey != nil {
		spec = *ca.Spec.PrivateKey
	}
	key, err := pki.GenerateKey(string(spec.KeyAlgorithmOrDefault()), spec.KeySize())
	if err != nil {
		return common.CAKeyPair{}, fmt.Errorf("generate CA key: %w", err)
	}
	subject := pki.Subject{}
	if sub := ca.Spec.Subject; sub != nil {
		subject = pki.Subject{CommonName: sub.CommonName, Organization: sub.Organization,
			OrganizationalUnit: sub.OrganizationalUnit, Country: sub.Country, Province: sub.Province, Locality: sub.Locality}
	}
	cert, err := pki.CreateCA(pki.CARequest{Subject: subject.Name(), Key: key, NotBefore: now, NotAfter: now.Add(caDuration(ca))})
	if err != nil {
		return common.CAKeyPair{}, fmt.Errorf("create CA certificate: %w", err)
	}
	return common.CAKeyPair{Cert: cert, Key: key}, nil
}

// dropExpired removes retired CAs past their notAfter: certificates they signed have expired
// too (a leaf never outlives its CA), so neither the bundle nor the CRL needs them.
func dropExpired(m *common.CAMaterial, now time.Time) bool {
	kept := m.Retired[:0]
	for _, kp := range m.Retired {
		if kp.Cert.NotAfter.After(now) {
			kept = append(kept, kp)
		}
	}
	changed := len(kept) != len(m.Retired)
	m.Retired = kept
	return changed
}

func (r *Reconciler) keyPairFailed(s *scope, reason, msg string) stepResult {
	common.SetCondition(&s.ca.Status.Conditions, s.ca.Generation, mtlsv1alpha1.ConditionKeyPairReady, metav1.ConditionFalse, reason, msg)
	return stepResult{stop: true, requeueAfter: r.UserErrorRetry}
}

func (r *Reconciler) keyPairReady(s *scope, reason, msg string) stepResult {
	ca, m := s.ca, s.material
	common.SetCondition(&ca.Status.Conditions, ca.Generation, mtlsv1alpha1.ConditionKeyPairReady, metav1.ConditionTrue, reason, msg)
	ca.Status.SigningCAFingerprint = pki.Fingerprint(m.Signing.Cert)
	notAfter := metav1.NewTime(m.Signing.Cert.NotAfter)
	ca.Status.NotAfter = &notAfter
	if ca.Spec.Import != nil {
		ca.Status.RenewalTime = nil
		return stepResult{}
	}
	renew := renewalTime(ca, m.Signing.Cert)
	rt := metav1.NewTime(renew)
	ca.Status.RenewalTime = &rt
	// Wake up for the rotation, and for the moment the oldest retired CA expires.
	wake := renew.Sub(s.now)
	for _, kp := range m.Retired {
		if d := kp.Cert.NotAfter.Sub(s.now); d > 0 && d < wake {
			wake = d
		}
	}
	return stepResult{requeueAfter: wake + time.Second}
}

func mergeLabels(have, want map[string]string) map[string]string {
	if have == nil {
		have = map[string]string{}
	}
	for k, v := range want {
		have[k] = v
	}
	return have
}
