// Package listenermtls reconciles ListenerMTLS objects: it keeps one ALB HTTPS listener's
// mutual authentication (Verify with a trust store, Passthrough or Off) and its mTLS
// header-name attributes as the spec says, puts them back when someone changes them
// elsewhere, and turns mutual TLS off when the object is deleted.
package listenermtls

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
)

// Event reasons (besides the condition reasons, which double as Warning Event reasons).
const (
	// EventListenerConfigured: albtrust changed the listener to match a new spec.
	EventListenerConfigured = "ListenerConfigured"
	// EventDriftCorrected: albtrust put back a listener someone changed elsewhere.
	EventDriftCorrected = "DriftCorrected"
	// EventMTLSTurnedOff: the ListenerMTLS was deleted and mutual TLS was turned off.
	EventMTLSTurnedOff = "MTLSTurnedOff"
)

const (
	// trustStorePollInterval is how often a CREATING trust store is checked again. There is no
	// SDK waiter for trust stores; stores usually become ACTIVE within seconds.
	trustStorePollInterval = 3 * time.Second
	// minUserErrorDelay is the shortest requeue after a problem only a person can fix; spec
	// edits and ClientCA changes trigger a reconcile anyway.
	minUserErrorDelay = time.Minute

	// clientCARefIndex indexes ListenerMTLS objects by spec.clientCARef.name.
	clientCARefIndex = "spec.clientCARef.name"
	eventAction      = "Reconcile"
)

// Reconciler reconciles ListenerMTLS objects.
type Reconciler struct {
	common.Options
	client   client.Client
	recorder recorder.EventRecorder
}

// NewReconciler builds the reconciler.
func NewReconciler(mgr ctrl.Manager, opts common.Options) *Reconciler {
	opts.Defaults()
	return &Reconciler{
		Options:  opts,
		client:   mgr.GetClient(),
		recorder: mgr.GetEventRecorder("albtrust-listenermtls"),
	}
}

// SetupWithManager registers the reconciler. Our own status writes do not trigger a reconcile
// (generation predicate), so a steady state costs one resync per period; annotation changes
// do, so that AnnotationReconcileRequest works. A ClientCA change reconciles every
// ListenerMTLS that references it.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &mtlsv1alpha1.ListenerMTLS{}, clientCARefIndex,
		func(o client.Object) []string {
			lm := o.(*mtlsv1alpha1.ListenerMTLS)
			if lm.Spec.ClientCARef == nil || lm.Spec.ClientCARef.Name == "" {
				return nil
			}
			return []string{lm.Spec.ClientCARef.Name}
		}); err != nil {
		return fmt.Errorf("index ListenerMTLS by clientCARef: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &mtlsv1alpha1.ListenerMTLS{}, listenerARNIndex, indexListenerARN); err != nil {
		return fmt.Errorf("index ListenerMTLS by listener: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&mtlsv1alpha1.ListenerMTLS{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&mtlsv1alpha1.ClientCA{}, handler.EnqueueRequestsFromMapFunc(r.listenersForClientCA)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.ListenerMTLSConcurrency}).
		Named("listenermtls").
		Complete(r)
}

func (r *Reconciler) listenersForClientCA(ctx context.Context, o client.Object) []reconcile.Request {
	var list mtlsv1alpha1.ListenerMTLSList
	if err := r.client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{clientCARefIndex: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "List ListenerMTLS for ClientCA", "clientCA", client.ObjectKeyFromObject(o))
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, lm := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: lm.Namespace, Name: lm.Name}})
	}
	return reqs
}

// Reconcile brings one listener to its ListenerMTLS spec. The same path serves creation, spec
// changes, resyncs (drift) and restarts; status is patched once, at the end, when it changed.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	obj := &mtlsv1alpha1.ListenerMTLS{}
	if err := r.client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, obj)
	}
	if !controllerutil.ContainsFinalizer(obj, mtlsv1alpha1.Finalizer) {
		before := obj.DeepCopy()
		controllerutil.AddFinalizer(obj, mtlsv1alpha1.Finalizer)
		if err := r.client.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer: %w", err)
		}
	}

	orig := obj.DeepCopy()
	defer func() {
		obj.Status.ObservedGeneration = obj.Generation
		if apiequality.Semantic.DeepEqual(orig.Status, obj.Status) {
			return
		}
		if err := r.client.Status().Patch(ctx, obj, client.MergeFrom(orig)); err != nil && !apierrors.IsNotFound(err) {
			if retErr == nil {
				retErr = fmt.Errorf("patch status: %w", err)
			}
		}
	}()

	if p := r.reconcileListener(ctx, obj); p != nil {
		return r.fail(ctx, obj, p)
	}
	return ctrl.Result{RequeueAfter: r.ListenerResyncPeriod}, nil
}

