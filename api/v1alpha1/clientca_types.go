package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClientCA condition types.
const (
	// ConditionKeyPairReady is True when the signing CA key pair is in its Secret and valid.
	ConditionKeyPairReady = "KeyPairReady"
	// ConditionBundlePublished is True when the CA bundle in S3 matches the CAs in use.
	ConditionBundlePublished = "BundlePublished"
	// ConditionTrustStoreReady is True when the ELB trust store is ACTIVE with the current bundle.
	ConditionTrustStoreReady = "TrustStoreReady"
	// ConditionCRLPublished is True when the current CRL is in S3 and registered with the trust store.
	ConditionCRLPublished = "CRLPublished"
	// ConditionDeleting is set while deletion waits for something, such as listeners still using the store.
	ConditionDeleting = "Deleting"
)

// ClientCA condition reasons.
const (
	// ReasonReady means the step succeeded.
	ReasonReady = "Ready"
	// ReasonPending means an earlier step has not completed yet.
	ReasonPending = "Pending"
	// ReasonGenerated means a new CA key pair was generated.
	ReasonGenerated = "Generated"
	// ReasonImported means the CA key pair comes from the import Secret.
	ReasonImported = "Imported"
	// ReasonCASecretMissing means status records an issued CA but its Secret is gone; albtrust
	// stops rather than mint a new CA, which would silently invalidate every client certificate.
	ReasonCASecretMissing = "CASecretMissing"
	// ReasonInvalidCA means the CA Secret does not hold a usable CA (not a CA, key mismatch,
	// unsupported algorithm, malformed PEM).
	ReasonInvalidCA = "InvalidCA"
	// ReasonSecretConflict means the Secret albtrust would write already exists and is not albtrust's.
	ReasonSecretConflict = "SecretConflict"
	// ReasonInvalidBundle means the assembled bundle breaks one of ALB's rules.
	ReasonInvalidBundle = "InvalidBundle"
	// ReasonAdditionalCANotFound means an additionalTrustedCAs source is missing or unreadable.
	ReasonAdditionalCANotFound = "AdditionalCANotFound"
	// ReasonS3AccessDenied means S3 refused the upload (bucket policy or IAM).
	ReasonS3AccessDenied = "S3AccessDenied"
	// ReasonS3BucketNotFound means the bucket does not exist.
	ReasonS3BucketNotFound = "S3BucketNotFound"
	// ReasonS3Error is any other S3 failure; albtrust retries with backoff.
	ReasonS3Error = "S3Error"
	// ReasonTrustStoreCreating means the store exists and is still CREATING; albtrust polls it.
	ReasonTrustStoreCreating = "TrustStoreCreating"
	// ReasonTooManyTrustStores means the account's trust store quota is reached.
	ReasonTooManyTrustStores = "TooManyTrustStores"
	// ReasonTrustStoreNotFound means the adopted trust store ARN does not exist.
	ReasonTrustStoreNotFound = "TrustStoreNotFound"
	// ReasonTrustStoreNameTaken means a store with the wanted name exists and is not ours.
	ReasonTrustStoreNameTaken = "TrustStoreNameTaken"
	// ReasonBundleRejected means ELB refused the bundle (InvalidCaCertificatesBundle).
	ReasonBundleRejected = "BundleRejected"
	// ReasonCRLRejected means ELB refused the CRL (InvalidRevocationContent).
	ReasonCRLRejected = "CRLRejected"
	// ReasonTooManyRevocations means the store's revocation quota is reached.
	ReasonTooManyRevocations = "TooManyRevocations"
	// ReasonThrottled means AWS throttled albtrust; it backs off and retries.
	ReasonThrottled = "Throttled"
	// ReasonAWSError is any other AWS failure; albtrust retries with backoff.
	ReasonAWSError = "AWSError"
	// ReasonTrustStoreInUse means deletion waits for listeners to stop using the trust store.
	ReasonTrustStoreInUse = "TrustStoreInUse"
	// ReasonNotConfigured means the step is not asked for by the spec.
	ReasonNotConfigured = "NotConfigured"
)

