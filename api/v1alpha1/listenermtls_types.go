package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ListenerMTLS condition reasons. ListenerMTLS also uses ReasonTrustStoreNotFound (the
// trustStoreARN does not exist), ReasonThrottled and ReasonAWSError from the ClientCA reasons.
const (
	// ReasonConfigured means the listener's mutual authentication matches the spec.
	ReasonConfigured = "Configured"
	// ReasonListenerNotFound means the listener ARN, or the load balancer's listener on the port, does not exist.
	ReasonListenerNotFound = "ListenerNotFound"
	// ReasonLoadBalancerNotFound means the named load balancer does not exist.
	ReasonLoadBalancerNotFound = "LoadBalancerNotFound"
	// ReasonNotHTTPS means the listener is not HTTPS; mutual TLS needs an HTTPS listener.
	ReasonNotHTTPS = "NotHTTPS"
	// ReasonClientCANotFoundForListener means the referenced ClientCA does not exist.
	ReasonClientCANotFoundForListener = "ClientCANotFound"
	// ReasonTrustStoreNotReady means the trust store is still CREATING (or the ClientCA has none yet).
	ReasonTrustStoreNotReady = "TrustStoreNotReady"
	// ReasonTooManyVerifyListeners means the load balancer already has two listeners in verify mode.
	ReasonTooManyVerifyListeners = "TooManyVerifyListeners"
	// ReasonInvalidConfiguration means ELB refused the configuration.
	ReasonInvalidConfiguration = "InvalidConfiguration"
	// ReasonListenerConflict means another ListenerMTLS already manages the same listener.
	ReasonListenerConflict = "ListenerConflict"
)

// MTLSMode is the listener's mutual authentication mode.
// +kubebuilder:validation:Enum=Verify;Passthrough;Off
type MTLSMode string

// Modes.
const (
	// ModeVerify makes ALB verify client certificates against a trust store.
	ModeVerify MTLSMode = "Verify"
	// ModePassthrough makes ALB forward the client's chain to targets unverified.
	ModePassthrough MTLSMode = "Passthrough"
	// ModeOff turns mutual authentication off.
	ModeOff MTLSMode = "Off"
)

// OnDeletePolicy says what deleting a ListenerMTLS does to the listener.
// +kubebuilder:validation:Enum=Off;Retain
type OnDeletePolicy string

// OnDelete policies.
const (
	// OnDeleteOff sends mode=off explicitly: ModifyListener keeps what it is not told, so
	// simply forgetting the setting would leave mutual TLS on.
	OnDeleteOff OnDeletePolicy = "Off"
	// OnDeleteRetain leaves the listener as it is.
	OnDeleteRetain OnDeletePolicy = "Retain"
)

// LoadBalancerRef finds a listener by its load balancer and port.
// +kubebuilder:validation:XValidation:rule="has(self.name) != has(self.arn)",message="set exactly one of loadBalancer.name or loadBalancer.arn"
type LoadBalancerRef struct {
	// Name of the load balancer.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`
	// +optional
	Name string `json:"name,omitempty"`

	// ARN of the load balancer.
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:Pattern=`^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:loadbalancer/app/[a-zA-Z0-9-]{1,32}/[0-9a-f]{16}$`
	// +optional
	ARN string `json:"arn,omitempty"`

	// Port of the HTTPS listener.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
}

// HeaderNames renames the headers ALB sends to targets (listener attributes
// routing.http.request.x_amzn_mtls_clientcert*.header_name). Empty keeps ALB's default.
type HeaderNames struct {
	// ClientCert replaces X-Amzn-Mtls-Clientcert (Passthrough).
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]{1,40}$`
	// +optional
	ClientCert string `json:"clientCert,omitempty"`
	// SerialNumber replaces X-Amzn-Mtls-Clientcert-Serial-Number.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]{1,40}$`
	// +optional
	SerialNumber string `json:"serialNumber,omitempty"`
	// Issuer replaces X-Amzn-Mtls-Clientcert-Issuer.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]{1,40}$`
	// +optional
	Issuer string `json:"issuer,omitempty"`
	// Subject replaces X-Amzn-Mtls-Clientcert-Subject.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]{1,40}$`
	// +optional
	Subject string `json:"subject,omitempty"`
	// Validity replaces X-Amzn-Mtls-Clientcert-Validity.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]{1,40}$`
	// +optional
	Validity string `json:"validity,omitempty"`
	// Leaf replaces X-Amzn-Mtls-Clientcert-Leaf.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]{1,40}$`
	// +optional
	Leaf string `json:"leaf,omitempty"`
}