// fail records p in the Ready condition and decides how to come back.
func (r *Reconciler) fail(ctx context.Context, obj *mtlsv1alpha1.ListenerMTLS, p *problem) (ctrl.Result, error) {
	common.SetCondition(&obj.Status.Conditions, obj.Generation, mtlsv1alpha1.ConditionReady, metav1.ConditionFalse, p.reason, p.message)
	switch p.kind {
	case userFixable:
		log.FromContext(ctx).Info("Listener cannot be configured", "reason", p.reason, "message", p.message)
		r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, p.reason, eventAction, p.message)
		return ctrl.Result{RequeueAfter: max(r.ListenerResyncPeriod, minUserErrorDelay)}, nil
	case waiting:
		return ctrl.Result{RequeueAfter: trustStorePollInterval}, nil
	default:
		return ctrl.Result{}, p
	}
}

// reconcileListener resolves the listener, works out the desired settings, compares them with
// the listener and writes only what differs.
func (r *Reconciler) reconcileListener(ctx context.Context, obj *mtlsv1alpha1.ListenerMTLS) *problem {
	l, p := r.resolveListener(ctx, obj)
	if newARN := aws.ToString(l.ListenerArn); newARN != "" && p == nil {
		if p := r.releasePrevious(ctx, obj, newARN); p != nil {
			return p
		}
	}
	if aws.ToString(l.ListenerArn) != "" {
		obj.Status.Listener = &mtlsv1alpha1.ResolvedListener{
			ARN:             aws.ToString(l.ListenerArn),
			Port:            aws.ToInt32(l.Port),
			Protocol:        string(l.Protocol),
			LoadBalancerARN: aws.ToString(l.LoadBalancerArn),
		}
	}
	if p != nil {
		return p
	}
	listenerARN := aws.ToString(l.ListenerArn)
	if p := r.checkConflict(ctx, obj, listenerARN); p != nil {
		return p
	}

	trustStoreARN, p := r.trustStoreARN(ctx, obj)
	if p != nil {
		return p
	}
	desired := desiredSettings(obj.Spec, trustStoreARN)
	var previous map[string]string
	if obj.Status.Applied != nil {
		previous = obj.Status.Applied.HeaderNames
	}
	targets := attributeTargets(desired.HeaderNames, previous)

	var attrs []elbtypes.ListenerAttribute
	if len(targets) > 0 {
		out, err := r.AWS.ELB.DescribeListenerAttributes(ctx, &elbv2.DescribeListenerAttributesInput{ListenerArn: aws.String(listenerARN)})
		if err != nil {
			return classifyELB("DescribeListenerAttributes", listenerARN, err)
		}
		attrs = out.Attributes
	}
	managed := make([]string, 0, len(targets))
	for k := range targets {
		managed = append(managed, k)
	}
	current := currentSettings(l, attrs, managed)
	changes := diffSettings(current, desired, targets)
	drift := isDrift(obj.Status, listenerARN, desired, changes)

	if len(changes) > 0 {
		if p := r.apply(ctx, obj, l, desired, changes); p != nil {
			return p
		}
		if drift {
			now := metav1.NewTime(r.Clock.Now())
			obj.Status.DriftCorrections++
			obj.Status.LastDriftCorrectionTime = &now
			r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, EventDriftCorrected, eventAction,
				"Listener %s was changed outside albtrust and was put back: %s", listenerARN, describeChanges(changes))
		} else {
			r.recorder.Eventf(obj, nil, corev1.EventTypeNormal, EventListenerConfigured, eventAction,
				"Listener %s configured: %s", listenerARN, describeChanges(changes))
		}
		log.FromContext(ctx).Info("Listener configured", "listener", listenerARN, "drift", drift, "changes", describeChanges(changes))
	}
	applied := desired
	obj.Status.Applied = &applied
	common.SetCondition(&obj.Status.Conditions, obj.Generation, mtlsv1alpha1.ConditionReady, metav1.ConditionTrue,
		mtlsv1alpha1.ReasonConfigured, readyMessage(listenerARN, desired))
	return nil
}

