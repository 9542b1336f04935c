package listenermtls

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
)

// listenerARNIndex indexes ListenerMTLS objects by the listener they resolved to.
const listenerARNIndex = "status.listener.arn"

func indexListenerARN(o client.Object) []string {
	lm := o.(*mtlsv1alpha1.ListenerMTLS)
	if lm.Status.Listener == nil || lm.Status.Listener.ARN == "" {
		return nil
	}
	return []string{lm.Status.Listener.ARN}
}

// owns reports whether a manages a shared listener rather than b: the older object wins, and
// namespace/name breaks a tie, so every reconcile of either object reaches the same answer.
func owns(a, b *mtlsv1alpha1.ListenerMTLS) bool {
	ta, tb := a.CreationTimestamp, b.CreationTimestamp
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

// checkConflict refuses to manage a listener that an older ListenerMTLS (in any namespace)
// already manages: two specs on one listener would undo each other at every resync and each
// would call the other's change drift.
func (r *Reconciler) checkConflict(ctx context.Context, obj *mtlsv1alpha1.ListenerMTLS, listenerARN string) *problem {
	var list mtlsv1alpha1.ListenerMTLSList
	if err := r.client.List(ctx, &list, client.MatchingFields{listenerARNIndex: listenerARN}); err != nil {
		return &problem{kind: transient, reason: mtlsv1alpha1.ReasonAWSError, message: "Cannot list ListenerMTLS objects", err: err}
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID == obj.UID || !other.DeletionTimestamp.IsZero() {
			continue
		}
		if owns(other, obj) {
			return userProblem(mtlsv1alpha1.ReasonListenerConflict,
				"Listener %s is already managed by ListenerMTLS %s/%s; delete one of the two",
				listenerARN, other.Namespace, other.Name)
		}
	}
	return nil
}