// CAImport uses an existing CA instead of generating one.
type CAImport struct {
	// SecretName of a Secret in the same namespace holding tls.crt (the CA certificate) and
	// tls.key (its private key). albtrust never writes to it and never generates a CA.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName"`
}

// TrustedCASource is an extra CA certificate (PEM) appended to the bundle, such as a corporate CA.
// +kubebuilder:validation:XValidation:rule="has(self.configMapKeyRef) != has(self.secretKeyRef)",message="set exactly one of configMapKeyRef or secretKeyRef"
type TrustedCASource struct {
	// ConfigMapKeyRef selects a ConfigMap key holding PEM certificates.
	// +optional
	ConfigMapKeyRef *KeySelector `json:"configMapKeyRef,omitempty"`
	// SecretKeyRef selects a Secret key holding PEM certificates.
	// +optional
	SecretKeyRef *KeySelector `json:"secretKeyRef,omitempty"`
}

// S3Location is where the CA bundle is published.
type S3Location struct {
	// Bucket name.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	Bucket string `json:"bucket"`

	// Key of the bundle object. Default: albtrust/<namespace>/<name>/ca-bundle.pem.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Key string `json:"key,omitempty"`

	// Region of the bucket, when it differs from the manager's region.
	// +kubebuilder:validation:Pattern=`^[a-z]{2}(-[a-z]+)+-[0-9]+$`
	// +optional
	Region string `json:"region,omitempty"`
}

// BundleSpec says where the CA bundle goes.
type BundleSpec struct {
	// S3 location of the bundle. The trust store is created from this object.
	S3 S3Location `json:"s3"`
}

// TrustStoreSpec names or adopts the ELB trust store.
// +kubebuilder:validation:XValidation:rule="!(has(self.name) && has(self.arn))",message="set trustStore.name or trustStore.arn, not both"
type TrustStoreSpec struct {
	// Name of the trust store to create or find. Default: derived from namespace and name
	// with a short hash, within ALB's 32 characters.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([a-zA-Z0-9]+-)*[a-zA-Z0-9]+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="trustStore.name is immutable"
	// +optional
	Name string `json:"name,omitempty"`

	// ARN of an existing trust store to adopt instead of creating one. albtrust replaces its
	// bundle with this ClientCA's and never deletes an adopted store.
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:Pattern=`^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:truststore/[a-zA-Z0-9-]{1,32}/[0-9a-f]{16}$`
	// +optional
	ARN string `json:"arn,omitempty"`

	// Tags added to a trust store albtrust creates, besides its own ownership tags.
	// +kubebuilder:validation:MaxProperties=40
	// +optional
	Tags map[string]string `json:"tags,omitempty"`
}

// RevocationSpec configures the CRL.
type RevocationSpec struct {
	// CRLValidity is the distance from thisUpdate to nextUpdate; the CRL is re-signed when
	// two thirds of it have passed. Default 7 days.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="crlValidity must be at least 1m"
	// +optional
	CRLValidity *metav1.Duration `json:"crlValidity,omitempty"`

	// S3Key of the CRL object. Default: next to the bundle, crl.pem.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	S3Key string `json:"s3Key,omitempty"`
}

