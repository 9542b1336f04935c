package albsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// This file holds the emulated resources and AWS's rules about them. Every method here is
// called with Sim.mu held (write lock for changes, read lock for reads).

// Quotas and limits from the ELB documentation (defaults per account and region).
const (
	maxTrustStores              = 20
	maxCACertificates           = 25
	defaultMaxRevocationEntries = 500000
	maxCRLsPerStore             = 30
	maxCRLBytes                 = 50 << 20
	maxCACertBytes              = 16 << 10
	maxChainDepth               = 4
	maxVerifyListenersPerLB     = 2
	maxTagsPerResource          = 50
	maxPageSize                 = 400
)

// Mutual authentication modes and values as they appear on the wire.
const (
	modeOff         = "off"
	modePassthrough = "passthrough"
	modeVerify      = "verify"
)

var (
	trustStoreNamePattern = regexp.MustCompile(`^([a-zA-Z0-9]+-)*[a-zA-Z0-9]+$`)
	resourceNamePattern   = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`)
)

type loadBalancer struct {
	arn, name      string
	created        time.Time
	scheme         string
	ipAddressType  string
	lbType         string
	securityGroups []string
	subnets        []string
}

type target struct {
	id   string
	port int
}

type targetGroup struct {
	arn, name  string
	protocol   string
	port       int
	vpcID      string
	targetType string
	targets    []target
	next       atomic.Uint64 // round-robin cursor of the data plane
}

type certificateRef struct {
	arn       string
	isDefault bool
}

type weightedTG struct {
	arn    string
	weight int
}

type action struct {
	typ            string
	order          int
	targetGroupArn string
	forward        []weightedTG
}

// targetGroupArns lists every target group an action forwards to.
func (a action) targetGroupArns() []string {
	var out []string
	if a.targetGroupArn != "" {
		out = append(out, a.targetGroupArn)
	}
	for _, tg := range a.forward {
		if tg.arn != a.targetGroupArn {
			out = append(out, tg.arn)
		}
	}
	return out
}

type mutualAuth struct {
	mode          string
	trustStoreArn string
	ignoreExpiry  bool
	advertise     string // "on" | "off"
}

// mutualAuthOff is a listener's mutual authentication when none is configured.
var mutualAuthOff = mutualAuth{mode: modeOff, advertise: "off"}

// defaultSSLPolicy is the security policy ALB gives an HTTPS listener that names none.
const defaultSSLPolicy = "ELBSecurityPolicy-2016-08"

type listener struct {
	arn          string
	lb           *loadBalancer
	port         int
	protocol     string
	sslPolicy    string
	certificates []certificateRef
	actions      []action
	alpn         []string
	mtls         mutualAuth
	attributes   map[string]string
	server       *dataServer
}

type revocation struct {
	id      int64
	entries int
	pem     []byte
	bucket  string
	key     string
	version string
	issuer  []byte   // RawIssuer of the CRL
	serials []string // revoked serials, lower-case hex
}

type trustStore struct {
	arn, name   string
	created     time.Time
	activeAt    time.Time
	bundle      *caBundle
	revocations map[int64]*revocation
	// revoked indexes every revoked (issuer, serial) pair of all the store's CRLs; it is rebuilt
	// (never mutated) when revocations change, so handshakes can keep a reference without locking.
	revoked map[string]bool
}

func (ts *trustStore) status(now time.Time) string {
	if now.Before(ts.activeAt) {
		return "CREATING"
	}
	return "ACTIVE"
}

func (ts *trustStore) totalRevokedEntries() int {
	n := 0
	for _, r := range ts.revocations {
		n += r.entries
	}
	return n
}

func (ts *trustStore) rebuildRevoked() {
	idx := map[string]bool{}
	for _, r := range ts.revocations {
		for _, s := range r.serials {
			idx[revokedKey(r.issuer, s)] = true
		}
	}
	ts.revoked = idx
}

func revokedKey(rawIssuer []byte, serialHex string) string {
	return string(rawIssuer) + "\x00" + serialHex
}

func (ts *trustStore) revocation(id int64) *revocation { return ts.revocations[id] }

func (ts *trustStore) revocationNotFound(id int64) *apiError {
	return errorf(codeRevocationIDNotFound, "Revocation ID %d not found in trust store '%s'", id, ts.arn)
}

func (ts *trustStore) revocationIDs() []int64 {
	ids := make([]int64, 0, len(ts.revocations))
	for id := range ts.revocations {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// state is everything albsim knows, in creation order where AWS lists things in order.
type state struct {
	loadBalancers []*loadBalancer
	targetGroups  []*targetGroup
	listeners     []*listener
	trustStores   []*trustStore
	tags          map[string]map[string]string
	// lastRevocationID only grows: revocation IDs are never reused, even after removal.
	lastRevocationID int64
}

func newState() *state {
	return &state{tags: map[string]map[string]string{}}
}

func randomHex16() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Sim) arnPrefix() string {
	return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:", s.cfg.Region, s.cfg.AccountID)
}

// find returns the first item that match accepts, or nil.
func find[T any](items []*T, match func(*T) bool) *T {
	for _, it := range items {
		if match(it) {
			return it
		}
	}
	return nil
}

func (st *state) loadBalancer(arn string) *loadBalancer {
	return find(st.loadBalancers, func(lb *loadBalancer) bool { return lb.arn == arn })
}

func (st *state) loadBalancerByName(name string) *loadBalancer {
	return find(st.loadBalancers, func(lb *loadBalancer) bool { return lb.name == name })
}

func (st *state) targetGroup(arn string) *targetGroup {
	return find(st.targetGroups, func(tg *targetGroup) bool { return tg.arn == arn })
}

func (st *state) targetGroupByName(name string) *targetGroup {
	return find(st.targetGroups, func(tg *targetGroup) bool { return tg.name == name })
}

func (st *state) listener(arn string) *listener {
	return find(st.listeners, func(l *listener) bool { return l.arn == arn })
}

func (st *state) listenerOnPort(port int) *listener {
	return find(st.listeners, func(l *listener) bool { return l.port == port })
}

func (st *state) trustStore(arn string) *trustStore {
	return find(st.trustStores, func(ts *trustStore) bool { return ts.arn == arn })
}

func (st *state) trustStoreByName(name string) *trustStore {
	return find(st.trustStores, func(ts *trustStore) bool { return ts.name == name })
}

// The not-found errors AWS returns for a resource named by its ARN (DescribeTrustStores words a
// missing name the same way).
func loadBalancerNotFound(arn string) *apiError {
	return errorf(codeLoadBalancerNotFound, "Load balancer '%s' not found", arn)
}

func targetGroupNotFound(arn string) *apiError {
	return errorf(codeTargetGroupNotFound, "Target group '%s' not found", arn)
}

func listenerNotFound(arn string) *apiError {
	return errorf(codeListenerNotFound, "Listener '%s' not found", arn)
}

func trustStoreNotFound(arnOrName string) *apiError {
	return errorf(codeTrustStoreNotFound, "Trust store '%s' not found", arnOrName)
}

// lookup returns the resource find gives for key, or notFound's error when there is none.
func lookup[K, T any](find func(K) *T, notFound func(K) *apiError, key K) (*T, *apiError) {
	if v := find(key); v != nil {
		return v, nil
	}
	return nil, notFound(key)
}

// lookupAll resolves every key in order and fails at the first one that names nothing.
func lookupAll[K, T any](find func(K) *T, notFound func(K) *apiError, keys []K) ([]*T, *apiError) {
	out := make([]*T, 0, len(keys))
	for _, k := range keys {
		v, e := lookup(find, notFound, k)
		if e != nil {
			return nil, e
		}
		out = append(out, v)
	}
	return out, nil
}

func (st *state) listenersOf(lb *loadBalancer) []*listener {
	var out []*listener
	for _, l := range st.listeners {
		if l.lb == lb {
			out = append(out, l)
		}
	}
	return out
}

// listenersUsingStore returns the listeners whose mutual authentication references the store.
func (st *state) listenersUsingStore(arn string) []*listener {
	var out []*listener
	for _, l := range st.listeners {
		if l.mtls.mode == modeVerify && l.mtls.trustStoreArn == arn {
			out = append(out, l)
		}
	}
	return out
}

// targetGroupInUse reports whether any listener forwards to the target group.
func (st *state) targetGroupInUse(arn string) bool {
	for _, l := range st.listeners {
		for _, a := range l.actions {
			for _, tg := range a.targetGroupArns() {
				if tg == arn {
					return true
				}
			}
		}
	}
	return false
}

func (st *state) loadBalancerArnsOf(tg *targetGroup) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range st.listeners {
		for _, a := range l.actions {
			for _, arn := range a.targetGroupArns() {
				if arn == tg.arn && !seen[l.lb.arn] {
					seen[l.lb.arn] = true
					out = append(out, l.lb.arn)
				}
			}
		}
	}
	return out
}

// resourceExists tells whether an ARN names a resource albsim holds, and if not, which
// not-found error AWS returns for that kind of ARN.
func (st *state) resourceExists(arn string) *apiError {
	switch {
	case strings.Contains(arn, ":loadbalancer/"):
		if st.loadBalancer(arn) == nil {
			return loadBalancerNotFound(arn)
		}
	case strings.Contains(arn, ":targetgroup/"):
		if st.targetGroup(arn) == nil {
			return targetGroupNotFound(arn)
		}
	case strings.Contains(arn, ":listener/"):
		if st.listener(arn) == nil {
			return listenerNotFound(arn)
		}
	case strings.Contains(arn, ":truststore/"):
		if st.trustStore(arn) == nil {
			return trustStoreNotFound(arn)
		}
	default:
		return errorf(codeValidation, "'%s' is not a valid load balancer, target group, listener or trust store ARN", arn)
	}
	return nil
}

// checkTags applies AWS's tag rules: unique keys in a request, at most 50 per resource.
func checkTagKeys(tags []tagKV) *apiError {
	seen := map[string]bool{}
	for _, t := range tags {
		if t.Key == "" {
			return errorf(codeValidation, "A tag key must not be empty")
		}
		if seen[t.Key] {
			return errorf(codeDuplicateTagKeys, "Tag key '%s' is specified more than once", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

func (st *state) tagCountAfter(arn string, tags []tagKV) int {
	n := len(st.tags[arn])
	for _, t := range tags {
		if _, ok := st.tags[arn][t.Key]; !ok {
			n++
		}
	}
	return n
}

func (st *state) addTags(arn string, tags []tagKV) *apiError {
	cur := st.tags[arn]
	merged := map[string]string{}
	for k, v := range cur {
		merged[k] = v
	}
	for _, t := range tags {
		merged[t.Key] = t.Value
	}
	if len(merged) > maxTagsPerResource {
		return errorf(codeTooManyTags, "Resource '%s' would have %d tags; the limit is %d", arn, len(merged), maxTagsPerResource)
	}
	st.tags[arn] = merged
	return nil
}

func (st *state) sortedTags(arn string) []tagKV {
	m := st.tags[arn]
	out := make([]tagKV, 0, len(m))
	for k, v := range m {
		out = append(out, tagKV{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// verifyListenersOn counts the listeners of lb in verify mode, leaving out one listener (the one
// being modified).
func (st *state) verifyListenersOn(lb *loadBalancer, except *listener) int {
	n := 0
	for _, l := range st.listenersOf(lb) {
		if l != except && l.mtls.mode == modeVerify {
			n++
		}
	}
	return n
}

// checkMutualAuth applies the rules for a listener's new mutual-authentication settings.
func (st *state) checkMutualAuth(l *listener, ma mutualAuth, now time.Time) *apiError {
	switch ma.mode {
	case modeOff, modePassthrough:
	case modeVerify:
		if ma.trustStoreArn == "" {
			return errorf(codeValidation, "A trust store ARN must be specified when the mutual authentication mode is 'verify'")
		}
		ts, e := lookup(st.trustStore, trustStoreNotFound, ma.trustStoreArn)
		if e != nil {
			return e
		}
		if ts.status(now) != "ACTIVE" {
			return errorf(codeTrustStoreNotReady, "Trust store '%s' is not ready; its status is %s", ts.arn, ts.status(now))
		}
		if st.verifyListenersOn(l.lb, l) >= maxVerifyListenersPerLB {
			return errorf(codeInvalidConfigurationRequest, "Load balancer '%s' already has %d listeners with mutual authentication mode 'verify'; the limit is %d", l.lb.arn, maxVerifyListenersPerLB, maxVerifyListenersPerLB)
		}
	default:
		return errorf(codeValidation, "Mutual authentication mode '%s' is not valid; use 'off', 'passthrough' or 'verify'", ma.mode)
	}
	if ma.mode != modeOff && l.protocol != "HTTPS" {
		return errorf(codeInvalidConfigurationRequest, "Mutual authentication requires an HTTPS listener, not %s", l.protocol)
	}
	if ma.advertise != "on" && ma.advertise != "off" {
		return errorf(codeValidation, "AdvertiseTrustStoreCaNames must be 'on' or 'off', not '%s'", ma.advertise)
	}
	return nil
}

// Listener attributes that albsim knows, with their defaults. The header-name attributes rename
// the headers carrying the client certificate to the targets.
const (
	attrHeaderClientCert   = "routing.http.request.x_amzn_mtls_clientcert.header_name"
	attrHeaderSerial       = "routing.http.request.x_amzn_mtls_clientcert_serial_number.header_name"
	attrHeaderIssuer       = "routing.http.request.x_amzn_mtls_clientcert_issuer.header_name"
	attrHeaderSubject      = "routing.http.request.x_amzn_mtls_clientcert_subject.header_name"
	attrHeaderValidity     = "routing.http.request.x_amzn_mtls_clientcert_validity.header_name"
	attrHeaderLeaf         = "routing.http.request.x_amzn_mtls_clientcert_leaf.header_name"
	attrHeaderTLSVersion   = "routing.http.request.x_amzn_tls_version.header_name"
	attrHeaderCipherSuite  = "routing.http.request.x_amzn_tls_cipher_suite.header_name"
	attrResponseServer     = "routing.http.response.server.enabled"
	defaultHeaderClientCrt = "X-Amzn-Mtls-Clientcert"
)

var listenerAttributeDefaults = map[string]string{
	attrHeaderClientCert:  defaultHeaderClientCrt,
	attrHeaderSerial:      "X-Amzn-Mtls-Clientcert-Serial-Number",
	attrHeaderIssuer:      "X-Amzn-Mtls-Clientcert-Issuer",
	attrHeaderSubject:     "X-Amzn-Mtls-Clientcert-Subject",
	attrHeaderValidity:    "X-Amzn-Mtls-Clientcert-Validity",
	attrHeaderLeaf:        "X-Amzn-Mtls-Clientcert-Leaf",
	attrHeaderTLSVersion:  "X-Amzn-Tls-Version",
	attrHeaderCipherSuite: "X-Amzn-Tls-Cipher-Suite",
	attrResponseServer:    "true",
}

var headerNamePattern = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+\-.^_` + "`" + `|~]{1,40}$`)

