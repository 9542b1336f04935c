// Package clientcertificate reconciles ClientCertificate objects: it issues a client
// certificate from the referenced ClientCA into a Secret (with an optional PKCS#12 keystore),
// renews it before it expires, repairs the Secret when someone else edits it, and revokes it
// through the ClientCA's durable revocation record.
//
// A reconcile gets the object, ensures the finalizer (one metadata patch, on first sight only),
// then runs small steps that each set their own condition:
//
//	buildTemplate → loadClientCA → loadSecret → checkRevocation → issue → writeSecret → summarize
//
// and patches status once, in a defer, only when it changed. Issuing costs one Secret write and
// one status write and no AWS call. Whether to issue is decided by the pure policy chain in
// policies.go, which compares the certificate itself with the spec (as cert-manager does), so a
// label, annotation or status change never reissues.
//
// Reads go through the manager's cache, except where a stale read could do harm: before issuing
// and before revoking, the Secret is read again from the apiserver, so a renewal that just
// happened is neither repeated nor left unrevoked. The revocation record is written through a
// live (uncached) client.
//
// Decisions worth knowing:
//   - Cost of a first issuance: one metadata patch for the finalizer (first sight only), one
//     Secret create, one status patch. Later issuances: one Secret update, one status patch.
//   - CSR mode: subject from spec.subject when set, else the CSR's; SANs from the spec when it
//     names any, else the CSR's e-mail, URI and DNS SANs; no other requested extension is used.
//   - The Secret is trusted only when its controller owner reference is this object and its
//     serial annotation names tls.crt's certificate; anything else is repaired by reissuing
//     (Warning Event SecretMismatch). Data is exactly albtrust's; labels and annotations others
//     add are kept. A Secret's type is immutable, so switching to or from CSR mode replaces it.
//   - previous.json in the Secret lists the unexpired certificates issued before the current
//     one; spec.revoked and deletion revoke them all, since an identity must lose access with
//     every certificate it still holds. Renewal itself revokes nothing: the old certificate
//     keeps working until its notAfter so that clients can switch over.
//   - keystore.p12 is encoded again only when the HMAC (keyed with the private key) of its
//     inputs — certificate, chain, profile, password — differs from the keystore-hash annotation.
//     A missing password keeps the existing keystore of an unchanged certificate, reports
//     Ready=False PasswordSecretNotFound and retries after Options.UserErrorRetry; a password
//     Secret labelled mtls.albtrust.io/role=input is watched instead.
//   - Issuing is True only while a wanted certificate cannot be issued (the reason says why it is
//     wanted); it is False/Issued otherwise, and False/Revoked once revoked.
//   - The record is the truth for revocation: if the ClientCA's revocation record holds the
//     current serial, the certificate is revoked (Revoked=True, RevocationPending until the
//     ClientCA's status.crl.recordGeneration reaches the entry), whatever the status said.
package clientcertificate

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
	"github.com/albtrust/albtrust/internal/pki"
)

// Field indexes on ClientCertificates, for mapping ClientCA and password Secret events.
const (
	indexClientCA       = "clientcertificate.clientCARef.name"
	indexPasswordSecret = "clientcertificate.keystores.pkcs12.passwordSecretRef.name"
)

// Reconciler reconciles ClientCertificate objects.
type Reconciler struct {
	common.Options
	client    client.Client
	apiReader client.Reader
	// live reads from the apiserver, never the cache: the revocation record must not be
	// rebuilt from a stale copy.
	live     client.Client
	liveErr  error
	recorder recorder.EventRecorder
}

// NewReconciler builds the reconciler.
func NewReconciler(mgr ctrl.Manager, opts common.Options) *Reconciler {
	opts.Defaults()
	live, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	return &Reconciler{
		Options:   opts,
		client:    mgr.GetClient(),
		apiReader: mgr.GetAPIReader(),
		live:      live,
		liveErr:   err,
		recorder:  mgr.GetEventRecorder("albtrust-clientcertificate"),
	}
}

