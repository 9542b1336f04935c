package albsim

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// This file implements the ELBv2 actions: it decodes each request's parameters, applies the
// rules in model.go and truststore.go, and returns the result shape for the codec.

type actionFunc func(s *Sim, ctx context.Context, f form, r *http.Request) (any, *apiError)

var actions = map[string]actionFunc{
	"CreateLoadBalancer":                (*Sim).createLoadBalancer,
	"DescribeLoadBalancers":             (*Sim).describeLoadBalancers,
	"DeleteLoadBalancer":                (*Sim).deleteLoadBalancer,
	"CreateTargetGroup":                 (*Sim).createTargetGroup,
	"DescribeTargetGroups":              (*Sim).describeTargetGroups,
	"DeleteTargetGroup":                 (*Sim).deleteTargetGroup,
	"RegisterTargets":                   (*Sim).registerTargets,
	"DeregisterTargets":                 (*Sim).deregisterTargets,
	"CreateListener":                    (*Sim).createListener,
	"DescribeListeners":                 (*Sim).describeListeners,
	"ModifyListener":                    (*Sim).modifyListener,
	"DeleteListener":                    (*Sim).deleteListener,
	"DescribeListenerAttributes":        (*Sim).describeListenerAttributes,
	"ModifyListenerAttributes":          (*Sim).modifyListenerAttributes,
	"CreateTrustStore":                  (*Sim).createTrustStore,
	"DescribeTrustStores":               (*Sim).describeTrustStores,
	"ModifyTrustStore":                  (*Sim).modifyTrustStore,
	"DeleteTrustStore":                  (*Sim).deleteTrustStore,
	"DescribeTrustStoreAssociations":    (*Sim).describeTrustStoreAssociations,
	"DeleteSharedTrustStoreAssociation": (*Sim).deleteSharedTrustStoreAssociation,
	"GetTrustStoreCaCertificatesBundle": (*Sim).getTrustStoreCaCertificatesBundle,
	"AddTrustStoreRevocations":          (*Sim).addTrustStoreRevocations,
	"DescribeTrustStoreRevocations":     (*Sim).describeTrustStoreRevocations,
	"RemoveTrustStoreRevocations":       (*Sim).removeTrustStoreRevocations,
	"GetTrustStoreRevocationContent":    (*Sim).getTrustStoreRevocationContent,
	"AddTags":                           (*Sim).addTagsAction,
	"RemoveTags":                        (*Sim).removeTags,
	"DescribeTags":                      (*Sim).describeTags,
}

// Actions lists the ELBv2 actions albsim implements.
func Actions() []string {
	out := make([]string, 0, len(actions))
	for a := range actions {
		out = append(out, a)
	}
	return out
}

func checkName(kind, name string, pattern interface{ MatchString(string) bool }) *apiError {
	if len(name) < 1 || len(name) > 32 || !pattern.MatchString(name) {
		return errorf(codeValidation, "%s name '%s' is not valid: use 1-32 alphanumeric characters or hyphens, not starting or ending with a hyphen", kind, name)
	}
	return nil
}

func parseTags(f form) ([]tagKV, *apiError) {
	var tags []tagKV
	for _, t := range f.structs("Tags") {
		tags = append(tags, tagKV{Key: t.str("Key"), Value: t.str("Value")})
	}
	return tags, checkTagKeys(tags)
}

// resourceArg reads the ARN parameter key and finds the resource it names; callers hold s.mu.
func resourceArg[T any](f form, key string, find func(string) *T, notFound func(string) *apiError) (*T, *apiError) {
	arn, e := f.required(key)
	if e != nil {
		return nil, e
	}
	return lookup(find, notFound, arn)
}

func (s *Sim) loadBalancerArg(f form) (*loadBalancer, *apiError) {
	return resourceArg(f, "LoadBalancerArn", s.state.loadBalancer, loadBalancerNotFound)
}

func (s *Sim) targetGroupArg(f form) (*targetGroup, *apiError) {
	return resourceArg(f, "TargetGroupArn", s.state.targetGroup, targetGroupNotFound)
}

func (s *Sim) listenerArg(f form) (*listener, *apiError) {
	return resourceArg(f, "ListenerArn", s.state.listener, listenerNotFound)
}

func (s *Sim) trustStoreArg(f form) (*trustStore, *apiError) {
	return resourceArg(f, "TrustStoreArn", s.state.trustStore, trustStoreNotFound)
}

