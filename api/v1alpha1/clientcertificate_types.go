package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClientCertificate condition types.
const (
	// ConditionIssuing is True while a certificate is being issued or renewed.
	ConditionIssuing = "Issuing"
	// ConditionRevoked is True once the certificate has been revoked.
	ConditionRevoked = "Revoked"
)

// ClientCertificate condition reasons.
const (
	// ReasonIssued means the Secret holds a valid certificate for the current spec.
	ReasonIssued = "Issued"
	// ReasonDoesNotExist means no certificate has been issued yet.
	ReasonDoesNotExist = "DoesNotExist"
	// ReasonRenewing means the certificate reached its renewal time.
	ReasonRenewing = "Renewing"
	// ReasonSpecChanged means the spec changed in a way that alters the certificate.
	ReasonSpecChanged = "SpecChanged"
	// ReasonSecretMismatch means the Secret was edited or deleted by someone else, or its key
	// no longer matches its certificate; albtrust repairs it.
	ReasonSecretMismatch = "SecretMismatch"
	// ReasonClientCANotFound means the referenced ClientCA does not exist.
	ReasonClientCANotFound = "ClientCANotFound"
	// ReasonClientCANotReady means the referenced ClientCA has no usable signing CA yet.
	ReasonClientCANotReady = "ClientCANotReady"
	// ReasonInvalidCSR means spec.csr cannot be parsed, its signature is wrong or its key is unsupported.
	ReasonInvalidCSR = "InvalidCSR"
	// ReasonPasswordSecretNotFound means the PKCS#12 password Secret or key is missing.
	ReasonPasswordSecretNotFound = "PasswordSecretNotFound"
	// ReasonRevoked means the certificate is revoked (spec.revoked or the object was deleted).
	ReasonRevoked = "Revoked"
	// ReasonRevocationPending means the revocation is recorded and waits for the ClientCA's CRL.
	ReasonRevocationPending = "RevocationPending"
	// ReasonNotRevoked means the certificate is not revoked.
	ReasonNotRevoked = "NotRevoked"
)

// KeyEncoding is how a private key is written to tls.key.
// +kubebuilder:validation:Enum=PKCS1;PKCS8
type KeyEncoding string

// Key encodings.
const (
	PKCS1 KeyEncoding = "PKCS1"
	PKCS8 KeyEncoding = "PKCS8"
)

// RotationPolicy says whether renewal generates a new key.
// +kubebuilder:validation:Enum=Always;Never
type RotationPolicy string

// Rotation policies.
const (
	RotationPolicyAlways RotationPolicy = "Always"
	RotationPolicyNever  RotationPolicy = "Never"
)

// KeyUsage is a key usage or extended key usage of a client certificate.
// +kubebuilder:validation:Enum=digitalSignature;keyEncipherment;clientAuth;serverAuth
type KeyUsage string

// Key usages.
const (
	UsageDigitalSignature KeyUsage = "digitalSignature"
	UsageKeyEncipherment  KeyUsage = "keyEncipherment"
	UsageClientAuth       KeyUsage = "clientAuth"
	UsageServerAuth       KeyUsage = "serverAuth"
)

// PKCS12Profile chooses the PKCS#12 encryption.
// +kubebuilder:validation:Enum=LegacyDES;LegacyRC2;Modern2023
type PKCS12Profile string

// PKCS#12 profiles.
const (
	// PKCS12LegacyDES imports into macOS Keychain, like `openssl pkcs12 -export -legacy`.
	PKCS12LegacyDES PKCS12Profile = "LegacyDES"
	// PKCS12LegacyRC2 uses RC2 for certificates and 3DES for the key.
	PKCS12LegacyRC2 PKCS12Profile = "LegacyRC2"
	// PKCS12Modern2023 uses AES-256 and PBKDF2 (OpenSSL 3 defaults).
	PKCS12Modern2023 PKCS12Profile = "Modern2023"
)

// RevocationReason is an RFC 5280 CRL reason.
// +kubebuilder:validation:Enum=Unspecified;KeyCompromise;CACompromise;AffiliationChanged;Superseded;CessationOfOperation;PrivilegeWithdrawn
type RevocationReason string