// SetupWithManager registers the reconciler, its field indexes and its watches.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.liveErr != nil {
		return fmt.Errorf("clientcertificate: build live client: %w", r.liveErr)
	}
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &mtlsv1alpha1.ClientCertificate{}, indexClientCA, func(o client.Object) []string {
		return []string{o.(*mtlsv1alpha1.ClientCertificate).Spec.ClientCARef.Name}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &mtlsv1alpha1.ClientCertificate{}, indexPasswordSecret, func(o client.Object) []string {
		if ks := o.(*mtlsv1alpha1.ClientCertificate).Spec.Keystores; ks != nil && ks.PKCS12 != nil {
			return []string{ks.PKCS12.PasswordSecretRef.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&mtlsv1alpha1.ClientCertificate{}).
		Owns(&corev1.Secret{}).
		Watches(&mtlsv1alpha1.ClientCA{}, handler.EnqueueRequestsFromMapFunc(r.forClientCA),
			builder.WithPredicates(predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
				return ClientCAChangeMatters(e.ObjectOld.(*mtlsv1alpha1.ClientCA), e.ObjectNew.(*mtlsv1alpha1.ClientCA))
			}})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.forSecret)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.ClientCertificateConcurrency}).
		Named("clientcertificate").
		Complete(r)
}

// ClientCAChangeMatters tells whether a ClientCA update can change what its ClientCertificates
// do: a new signing CA, a key pair becoming usable, another set of CAs, a newer CRL, deletion.
// Other status churn (trust store polling, S3 versions) is ignored, so that hundreds of
// certificates are not reconciled for nothing.
func ClientCAChangeMatters(old, cur *mtlsv1alpha1.ClientCA) bool {
	if old.Status.SigningCAFingerprint != cur.Status.SigningCAFingerprint ||
		common.IsTrue(old.Status.Conditions, mtlsv1alpha1.ConditionKeyPairReady) != common.IsTrue(cur.Status.Conditions, mtlsv1alpha1.ConditionKeyPairReady) ||
		old.DeletionTimestamp.IsZero() != cur.DeletionTimestamp.IsZero() ||
		old.Generation != cur.Generation {
		return true
	}
	var oldGen, curGen int64
	if old.Status.CRL != nil {
		oldGen = old.Status.CRL.RecordGeneration
	}
	if cur.Status.CRL != nil {
		curGen = cur.Status.CRL.RecordGeneration
	}
	if oldGen != curGen || len(old.Status.CACertificates) != len(cur.Status.CACertificates) {
		return true
	}
	for i := range old.Status.CACertificates {
		if old.Status.CACertificates[i].Fingerprint != cur.Status.CACertificates[i].Fingerprint {
			return true
		}
	}
	return false
}

func (r *Reconciler) forClientCA(ctx context.Context, o client.Object) []reconcile.Request {
	return r.listBy(ctx, o.GetNamespace(), indexClientCA, o.GetName())
}

// forSecret maps a ClientCA's Secret (role ca) to the certificates it signs, and a password
// Secret the user labelled role=input to the certificates whose keystore uses it. The
// certificate Secrets themselves come through Owns.
func (r *Reconciler) forSecret(ctx context.Context, o client.Object) []reconcile.Request {
	switch o.GetLabels()[mtlsv1alpha1.LabelSecretRole] {
	case "ca":
		if ca := o.GetLabels()[mtlsv1alpha1.LabelClientCA]; ca != "" {
			return r.listBy(ctx, o.GetNamespace(), indexClientCA, ca)
		}
	case "input":
		return r.listBy(ctx, o.GetNamespace(), indexPasswordSecret, o.GetName())
	}
	return nil
}

