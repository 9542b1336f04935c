package clientca

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
	albaws "github.com/albtrust/albtrust/internal/aws"
)

// Tags albtrust puts on the trust stores it creates, to find them again after a crash or a
// lost status, and never to adopt a store that belongs to someone else.
const (
	TagOwner   = "albtrust.io/owner"
	TagCluster = "albtrust.io/cluster"
)

// creatingPoll is how often a CREATING trust store is looked at; there is no SDK waiter.
const creatingPoll = 5 * time.Second

var nonAlnum = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// TrustStoreName is the store name for a ClientCA: spec.trustStore.name, or one derived from
// namespace and name within ALB's 32 characters and pattern, with a hash of namespace, name and
// cluster so that long or similar names never collide.
func TrustStoreName(ca *mtlsv1alpha1.ClientCA, clusterID string) string {
	if ca.Spec.TrustStore.Name != "" {
		return ca.Spec.TrustStore.Name
	}
	sum := sha256.Sum256([]byte(clusterID + "/" + ca.Namespace + "/" + ca.Name))
	suffix := hex.EncodeToString(sum[:])[:8]
	base := strings.Trim(nonAlnum.ReplaceAllString(ca.Namespace+"-"+ca.Name, "-"), "-")
	if max := 32 - 1 - len(suffix); len(base) > max {
		base = strings.TrimRight(base[:max], "-")
	}
	if base == "" {
		return "albtrust-" + suffix
	}
	return base + "-" + suffix
}

func ownerTag(ca *mtlsv1alpha1.ClientCA) string { return ca.Namespace + "/" + ca.Name }

// ensureTrustStore finds the trust store (status ARN, adopted ARN, or name plus our tags),
// creates it when there is none, waits for ACTIVE and points it at the current bundle version.
func (r *Reconciler) ensureTrustStore(ctx context.Context, s *scope) (stepResult, error) {
	ca := s.ca
	store, res, err := r.findTrustStore(ctx, s)
	if err != nil || res.stop {
		return res, err
	}
	if store == nil {
		return r.createTrustStore(ctx, s)
	}
	st := statusOf(store, ca)
	if prev := ca.Status.TrustStore; prev != nil && prev.ARN == st.ARN {
		st.BundleSHA256 = prev.BundleSHA256
		st.TagsSHA256 = prev.TagsSHA256
	}
	ca.Status.TrustStore = st
	if !st.Adopted && st.TagsSHA256 != tagsHash(ca.Spec.TrustStore.Tags) {
		if res, err := r.syncTags(ctx, s, st); err != nil || res.stop {
			return res, err
		}
	}
	if store.Status != elbtypes.TrustStoreStatusActive {
		return r.storeCreating(s), nil
	}
	if st.BundleSHA256 != s.bundle.sha256 {
		_, err := r.AWS.ELB.ModifyTrustStore(ctx, &elbv2.ModifyTrustStoreInput{
			TrustStoreArn:                       aws.String(st.ARN),
			CaCertificatesBundleS3Bucket:        aws.String(s.bundle.bucket),
			CaCertificatesBundleS3Key:           aws.String(s.bundle.key),
			CaCertificatesBundleS3ObjectVersion: aws.String(s.bundle.versionID),
		})
		if err != nil {
			return r.elbFailure(s, mtlsv1alpha1.ConditionTrustStoreReady, "ModifyTrustStore", err)
		}
		st.BundleSHA256 = s.bundle.sha256
		st.NumberOfCACertificates = ca.Status.Bundle.Certificates
		r.event(ca, corev1.EventTypeNormal, "TrustStoreUpdated", "Modify", "Trust store %s now uses bundle version %s", st.Name, s.bundle.versionID)
	}
	common.SetCondition(&ca.Status.Conditions, ca.Generation, mtlsv1alpha1.ConditionTrustStoreReady, metav1.ConditionTrue, mtlsv1alpha1.ReasonReady,
		fmt.Sprintf("Trust store %s is ACTIVE", st.Name))
	return stepResult{}, nil
}