// describe does what every paginated Describe action shares. It reads PageSize before anything
// else, so a malformed one fails first; then, under the read lock, it selects the items, cuts the
// page Marker points at and converts that page to its XML shape. It returns the page and the
// marker of the next one.
func describe[T, X any](s *Sim, f form, selectItems func() ([]T, *apiError), shape func(T) X) ([]X, string, *apiError) {
	size, sizeSet, e := f.int("PageSize")
	if e != nil {
		return nil, "", e
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	items, e := selectItems()
	if e != nil {
		return nil, "", e
	}
	pg, next, e := page(items, f.str("Marker"), size, sizeSet)
	if e != nil {
		return nil, "", e
	}
	var out []X
	for _, it := range pg {
		out = append(out, shape(it))
	}
	return out, next, nil
}

// ---- load balancers ----

func (s *Sim) dnsName(lb *loadBalancer) string {
	id := lb.arn[strings.LastIndex(lb.arn, "/")+1:]
	return fmt.Sprintf("%s-%s.%s.elb.amazonaws.com", lb.name, id[:10], s.cfg.Region)
}

func (s *Sim) createLoadBalancer(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	name, e := f.required("Name")
	if e != nil {
		return nil, e
	}
	if e := checkName("Load balancer", name, resourceNamePattern); e != nil {
		return nil, e
	}
	if strings.HasPrefix(name, "internal-") {
		return nil, errorf(codeValidation, "Load balancer name '%s' must not start with 'internal-'", name)
	}
	lbType := f.str("Type")
	if lbType == "" {
		lbType = "application"
	}
	if lbType != "application" {
		return nil, errorf(codeInvalidConfigurationRequest, "albsim emulates only application load balancers, not '%s'", lbType)
	}
	scheme := f.str("Scheme")
	if scheme == "" {
		scheme = "internet-facing"
	}
	ipType := f.str("IpAddressType")
	if ipType == "" {
		ipType = "ipv4"
	}
	tags, e := parseTags(f)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if lb := s.state.loadBalancerByName(name); lb != nil {
		// AWS makes CreateLoadBalancer idempotent for identical settings.
		if lb.scheme != scheme || lb.lbType != lbType {
			return nil, errorf(codeDuplicateLoadBalancerName, "A load balancer named '%s' already exists with different settings", name)
		}
		return loadBalancersResult{LoadBalancers: []xLoadBalancer{s.xLoadBalancer(lb)}}, nil
	}
	lb := s.newLoadBalancer(name)
	lb.scheme, lb.ipAddressType = scheme, ipType
	lb.securityGroups = f.list("SecurityGroups")
	lb.subnets = f.list("Subnets")
	if e := s.state.addTags(lb.arn, tags); e != nil {
		return nil, e
	}
	s.state.loadBalancers = append(s.state.loadBalancers, lb)
	return loadBalancersResult{LoadBalancers: []xLoadBalancer{s.xLoadBalancer(lb)}}, nil
}

func (s *Sim) newLoadBalancer(name string) *loadBalancer {
	return &loadBalancer{
		arn:           s.arnPrefix() + "loadbalancer/app/" + name + "/" + randomHex16(),
		name:          name,
		created:       time.Now(),
		scheme:        "internet-facing",
		ipAddressType: "ipv4",
		lbType:        "application",
	}
}

func (s *Sim) describeLoadBalancers(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	arns, names := f.list("LoadBalancerArns"), f.list("Names")
	lbs, next, e := describe(s, f, func() ([]*loadBalancer, *apiError) {
		switch {
		case len(arns) > 0:
			return lookupAll(s.state.loadBalancer, loadBalancerNotFound, arns)
		case len(names) > 0:
			return lookupAll(s.state.loadBalancerByName, func(n string) *apiError {
				return errorf(codeLoadBalancerNotFound, "Load balancers '[%s]' not found", n)
			}, names)
		default:
			return s.state.loadBalancers, nil
		}
	}, s.xLoadBalancer)
	if e != nil {
		return nil, e
	}
	return loadBalancersResult{LoadBalancers: lbs, NextMarker: next}, nil
}

func (s *Sim) deleteLoadBalancer(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lb, e := s.loadBalancerArg(f)
	if e != nil {
		return nil, e
	}
	for _, l := range s.state.listenersOf(lb) {
		s.removeListenerLocked(l)
	}
	s.state.loadBalancers = remove(s.state.loadBalancers, lb)
	delete(s.state.tags, lb.arn)
	return nil, nil
}

func remove[T comparable](items []T, item T) []T {
	out := items[:0:0]
	for _, it := range items {
		if it != item {
			out = append(out, it)
		}
	}
	return out
}

// ---- target groups ----

func (s *Sim) createTargetGroup(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	name, e := f.required("Name")
	if e != nil {
		return nil, e
	}
	if e := checkName("Target group", name, resourceNamePattern); e != nil {
		return nil, e
	}
	targetType := f.str("TargetType")
	if targetType == "" {
		targetType = "instance"
	}
	protocol := f.str("Protocol")
	port, portSet, e := f.int("Port")
	if e != nil {
		return nil, e
	}
	if targetType != "lambda" {
		if protocol == "" || !portSet {
			return nil, errorf(codeValidation, "A protocol and port must be specified for target type '%s'", targetType)
		}
		if protocol != "HTTP" && protocol != "HTTPS" {
			return nil, errorf(codeUnsupportedProtocol, "Protocol '%s' is not supported by application load balancer target groups", protocol)
		}
		if port < 1 || port > 65535 {
			return nil, errorf(codeValidation, "Port %d is not valid", port)
		}
	}
	tags, e := parseTags(f)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if tg := s.state.targetGroupByName(name); tg != nil {
		if tg.protocol != protocol || tg.port != port || tg.targetType != targetType {
			return nil, errorf(codeDuplicateTargetGroupName, "A target group named '%s' already exists with different settings", name)
		}
		return targetGroupsResult{TargetGroups: []xTargetGroup{s.xTargetGroup(tg)}}, nil
	}
	tg := s.newTargetGroup(name, protocol, port)
	tg.targetType, tg.vpcID = targetType, f.str("VpcId")
	if e := s.state.addTags(tg.arn, tags); e != nil {
		return nil, e
	}
	s.state.targetGroups = append(s.state.targetGroups, tg)
	return targetGroupsResult{TargetGroups: []xTargetGroup{s.xTargetGroup(tg)}}, nil
}

func (s *Sim) newTargetGroup(name, protocol string, port int) *targetGroup {
	return &targetGroup{
		arn:        s.arnPrefix() + "targetgroup/" + name + "/" + randomHex16(),
		name:       name,
		protocol:   protocol,
		port:       port,
		targetType: "ip",
	}
}

func (s *Sim) describeTargetGroups(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	arns, names, lbArn := f.list("TargetGroupArns"), f.list("Names"), f.str("LoadBalancerArn")
	tgs, next, e := describe(s, f, func() ([]*targetGroup, *apiError) {
		switch {
		case len(arns) > 0:
			return lookupAll(s.state.targetGroup, targetGroupNotFound, arns)
		case len(names) > 0:
			return lookupAll(s.state.targetGroupByName, func(n string) *apiError {
				return errorf(codeTargetGroupNotFound, "One or more target groups not found: '%s'", n)
			}, names)
		case lbArn != "":
			if s.state.loadBalancer(lbArn) == nil {
				return nil, loadBalancerNotFound(lbArn)
			}
			var tgs []*targetGroup
			for _, tg := range s.state.targetGroups {
				for _, a := range s.state.loadBalancerArnsOf(tg) {
					if a == lbArn {
						tgs = append(tgs, tg)
					}
				}
			}
			return tgs, nil
		default:
			return s.state.targetGroups, nil
		}
	}, s.xTargetGroup)
	if e != nil {
		return nil, e
	}
	return targetGroupsResult{TargetGroups: tgs, NextMarker: next}, nil
}

func (s *Sim) deleteTargetGroup(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tg, e := s.targetGroupArg(f)
	if e != nil {
		return nil, e
	}
	if s.state.targetGroupInUse(tg.arn) {
		return nil, errorf(codeResourceInUse, "Target group '%s' is currently in use by a listener or a rule", tg.arn)
	}
	s.state.targetGroups = remove(s.state.targetGroups, tg)
	delete(s.state.tags, tg.arn)
	return nil, nil
}

func parseTargets(f form, defaultPort int) ([]target, *apiError) {
	entries := f.structs("Targets")
	if len(entries) == 0 {
		return nil, errorf(codeValidation, "At least one target must be specified")
	}
	var out []target
	for _, t := range entries {
		id := t.str("Id")
		if id == "" {
			return nil, errorf(codeValidation, "A target Id must be specified")
		}
		port, set, e := t.int("Port")
		if e != nil {
			return nil, e
		}
		if !set {
			port = defaultPort
		}
		if port < 1 || port > 65535 {
			return nil, errorf(codeInvalidTarget, "Target port %d is not valid", port)
		}
		out = append(out, target{id: id, port: port})
	}
	return out, nil
}

func (s *Sim) registerTargets(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tg, e := s.targetGroupArg(f)
	if e != nil {
		return nil, e
	}
	targets, e := parseTargets(f, tg.port)
	if e != nil {
		return nil, e
	}
	tg.targets = addTargets(tg.targets, targets)
	return nil, nil
}

func addTargets(cur, add []target) []target {
	out := append([]target(nil), cur...)
	for _, t := range add {
		dup := false
		for _, c := range out {
			if c == t {
				dup = true
			}
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out
}

func (s *Sim) deregisterTargets(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tg, e := s.targetGroupArg(f)
	if e != nil {
		return nil, e
	}
	targets, e := parseTargets(f, tg.port)
	if e != nil {
		return nil, e
	}
	var keep []target
	for _, c := range tg.targets {
		drop := false
		for _, t := range targets {
			if c == t {
				drop = true
			}
		}
		if !drop {
			keep = append(keep, c)
		}
	}
	tg.targets = keep
	return nil, nil
}

// ---- listeners ----

func parseCertificates(f form) []certificateRef {
	var out []certificateRef
	for _, c := range f.structs("Certificates") {
		d, _, _ := c.bool("IsDefault")
		out = append(out, certificateRef{arn: c.str("CertificateArn"), isDefault: d})
	}
	return out
}

// parseActions reads DefaultActions. albsim forwards traffic only, so forward is the one action
// type it accepts.
func (s *Sim) parseActions(f form) ([]action, *apiError) {
	entries := f.structs("DefaultActions")
	if len(entries) == 0 {
		return nil, errorf(codeValidation, "At least one default action must be specified")
	}
	var out []action
	for i, a := range entries {
		act := action{typ: a.str("Type")}
		if act.typ != "forward" {
			return nil, errorf(codeInvalidLoadBalancerAction, "Action type '%s' is not supported by albsim; use 'forward'", act.typ)
		}
		order, set, e := a.int("Order")
		if e != nil {
			return nil, e
		}
		if set {
			act.order = order
		} else {
			act.order = i + 1
		}
		act.targetGroupArn = a.str("TargetGroupArn")
		for _, t := range a.sub("ForwardConfig").structs("TargetGroups") {
			w, set, e := t.int("Weight")
			if e != nil {
				return nil, e
			}
			if !set {
				w = 1
			}
			act.forward = append(act.forward, weightedTG{arn: t.str("TargetGroupArn"), weight: w})
		}
		if act.targetGroupArn == "" && len(act.forward) == 1 {
			act.targetGroupArn = act.forward[0].arn
		}
		if act.targetGroupArn != "" && len(act.forward) == 0 {
			act.forward = []weightedTG{{arn: act.targetGroupArn, weight: 1}}
		}
		if len(act.targetGroupArns()) == 0 {
			return nil, errorf(codeValidation, "A forward action must specify a target group")
		}
		for _, arn := range act.targetGroupArns() {
			if s.state.targetGroup(arn) == nil {
				return nil, targetGroupNotFound(arn)
			}
		}
		out = append(out, act)
	}
	return out, nil
}

// parseMutualAuth reads MutualAuthentication. AWS keeps a listener's settings for properties a
// ModifyListener leaves out; inside the structure, albsim keeps the trust store and flags of a
// listener that stays in verify mode, and resets them when the mode changes.
func parseMutualAuth(f form, cur mutualAuth) (mutualAuth, *apiError) {
	ma := f.sub("MutualAuthentication")
	next := mutualAuth{mode: cur.mode, advertise: "off"}
	if m, ok := ma.get("Mode"); ok {
		next.mode = strings.ToLower(m)
	}
	if next.mode == "" {
		next.mode = modeOff
	}
	keep := next.mode == modeVerify && cur.mode == modeVerify
	if keep {
		next.trustStoreArn, next.ignoreExpiry, next.advertise = cur.trustStoreArn, cur.ignoreExpiry, cur.advertise
	}
	if v, ok := ma.get("TrustStoreArn"); ok {
		next.trustStoreArn = v
	}
	if v, set, e := ma.bool("IgnoreClientCertificateExpiry"); e != nil {
		return next, e
	} else if set {
		next.ignoreExpiry = v
	}
	if v, ok := ma.get("AdvertiseTrustStoreCaNames"); ok {
		next.advertise = strings.ToLower(v)
	}
	if next.mode != modeVerify {
		if next.trustStoreArn != "" && next.mode != modeVerify {
			if _, sent := ma.get("TrustStoreArn"); sent {
				return next, errorf(codeValidation, "A trust store can be specified only when the mutual authentication mode is 'verify'")
			}
		}
		next.trustStoreArn, next.ignoreExpiry = "", false
	}
	return next, nil
}

func checkProtocol(p string) *apiError {
	if p != "HTTP" && p != "HTTPS" {
		return errorf(codeUnsupportedProtocol, "Protocol '%s' is not supported by application load balancers", p)
	}
	return nil
}

func (s *Sim) createListener(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	lbArn, e := f.required("LoadBalancerArn")
	if e != nil {
		return nil, e
	}
	port, set, e := f.int("Port")
	if e != nil {
		return nil, e
	}
	if !set || port < 1 || port > 65535 {
		return nil, errorf(codeValidation, "A port between 1 and 65535 must be specified")
	}
	protocol := f.str("Protocol")
	if protocol == "" {
		protocol = "HTTP"
	}
	if e := checkProtocol(protocol); e != nil {
		return nil, e
	}
	tags, e := parseTags(f)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lb, e := lookup(s.state.loadBalancer, loadBalancerNotFound, lbArn)
	if e != nil {
		return nil, e
	}
	l := newListener(lb, port, protocol)
	l.certificates, l.alpn = parseCertificates(f), f.list("AlpnPolicy")
	if protocol == "HTTPS" {
		if e := applyHTTPSSettings(l, f); e != nil {
			return nil, e
		}
		l.certificates[0].isDefault = true
	}
	if l.actions, e = s.parseActions(f); e != nil {
		return nil, e
	}
	if l.mtls, e = parseMutualAuth(f, mutualAuthOff); e != nil {
		return nil, e
	}
	if e := s.state.checkMutualAuth(l, l.mtls, time.Now()); e != nil {
		return nil, e
	}
	if e := s.checkPortFree(l, port); e != nil {
		return nil, e
	}
	if e := s.state.addTags(l.arn, tags); e != nil {
		return nil, e
	}
	if err := s.startListener(l); err != nil {
		delete(s.state.tags, l.arn)
		return nil, cannotServe(port, err)
	}
	s.state.listeners = append(s.state.listeners, l)
	return listenersResult{Listeners: []xListener{xListenerOf(l)}}, nil
}

// newListener makes a listener of lb with no certificates, actions or attributes and mutual
// authentication off.
func newListener(lb *loadBalancer, port int, protocol string) *listener {
	return &listener{
		arn:        strings.Replace(lb.arn, ":loadbalancer/", ":listener/", 1) + "/" + randomHex16(),
		lb:         lb,
		port:       port,
		protocol:   protocol,
		mtls:       mutualAuthOff,
		attributes: map[string]string{},
	}
}

// applyHTTPSSettings applies ALB's rules for an HTTPS listener: it needs a certificate, and its
// security policy is the one the request names, else the one it has, else the default.
func applyHTTPSSettings(l *listener, f form) *apiError {
	if len(l.certificates) == 0 {
		return errorf(codeCertificateNotFound, "A certificate must be specified for HTTPS listeners")
	}
	if v, ok := f.get("SslPolicy"); ok {
		l.sslPolicy = v
	}
	if l.sslPolicy == "" {
		l.sslPolicy = defaultSSLPolicy
	}
	return nil
}

// cannotServe is the error for a listener whose data-plane socket albsim cannot open.
func cannotServe(port int, err error) *apiError {
	return errorf(codeInvalidConfigurationRequest, "albsim cannot serve port %d: %v", port, err)
}

// checkPortFree applies AWS's one-listener-per-port rule. All emulated load balancers share one
// loopback address, so albsim extends the rule across load balancers.
func (s *Sim) checkPortFree(l *listener, port int) *apiError {
	other := s.state.listenerOnPort(port)
	if other == nil || other == l {
		return nil
	}
	if other.lb == l.lb {
		return errorf(codeDuplicateListener, "A listener already exists on port %d of load balancer '%s'", port, l.lb.arn)
	}
	return errorf(codeDuplicateListener, "Port %d is already used by a listener of load balancer '%s' (albsim serves every load balancer on one address)", port, other.lb.name)
}

func (s *Sim) describeListeners(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	arns, lbArn := f.list("ListenerArns"), f.str("LoadBalancerArn")
	ls, next, e := describe(s, f, func() ([]*listener, *apiError) {
		switch {
		case len(arns) > 0:
			return lookupAll(s.state.listener, listenerNotFound, arns)
		case lbArn != "":
			lb, e := lookup(s.state.loadBalancer, loadBalancerNotFound, lbArn)
			if e != nil {
				return nil, e
			}
			return s.state.listenersOf(lb), nil
		default:
			return nil, errorf(codeValidation, "You must specify either listener ARNs or a load balancer ARN")
		}
	}, xListenerOf)
	if e != nil {
		return nil, e
	}
	return listenersResult{Listeners: ls, NextMarker: next}, nil
}

// modifyListener changes only what the request carries: AWS leaves every property a
// ModifyListener omits as it was, which is why turning mTLS off needs an explicit Mode=off.
func (s *Sim) modifyListener(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, e := s.listenerArg(f)
	if e != nil {
		return nil, e
	}
	next := *l
	if p, set, e := f.int("Port"); e != nil {
		return nil, e
	} else if set {
		if p < 1 || p > 65535 {
			return nil, errorf(codeValidation, "Port %d is not valid", p)
		}
		if e := s.checkPortFree(l, p); e != nil {
			return nil, e
		}
		next.port = p
	}
	if p, ok := f.get("Protocol"); ok {
		if e := checkProtocol(p); e != nil {
			return nil, e
		}
		next.protocol = p
	}
	if f.has("Certificates") {
		next.certificates = parseCertificates(f)
	}
	if next.protocol == "HTTPS" {
		if e := applyHTTPSSettings(&next, f); e != nil {
			return nil, e
		}
	} else {
		next.sslPolicy, next.certificates = "", nil
	}
	if f.has("DefaultActions") {
		if next.actions, e = s.parseActions(f); e != nil {
			return nil, e
		}
	}
	if f.has("AlpnPolicy") {
		next.alpn = f.list("AlpnPolicy")
	}
	if f.has("MutualAuthentication") {
		if next.mtls, e = parseMutualAuth(f, l.mtls); e != nil {
			return nil, e
		}
	}
	if next.protocol != "HTTPS" && l.protocol == "HTTPS" && !f.has("MutualAuthentication") {
		next.mtls = mutualAuthOff
	}
	if e := s.state.checkMutualAuth(&next, next.mtls, time.Now()); e != nil {
		return nil, e
	}
	if next.port != l.port || next.protocol != l.protocol {
		// The data-plane socket changes. On a new port, bind it first so that a failure leaves
		// the old one intact. On the same port (only the protocol changes) the old socket must
		// close before the port can be bound again; on failure it is opened again.
		samePort := next.port == l.port
		old := l.server
		if samePort && old != nil {
			old.stop()
		}
		cand := next
		cand.server = nil
		if err := s.startListener(&cand); err != nil {
			if samePort {
				if rerr := s.startListener(l); rerr != nil {
					s.log.Error("Listener could not be restored", "listener", l.arn, "error", rerr)
				}
			}
			return nil, cannotServe(next.port, err)
		}
		next.server = cand.server
		next.server.l = l
		if !samePort && old != nil {
			old.stop()
		}
	}
	l.port, l.protocol, l.sslPolicy, l.certificates = next.port, next.protocol, next.sslPolicy, next.certificates
	l.actions, l.alpn, l.mtls, l.server = next.actions, next.alpn, next.mtls, next.server
	return listenersResult{Listeners: []xListener{xListenerOf(l)}}, nil
}

func (s *Sim) deleteListener(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, e := s.listenerArg(f)
	if e != nil {
		return nil, e
	}
	s.removeListenerLocked(l)
	return nil, nil
}

func (s *Sim) removeListenerLocked(l *listener) {
	if l.server != nil {
		l.server.stop()
	}
	s.state.listeners = remove(s.state.listeners, l)
	delete(s.state.tags, l.arn)
}

func (s *Sim) describeListenerAttributes(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, e := s.listenerArg(f)
	if e != nil {
		return nil, e
	}
	var res attributesResult
	for _, k := range sortedKeys(listenerAttributeDefaults) {
		res.Attributes = append(res.Attributes, tagKV{Key: k, Value: l.attribute(k)})
	}
	return res, nil
}

func (s *Sim) modifyListenerAttributes(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	arn, e := f.required("ListenerArn")
	if e != nil {
		return nil, e
	}
	attrs := f.structs("Attributes")
	if len(attrs) == 0 {
		return nil, errorf(codeValidation, "At least one attribute must be specified")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, e := lookup(s.state.listener, listenerNotFound, arn)
	if e != nil {
		return nil, e
	}
	var res attributesResult
	for _, a := range attrs {
		if e := checkListenerAttribute(a.str("Key"), a.str("Value")); e != nil {
			return nil, e
		}
	}
	for _, a := range attrs {
		l.attributes[a.str("Key")] = a.str("Value")
		res.Attributes = append(res.Attributes, tagKV{Key: a.str("Key"), Value: a.str("Value")})
	}
	return res, nil
}

// ---- trust stores ----

func (s *Sim) readBundle(ctx context.Context, f form) (*caBundle, *apiError) {
	bucket, e := f.required("CaCertificatesBundleS3Bucket")
	if e != nil {
		return nil, e
	}
	key, e := f.required("CaCertificatesBundleS3Key")
	if e != nil {
		return nil, e
	}
	version := f.str("CaCertificatesBundleS3ObjectVersion")
	obj, e := s.getObject(ctx, bucket, key, version, codeCaBundleNotFound, 1<<20)
	if e != nil {
		return nil, e
	}
	b, e := parseCABundle(obj.body)
	if e != nil {
		return nil, e
	}
	b.bucket, b.key, b.version = bucket, key, obj.version
	return b, nil
}

func (s *Sim) createTrustStore(ctx context.Context, f form, _ *http.Request) (any, *apiError) {
	name, e := f.required("Name")
	if e != nil {
		return nil, e
	}
	if len(name) > 32 || !trustStoreNamePattern.MatchString(name) {
		return nil, errorf(codeValidation, "Trust store name '%s' is not valid: it must be 1-32 characters matching ^([a-zA-Z0-9]+-)*[a-zA-Z0-9]+$", name)
	}
	tags, e := parseTags(f)
	if e != nil {
		return nil, e
	}
	check := func() *apiError {
		if s.state.trustStoreByName(name) != nil {
			return errorf(codeDuplicateTrustStoreName, "A trust store named '%s' already exists", name)
		}
		if len(s.state.trustStores) >= maxTrustStores {
			return errorf(codeTooManyTrustStores, "The account already has %d trust stores; the limit is %d", len(s.state.trustStores), maxTrustStores)
		}
		return nil
	}
	s.mu.RLock()
	e = check()
	s.mu.RUnlock()
	if e != nil {
		return nil, e
	}
	// ALB reads the bundle once, now; later changes to the S3 object do not reach the store.
	bundle, e := s.readBundle(ctx, f)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := check(); e != nil {
		return nil, e
	}
	now := time.Now()
	ts := &trustStore{
		arn:         s.arnPrefix() + "truststore/" + name + "/" + randomHex16(),
		name:        name,
		created:     now,
		activeAt:    now.Add(s.activationDelay),
		bundle:      bundle,
		revocations: map[int64]*revocation{},
	}
	ts.rebuildRevoked()
	if e := s.state.addTags(ts.arn, tags); e != nil {
		return nil, e
	}
	s.state.trustStores = append(s.state.trustStores, ts)
	s.log.Info("Trust store created", "name", name, "caCertificates", len(bundle.certs), "activeAt", ts.activeAt.Format(time.RFC3339))
	return trustStoresResult{TrustStores: []xTrustStore{xTrustStoreOf(ts, now)}}, nil
}

func (s *Sim) describeTrustStores(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	arns, names := f.list("TrustStoreArns"), f.list("Names")
	now := time.Now() // one instant for the status of the whole page
	stores, next, e := describe(s, f, func() ([]*trustStore, *apiError) {
		switch {
		case len(arns) > 0:
			return lookupAll(s.state.trustStore, trustStoreNotFound, arns)
		case len(names) > 0:
			return lookupAll(s.state.trustStoreByName, trustStoreNotFound, names)
		default:
			return s.state.trustStores, nil
		}
	}, func(ts *trustStore) xTrustStore { return xTrustStoreOf(ts, now) })
	if e != nil {
		return nil, e
	}
	return trustStoresResult{TrustStores: stores, NextMarker: next}, nil
}

func (s *Sim) modifyTrustStore(ctx context.Context, f form, _ *http.Request) (any, *apiError) {
	s.mu.RLock()
	_, e := s.trustStoreArg(f)
	s.mu.RUnlock()
	if e != nil {
		return nil, e
	}
	bundle, e := s.readBundle(ctx, f)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, e := s.trustStoreArg(f)
	if e != nil {
		return nil, e
	}
	// The new bundle takes effect for the next handshake of every listener using the store.
	ts.bundle = bundle
	s.log.Info("Trust store modified", "name", ts.name, "caCertificates", len(bundle.certs))
	return trustStoresResult{TrustStores: []xTrustStore{xTrustStoreOf(ts, time.Now())}}, nil
}

func (s *Sim) deleteTrustStore(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, e := s.trustStoreArg(f)
	if e != nil {
		return nil, e
	}
	if users := s.state.listenersUsingStore(ts.arn); len(users) > 0 {
		return nil, errorf(codeTrustStoreInUse, "Trust store '%s' is in use by %d listener(s), for example '%s'", ts.arn, len(users), users[0].arn)
	}
	s.state.trustStores = remove(s.state.trustStores, ts)
	delete(s.state.tags, ts.arn)
	return nil, nil
}

// associatedResources returns the load balancers whose listeners use the store.
func (s *Sim) associatedResources(ts *trustStore) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range s.state.listenersUsingStore(ts.arn) {
		if !seen[l.lb.arn] {
			seen[l.lb.arn] = true
			out = append(out, l.lb.arn)
		}
	}
	return out
}

func (s *Sim) describeTrustStoreAssociations(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	assocs, next, e := describe(s, f, func() ([]string, *apiError) {
		ts, e := s.trustStoreArg(f)
		if e != nil {
			return nil, e
		}
		return s.associatedResources(ts), nil
	}, func(arn string) xAssociation { return xAssociation{ResourceArn: arn} })
	if e != nil {
		return nil, e
	}
	return associationsResult{TrustStoreAssociations: assocs, NextMarker: next}, nil
}

// deleteSharedTrustStoreAssociation exists for trust stores shared through RAM. albsim has one
// account, so an existing association is always a same-account one.
func (s *Sim) deleteSharedTrustStoreAssociation(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	res, e := f.required("ResourceArn")
	if e != nil {
		return nil, e
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ts, e := s.trustStoreArg(f)
	if e != nil {
		return nil, e
	}
	for _, arn := range s.associatedResources(ts) {
		if arn == res {
			return nil, errorf(codeDeleteAssociationSame, "The association between '%s' and '%s' belongs to the trust store's own account; change the listener instead", ts.arn, res)
		}
	}
	return nil, errorf(codeAssociationNotFound, "No association between trust store '%s' and '%s'", ts.arn, res)
}

// contentURL plays the part of the pre-signed S3 URL AWS returns: albsim serves the snapshot it
// holds from its own API address.
func contentURL(r *http.Request, arn string, revocationID int64) string {
	q := url.Values{"arn": {arn}}
	if revocationID > 0 {
		q.Set("revocationId", strconv.FormatInt(revocationID, 10))
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + adminPrefix + "truststore-content?" + q.Encode()
}

func (s *Sim) getTrustStoreCaCertificatesBundle(_ context.Context, f form, r *http.Request) (any, *apiError) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ts, e := s.trustStoreArg(f)
	if e != nil {
		return nil, e
	}
	return locationResult{Location: contentURL(r, ts.arn, 0)}, nil
}

func (s *Sim) addTrustStoreRevocations(ctx context.Context, f form, _ *http.Request) (any, *apiError) {
	s.mu.RLock()
	ts, e := s.trustStoreArg(f)
	var bundle *caBundle
	if ts != nil {
		bundle = ts.bundle
	}
	s.mu.RUnlock()
	if e != nil {
		return nil, e
	}
	contents := f.structs("RevocationContents")
	if len(contents) == 0 {
		return nil, errorf(codeValidation, "At least one revocation content must be specified")
	}
	var added []*revocation
	for _, c := range contents {
		if t := c.str("RevocationType"); t != "" && t != "CRL" {
			return nil, errorf(codeInvalidRevocationContent, "Revocation type '%s' is not supported; use CRL", t)
		}
		bucket, key := c.str("S3Bucket"), c.str("S3Key")
		if bucket == "" || key == "" {
			return nil, errorf(codeValidation, "S3Bucket and S3Key must be specified for each revocation content")
		}
		obj, e := s.getObject(ctx, bucket, key, c.str("S3ObjectVersion"), codeRevocationContentNotFound, maxCRLBytes)
		if e != nil {
			return nil, e
		}
		rev, e := parseCRL(obj.body, bundle)
		if e != nil {
			return nil, e
		}
		rev.bucket, rev.key, rev.version = bucket, key, obj.version
		added = append(added, rev)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ts, e = s.trustStoreArg(f); e != nil {
		return nil, e
	}
	if n := len(ts.revocations) + len(added); n > maxCRLsPerStore {
		return nil, errorf(codeTooManyRevocationEntries, "Trust store '%s' would hold %d CRLs; the limit is %d", ts.arn, n, maxCRLsPerStore)
	}
	total := ts.totalRevokedEntries()
	for _, r := range added {
		total += r.entries
	}
	if total > s.maxRevocationEntries {
		return nil, errorf(codeTooManyRevocationEntries, "Trust store '%s' would hold %d revoked entries; the limit is %d", ts.arn, total, s.maxRevocationEntries)
	}
	var res revocationsResult
	for _, r := range added {
		s.state.lastRevocationID++
		r.id = s.state.lastRevocationID
		ts.revocations[r.id] = r
		res.TrustStoreRevocations = append(res.TrustStoreRevocations, xRevocationOf(ts, r))
	}
	ts.rebuildRevoked()
	return res, nil
}

func parseRevocationID(v string) (int64, *apiError) {
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errorf(codeValidation, "Revocation ID '%s' is not a number", v)
	}
	return id, nil
}

func parseRevocationIDs(f form) ([]int64, *apiError) {
	var out []int64
	for _, v := range f.list("RevocationIds") {
		id, e := parseRevocationID(v)
		if e != nil {
			return nil, e
		}
		out = append(out, id)
	}
	return out, nil
}

func (s *Sim) describeTrustStoreRevocations(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	var ts *trustStore
	revs, next, e := describe(s, f, func() ([]*revocation, *apiError) {
		ids, e := parseRevocationIDs(f)
		if e != nil {
			return nil, e
		}
		if ts, e = s.trustStoreArg(f); e != nil {
			return nil, e
		}
		if len(ids) == 0 {
			ids = ts.revocationIDs()
		}
		return lookupAll(ts.revocation, ts.revocationNotFound, ids)
	}, func(r *revocation) xTrustStoreRevocation { return xRevocationOf(ts, r) })
	if e != nil {
		return nil, e
	}
	return revocationsResult{TrustStoreRevocations: revs, NextMarker: next}, nil
}

func (s *Sim) removeTrustStoreRevocations(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	ids, e := parseRevocationIDs(f)
	if e != nil {
		return nil, e
	}
	if len(ids) == 0 {
		return nil, errorf(codeValidation, "At least one revocation ID must be specified")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, e := s.trustStoreArg(f)
	if e != nil {
		return nil, e
	}
	// Check every ID first so that an unknown one leaves the store unchanged.
	if _, e := lookupAll(ts.revocation, ts.revocationNotFound, ids); e != nil {
		return nil, e
	}
	for _, id := range ids {
		delete(ts.revocations, id)
	}
	ts.rebuildRevoked()
	return nil, nil
}

func (s *Sim) getTrustStoreRevocationContent(_ context.Context, f form, r *http.Request) (any, *apiError) {
	idStr, e := f.required("RevocationId")
	if e != nil {
		return nil, e
	}
	id, e := parseRevocationID(idStr)
	if e != nil {
		return nil, e
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ts, e := s.trustStoreArg(f)
	if e != nil {
		return nil, e
	}
	if ts.revocation(id) == nil {
		return nil, ts.revocationNotFound(id)
	}
	return locationResult{Location: contentURL(r, ts.arn, id)}, nil
}

// ---- tags ----

func (s *Sim) resourceArns(f form) ([]string, *apiError) {
	arns := f.list("ResourceArns")
	if len(arns) == 0 {
		return nil, errorf(codeValidation, "At least one resource ARN must be specified")
	}
	if len(arns) > 20 {
		return nil, errorf(codeValidation, "At most 20 resource ARNs can be specified")
	}
	for _, arn := range arns {
		if e := s.state.resourceExists(arn); e != nil {
			return nil, e
		}
	}
	return arns, nil
}

func (s *Sim) addTagsAction(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	tags, e := parseTags(f)
	if e != nil {
		return nil, e
	}
	if len(tags) == 0 {
		return nil, errorf(codeValidation, "At least one tag must be specified")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	arns, e := s.resourceArns(f)
	if e != nil {
		return nil, e
	}
	// Check every resource first so that a quota error leaves all of them unchanged.
	for _, arn := range arns {
		if n := s.state.tagCountAfter(arn, tags); n > maxTagsPerResource {
			return nil, errorf(codeTooManyTags, "Resource '%s' would have %d tags; the limit is %d", arn, n, maxTagsPerResource)
		}
	}
	for _, arn := range arns {
		_ = s.state.addTags(arn, tags)
	}
	return nil, nil
}

func (s *Sim) removeTags(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	keys := f.list("TagKeys")
	if len(keys) == 0 {
		return nil, errorf(codeValidation, "At least one tag key must be specified")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	arns, e := s.resourceArns(f)
	if e != nil {
		return nil, e
	}
	for _, arn := range arns {
		for _, k := range keys {
			delete(s.state.tags[arn], k)
		}
	}
	return nil, nil
}

func (s *Sim) describeTags(_ context.Context, f form, _ *http.Request) (any, *apiError) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	arns, e := s.resourceArns(f)
	if e != nil {
		return nil, e
	}
	var res tagsResult
	for _, arn := range arns {
		res.TagDescriptions = append(res.TagDescriptions, xTagDescription{ResourceArn: arn, Tags: s.state.sortedTags(arn)})
	}
	return res, nil
}