// CertificatePrivateKey chooses the generated key of a ClientCertificate.
// +kubebuilder:validation:XValidation:rule="self.algorithm != 'RSA' || !has(self.size) || self.size in [2048, 3072, 4096, 8192]",message="RSA size must be 2048, 3072, 4096 or 8192"
// +kubebuilder:validation:XValidation:rule="self.algorithm != 'ECDSA' || !has(self.size) || self.size in [256, 384, 521]",message="ECDSA size must be 256, 384 or 521"
type CertificatePrivateKey struct {
	// Algorithm of the key.
	// +kubebuilder:default=RSA
	// +optional
	Algorithm KeyAlgorithm `json:"algorithm,omitempty"`

	// Size in bits: RSA 2048, 3072, 4096, 8192 (default 2048); ECDSA 256, 384, 521 (default 256).
	// +kubebuilder:validation:Minimum=256
	// +kubebuilder:validation:Maximum=8192
	// +optional
	Size int32 `json:"size,omitempty"`

	// Encoding of tls.key.
	// +kubebuilder:default=PKCS1
	// +optional
	Encoding KeyEncoding `json:"encoding,omitempty"`

	// RotationPolicy: Always generates a new key at each renewal; Never keeps the key.
	// +kubebuilder:default=Always
	// +optional
	RotationPolicy RotationPolicy `json:"rotationPolicy,omitempty"`
}

// KeySpec returns the algorithm and size part.
func (k CertificatePrivateKey) KeySpec() KeySpec {
	return KeySpec{Algorithm: k.Algorithm, Size: k.Size}
}

// PKCS12Keystore asks for keystore.p12 in the Secret.
type PKCS12Keystore struct {
	// PasswordSecretRef selects the password in a Secret of the same namespace.
	PasswordSecretRef KeySelector `json:"passwordSecretRef"`

	// Profile of the encryption. LegacyDES imports into macOS Keychain.
	// +kubebuilder:default=LegacyDES
	// +optional
	Profile PKCS12Profile `json:"profile,omitempty"`
}

// Keystores are extra encodings of the key pair.
type Keystores struct {
	// PKCS12 writes keystore.p12.
	// +optional
	PKCS12 *PKCS12Keystore `json:"pkcs12,omitempty"`
}