func readyMessage(listenerARN string, s mtlsv1alpha1.AppliedSettings) string {
	if s.Mode == elbModeVerify {
		return fmt.Sprintf("Listener %s verifies client certificates against trust store %s", listenerARN, s.TrustStoreARN)
	}
	return fmt.Sprintf("Listener %s has mutual authentication mode %s", listenerARN, s.Mode)
}

// trustStoreARN returns the trust store for Verify: spec.trustStoreARN, or the ClientCA's
// status.trustStore.arn. Other modes need none.
func (r *Reconciler) trustStoreARN(ctx context.Context, obj *mtlsv1alpha1.ListenerMTLS) (string, *problem) {
	spec := obj.Spec
	if spec.Mode != mtlsv1alpha1.ModeVerify {
		return "", nil
	}
	if spec.TrustStoreARN != "" {
		return spec.TrustStoreARN, nil
	}
	if spec.ClientCARef == nil {
		return "", userProblem(mtlsv1alpha1.ReasonInvalidConfiguration, "Verify needs clientCARef or trustStoreARN")
	}
	ca := &mtlsv1alpha1.ClientCA{}
	key := types.NamespacedName{Namespace: obj.Namespace, Name: spec.ClientCARef.Name}
	if err := r.client.Get(ctx, key, ca); err != nil {
		if apierrors.IsNotFound(err) {
			return "", userProblem(mtlsv1alpha1.ReasonClientCANotFoundForListener,
				"ClientCA %s does not exist in namespace %s; create it or fix clientCARef", key.Name, key.Namespace)
		}
		return "", &problem{kind: transient, reason: mtlsv1alpha1.ReasonAWSError, message: "Cannot read ClientCA " + key.Name, err: err}
	}
	ts := caTrustStore(ca)
	switch {
	case ts.ARN == "":
		return "", &problem{kind: waiting, reason: mtlsv1alpha1.ReasonTrustStoreNotReady,
			message: fmt.Sprintf("ClientCA %s has no trust store yet; waiting for it", key.Name)}
	case ts.Creating:
		return "", &problem{kind: waiting, reason: mtlsv1alpha1.ReasonTrustStoreNotReady,
			message: fmt.Sprintf("Trust store %s of ClientCA %s is still CREATING; retrying in %s", ts.ARN, key.Name, trustStorePollInterval)}
	}
	return ts.ARN, nil
}

// apply writes the changes: ModifyListener with only the ListenerArn and MutualAuthentication
// (never certificates, actions, port or protocol, which belong to whoever made the listener),
// and ModifyListenerAttributes with only the changed header names.
func (r *Reconciler) apply(ctx context.Context, obj *mtlsv1alpha1.ListenerMTLS, l elbtypes.Listener, desired mtlsv1alpha1.AppliedSettings, changes []Change) *problem {
	listenerARN := aws.ToString(l.ListenerArn)
	modifyListener, modifyAttrs := splitChanges(changes)
	if modifyListener {
		_, err := r.AWS.ELB.ModifyListener(ctx, &elbv2.ModifyListenerInput{
			ListenerArn:          aws.String(listenerARN),
			MutualAuthentication: mutualAuthenticationInput(desired),
		})
		if err != nil {
			subject := listenerARN
			if desired.Mode == elbModeVerify {
				subject = desired.TrustStoreARN
			}
			p := classifyELB("ModifyListener", subject, err)
			if p.reason == mtlsv1alpha1.ReasonListenerNotFound {
				p = classifyELB("ModifyListener", listenerARN, err)
			}
			if p.reason == mtlsv1alpha1.ReasonInvalidConfiguration && desired.Mode == elbModeVerify {
				lbARN := aws.ToString(l.LoadBalancerArn)
				if n, cerr := r.verifyListenersElsewhere(ctx, lbARN, listenerARN); cerr == nil && n >= maxVerifyListenersPerLB {
					p = userProblem(mtlsv1alpha1.ReasonTooManyVerifyListeners,
						"Load balancer %s already has %d listeners in verify mode, the most ELB allows; turn verify off on another listener or use another load balancer",
						loadBalancerNameFromARN(lbARN), n)
				}
			}
			return p
		}
	}
	if modifyAttrs {
		if _, err := r.AWS.ELB.ModifyListenerAttributes(ctx, &elbv2.ModifyListenerAttributesInput{
			ListenerArn: aws.String(listenerARN),
			Attributes:  attributeInput(changes),
		}); err != nil {
			return classifyELB("ModifyListenerAttributes", listenerARN, err)
		}
	}
	return nil
}

