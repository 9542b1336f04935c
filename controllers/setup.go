// Package controllers holds albtrust's reconcilers: ClientCA, ClientCertificate and ListenerMTLS.
package controllers

import (
	"errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/clientca"
	"github.com/albtrust/albtrust/controllers/clientcertificate"
	"github.com/albtrust/albtrust/controllers/common"
	"github.com/albtrust/albtrust/controllers/listenermtls"
)

// Options are shared by the reconcilers.
type Options = common.Options

// RBAC the manager needs; controller-gen turns these into config/rbac/role.yaml.
// +kubebuilder:rbac:groups=mtls.albtrust.io,resources=clientcas;clientcertificates;listenermtlses,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=mtls.albtrust.io,resources=clientcas/status;clientcertificates/status;listenermtlses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=mtls.albtrust.io,resources=clientcas/finalizers;clientcertificates/finalizers;listenermtlses/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the three reconcilers.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	opts.Defaults()
	if opts.AWS == nil {
		return errors.New("controllers: AWS clients are required")
	}
	if err := clientca.NewReconciler(mgr, opts).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := clientcertificate.NewReconciler(mgr, opts).SetupWithManager(mgr); err != nil {
		return err
	}
	return listenermtls.NewReconciler(mgr, opts).SetupWithManager(mgr)
}

// CacheOptions limits the manager's Secret cache to Secrets carrying the
// mtls.albtrust.io/role label: the ones albtrust writes, and any input Secret a user labels so
// that albtrust reacts to its changes at once. Memory does not grow with unrelated Secrets;
// unlabelled inputs are read uncached.
func CacheOptions() cache.Options {
	req, err := labels.NewRequirement(mtlsv1alpha1.LabelSecretRole, selection.Exists, nil)
	if err != nil {
		panic(err)
	}
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.NewSelector().Add(*req)},
		},
	}
}