func statusOf(ts *elbtypes.TrustStore, ca *mtlsv1alpha1.ClientCA) *mtlsv1alpha1.TrustStoreStatus {
	return &mtlsv1alpha1.TrustStoreStatus{
		ARN:                    aws.ToString(ts.TrustStoreArn),
		Name:                   aws.ToString(ts.Name),
		Status:                 string(ts.Status),
		NumberOfCACertificates: aws.ToInt32(ts.NumberOfCaCertificates),
		TotalRevokedEntries:    aws.ToInt64(ts.TotalRevokedEntries),
		Adopted:                ca.Spec.TrustStore.ARN != "",
	}
}

// findTrustStore returns the store this ClientCA uses, or nil when it has none yet. One
// DescribeTrustStores in the steady state.
func (r *Reconciler) findTrustStore(ctx context.Context, s *scope) (*elbtypes.TrustStore, stepResult, error) {
	ca := s.ca
	arn := ca.Spec.TrustStore.ARN
	if arn == "" && ca.Status.TrustStore != nil {
		arn = ca.Status.TrustStore.ARN
	}
	if arn != "" {
		out, err := r.AWS.ELB.DescribeTrustStores(ctx, &elbv2.DescribeTrustStoresInput{TrustStoreArns: []string{arn}})
		switch {
		case err == nil && len(out.TrustStores) > 0:
			return &out.TrustStores[0], stepResult{}, nil
		case err != nil && !isTrustStoreNotFound(err):
			res, err := r.elbFailure(s, mtlsv1alpha1.ConditionTrustStoreReady, "DescribeTrustStores", err)
			return nil, res, err
		}
		if ca.Spec.TrustStore.ARN != "" {
			msg := fmt.Sprintf("Trust store %s given in spec.trustStore.arn does not exist", arn)
			common.SetCondition(&ca.Status.Conditions, ca.Generation, mtlsv1alpha1.ConditionTrustStoreReady, metav1.ConditionFalse, mtlsv1alpha1.ReasonTrustStoreNotFound, msg)
			r.event(ca, corev1.EventTypeWarning, mtlsv1alpha1.ReasonTrustStoreNotFound, "Describe", "%s", msg)
			return nil, stepResult{stop: true, requeueAfter: r.UserErrorRetry}, nil
		}
		// The store in status is gone (deleted behind our back): look it up by name, then create.
		ca.Status.TrustStore = nil
	}
	name := TrustStoreName(ca, r.ClusterID)
	out, err := r.AWS.ELB.DescribeTrustStores(ctx, &elbv2.DescribeTrustStoresInput{Names: []string{name}})
	if err != nil {
		if isTrustStoreNotFound(err) {
			return nil, stepResult{}, nil
		}
		res, err := r.elbFailure(s, mtlsv1alpha1.ConditionTrustStoreReady, "DescribeTrustStores", err)
		return nil, res, err
	}
	if len(out.TrustStores) == 0 {
		return nil, stepResult{}, nil
	}
	store := out.TrustStores[0]
	tags, err := r.AWS.ELB.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{aws.ToString(store.TrustStoreArn)}})
	if err != nil {
		res, err := r.elbFailure(s, mtlsv1alpha1.ConditionTrustStoreReady, "DescribeTags", err)
		return nil, res, err
	}
	if !ownedBy(tags, ca, r.ClusterID) {
		msg := fmt.Sprintf("A trust store named %s exists and is not this ClientCA's (its %s/%s tags differ); set trustStore.arn to adopt it or trustStore.name to use another name", name, TagOwner, TagCluster)
		common.SetCondition(&ca.Status.Conditions, ca.Generation, mtlsv1alpha1.ConditionTrustStoreReady, metav1.ConditionFalse, mtlsv1alpha1.ReasonTrustStoreNameTaken, msg)
		r.event(ca, corev1.EventTypeWarning, mtlsv1alpha1.ReasonTrustStoreNameTaken, "Describe", "%s", msg)
		return nil, stepResult{stop: true, requeueAfter: r.UserErrorRetry}, nil
	}
	return &store, stepResult{}, nil
}

