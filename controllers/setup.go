// Package controllers holds albtrust's reconcilers: ClientCA, ClientCertificate and ListenerMTLS.
package controllers

import (
	"errors"
	"time"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	albaws "github.com/albtrust/albtrust/internal/aws"
)

// RBAC the manager needs; controller-gen turns these into config/rbac/role.yaml.
// +kubebuilder:rbac:groups=mtls.albtrust.io,resources=clientcas;clientcertificates;listenermtlses,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=mtls.albtrust.io,resources=clientcas/status;clientcertificates/status;listenermtlses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=mtls.albtrust.io,resources=clientcas/finalizers;clientcertificates/finalizers;listenermtlses/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Options are shared by the reconcilers.
type Options struct {
	// AWS clients; nil only in tests that run no AWS-facing controller.
	AWS *albaws.Clients
	// Clock is injected so that tests can move time instead of sleeping.
	Clock clock.PassiveClock
	// ClusterID goes into the tags of the trust stores albtrust creates.
	ClusterID string

	ClientCAConcurrency          int
	ClientCertificateConcurrency int
	ListenerMTLSConcurrency      int
	// ListenerResyncPeriod is how often a listener is compared with its spec to correct drift.
	ListenerResyncPeriod time.Duration
}

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.ClusterID == "" {
		o.ClusterID = "default"
	}
	if o.ClientCAConcurrency <= 0 {
		o.ClientCAConcurrency = 2
	}
	if o.ClientCertificateConcurrency <= 0 {
		o.ClientCertificateConcurrency = 8
	}
	if o.ListenerMTLSConcurrency <= 0 {
		o.ListenerMTLSConcurrency = 2
	}
	if o.ListenerResyncPeriod <= 0 {
		o.ListenerResyncPeriod = 3 * time.Minute
	}
}

// SetupWithManager registers the three reconcilers.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	opts.defaults()
	if opts.AWS == nil {
		return errors.New("controllers: AWS clients are required")
	}
	if err := (&ClientCAReconciler{Options: opts}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&ClientCertificateReconciler{Options: opts}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&ListenerMTLSReconciler{Options: opts}).SetupWithManager(mgr)
}
