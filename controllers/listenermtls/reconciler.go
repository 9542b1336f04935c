// Package listenermtls reconciles ListenerMTLS objects.
package listenermtls

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
)

// Reconciler reconciles ListenerMTLS objects. Its behaviour lands with its own issue.
type Reconciler struct {
	common.Options
}

// NewReconciler builds the reconciler.
func NewReconciler(mgr ctrl.Manager, opts common.Options) *Reconciler {
	return &Reconciler{Options: opts}
}

// Reconcile does nothing yet.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&mtlsv1alpha1.ListenerMTLS{}).Named("listenermtls").Complete(r)
}