func ownedBy(out *elbv2.DescribeTagsOutput, ca *mtlsv1alpha1.ClientCA, clusterID string) bool {
	for _, td := range out.TagDescriptions {
		tags := map[string]string{}
		for _, t := range td.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if tags[TagOwner] == ownerTag(ca) && tags[TagCluster] == clusterID {
			return true
		}
	}
	return false
}

func (r *Reconciler) createTrustStore(ctx context.Context, s *scope) (stepResult, error) {
	ca := s.ca
	name := TrustStoreName(ca, r.ClusterID)
	tags := []elbtypes.Tag{
		{Key: aws.String(TagOwner), Value: aws.String(ownerTag(ca))},
		{Key: aws.String(TagCluster), Value: aws.String(r.ClusterID)},
	}
	for _, k := range sortedKeys(ca.Spec.TrustStore.Tags) {
		tags = append(tags, elbtypes.Tag{Key: aws.String(k), Value: aws.String(ca.Spec.TrustStore.Tags[k])})
	}
	out, err := r.AWS.ELB.CreateTrustStore(ctx, &elbv2.CreateTrustStoreInput{
		Name:                                aws.String(name),
		CaCertificatesBundleS3Bucket:        aws.String(s.bundle.bucket),
		CaCertificatesBundleS3Key:           aws.String(s.bundle.key),
		CaCertificatesBundleS3ObjectVersion: aws.String(s.bundle.versionID),
		Tags:                                tags,
	})
	if err != nil {
		return r.elbFailure(s, mtlsv1alpha1.ConditionTrustStoreReady, "CreateTrustStore", err)
	}
	if len(out.TrustStores) == 0 {
		return stepResult{}, fmt.Errorf("CreateTrustStore %s returned no trust store", name)
	}
	st := statusOf(&out.TrustStores[0], ca)
	st.BundleSHA256 = s.bundle.sha256
	st.TagsSHA256 = tagsHash(ca.Spec.TrustStore.Tags)
	ca.Status.TrustStore = st
	r.event(ca, corev1.EventTypeNormal, "TrustStoreCreated", "Create", "Created trust store %s", name)
	if out.TrustStores[0].Status != elbtypes.TrustStoreStatusActive {
		return r.storeCreating(s), nil
	}
	common.SetCondition(&ca.Status.Conditions, ca.Generation, mtlsv1alpha1.ConditionTrustStoreReady, metav1.ConditionTrue, mtlsv1alpha1.ReasonReady,
		fmt.Sprintf("Trust store %s is ACTIVE", name))
	return stepResult{}, nil
}

