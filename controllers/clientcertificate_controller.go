package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
)

// ClientCertificateReconciler reconciles ClientCertificate objects. Its behaviour lands with its own issue.
type ClientCertificateReconciler struct {
	Options
}

// Reconcile is empty until the ClientCertificate issue lands.
func (r *ClientCertificateReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler.
func (r *ClientCertificateReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&mtlsv1alpha1.ClientCertificate{}).Named("clientcertificate").Complete(r)
}