func (r *Reconciler) listBy(ctx context.Context, ns, index, value string) []reconcile.Request {
	list := &mtlsv1alpha1.ClientCertificateList{}
	if err := r.client.List(ctx, list, client.InNamespace(ns), client.MatchingFields{index: value}); err != nil {
		log.FromContext(ctx).Error(err, "List ClientCertificates", "index", index)
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

// state is what one reconcile learns and decides, passed from step to step.
type state struct {
	cc  *mtlsv1alpha1.ClientCertificate
	now time.Time

	csr      *x509.CertificateRequest
	tmpl     template
	ca       *mtlsv1alpha1.ClientCA
	material *common.CAMaterial
	signing  common.CAKeyPair

	secret   *corev1.Secret
	cur      current
	previous []previousCertificate
	decision Decision

	// The certificate the Secret holds after this reconcile.
	leaf   *x509.Certificate
	issuer *x509.Certificate
	key    crypto.Signer
	issued bool
	// keystoreProblem is set when keystore.p12 could not be written (password missing).
	keystoreProblem string

	stop bool
}

type step func(ctx context.Context, s *state) (ctrl.Result, error)

// Reconcile brings one ClientCertificate to its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	cc := &mtlsv1alpha1.ClientCertificate{}
	if err := r.client.Get(ctx, req.NamespacedName, cc); err != nil {
		if apierrors.IsNotFound(err) {
			forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !cc.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, cc)
	}
	if !controllerutil.ContainsFinalizer(cc, mtlsv1alpha1.Finalizer) {
		before := cc.DeepCopy()
		controllerutil.AddFinalizer(cc, mtlsv1alpha1.Finalizer)
		if err := r.client.Patch(ctx, cc, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}

	orig := cc.DeepCopy()
	defer func() {
		cc.Status.ObservedGeneration = cc.Generation
		if !apiequality.Semantic.DeepEqual(orig.Status, cc.Status) {
			if err := r.client.Status().Patch(ctx, cc, client.MergeFrom(orig)); err != nil && !apierrors.IsNotFound(err) {
				retErr = kerrors.NewAggregate([]error{retErr, fmt.Errorf("patch status: %w", err)})
			}
		}
		observe(cc)
	}()

	s := &state{cc: cc, now: r.Clock.Now()}
	for _, st := range []step{r.buildTemplate, r.loadClientCA, r.loadSecret, r.checkRevocation, r.issue, r.writeSecret, r.summarize} {
		res, err := st(ctx, s)
		result = earliest(result, res)
		if err != nil {
			return result, err
		}
		if s.stop {
			break
		}
	}
	return result, nil
}

func earliest(a, b ctrl.Result) ctrl.Result {
	if b.RequeueAfter > 0 && (a.RequeueAfter == 0 || b.RequeueAfter < a.RequeueAfter) {
		a.RequeueAfter = b.RequeueAfter
	}
	return a
}

// notReady stops the chain with Ready=False. Issuing says a certificate is wanted when none
// exists yet.
func (s *state) notReady(reason, message string) {
	cc := s.cc
	common.SetCondition(&cc.Status.Conditions, cc.Generation, mtlsv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	if cc.Status.SerialNumber == "" && !cc.Spec.Revoked {
		common.SetCondition(&cc.Status.Conditions, cc.Generation, mtlsv1alpha1.ConditionIssuing, metav1.ConditionTrue, mtlsv1alpha1.ReasonDoesNotExist,
			"Waiting to issue the first certificate: "+message)
	}
	s.stop = true
}

// buildTemplate parses spec.csr and works out the certificate the spec asks for.
func (r *Reconciler) buildTemplate(_ context.Context, s *state) (ctrl.Result, error) {
	spec := &s.cc.Spec
	if spec.CSR != "" {
		csr, err := pki.ParseCSR([]byte(spec.CSR))
		if err != nil {
			s.notReady(mtlsv1alpha1.ReasonInvalidCSR, "spec.csr cannot be used: "+err.Error())
			return ctrl.Result{}, nil
		}
		s.csr = csr
	}
	t, err := desiredTemplate(spec, s.csr)
	if err != nil {
		s.notReady(mtlsv1alpha1.ReasonInvalidCSR, err.Error())
		return ctrl.Result{}, nil
	}
	s.tmpl = t
	return ctrl.Result{}, nil
}

// loadClientCA finds the ClientCA and the CA its status names as signing.
func (r *Reconciler) loadClientCA(ctx context.Context, s *state) (ctrl.Result, error) {
	name := s.cc.Spec.ClientCARef.Name
	ca := &mtlsv1alpha1.ClientCA{}
	if err := r.client.Get(ctx, client.ObjectKey{Namespace: s.cc.Namespace, Name: name}, ca); err != nil {
		if apierrors.IsNotFound(err) {
			s.notReady(mtlsv1alpha1.ReasonClientCANotFound, fmt.Sprintf("ClientCA %s does not exist in namespace %s; create it or fix spec.clientCARef", name, s.cc.Namespace))
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	s.ca = ca
	fp := ca.Status.SigningCAFingerprint
	if fp == "" || !common.IsTrue(ca.Status.Conditions, mtlsv1alpha1.ConditionKeyPairReady) {
		s.notReady(mtlsv1alpha1.ReasonClientCANotReady, fmt.Sprintf("ClientCA %s has no usable signing CA yet", name))
		return ctrl.Result{}, nil
	}
	m, _, err := common.LoadCAMaterial(ctx, r.client, r.apiReader, ca)
	if err != nil {
		// The Secret event (role ca) or the ClientCA's next status change brings us back.
		msg := fmt.Sprintf("The CA Secret of ClientCA %s cannot be read", name)
		if errors.Is(err, common.ErrInvalidCASecret) {
			msg += ": " + err.Error()
		}
		s.notReady(mtlsv1alpha1.ReasonClientCANotReady, msg)
		return ctrl.Result{}, client.IgnoreNotFound(ignoreInvalid(err))
	}
	signing, ok := m.ByFingerprint(fp)
	if !ok {
		// The cache has not seen the CA Secret the status names yet.
		s.notReady(mtlsv1alpha1.ReasonClientCANotReady, fmt.Sprintf("ClientCA %s names signing CA %s, which its Secret does not hold yet", name, fp))
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	s.material, s.signing = m, signing
	return ctrl.Result{}, nil
}

func ignoreInvalid(err error) error {
	if errors.Is(err, common.ErrInvalidCASecret) {
		return nil
	}
	return err
}

// loadSecret reads the certificate Secret from the cache and parses it.
func (r *Reconciler) loadSecret(ctx context.Context, s *state) (ctrl.Result, error) {
	sec := &corev1.Secret{}
	err := r.client.Get(ctx, client.ObjectKey{Namespace: s.cc.Namespace, Name: SecretName(s.cc)}, sec)
	switch {
	case apierrors.IsNotFound(err):
		sec = nil
	case err != nil:
		return ctrl.Result{}, err
	}
	s.setSecret(sec)
	return ctrl.Result{}, nil
}

func (s *state) setSecret(sec *corev1.Secret) {
	s.secret = sec
	s.cur = parseSecret(sec, s.material.Certificates(), s.tmpl.csrMode())
	s.previous = nil
	if sec != nil && metav1.IsControlledBy(sec, s.cc) {
		s.previous = parsePrevious(sec)
	}
	s.decision = Decide(&Input{
		Template:     s.tmpl,
		OwnerUID:     s.cc.UID,
		IssuedBefore: s.cc.Status.SerialNumber != "",
		Current:      s.cur,
		Now:          s.now,
	})
}

// freshSecret reads the certificate Secret from the apiserver; nil when it does not exist.
func (r *Reconciler) freshSecret(ctx context.Context, cc *mtlsv1alpha1.ClientCertificate) (*corev1.Secret, error) {
	sec := &corev1.Secret{}
	err := r.apiReader.Get(ctx, client.ObjectKey{Namespace: cc.Namespace, Name: SecretName(cc)}, sec)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return sec, nil
}

// issue signs a new certificate when the policies ask for one.
func (r *Reconciler) issue(ctx context.Context, s *state) (ctrl.Result, error) {
	if s.decision.Issue {
		// Confirm against the apiserver: the cache may not have seen our last write yet.
		fresh, err := r.freshSecret(ctx, s.cc)
		if err != nil {
			return ctrl.Result{}, err
		}
		s.setSecret(fresh)
	}
	if !s.decision.Issue {
		s.leaf, s.issuer, s.key = s.cur.Leaf, s.cur.Issuer, s.cur.Key
		return ctrl.Result{}, nil
	}
	cc := s.cc
	common.SetCondition(&cc.Status.Conditions, cc.Generation, mtlsv1alpha1.ConditionIssuing, metav1.ConditionTrue, s.decision.Reason, s.decision.Message)

	var pub crypto.PublicKey
	if s.tmpl.csrMode() {
		pub = s.tmpl.CSRPublicKey
	} else {
		key, err := r.privateKey(s)
		if err != nil {
			return ctrl.Result{}, err
		}
		s.key, pub = key, key.Public()
	}
	req, err := s.tmpl.request(pub, s.signing, s.now)
	if err != nil {
		s.notReady(mtlsv1alpha1.ReasonInvalidCSR, err.Error())
		return ctrl.Result{}, nil
	}
	leaf, err := pki.IssueClientCertificate(req)
	if err != nil {
		reason := mtlsv1alpha1.ReasonClientCANotReady
		if s.tmpl.csrMode() && errors.Is(err, pki.ErrInvalidRequest) {
			reason = mtlsv1alpha1.ReasonInvalidCSR
		}
		// pki errors describe the request and the CA, never key bytes.
		s.notReady(reason, "Cannot issue the certificate: "+err.Error())
		return ctrl.Result{}, nil
	}
	// Every unexpired certificate issued so far stays listed, so that revoking or deleting
	// the ClientCertificate revokes it too.
	s.previous = nil
	for _, id := range identities(cc, s.secret, s.material.Certificates(), s.now) {
		s.previous = append(s.previous, previousCertificate(id))
	}
	s.leaf, s.issuer, s.issued = leaf, s.signing.Cert, true
	return ctrl.Result{}, nil
}

// privateKey returns the key to certify: the Secret's key when rotationPolicy is Never and it
// is the key of the certificate albtrust issued and still fits the spec; a new key otherwise.
func (r *Reconciler) privateKey(s *state) (crypto.Signer, error) {
	pk := s.cc.Spec.PrivateKey
	if pk != nil && pk.RotationPolicy == mtlsv1alpha1.RotationPolicyNever && s.cur.Key != nil && s.cur.Leaf != nil &&
		s.cur.OwnerUID == s.cc.UID && pki.KeyMatches(s.cur.Key, s.cur.Leaf) {
		if alg, size, err := pki.KeyDescription(s.cur.Key.Public()); err == nil && alg == s.tmpl.KeyAlgorithm && size == s.tmpl.KeySize {
			return s.cur.Key, nil
		}
	}
	key, err := pki.GenerateKey(s.tmpl.KeyAlgorithm, s.tmpl.KeySize)
	if err != nil {
		return nil, fmt.Errorf("generate %s %d key: %w", s.tmpl.KeyAlgorithm, s.tmpl.KeySize, err)
	}
	return key, nil
}

// writeSecret writes the Secret when its content differs from what albtrust wants: a new
// certificate, a changed ca.crt, key encoding or keystore, or a label from secretTemplate.
func (r *Reconciler) writeSecret(ctx context.Context, s *state) (ctrl.Result, error) {
	cc := s.cc
	content := secretContent{Leaf: s.leaf, Issuer: s.issuer, CACerts: s.material.Certificates(), Previous: s.previous}
	if s.key != nil {
		keyPEM, err := pki.MarshalPrivateKeyPEM(s.key, s.tmpl.KeyEncoding)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("encode tls.key as %s: %w", s.tmpl.KeyEncoding, err)
		}
		content.KeyPEM = keyPEM
	}
	var result ctrl.Result
	if ks := cc.Spec.Keystores; ks != nil && ks.PKCS12 != nil && s.key != nil {
		res, err := r.keystore(ctx, s, ks.PKCS12, &content)
		if err != nil {
			return ctrl.Result{}, err
		}
		result = res
	}

	desired, changed := applySecret(s.secret, cc, content)
	if !changed {
		return result, nil
	}
	var err error
	switch {
	case s.secret == nil:
		err = r.client.Create(ctx, desired)
	case s.secret.Type != desired.Type:
		// A Secret's type is immutable: switching between key and CSR mode replaces it.
		if err = r.client.Delete(ctx, s.secret, client.Preconditions{UID: &s.secret.UID}); err == nil || apierrors.IsNotFound(err) {
			desired.ResourceVersion, desired.UID = "", ""
			err = r.client.Create(ctx, desired)
		}
	default:
		err = r.client.Update(ctx, desired)
	}
	if err != nil {
		// A conflict means the cache was behind: the next attempt reads again.
		return ctrl.Result{}, fmt.Errorf("write Secret %s/%s: %w", desired.Namespace, desired.Name, err)
	}
	if s.issued {
		serial := pki.SerialHex(s.leaf.SerialNumber)
		log.FromContext(ctx).Info("Issued certificate", "secret", desired.Name, "serial", serial, "reason", s.decision.Reason)
		if s.decision.Reason == mtlsv1alpha1.ReasonSecretMismatch {
			r.recorder.Eventf(cc, desired, corev1.EventTypeWarning, mtlsv1alpha1.ReasonSecretMismatch, "Repair", "%s", s.decision.Message)
		}
		if s.decision.Reason == mtlsv1alpha1.ReasonDoesNotExist {
			r.recorder.Eventf(cc, desired, corev1.EventTypeNormal, "Issued", "Issue", "Issued certificate %s into Secret %s", serial, desired.Name)
		} else {
			r.recorder.Eventf(cc, desired, corev1.EventTypeNormal, "Renewed", "Issue", "Issued certificate %s into Secret %s (%s)", serial, desired.Name, s.decision.Reason)
		}
	}
	return result, nil
}

// keystore fills content's keystore.p12: kept as it is when the hash of its inputs is
// unchanged, encoded again when the certificate, password or profile changed or it is missing.
func (r *Reconciler) keystore(ctx context.Context, s *state, ks *mtlsv1alpha1.PKCS12Keystore, content *secretContent) (ctrl.Result, error) {
	ref := ks.PasswordSecretRef
	pw := &corev1.Secret{}
	err := r.apiReader.Get(ctx, client.ObjectKey{Namespace: s.cc.Namespace, Name: ref.Name}, pw)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("read password Secret %s: %w", ref.Name, err)
	}
	password, ok := pw.Data[ref.Key]
	if err != nil || !ok {
		s.keystoreProblem = fmt.Sprintf("Secret %s with key %s holds no keystore password; keystore.p12 is not written", ref.Name, ref.Key)
		if !s.issued && s.secret != nil && len(s.secret.Data[mtlsv1alpha1.PKCS12Key]) > 0 {
			// Keep the keystore of the unchanged certificate until the password is back.
			content.Keystore = s.secret.Data[mtlsv1alpha1.PKCS12Key]
			content.KeystoreHash = s.secret.Annotations[mtlsv1alpha1.AnnotationKeystoreHash]
		}
		return ctrl.Result{RequeueAfter: r.UserErrorRetry}, nil
	}
	profile := string(ks.Profile)
	if profile == "" {
		profile = pki.ProfileLegacyDES
	}
	chain := []*x509.Certificate{}
	if s.issuer != nil {
		chain = append(chain, s.issuer)
	}
	hash, err := keystoreHash(s.key, s.leaf, chain, string(password), profile)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("hash keystore inputs: %w", err)
	}
	if !s.issued && s.secret != nil && s.secret.Annotations[mtlsv1alpha1.AnnotationKeystoreHash] == hash && len(s.secret.Data[mtlsv1alpha1.PKCS12Key]) > 0 {
		content.Keystore, content.KeystoreHash = s.secret.Data[mtlsv1alpha1.PKCS12Key], hash
		return ctrl.Result{}, nil
	}
	p12, err := pki.EncodePKCS12(s.key, s.leaf, chain, string(password), profile)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("encode keystore.p12: %w", err)
	}
	content.Keystore, content.KeystoreHash = p12, hash
	return ctrl.Result{}, nil
}

// summarize writes the certificate's facts into status and sets Ready and Issuing; it asks to
// be called again at the renewal time.
func (r *Reconciler) summarize(_ context.Context, s *state) (ctrl.Result, error) {
	cc, leaf := s.cc, s.leaf
	st := &cc.Status
	renewal := RenewalTime(leaf, s.tmpl.RenewBefore)
	serial := pki.SerialHex(leaf.SerialNumber)
	if s.issued || st.Revision == 0 {
		// Revision counts issuances; a status lost and rebuilt from the Secret starts at 1.
		st.Revision++
	}
	st.SerialNumber = serial
	st.NotBefore = &metav1.Time{Time: leaf.NotBefore}
	st.NotAfter = &metav1.Time{Time: leaf.NotAfter}
	st.RenewalTime = &metav1.Time{Time: renewal}
	st.Fingerprint = pki.Fingerprint(leaf)
	st.IssuerFingerprint = pki.Fingerprint(s.issuer)
	st.RevokedAt = nil

	gen := cc.Generation
	common.SetCondition(&st.Conditions, gen, mtlsv1alpha1.ConditionIssuing, metav1.ConditionFalse, mtlsv1alpha1.ReasonIssued, "No issuance pending")
	if s.keystoreProblem != "" {
		common.SetCondition(&st.Conditions, gen, mtlsv1alpha1.ConditionReady, metav1.ConditionFalse, mtlsv1alpha1.ReasonPasswordSecretNotFound, s.keystoreProblem)
	} else {
		common.SetCondition(&st.Conditions, gen, mtlsv1alpha1.ConditionReady, metav1.ConditionTrue, mtlsv1alpha1.ReasonIssued,
			fmt.Sprintf("Certificate %s is valid until %s and renews at %s", serial,
				leaf.NotAfter.UTC().Format(time.RFC3339), renewal.UTC().Format(time.RFC3339)))
	}
	wait := renewal.Sub(r.Clock.Now())
	if wait <= 0 {
		wait = time.Second
	}
	return ctrl.Result{RequeueAfter: wait}, nil
}