func checkListenerAttribute(key, value string) *apiError {
	if _, ok := listenerAttributeDefaults[key]; !ok {
		return errorf(codeValidation, "Listener attribute '%s' is not supported", key)
	}
	if strings.HasSuffix(key, ".header_name") {
		if !headerNamePattern.MatchString(value) {
			return errorf(codeValidation, "Header name '%s' for '%s' is not valid: use 1-40 token characters", value, key)
		}
		return nil
	}
	if value != "true" && value != "false" {
		return errorf(codeValidation, "Value '%s' for '%s' must be 'true' or 'false'", value, key)
	}
	return nil
}

func (l *listener) attribute(key string) string {
	if v, ok := l.attributes[key]; ok {
		return v
	}
	return listenerAttributeDefaults[key]
}

// page cuts a list at an opaque marker. AWS markers are opaque strings; albsim's is the base64
// offset of the next item.
func page[T any](items []T, marker string, pageSize int, sizeSet bool) ([]T, string, *apiError) {
	if sizeSet && (pageSize < 1 || pageSize > maxPageSize) {
		return nil, "", errorf(codeValidation, "Value '%d' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and %d", pageSize, maxPageSize)
	}
	if !sizeSet {
		pageSize = maxPageSize
	}
	start := 0
	if marker != "" {
		raw, err := base64.RawURLEncoding.DecodeString(marker)
		if err != nil {
			return nil, "", errorf(codeValidation, "Marker '%s' is not valid", marker)
		}
		n, err := strconv.Atoi(string(raw))
		if err != nil || n < 0 || n > len(items) {
			return nil, "", errorf(codeValidation, "Marker '%s' is not valid", marker)
		}
		start = n
	}
	end := start + pageSize
	if end >= len(items) {
		return items[start:], "", nil
	}
	return items[start:end], base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end))), nil
}