// ListenerMTLSSpec is the desired mutual authentication of one ALB HTTPS listener.
// +kubebuilder:validation:XValidation:rule="has(self.listenerARN) != has(self.loadBalancer)",message="set exactly one of listenerARN or loadBalancer"
// +kubebuilder:validation:XValidation:rule="self.mode != 'Verify' || has(self.clientCARef) != has(self.trustStoreARN)",message="Verify needs exactly one of clientCARef or trustStoreARN"
// +kubebuilder:validation:XValidation:rule="self.mode == 'Verify' || (!has(self.clientCARef) && !has(self.trustStoreARN))",message="clientCARef and trustStoreARN are only allowed with mode Verify"
// +kubebuilder:validation:XValidation:rule="self.mode == 'Verify' || !self.ignoreClientCertificateExpiry",message="ignoreClientCertificateExpiry is only allowed with mode Verify"
// +kubebuilder:validation:XValidation:rule="self.mode == 'Verify' || !self.advertiseTrustStoreCaNames",message="advertiseTrustStoreCaNames is only allowed with mode Verify"
type ListenerMTLSSpec struct {
	// ListenerARN of the HTTPS listener.
	// +kubebuilder:validation:MaxLength=250
	// +kubebuilder:validation:Pattern=`^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:listener/app/[a-zA-Z0-9-]{1,32}/[0-9a-f]{16}/[0-9a-f]{16}$`
	// +optional
	ListenerARN string `json:"listenerARN,omitempty"`

	// LoadBalancer and port, resolved to the listener.
	// +optional
	LoadBalancer *LoadBalancerRef `json:"loadBalancer,omitempty"`

	// Mode: Verify, Passthrough or Off.
	Mode MTLSMode `json:"mode"`

	// ClientCARef uses that ClientCA's trust store (Verify only).
	// +optional
	ClientCARef *LocalObjectReference `json:"clientCARef,omitempty"`

	// TrustStoreARN uses an existing trust store (Verify only).
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:Pattern=`^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:truststore/[a-zA-Z0-9-]{1,32}/[0-9a-f]{16}$`
	// +optional
	TrustStoreARN string `json:"trustStoreARN,omitempty"`

	// IgnoreClientCertificateExpiry accepts expired client certificates. Default false, as AWS recommends.
	// +kubebuilder:default=false
	// +optional
	IgnoreClientCertificateExpiry bool `json:"ignoreClientCertificateExpiry"`

	// AdvertiseTrustStoreCaNames lists the trust store's CA subjects in the TLS handshake.
	// +kubebuilder:default=false
	// +optional
	AdvertiseTrustStoreCaNames bool `json:"advertiseTrustStoreCaNames"`

	// HeaderNames renames the mTLS headers sent to targets.
	// +optional
	HeaderNames *HeaderNames `json:"headerNames,omitempty"`

	// OnDelete: Off (default) sends mode=off when the ListenerMTLS is deleted; Retain leaves the listener.
	// +kubebuilder:default=Off
	// +optional
	OnDelete OnDeletePolicy `json:"onDelete,omitempty"`
}

// ResolvedListener is the listener the spec resolved to.
type ResolvedListener struct {
	// ARN of the listener.
	ARN string `json:"arn"`
	// Port of the listener.
	Port int32 `json:"port"`
	// Protocol of the listener.
	Protocol string `json:"protocol"`
	// LoadBalancerARN of the listener's load balancer.
	LoadBalancerARN string `json:"loadBalancerARN"`
}

// AppliedSettings are the mutual authentication settings last applied to the listener.
type AppliedSettings struct {
	// Mode as ELB spells it: off, passthrough or verify.
	Mode string `json:"mode"`
	// TrustStoreARN in verify mode.
	// +optional
	TrustStoreARN string `json:"trustStoreARN,omitempty"`
	// IgnoreClientCertificateExpiry in verify mode.
	// +optional
	IgnoreClientCertificateExpiry bool `json:"ignoreClientCertificateExpiry,omitempty"`
	// AdvertiseTrustStoreCaNames in verify mode: on or off.
	// +optional
	AdvertiseTrustStoreCaNames string `json:"advertiseTrustStoreCaNames,omitempty"`
	// HeaderNames applied as listener attributes.
	// +optional
	HeaderNames map[string]string `json:"headerNames,omitempty"`
}

// ListenerMTLSStatus is the observed state of a ListenerMTLS.
type ListenerMTLSStatus struct {
	// ObservedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Listener the spec resolved to.
	// +optional
	Listener *ResolvedListener `json:"listener,omitempty"`

	// Applied settings.
	// +optional
	Applied *AppliedSettings `json:"applied,omitempty"`

	// DriftCorrections counts the times the listener was put back after a change made elsewhere.
	// +optional
	DriftCorrections int64 `json:"driftCorrections,omitempty"`

	// LastDriftCorrectionTime is when that last happened.
	// +optional
	LastDriftCorrectionTime *metav1.Time `json:"lastDriftCorrectionTime,omitempty"`
}

// ListenerMTLS sets one ALB HTTPS listener's mutual authentication: Verify with a trust store,
// Passthrough, or Off, and keeps it that way.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=lmtls,categories=albtrust
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Port",type=integer,JSONPath=`.status.listener.port`
// +kubebuilder:printcolumn:name="TrustStore",type=string,JSONPath=`.status.applied.trustStoreARN`,priority=1
// +kubebuilder:printcolumn:name="Listener",type=string,JSONPath=`.status.listener.arn`,priority=1
// +kubebuilder:printcolumn:name="Drift",type=integer,JSONPath=`.status.driftCorrections`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ListenerMTLS struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ListenerMTLSSpec   `json:"spec"`
	Status ListenerMTLSStatus `json:"status,omitempty"`
}

// ListenerMTLSList is a list of ListenerMTLS.
// +kubebuilder:object:root=true
type ListenerMTLSList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ListenerMTLS `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ListenerMTLS{}, &ListenerMTLSList{})
}
