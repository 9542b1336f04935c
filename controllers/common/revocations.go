package common

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
)

// RevocationRecord is the durable list of revoked certificates of one ClientCA. It lives in a
// Secret of its own (<clientca>-revocations), written by the ClientCertificate controller and
// read by the ClientCA controller, and is neither owned by nor deleted with the ClientCA
// unless its deletionPolicy is Delete: a revocation must never be lost with a status.
type RevocationRecord struct {
	// Generation increases with every change; the ClientCA reports the generation its
	// newest CRL was built from, so a ClientCertificate knows when its revocation is live.
	Generation int64             `json:"generation"`
	Entries    []RevocationEntry `json:"entries"`
}

// RevocationEntry is one revoked certificate.
type RevocationEntry struct {
	// SerialNumber in uppercase hex.
	SerialNumber string `json:"serialNumber"`
	// IssuerFingerprint is the SHA-256 fingerprint of the CA that signed the certificate.
	IssuerFingerprint string `json:"issuerFingerprint"`
	// RevokedAt is the revocation time written into the CRL.
	RevokedAt time.Time `json:"revokedAt"`
	// ReasonCode is the RFC 5280 CRL reason code.
	ReasonCode int `json:"reasonCode"`
	// NotAfter of the certificate: the entry leaves the CRL once it has passed.
	NotAfter time.Time `json:"notAfter"`
	// Certificate names the ClientCertificate (namespace/name) it was issued for.
	Certificate string `json:"certificate,omitempty"`
	// Generation of the record that added this entry.
	Generation int64 `json:"generation"`
}

// RevocationSecretName is the Secret holding a ClientCA's revocation record.
func RevocationSecretName(caName string) string { return caName + "-revocations" }

// ParseRevocationRecord reads the record from its Secret; a missing key is an empty record.
func ParseRevocationRecord(s *corev1.Secret) (*RevocationRecord, error) {
	rec := &RevocationRecord{}
	data := s.Data[mtlsv1alpha1.RevokedKey]
	if len(data) == 0 {
		return rec, nil
	}
	if err := json.Unmarshal(data, rec); err != nil {
		return nil, fmt.Errorf("parse %s/%s %s: %w", s.Namespace, s.Name, mtlsv1alpha1.RevokedKey, err)
	}
	return rec, nil
}

// LoadRevocationRecord reads a ClientCA's record; a missing Secret is an empty record.
func LoadRevocationRecord(ctx context.Context, r client.Reader, namespace, caName string) (*RevocationRecord, error) {
	s := &corev1.Secret{}
	err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: RevocationSecretName(caName)}, s)
	if apierrors.IsNotFound(err) {
		return &RevocationRecord{}, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseRevocationRecord(s)
}

// Find returns the entry for a serial and issuer, if any.
func (r *RevocationRecord) Find(serialHex, issuerFingerprint string) (RevocationEntry, bool) {
	for _, e := range r.Entries {
		if e.SerialNumber == serialHex && e.IssuerFingerprint == issuerFingerprint {
			return e, true
		}
	}
	return RevocationEntry{}, false
}

// Live returns the entries whose certificates have not expired yet, sorted by issuer and serial.
func (r *RevocationRecord) Live(now time.Time) []RevocationEntry {
	var out []RevocationEntry
	for _, e := range r.Entries {
		if e.NotAfter.After(now) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].IssuerFingerprint != out[j].IssuerFingerprint {
			return out[i].IssuerFingerprint < out[j].IssuerFingerprint
		}
		return out[i].SerialNumber < out[j].SerialNumber
	})
	return out
}

// recordBackoff allows for many ClientCertificates revoking at once (a team leaving, a
// namespace deleted): each writer retries until its entry is in.
var recordBackoff = wait.Backoff{Steps: 30, Duration: 10 * time.Millisecond, Factor: 1.5, Jitter: 0.5, Cap: 2 * time.Second}

// RecordRevocation adds an entry to a ClientCA's record, creating the Secret when needed. It
// is idempotent (an entry already present is kept as it was) and retries on conflicts, since
// many ClientCertificates may revoke at once. It uses a live client: the record must not be
// rebuilt from a stale cache. It returns the record generation that holds the entry.
func RecordRevocation(ctx context.Context, c client.Client, namespace, caName string, entry RevocationEntry) (int64, error) {
	var generation int64
	err := retry.RetryOnConflict(recordBackoff, func() error {
		s := &corev1.Secret{}
		key := client.ObjectKey{Namespace: namespace, Name: RevocationSecretName(caName)}
		err := c.Get(ctx, key, s)
		create := apierrors.IsNotFound(err)
		if err != nil && !create {
			return err
		}
		rec := &RevocationRecord{}
		if !create {
			if rec, err = ParseRevocationRecord(s); err != nil {
				return err
			}
		}
		if existing, ok := rec.Find(entry.SerialNumber, entry.IssuerFingerprint); ok {
			generation = existing.Generation
			return nil
		}
		rec.Generation++
		entry.Generation = rec.Generation
		rec.Entries = append(rec.Entries, entry)
		data, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		generation = rec.Generation
		if create {
			s = &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{
					Namespace: namespace,
					Name:      key.Name,
					Labels:    ManagedLabels("revocations", map[string]string{mtlsv1alpha1.LabelClientCA: caName}),
				},
				Type: corev1.SecretTypeOpaque,
				Data: map[string][]byte{mtlsv1alpha1.RevokedKey: data},
			}
			err := c.Create(ctx, s)
			if apierrors.IsAlreadyExists(err) {
				// Someone created it meanwhile: go round again as a conflict.
				return apierrors.NewConflict(corev1.Resource("secrets"), key.Name, err)
			}
			return err
		}
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[mtlsv1alpha1.RevokedKey] = data
		return c.Update(ctx, s)
	})
	return generation, err
}