// SecretTemplate adds labels and annotations to the certificate Secret.
type SecretTemplate struct {
	// Labels added to the Secret.
	// +kubebuilder:validation:MaxProperties=32
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations added to the Secret.
	// +kubebuilder:validation:MaxProperties=32
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ClientCertificateSpec is the desired state of a ClientCertificate.
// +kubebuilder:validation:XValidation:rule="!(has(self.csr) && has(self.privateKey))",message="set either privateKey (albtrust generates the key) or csr (the key stays with you), not both"
// +kubebuilder:validation:XValidation:rule="has(self.subject) || has(self.csr)",message="subject is required unless csr is set"
// +kubebuilder:validation:XValidation:rule="!(has(self.csr) && has(self.keystores) && has(self.keystores.pkcs12))",message="keystores.pkcs12 needs the private key, which csr mode never sees"
// +kubebuilder:validation:XValidation:rule="!has(self.renewBefore) || duration(self.renewBefore) < duration(self.duration)",message="renewBefore must be shorter than duration"
// +kubebuilder:validation:XValidation:rule="!has(self.revocationReason) || self.revoked",message="revocationReason needs revoked: true"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.revoked) || !oldSelf.revoked || self.revoked",message="revocation cannot be undone: delete and re-create the ClientCertificate to issue a new certificate"
// +kubebuilder:validation:XValidation:rule="!has(self.usages) || self.usages.exists(u, u == 'clientAuth')",message="usages must include clientAuth: ALB refuses client certificates without it"
// +kubebuilder:validation:XValidation:rule="!has(self.usages) || !self.usages.exists(u, u == 'keyEncipherment') || has(self.csr) || !has(self.privateKey) || self.privateKey.algorithm == 'RSA'",message="keyEncipherment is for RSA keys only"
type ClientCertificateSpec struct {
	// ClientCARef names the ClientCA in the same namespace that signs this certificate.
	ClientCARef LocalObjectReference `json:"clientCARef"`

	// Subject of the certificate. With csr, it replaces the CSR's subject when set.
	// +optional
	Subject *Subject `json:"subject,omitempty"`

	// EmailAddresses (SAN rfc822Name).
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=254
	// +kubebuilder:validation:items:Pattern=`^[^@\s]+@[^@\s]+$`
	// +listType=atomic
	// +optional
	EmailAddresses []string `json:"emailAddresses,omitempty"`

	// URIs (SAN uniformResourceIdentifier), such as spiffe://example.org/user/alice.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]+$`
	// +listType=atomic
	// +optional
	URIs []string `json:"uris,omitempty"`

	// DNSNames (SAN dNSName).
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^(\*\.)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*$`
	// +listType=atomic
	// +optional
	DNSNames []string `json:"dnsNames,omitempty"`

	// PrivateKey albtrust generates. Default RSA 2048, PKCS1, rotation Always.
	// +optional
	PrivateKey *CertificatePrivateKey `json:"privateKey,omitempty"`

	// CSR is a PEM certificate signing request, as made with `openssl req -new`. albtrust signs it
	// and the Secret holds only tls.crt and ca.crt: the private key never leaves its owner.
	// +kubebuilder:validation:MaxLength=16384
	// +kubebuilder:validation:XValidation:rule="self.contains('-----BEGIN CERTIFICATE REQUEST-----') || self.contains('-----BEGIN NEW CERTIFICATE REQUEST-----')",message="csr must be a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)"
	// +optional
	CSR string `json:"csr,omitempty"`

	// Duration of the certificate. Default 365 days (8760h). Never beyond the CA's notAfter.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="duration must be at least 1m"
	// +kubebuilder:default="8760h"
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`

	// RenewBefore is how long before notAfter the certificate is renewed. Default a third of duration.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +optional
	RenewBefore *metav1.Duration `json:"renewBefore,omitempty"`

	// Usages of the certificate. Default digitalSignature, keyEncipherment (RSA keys only), clientAuth.
	// +kubebuilder:validation:MaxItems=4
	// +listType=set
	// +optional
	Usages []KeyUsage `json:"usages,omitempty"`

	// SecretName of the Secret albtrust writes. Default <name>-tls.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// SecretTemplate adds labels and annotations to the Secret.
	// +optional
	SecretTemplate *SecretTemplate `json:"secretTemplate,omitempty"`

	// Keystores: PKCS#12 for laptops and browsers.
	// +optional
	Keystores *Keystores `json:"keystores,omitempty"`

	// Revoked revokes the certificate: its serial goes into the ClientCA's CRL and the trust
	// store refuses it. It cannot be undone.
	// +optional
	Revoked bool `json:"revoked,omitempty"`

	// RevocationReason recorded in the CRL. Default Unspecified.
	// +optional
	RevocationReason RevocationReason `json:"revocationReason,omitempty"`
}

// ClientCertificateStatus is the observed state of a ClientCertificate.
type ClientCertificateStatus struct {
	// ObservedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Issuing, Revoked.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// SerialNumber of the current certificate, uppercase hex as ALB prints it.
	// +optional
	SerialNumber string `json:"serialNumber,omitempty"`

	// NotBefore of the current certificate.
	// +optional
	NotBefore *metav1.Time `json:"notBefore,omitempty"`

	// NotAfter of the current certificate.
	// +optional
	NotAfter *metav1.Time `json:"notAfter,omitempty"`

	// RenewalTime is when the certificate will be renewed.
	// +optional
	RenewalTime *metav1.Time `json:"renewalTime,omitempty"`

	// Fingerprint is the SHA-256 of the certificate.
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`

	// IssuerFingerprint is the SHA-256 of the CA certificate that signed it.
	// +optional
	IssuerFingerprint string `json:"issuerFingerprint,omitempty"`

	// Revision counts the certificates issued for this object.
	// +optional
	Revision int64 `json:"revision,omitempty"`

	// RevokedAt is when the certificate was recorded as revoked.
	// +optional
	RevokedAt *metav1.Time `json:"revokedAt,omitempty"`
}

// ClientCertificate is a client key and certificate signed by a ClientCA, kept in a Secret
// with an optional PKCS#12 keystore, renewed before it expires and revocable.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ccert,categories=albtrust
// +kubebuilder:printcolumn:name="CA",type=string,JSONPath=`.spec.clientCARef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Key",type=string,JSONPath=`.spec.privateKey.algorithm`,priority=1
// +kubebuilder:printcolumn:name="Revoked",type=boolean,JSONPath=`.spec.revoked`
// +kubebuilder:printcolumn:name="NotAfter",type=string,JSONPath=`.status.notAfter`
// +kubebuilder:printcolumn:name="Serial",type=string,JSONPath=`.status.serialNumber`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClientCertificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClientCertificateSpec   `json:"spec"`
	Status ClientCertificateStatus `json:"status,omitempty"`
}

// ClientCertificateList is a list of ClientCertificate.
// +kubebuilder:object:root=true
type ClientCertificateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClientCertificate `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClientCertificate{}, &ClientCertificateList{})
}