// ClientCASpec is the desired state of a ClientCA.
// +kubebuilder:validation:XValidation:rule="has(self.subject) || has(self.import)",message="subject is required unless import is set"
// +kubebuilder:validation:XValidation:rule="!(has(self.import) && has(self.privateKey))",message="privateKey cannot be set with import: an imported CA keeps its own key"
// +kubebuilder:validation:XValidation:rule="!(has(self.import) && has(self.secretName))",message="secretName cannot be set with import: import.secretName names the CA Secret"
// +kubebuilder:validation:XValidation:rule="!(has(self.import) && has(self.renewBefore))",message="renewBefore cannot be set with import: albtrust never generates a key for an imported CA"
// +kubebuilder:validation:XValidation:rule="!has(self.renewBefore) || duration(self.renewBefore) < duration(self.duration)",message="renewBefore must be shorter than duration"
// +kubebuilder:validation:XValidation:rule="has(oldSelf.import) == has(self.import)",message="import cannot be added or removed after creation"
type ClientCASpec struct {
	// Subject of the CA certificate.
	// +optional
	Subject *Subject `json:"subject,omitempty"`

	// PrivateKey of the CA. Default RSA 2048.
	// +optional
	PrivateKey *KeySpec `json:"privateKey,omitempty"`

	// Duration of each CA certificate. Default 10 years (87600h).
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="duration must be at least 1m"
	// +kubebuilder:default="87600h"
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`

	// RenewBefore is how long before the CA's notAfter a new CA is generated. The old CA stays
	// in the bundle until it expires, so certificates it signed keep working. Default: a third
	// of duration.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +optional
	RenewBefore *metav1.Duration `json:"renewBefore,omitempty"`

	// SecretName of the Secret albtrust writes the CA into. Default <name>-ca.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="secretName is immutable: the CA key lives there"
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// Import uses an existing CA (tls.crt, tls.key) and never generates one.
	// +optional
	Import *CAImport `json:"import,omitempty"`

	// AdditionalTrustedCAs are appended to the published bundle.
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	// +optional
	AdditionalTrustedCAs []TrustedCASource `json:"additionalTrustedCAs,omitempty"`

	// Bundle says where the CA bundle is published.
	Bundle BundleSpec `json:"bundle"`

	// TrustStore names or adopts the ELB trust store.
	// +optional
	TrustStore TrustStoreSpec `json:"trustStore,omitempty"`

	// Revocation configures the CRL.
	// +optional
	Revocation RevocationSpec `json:"revocation,omitempty"`

	// DeletionPolicy says whether deleting the ClientCA keeps (Retain) or removes (Delete) the
	// trust store, the S3 objects and the CA Secret.
	// +kubebuilder:default=Retain
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// CACertificateStatus describes one CA certificate in the bundle.
type CACertificateStatus struct {
	// SerialNumber in uppercase hex.
	SerialNumber string `json:"serialNumber"`
	// Fingerprint is the SHA-256 of the DER certificate.
	Fingerprint string `json:"fingerprint"`
	// Subject in RFC 2253 form.
	Subject string `json:"subject"`
	// NotBefore of the certificate.
	NotBefore metav1.Time `json:"notBefore"`
	// NotAfter of the certificate.
	NotAfter metav1.Time `json:"notAfter"`
	// Signing is true for the CA that signs new client certificates.
	// +optional
	Signing bool `json:"signing,omitempty"`
	// Source is albtrust (generated or imported) or additional.
	// +optional
	Source string `json:"source,omitempty"`
}

// BundleStatus describes the published bundle object.
type BundleStatus struct {
	// URI of the object, s3://bucket/key.
	URI string `json:"uri"`
	// VersionID of the object version the trust store uses.
	// +optional
	VersionID string `json:"versionId,omitempty"`
	// SHA256 of the bundle content, hex.
	SHA256 string `json:"sha256"`
	// Certificates in the bundle.
	Certificates int32 `json:"certificates"`
}

// TrustStoreStatus describes the ELB trust store.
type TrustStoreStatus struct {
	// ARN of the trust store.
	ARN string `json:"arn"`
	// Name of the trust store.
	Name string `json:"name"`
	// Status as ELB reports it: CREATING or ACTIVE.
	// +optional
	Status string `json:"status,omitempty"`
	// NumberOfCACertificates ELB counts in the store.
	// +optional
	NumberOfCACertificates int32 `json:"numberOfCaCertificates,omitempty"`
	// TotalRevokedEntries ELB counts in the store.
	// +optional
	TotalRevokedEntries int64 `json:"totalRevokedEntries,omitempty"`
	// BundleSHA256 is the bundle content the store was last created or modified from.
	// +optional
	BundleSHA256 string `json:"bundleSha256,omitempty"`
	// TagsSHA256 identifies the spec.trustStore.tags last applied to the store.
	// +optional
	TagsSHA256 string `json:"tagsSha256,omitempty"`
	// Adopted is true when the store was given by ARN; albtrust never deletes it.
	// +optional
	Adopted bool `json:"adopted,omitempty"`
}

// CRLStatus describes the published CRL.
type CRLStatus struct {
	// Number is the CRL number of the newest CRL.
	Number int64 `json:"number"`
	// ThisUpdate of the newest CRL.
	ThisUpdate metav1.Time `json:"thisUpdate"`
	// NextUpdate of the newest CRL.
	NextUpdate metav1.Time `json:"nextUpdate"`
	// Entries in the CRL.
	Entries int32 `json:"entries"`
	// URI of the CRL object.
	// +optional
	URI string `json:"uri,omitempty"`
	// SHA256 of the CRL content, hex.
	// +optional
	SHA256 string `json:"sha256,omitempty"`
	// RecordGeneration is the generation of the revocation record the CRL was built from;
	// a revocation recorded at that generation or before is live in the trust store.
	// +optional
	RecordGeneration int64 `json:"recordGeneration,omitempty"`
	// EntriesSHA256 identifies the set of revoked serials, to tell when a new CRL is needed.
	// +optional
	EntriesSHA256 string `json:"entriesSha256,omitempty"`
	// TrustStoreARN the CRL is registered with.
	// +optional
	TrustStoreARN string `json:"trustStoreARN,omitempty"`
	// RevocationIDs registered with the trust store for this CRL.
	// +optional
	// +listType=atomic
	RevocationIDs []int64 `json:"revocationIds,omitempty"`
}

// ClientCAStatus is the observed state of a ClientCA.
type ClientCAStatus struct {
	// ObservedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, KeyPairReady, BundlePublished, TrustStoreReady, CRLPublished.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// SigningCAFingerprint is the SHA-256 fingerprint of the CA that signs new certificates.
	// Once set, a missing CA Secret is an error (CASecretMissing), never a reason to generate.
	// +optional
	SigningCAFingerprint string `json:"signingCAFingerprint,omitempty"`

	// NotAfter of the signing CA.
	// +optional
	NotAfter *metav1.Time `json:"notAfter,omitempty"`

	// RenewalTime is when the next CA will be generated.
	// +optional
	RenewalTime *metav1.Time `json:"renewalTime,omitempty"`

	// CACertificates in the published bundle.
	// +optional
	// +listType=atomic
	CACertificates []CACertificateStatus `json:"caCertificates,omitempty"`

	// Bundle object in S3.
	// +optional
	Bundle *BundleStatus `json:"bundle,omitempty"`

	// TrustStore in ELB.
	// +optional
	TrustStore *TrustStoreStatus `json:"trustStore,omitempty"`

	// CRL published for the trust store.
	// +optional
	CRL *CRLStatus `json:"crl,omitempty"`
}

// ClientCA is a private certificate authority for client certificates. Its key lives in a
// Secret; its CA bundle is published to S3 and becomes an ELB trust store; its CRL becomes the
// trust store's revocations.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cca,categories=albtrust
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Key",type=string,JSONPath=`.spec.privateKey.algorithm`
// +kubebuilder:printcolumn:name="NotAfter",type=string,JSONPath=`.status.notAfter`
// +kubebuilder:printcolumn:name="TrustStore",type=string,JSONPath=`.status.trustStore.name`
// +kubebuilder:printcolumn:name="Store",type=string,JSONPath=`.status.trustStore.status`,priority=1
// +kubebuilder:printcolumn:name="CRL",type=integer,JSONPath=`.status.crl.entries`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClientCA struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClientCASpec   `json:"spec"`
	Status ClientCAStatus `json:"status,omitempty"`
}

// ClientCAList is a list of ClientCA.
// +kubebuilder:object:root=true
type ClientCAList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClientCA `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClientCA{}, &ClientCAList{})
}
