package clientca

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
	"github.com/albtrust/albtrust/internal/pki"
)

// ReasonNoRevocations means there is nothing to revoke, so no CRL is registered.
const ReasonNoRevocations = "NoRevocations"

var defaultCRLValidity = metav1.Duration{Duration: 7 * 24 * time.Hour}

func crlValidity(ca *mtlsv1alpha1.ClientCA) time.Duration {
	return mtlsv1alpha1.DurationOrDefault(ca.Spec.Revocation.CRLValidity, defaultCRLValidity).Duration
}

// entriesHash identifies a set of live revocations: a new CRL is needed when it changes.
func entriesHash(entries []common.RevocationEntry) string {
	h := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%s|%s|%d|%d\n", e.IssuerFingerprint, e.SerialNumber, e.ReasonCode, e.RevokedAt.Unix())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// crlDecision says whether a new CRL must be published: the revoked set changed, the trust
// store changed, or two thirds of the current CRL's validity have passed.
func crlDecision(cur *mtlsv1alpha1.CRLStatus, hash string, validity time.Duration, now time.Time, storeChanged bool) (bool, string) {
	switch {
	case cur == nil || len(cur.RevocationIDs) == 0:
		return true, "no CRL is registered yet"
	case storeChanged:
		return true, "the trust store changed"
	case cur.EntriesSHA256 != hash:
		return true, "the revoked certificates changed"
	case !now.Before(resignTime(cur.ThisUpdate.Time, validity)):
		return true, "the CRL is due to be re-signed"
	}
	return false, ""
}

func resignTime(thisUpdate time.Time, validity time.Duration) time.Time {
	return thisUpdate.Add(validity * 2 / 3)
}

// publishCRL builds one CRL per issuing CA from the durable revocation record, uploads them,
// registers them with the trust store and then removes every older revocation ID: ELB has no
// replace call and never reuses IDs.
func (r *Reconciler) publishCRL(ctx context.Context, s *scope) (stepResult, error) {
	ca := s.ca
	rec, err := common.LoadRevocationRecord(ctx, r.client, ca.Namespace, ca.Name)
	if err != nil {
		return stepResult{}, fmt.Errorf("read revocation record: %w", err)
	}
	live := rec.Live(s.now)
	// Group by issuer; entries of CAs albtrust no longer holds have expired with their CA.
	type group struct {
		issuer  common.CAKeyPair
		revoked []pki.RevokedCertificate
	}
	var groups []group
	index := map[string]int{}
	var kept []common.RevocationEntry
	for _, e := range live {
		kp, ok := s.material.ByFingerprint(e.IssuerFingerprint)
		if !ok {
			continue
		}
		serial, ok := new(big.Int).SetString(e.SerialNumber, 16)
		if !ok {
			continue
		}
		i, seen := index[e.IssuerFingerprint]
		if !seen {
			i = len(groups)
			index[e.IssuerFingerprint] = i
			groups = append(groups, group{issuer: kp})
		}
		groups[i].revoked = append(groups[i].revoked, pki.RevokedCertificate{SerialNumber: serial, RevocationTime: e.RevokedAt, ReasonCode: e.ReasonCode})
		kept = append(kept, e)
	}
	hash := entriesHash(kept)
	storeARN := ca.Status.TrustStore.ARN
	cur := ca.Status.CRL

	if len(kept) == 0 {
		if cur != nil && len(cur.RevocationIDs) > 0 {
			if err := r.removeRevocations(ctx, storeARN, nil); err != nil {
				return r.elbFailure(s, mtlsv1alpha1.ConditionCRLPublished, "RemoveTrustStoreRevocations", err)
			}
		}
		ca.Status.CRL = nil
		common.SetCondition(&ca.Status.Conditions, ca.Generation, mtlsv1alpha1.ConditionCRLPublished, metav1.ConditionTrue, ReasonNoRevocations,
			"No certificate is revoked; no CRL is registered")
		return stepResult{}, nil
	}

	storeChanged := cur != nil && cur.TrustStoreARN != storeARN
	validity := crlValidity(ca)
	need, why := crlDecision(cur, hash, validity, s.now, storeChanged)
	if !need {
		cur.RecordGeneration = rec.Generation
		common.SetCondition(&ca.Status.Conditions, ca.Generation, mtlsv1alpha1.ConditionCRLPublished, metav1.ConditionTrue, mtlsv1alpha1.ReasonReady,
			fmt.Sprintf("CRL %d with %d entries is registered", cur.Number, cur.Entries))
		return stepResult{requeueAfter: resignTime(cur.ThisUpdate.Time, validity).Sub(s.now) + time.Second}, nil
	}

	// CRL numbers must only grow, also after a lost status: never below the current Unix time.
	number := s.now.Unix()
	if cur != nil && cur.Number >= number {
		number = cur.Number + 1
	}
	thisUpdate := s.now.UTC().Truncate(time.Second)
	nextUpdate := thisUpdate.Add(validity)
	var contents []elbtypes.RevocationContent
	all := sha256.New()
	var firstURI string
	for _, g := range groups {
		crl, err := pki.CreateCRL(pki.CRLRequest{
			CA: g.issuer.Cert, Key: g.issuer.Key, Number: big.NewInt(number),
			ThisUpdate: thisUpdate, NextUpdate: nextUpdate, Revoked: g.revoked,
		})
		if err != nil {
			return stepResult{}, fmt.Errorf("create CRL: %w", err)
		}
		all.Write(crl)
		bucket, key := ca.Spec.Bundle.S3.Bucket, crlKeyFor(ca, g.issuer.Cert)
		uri := fmt.Sprintf("s3://%s/%s", bucket, key)
		if firstURI == "" {
			firstURI = uri
		}
		out, err := r.AWS.S3.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(crl),
			ContentType: aws.String("application/pkix-crl"),
		}, s3Region(ca))
		if err != nil {
			return r.s3Failure(s, mtlsv1alpha1.ConditionCRLPublished, "upload", uri, err)
		}
		contents = append(contents, elbtypes.RevocationContent{
			RevocationType: elbtypes.RevocationTypeCrl, S3Bucket: aws.String(bucket), S3Key: aws.String(key), S3ObjectVersion: out.VersionId,
		})
	}
	added, err := r.AWS.ELB.AddTrustStoreRevocations(ctx, &elbv2.AddTrustStoreRevocationsInput{TrustStoreArn: aws.String(storeARN), RevocationContents: contents})
	if err != nil {
		return r.elbFailure(s, mtlsv1alpha1.ConditionCRLPublished, "AddTrustStoreRevocations", err)
	}
	var ids []int64
	for _, tr := range added.TrustStoreRevocations {
		ids = append(ids, aws.ToInt64(tr.RevocationId))
	}
	// Record the new IDs before removing the old ones, so a failure below leaves a status that
	// still names what is live; the next reconcile removes the leftovers.
	ca.Status.CRL = &mtlsv1alpha1.CRLStatus{
		Number: number, ThisUpdate: metav1.NewTime(thisUpdate), NextUpdate: metav1.NewTime(nextUpdate),
		Entries: int32(len(kept)), URI: firstURI, SHA256: hex.EncodeToString(all.Sum(nil)),
		RecordGeneration: rec.Generation, EntriesSHA256: hash, RevocationIDs: ids, TrustStoreARN: storeARN,
	}
	if err := r.removeRevocations(ctx, storeARN, ids); err != nil {
		return r.elbFailure(s, mtlsv1alpha1.ConditionCRLPublished, "RemoveTrustStoreRevocations", err)
	}
	if ts := ca.Status.TrustStore; ts != nil {
		ts.TotalRevokedEntries = int64(len(kept))
	}
	r.event(ca, corev1.EventTypeNormal, "CRLPublished", "Publish", "Published CRL %d with %d revoked certificates (%s)", number, len(kept), why)
	common.SetCondition(&ca.Status.Conditions, ca.Generation, mtlsv1alpha1.ConditionCRLPublished, metav1.ConditionTrue, mtlsv1alpha1.ReasonReady,
		fmt.Sprintf("CRL %d with %d entries is registered", number, len(kept)))
	return stepResult{requeueAfter: resignTime(thisUpdate, validity).Sub(s.now) + time.Second}, nil
}

// removeRevocations removes every revocation ID of the store except keep. Listing them (rather
// than trusting status) also cleans up after a crash between add and remove.
func (r *Reconciler) removeRevocations(ctx context.Context, storeARN string, keep []int64) error {
	keepSet := map[int64]bool{}
	for _, id := range keep {
		keepSet[id] = true
	}
	var stale []int64
	p := elbv2.NewDescribeTrustStoreRevocationsPaginator(r.AWS.ELB, &elbv2.DescribeTrustStoreRevocationsInput{TrustStoreArn: aws.String(storeARN)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, rev := range page.TrustStoreRevocations {
			if id := aws.ToInt64(rev.RevocationId); !keepSet[id] {
				stale = append(stale, id)
			}
		}
	}
	if len(stale) == 0 {
		return nil
	}
	_, err := r.AWS.ELB.RemoveTrustStoreRevocations(ctx, &elbv2.RemoveTrustStoreRevocationsInput{TrustStoreArn: aws.String(storeARN), RevocationIds: stale})
	return err
}