// tagsHash identifies a set of user tags, so that tags are compared with AWS only when the spec
// changed them.
func tagsHash(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q\n", k, tags[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// syncTags makes the store's user tags match spec.trustStore.tags: it adds or updates the
// wanted ones and removes the ones albtrust's spec no longer names. Ownership tags stay.
func (r *Reconciler) syncTags(ctx context.Context, s *scope, st *mtlsv1alpha1.TrustStoreStatus) (stepResult, error) {
	ca := s.ca
	out, err := r.AWS.ELB.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{st.ARN}})
	if err != nil {
		return r.elbFailure(s, mtlsv1alpha1.ConditionTrustStoreReady, "DescribeTags", err)
	}
	have := map[string]string{}
	for _, td := range out.TagDescriptions {
		for _, t := range td.Tags {
			have[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	want := ca.Spec.TrustStore.Tags
	var add []elbtypes.Tag
	for _, k := range sortedKeys(want) {
		if v, ok := have[k]; !ok || v != want[k] {
			add = append(add, elbtypes.Tag{Key: aws.String(k), Value: aws.String(want[k])})
		}
	}
	var remove []string
	for _, k := range sortedKeys(have) {
		if _, ok := want[k]; !ok && k != TagOwner && k != TagCluster {
			remove = append(remove, k)
		}
	}
	if len(add) > 0 {
		if _, err := r.AWS.ELB.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{st.ARN}, Tags: add}); err != nil {
			return r.elbFailure(s, mtlsv1alpha1.ConditionTrustStoreReady, "AddTags", err)
		}
	}
	if len(remove) > 0 {
		if _, err := r.AWS.ELB.RemoveTags(ctx, &elbv2.RemoveTagsInput{ResourceArns: []string{st.ARN}, TagKeys: remove}); err != nil {
			return r.elbFailure(s, mtlsv1alpha1.ConditionTrustStoreReady, "RemoveTags", err)
		}
	}
	st.TagsSHA256 = tagsHash(want)
	return stepResult{}, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (r *Reconciler) storeCreating(s *scope) stepResult {
	common.SetCondition(&s.ca.Status.Conditions, s.ca.Generation, mtlsv1alpha1.ConditionTrustStoreReady, metav1.ConditionFalse, mtlsv1alpha1.ReasonTrustStoreCreating,
		fmt.Sprintf("Trust store %s is CREATING; waiting for ACTIVE", s.ca.Status.TrustStore.Name))
	return stepResult{stop: true, requeueAfter: creatingPoll}
}

func isTrustStoreNotFound(err error) bool {
	return albaws.ErrorCode(err) == "TrustStoreNotFound"
}

// elbFailure maps an ELB error to a condition reason. Quotas and refusals need the user and
// wait; throttling and server errors return the error so controller-runtime backs off.
func (r *Reconciler) elbFailure(s *scope, condition, op string, err error) (stepResult, error) {
	ca := s.ca
	code := albaws.ErrorCode(err)
	var reason, msg string
	switch code {
	case "TooManyTrustStores":
		reason, msg = mtlsv1alpha1.ReasonTooManyTrustStores, "The account's trust store quota is reached; delete unused trust stores or ask AWS for a higher quota"
	case "DuplicateTrustStoreName":
		reason, msg = mtlsv1alpha1.ReasonTrustStoreNameTaken, fmt.Sprintf("A trust store named %s already exists", TrustStoreName(ca, r.ClusterID))
	case "InvalidCaCertificatesBundle":
		reason, msg = mtlsv1alpha1.ReasonBundleRejected, "ELB refused the CA bundle as invalid"
	case "CaCertificatesBundleNotFound":
		reason, msg = mtlsv1alpha1.ReasonBundleRejected, "ELB could not read the CA bundle from S3: check the bucket policy and that the manager's role may read it"
	case "InvalidRevocationContent":
		reason, msg = mtlsv1alpha1.ReasonCRLRejected, "ELB refused the CRL as invalid"
	case "RevocationContentNotFound":
		reason, msg = mtlsv1alpha1.ReasonCRLRejected, "ELB could not read the CRL from S3"
	case "TooManyTrustStoreRevocationEntries":
		reason, msg = mtlsv1alpha1.ReasonTooManyRevocations, "The trust store's revocation quota is reached"
	case "TrustStoreNotFound":
		reason, msg = mtlsv1alpha1.ReasonTrustStoreNotFound, "The trust store no longer exists"
	default:
		reason = mtlsv1alpha1.ReasonAWSError
		if albaws.IsThrottling(err) {
			reason = mtlsv1alpha1.ReasonThrottled
		}
		if code == "" {
			code = "a network or client error"
		}
		common.SetCondition(&ca.Status.Conditions, ca.Generation, condition, metav1.ConditionFalse, reason, fmt.Sprintf("%s failed with %s; retrying with backoff", op, code))
		return stepResult{stop: true}, fmt.Errorf("%s: %w", op, err)
	}
	common.SetCondition(&ca.Status.Conditions, ca.Generation, condition, metav1.ConditionFalse, reason, msg)
	r.event(ca, corev1.EventTypeWarning, reason, op, "%s", msg)
	return stepResult{stop: true, requeueAfter: r.UserErrorRetry}, nil
}
