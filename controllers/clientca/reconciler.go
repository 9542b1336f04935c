// Package clientca reconciles ClientCA objects: the CA key pair in a Secret, the CA bundle in
// S3, the ELB trust store made from it, and the CRL registered as trust-store revocations.
package clientca

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
)

// Reconciler reconciles ClientCA objects.
type Reconciler struct {
	common.Options
	client    client.Client
	apiReader client.Reader
	recorder  events.EventRecorder
}

// NewReconciler builds the reconciler.
func NewReconciler(mgr ctrl.Manager, opts common.Options) *Reconciler {
	opts.Defaults()
	return &Reconciler{
		Options:   opts,
		client:    mgr.GetClient(),
		apiReader: mgr.GetAPIReader(),
		recorder:  mgr.GetEventRecorder("albtrust-clientca"),
	}
}

// SetupWithManager registers the reconciler. Secrets are not owned (a retained CA must outlive
// its ClientCA), so they map back through the mtls.albtrust.io/clientca label.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("clientca").
		For(&mtlsv1alpha1.ClientCA{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.secretToClientCA)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.ClientCAConcurrency}).
		Complete(r)
}

// secretToClientCA maps a cached Secret to the ClientCAs it matters to: albtrust's own Secrets
// name their ClientCA in a label; an input Secret a user labelled (role "input") is matched to
// the ClientCAs that import it or take additional CAs from it.
func (r *Reconciler) secretToClientCA(ctx context.Context, o client.Object) []reconcile.Request {
	if name := o.GetLabels()[mtlsv1alpha1.LabelClientCA]; name != "" {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
	}
	var list mtlsv1alpha1.ClientCAList
	if err := r.client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		logf.FromContext(ctx).Error(err, "Unable to list ClientCAs for a Secret", "secret", client.ObjectKeyFromObject(o))
		return nil
	}
	var reqs []reconcile.Request
	for _, ca := range list.Items {
		if usesSecret(&ca, o.GetName()) {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ca.Namespace, Name: ca.Name}})
		}
	}
	return reqs
}

func usesSecret(ca *mtlsv1alpha1.ClientCA, name string) bool {
	if ca.Spec.Import != nil && ca.Spec.Import.SecretName == name {
		return true
	}
	for _, src := range ca.Spec.AdditionalTrustedCAs {
		if src.SecretKeyRef != nil && src.SecretKeyRef.Name == name {
			return true
		}
	}
	return false
}

// scope carries what the steps of one reconcile share.
type scope struct {
	ca  *mtlsv1alpha1.ClientCA
	now time.Time
	// material is the CA key pairs once ensureKeyPair has run.
	material *common.CAMaterial
	// bundleSHA is the published bundle's SHA-256 once publishBundle has run.
	bundle *bundleResult
}

// stepResult is what a step asks of the reconcile: wait (requeue after), or stop the steps
// after it because something needs the user (a False condition already says what).
type stepResult struct {
	requeueAfter time.Duration
	stop         bool
}

func (s stepResult) merge(o stepResult) stepResult {
	if o.requeueAfter > 0 && (s.requeueAfter == 0 || o.requeueAfter < s.requeueAfter) {
		s.requeueAfter = o.requeueAfter
	}
	s.stop = s.stop || o.stop
	return s
}

// Reconcile runs ensureKeyPair → publishBundle → ensureTrustStore → publishCRL → summarize
// and writes status once, only when it changed.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	log := logf.FromContext(ctx)
	// Read the ClientCA live, not from the cache: a reconcile triggered by the Secret this
	// controller just wrote would otherwise see the status from before that write, find the
	// trust store by name and modify it again with the same bundle.
	ca := &mtlsv1alpha1.ClientCA{}
	if err := r.apiReader.Get(ctx, req.NamespacedName, ca); err != nil {
		if apierrors.IsNotFound(err) {
			clearMetrics(req.Namespace, req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	orig := ca.DeepCopy()
	defer func() {
		if apiequality.Semantic.DeepEqual(orig.Status, ca.Status) {
			return
		}
		if err := r.client.Status().Patch(ctx, ca, client.MergeFrom(orig)); err != nil && !apierrors.IsNotFound(err) {
			log.Error(err, "Unable to write ClientCA status")
			if retErr == nil {
				retErr = err
			}
		}
	}()

	if !ca.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, ca)
	}
	if !controllerutil.ContainsFinalizer(ca, mtlsv1alpha1.Finalizer) {
		patch := client.MergeFrom(ca.DeepCopy())
		controllerutil.AddFinalizer(ca, mtlsv1alpha1.Finalizer)
		if err := r.client.Patch(ctx, ca, patch); err != nil {
			return ctrl.Result{}, err
		}
		orig.Finalizers = ca.Finalizers
		orig.ResourceVersion = ca.ResourceVersion
	}

	s := &scope{ca: ca, now: r.Clock.Now()}
	var total stepResult
	steps := []struct {
		condition string
		run       func(context.Context, *scope) (stepResult, error)
	}{
		{mtlsv1alpha1.ConditionKeyPairReady, r.ensureKeyPair},
		{mtlsv1alpha1.ConditionBundlePublished, r.publishBundle},
		{mtlsv1alpha1.ConditionTrustStoreReady, r.ensureTrustStore},
		{mtlsv1alpha1.ConditionCRLPublished, r.publishCRL},
	}
	for i, step := range steps {
		sr, err := step.run(ctx, s)
		total = total.merge(sr)
		if err != nil {
			r.summarize(s)
			return ctrl.Result{}, err
		}
		if sr.stop {
			for _, later := range steps[i+1:] {
				common.SetCondition(&ca.Status.Conditions, ca.Generation, later.condition, metav1.ConditionFalse,
					mtlsv1alpha1.ReasonPending, fmt.Sprintf("Waiting for %s", step.condition))
			}
			break
		}
	}
	r.summarize(s)
	return ctrl.Result{RequeueAfter: total.requeueAfter}, nil
}

// summarize sets Ready from the step conditions and updates the metrics.
func (r *Reconciler) summarize(s *scope) {
	ca := s.ca
	ca.Status.ObservedGeneration = ca.Generation
	ready := true
	for _, t := range []string{mtlsv1alpha1.ConditionKeyPairReady, mtlsv1alpha1.ConditionBundlePublished,
		mtlsv1alpha1.ConditionTrustStoreReady, mtlsv1alpha1.ConditionCRLPublished} {
		c := common.Condition(ca.Status.Conditions, t)
		if c == nil || c.Status != metav1.ConditionTrue {
			ready = false
			reason, msg := mtlsv1alpha1.ReasonPending, t+" has not run yet"
			if c != nil {
				reason, msg = c.Reason, c.Message
			}
			common.SetCondition(&ca.Status.Conditions, ca.Generation, mtlsv1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
			break
		}
	}
	if ready {
		msg := "CA bundle published and trust store active"
		if ts := ca.Status.TrustStore; ts != nil {
			msg = fmt.Sprintf("Trust store %s is ACTIVE with %d CA certificates", ts.Name, len(ca.Status.CACertificates))
		}
		common.SetCondition(&ca.Status.Conditions, ca.Generation, mtlsv1alpha1.ConditionReady, metav1.ConditionTrue, mtlsv1alpha1.ReasonReady, msg)
	}
	recordMetrics(ca, ready)
}

func (r *Reconciler) event(ca *mtlsv1alpha1.ClientCA, eventType, reason, action, note string, args ...interface{}) {
	r.recorder.Eventf(ca, nil, eventType, reason, action, note, args...)
}