// releasePrevious turns mutual TLS off on the listener this object managed before its spec was
// pointed at another one (onDelete Off), as deleting the object would: otherwise the old
// listener would keep verifying against a trust store nobody manages for it any more.
func (r *Reconciler) releasePrevious(ctx context.Context, obj *mtlsv1alpha1.ListenerMTLS, newARN string) *problem {
	prev := obj.Status.Listener
	if prev == nil || prev.ARN == "" || prev.ARN == newARN || obj.Status.Applied == nil ||
		obj.Status.Applied.Mode == elbModeOff || obj.Spec.OnDelete == mtlsv1alpha1.OnDeleteRetain {
		return nil
	}
	_, err := r.AWS.ELB.ModifyListener(ctx, &elbv2.ModifyListenerInput{
		ListenerArn:          aws.String(prev.ARN),
		MutualAuthentication: mutualAuthenticationInput(mtlsv1alpha1.AppliedSettings{Mode: elbModeOff}),
	})
	if err != nil {
		if p := classifyELB("ModifyListener", prev.ARN, err); p.reason != mtlsv1alpha1.ReasonListenerNotFound {
			return p
		}
		// The old listener is gone: nothing to release.
	} else {
		r.recorder.Eventf(obj, nil, corev1.EventTypeNormal, EventMTLSTurnedOff, eventAction,
			"Mutual TLS turned off on listener %s, which the spec no longer names", prev.ARN)
		log.FromContext(ctx).Info("Mutual TLS turned off on the previous listener", "listener", prev.ARN)
	}
	obj.Status.Applied = nil
	return nil
}

// maxVerifyListenersPerLB is ELB's limit of verify-mode listeners on one load balancer.
const maxVerifyListenersPerLB = 2

// reconcileDelete undoes the listener's mutual TLS (onDelete Off) or leaves it (Retain), then
// releases the finalizer. A listener or load balancer that is gone does not block deletion.
func (r *Reconciler) reconcileDelete(ctx context.Context, obj *mtlsv1alpha1.ListenerMTLS) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, mtlsv1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	// A ListenerMTLS that lost a conflict never managed the listener: turning it off would
	// undo the other object's settings.
	conflicted := false
	if c := common.Condition(obj.Status.Conditions, mtlsv1alpha1.ConditionReady); c != nil && c.Reason == mtlsv1alpha1.ReasonListenerConflict {
		conflicted = true
	}
	if obj.Spec.OnDelete != mtlsv1alpha1.OnDeleteRetain && !conflicted {
		if p := r.turnOff(ctx, obj); p != nil {
			if p.kind == transient {
				return ctrl.Result{}, p
			}
			// Nothing albtrust can change (the listener is gone or is not HTTPS): let go.
			log.FromContext(ctx).Info("Listener left as it is at deletion", "reason", p.reason, "message", p.message)
		}
	}
	before := obj.DeepCopy()
	controllerutil.RemoveFinalizer(obj, mtlsv1alpha1.Finalizer)
	if err := r.client.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, nil
}

// turnOff sends Mode=off explicitly: ModifyListener keeps properties it is not given, so just
// forgetting the setting would leave mutual TLS on. Nothing is sent when it is already off.
func (r *Reconciler) turnOff(ctx context.Context, obj *mtlsv1alpha1.ListenerMTLS) *problem {
	l, p := r.resolveListener(ctx, obj)
	if p != nil {
		return p
	}
	listenerARN := aws.ToString(l.ListenerArn)
	if currentSettings(l, nil, nil).Mode == elbModeOff {
		return nil
	}
	_, err := r.AWS.ELB.ModifyListener(ctx, &elbv2.ModifyListenerInput{
		ListenerArn:          aws.String(listenerARN),
		MutualAuthentication: mutualAuthenticationInput(mtlsv1alpha1.AppliedSettings{Mode: elbModeOff}),
	})
	if err != nil {
		return classifyELB("ModifyListener", listenerARN, err)
	}
	r.recorder.Eventf(obj, nil, corev1.EventTypeNormal, EventMTLSTurnedOff, "Delete",
		"Mutual TLS turned off on listener %s because the ListenerMTLS was deleted", listenerARN)
	log.FromContext(ctx).Info("Mutual TLS turned off at deletion", "listener", listenerARN)
	return nil
}
