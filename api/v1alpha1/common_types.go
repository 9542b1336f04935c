package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels, annotations and the finalizer that albtrust puts on objects.
const (
	// LabelManagedBy marks every Secret albtrust writes, so the manager's cache can select
	// only its own Secrets instead of every Secret in the cluster.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelManagedByValue is the value of LabelManagedBy on albtrust's objects.
	LabelManagedByValue = "albtrust"
	// LabelClientCA names the ClientCA a Secret belongs to.
	LabelClientCA = "mtls.albtrust.io/clientca"
	// LabelClientCertificate names the ClientCertificate a Secret belongs to.
	LabelClientCertificate = "mtls.albtrust.io/clientcertificate"
	// LabelSecretRole tells what a managed Secret holds: "ca", "revocations" or "certificate".
	LabelSecretRole = "mtls.albtrust.io/role"

	// AnnotationIssuedSerial records the serial of the certificate in a ClientCertificate Secret,
	// so a Secret edited by someone else can be recognised.
	AnnotationIssuedSerial = "mtls.albtrust.io/serial"
	// AnnotationKeystoreHash records a hash of what keystore.p12 was encoded from (certificate,
	// password, profile), so a password change re-encodes without reissuing.
	AnnotationKeystoreHash = "mtls.albtrust.io/keystore-hash"
	// AnnotationReconcileRequest asks the controllers to reconcile now; its value is free text.
	AnnotationReconcileRequest = "mtls.albtrust.io/reconcile-request"

	// Finalizer is held by every albtrust object until its cleanup has run.
	Finalizer = "mtls.albtrust.io/finalizer"
)

// Secret data keys, the same as cert-manager's and kubernetes.io/tls Secrets.
const (
	TLSCertKey  = "tls.crt"
	TLSKeyKey   = "tls.key"
	CACertKey   = "ca.crt"
	PKCS12Key   = "keystore.p12"
	CRLKey      = "ca.crl"
	RevokedKey  = "revocations.json"
	PreviousKey = "previous.json"
)

// Condition types shared by the kinds.
const (
	// ConditionReady summarises the object: True when everything it asks for is in place.
	ConditionReady = "Ready"
)

// KeyAlgorithm is the public key algorithm of a generated key.
// +kubebuilder:validation:Enum=RSA;ECDSA
type KeyAlgorithm string

const (
	// RSAKeyAlgorithm generates RSA keys (2048, 3072, 4096 or 8192 bits).
	RSAKeyAlgorithm KeyAlgorithm = "RSA"
	// ECDSAKeyAlgorithm generates ECDSA keys on P-256, P-384 or P-521.
	ECDSAKeyAlgorithm KeyAlgorithm = "ECDSA"
)

// KeySpec chooses the algorithm and size of a generated key. ALB accepts RSA 2048 to 8192
// bits and ECDSA P-256, P-384 and P-521; nothing else.
// +kubebuilder:validation:XValidation:rule="self.algorithm != 'RSA' || !has(self.size) || self.size in [2048, 3072, 4096, 8192]",message="RSA size must be 2048, 3072, 4096 or 8192"
// +kubebuilder:validation:XValidation:rule="self.algorithm != 'ECDSA' || !has(self.size) || self.size in [256, 384, 521]",message="ECDSA size must be 256, 384 or 521"
type KeySpec struct {
	// Algorithm of the key.
	// +kubebuilder:default=RSA
	// +optional
	Algorithm KeyAlgorithm `json:"algorithm,omitempty"`

	// Size in bits: RSA 2048, 3072, 4096, 8192 (default 2048); ECDSA 256, 384, 521 (default 256).
	// +kubebuilder:validation:Minimum=256
	// +kubebuilder:validation:Maximum=8192
	// +optional
	Size int32 `json:"size,omitempty"`
}

// KeySize returns the size the key will have, applying the per-algorithm default.
func (k KeySpec) KeySize() int {
	if k.Size != 0 {
		return int(k.Size)
	}
	if k.Algorithm == ECDSAKeyAlgorithm {
		return 256
	}
	return 2048
}

// KeyAlgorithmOrDefault returns the algorithm, RSA when unset.
func (k KeySpec) KeyAlgorithmOrDefault() KeyAlgorithm {
	if k.Algorithm == "" {
		return RSAKeyAlgorithm
	}
	return k.Algorithm
}

// Subject is an X.509 distinguished name.
type Subject struct {
	// CommonName (CN).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	CommonName string `json:"commonName"`

	// Organization (O).
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=64
	// +optional
	Organization []string `json:"organization,omitempty"`

	// OrganizationalUnit (OU).
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=64
	// +optional
	OrganizationalUnit []string `json:"organizationalUnit,omitempty"`

	// Country (C), two-letter ISO 3166 codes such as JP.
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:Pattern=`^[A-Z]{2}$`
	// +optional
	Country []string `json:"country,omitempty"`

	// Province or state (ST).
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=128
	// +optional
	Province []string `json:"province,omitempty"`

	// Locality or city (L).
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=128
	// +optional
	Locality []string `json:"locality,omitempty"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// KeySelector selects a key of a ConfigMap or Secret in the same namespace.
type KeySelector struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Key within the object's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// DeletionPolicy says what happens to external objects when their Kubernetes object is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

const (
	// DeletionPolicyRetain keeps the Secret, the S3 objects and the trust store.
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicyDelete removes them.
	DeletionPolicyDelete DeletionPolicy = "Delete"
)

// DurationOrDefault returns d's value, or def when d is nil.
func DurationOrDefault(d *metav1.Duration, def metav1.Duration) metav1.Duration {
	if d == nil {
		return def
	}
	return *d
}
