package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
)

// ClientCAReconciler reconciles ClientCA objects. Its behaviour lands with its own issue.
type ClientCAReconciler struct {
	Options
}

// Reconcile is empty until the ClientCA issue lands.
func (r *ClientCAReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler.
func (r *ClientCAReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&mtlsv1alpha1.ClientCA{}).Named("clientca").Complete(r)
}
