package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
)

// ListenerMTLSReconciler reconciles ListenerMTLS objects. Its behaviour lands with its own issue.
type ListenerMTLSReconciler struct {
	Options
}

// Reconcile is empty until the ListenerMTLS issue lands.
func (r *ListenerMTLSReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler.
func (r *ListenerMTLSReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&mtlsv1alpha1.ListenerMTLS{}).Named("listenermtls").Complete(r)
}
