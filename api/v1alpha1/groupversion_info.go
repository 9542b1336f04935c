// Package v1alpha1 holds the albtrust API: ClientCA, ClientCertificate and ListenerMTLS.
// +kubebuilder:object:generate=true
// +groupName=mtls.albtrust.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every albtrust kind.
	GroupVersion = schema.GroupVersion{Group: "mtls.albtrust.io", Version: "v1alpha1"}

	// SchemeBuilder registers the albtrust kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the albtrust kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
