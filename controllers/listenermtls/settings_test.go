package listenermtls

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
)

const (
	tsARN   = "arn:aws:elasticloadbalancing:us-east-1:123456789012:truststore/ts/0123456789abcdef"
	tsARN2  = "arn:aws:elasticloadbalancing:us-east-1:123456789012:truststore/other/0123456789abcdef"
	lbARN   = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/demo/0123456789abcdef"
	lisARN  = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/demo/0123456789abcdef/fedcba9876543210"
	lisARN2 = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/demo/0123456789abcdef/aaaaaaaaaaaaaaaa"
)

func TestDesiredSettings(t *testing.T) {
	tests := map[string]struct {
		spec mtlsv1alpha1.ListenerMTLSSpec
		ts   string
		want mtlsv1alpha1.AppliedSettings
	}{
		"verify with defaults": {
			spec: mtlsv1alpha1.ListenerMTLSSpec{Mode: mtlsv1alpha1.ModeVerify, TrustStoreARN: tsARN},
			ts:   tsARN,
			want: mtlsv1alpha1.AppliedSettings{Mode: "verify", TrustStoreARN: tsARN, AdvertiseTrustStoreCaNames: "off"},
		},
		"verify ignoring expiry and advertising CA names": {
			spec: mtlsv1alpha1.ListenerMTLSSpec{Mode: mtlsv1alpha1.ModeVerify, IgnoreClientCertificateExpiry: true, AdvertiseTrustStoreCaNames: true},
			ts:   tsARN,
			want: mtlsv1alpha1.AppliedSettings{Mode: "verify", TrustStoreARN: tsARN, IgnoreClientCertificateExpiry: true, AdvertiseTrustStoreCaNames: "on"},
		},
		"passthrough carries no verify fields": {
			spec: mtlsv1alpha1.ListenerMTLSSpec{Mode: mtlsv1alpha1.ModePassthrough},
			ts:   tsARN,
			want: mtlsv1alpha1.AppliedSettings{Mode: "passthrough"},
		},
		"off": {
			spec: mtlsv1alpha1.ListenerMTLSSpec{Mode: mtlsv1alpha1.ModeOff},
			want: mtlsv1alpha1.AppliedSettings{Mode: "off"},
		},
		"header names become attribute keys, empty ones are left out": {
			spec: mtlsv1alpha1.ListenerMTLSSpec{Mode: mtlsv1alpha1.ModePassthrough, HeaderNames: &mtlsv1alpha1.HeaderNames{ClientCert: "X-Chain", Leaf: "X-Leaf"}},
			want: mtlsv1alpha1.AppliedSettings{Mode: "passthrough", HeaderNames: map[string]string{AttrHeaderClientCert: "X-Chain", AttrHeaderLeaf: "X-Leaf"}},
		},
		"all-empty header names are no header names": {
			spec: mtlsv1alpha1.ListenerMTLSSpec{Mode: mtlsv1alpha1.ModeOff, HeaderNames: &mtlsv1alpha1.HeaderNames{}},
			want: mtlsv1alpha1.AppliedSettings{Mode: "off"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := desiredSettings(tc.spec, tc.ts)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("desiredSettings() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCurrentSettings(t *testing.T) {
	tests := map[string]struct {
		ma      *elbtypes.MutualAuthenticationAttributes
		attrs   []elbtypes.ListenerAttribute
		managed []string
		want    mtlsv1alpha1.AppliedSettings
	}{
		"no mutual authentication reads as off": {
			want: mtlsv1alpha1.AppliedSettings{Mode: "off"},
		},
		"verify drops the association status": {
			ma: &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: aws.String(tsARN),
				IgnoreClientCertificateExpiry: aws.Bool(true), AdvertiseTrustStoreCaNames: elbtypes.AdvertiseTrustStoreCaNamesEnumOn,
				TrustStoreAssociationStatus: elbtypes.TrustStoreAssociationStatusEnumActive},
			want: mtlsv1alpha1.AppliedSettings{Mode: "verify", TrustStoreARN: tsARN, IgnoreClientCertificateExpiry: true, AdvertiseTrustStoreCaNames: "on"},
		},
		"verify without advertise reads as off": {
			ma:   &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: aws.String(tsARN)},
			want: mtlsv1alpha1.AppliedSettings{Mode: "verify", TrustStoreARN: tsARN, AdvertiseTrustStoreCaNames: "off"},
		},
		"passthrough ignores leftover verify fields": {
			ma:   &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("passthrough"), IgnoreClientCertificateExpiry: aws.Bool(false), AdvertiseTrustStoreCaNames: "off"},
			want: mtlsv1alpha1.AppliedSettings{Mode: "passthrough"},
		},
		"only managed attributes are read, missing ones are ALB's default": {
			ma: &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("off")},
			attrs: []elbtypes.ListenerAttribute{
				{Key: aws.String(AttrHeaderLeaf), Value: aws.String("X-Leaf")},
				{Key: aws.String("routing.http.response.server.enabled"), Value: aws.String("true")},
			},
			managed: []string{AttrHeaderLeaf, AttrHeaderIssuer},
			want: mtlsv1alpha1.AppliedSettings{Mode: "off", HeaderNames: map[string]string{
				AttrHeaderLeaf: "X-Leaf", AttrHeaderIssuer: "X-Amzn-Mtls-Clientcert-Issuer"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := currentSettings(elbtypes.Listener{MutualAuthentication: tc.ma}, tc.attrs, tc.managed)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("currentSettings() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestAttributeTargets(t *testing.T) {
	tests := map[string]struct {
		desired, previous, want map[string]string
	}{
		"nothing renamed, nothing managed": {},
		"spec renames": {
			desired: map[string]string{AttrHeaderLeaf: "X-Leaf"},
			want:    map[string]string{AttrHeaderLeaf: "X-Leaf"},
		},
		"a rename removed from the spec goes back to ALB's default": {
			desired:  map[string]string{AttrHeaderLeaf: "X-Leaf"},
			previous: map[string]string{AttrHeaderLeaf: "X-Old", AttrHeaderSubject: "X-Subj"},
			want:     map[string]string{AttrHeaderLeaf: "X-Leaf", AttrHeaderSubject: "X-Amzn-Mtls-Clientcert-Subject"},
		},
		"all renames removed": {
			previous: map[string]string{AttrHeaderClientCert: "X-Chain"},
			want:     map[string]string{AttrHeaderClientCert: "X-Amzn-Mtls-Clientcert"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := attributeTargets(tc.desired, tc.previous)
			if len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("attributeTargets() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDiffSettings(t *testing.T) {
	verify := mtlsv1alpha1.AppliedSettings{Mode: "verify", TrustStoreARN: tsARN, AdvertiseTrustStoreCaNames: "off"}
	tests := map[string]struct {
		current, desired mtlsv1alpha1.AppliedSettings
		targets          map[string]string
		want             []string
		listener, attrs  bool
	}{
		"equal verify is no change": {current: verify, desired: verify},
		"off to verify changes the mode and the verify fields": {
			current:  mtlsv1alpha1.AppliedSettings{Mode: "off"},
			desired:  verify,
			want:     []string{"mode", "trustStoreArn", "advertiseTrustStoreCaNames"},
			listener: true,
		},
		"another trust store": {
			current:  verify,
			desired:  mtlsv1alpha1.AppliedSettings{Mode: "verify", TrustStoreARN: tsARN2, AdvertiseTrustStoreCaNames: "off"},
			want:     []string{"trustStoreArn"},
			listener: true,
		},
		"expiry and advertise flags": {
			current:  verify,
			desired:  mtlsv1alpha1.AppliedSettings{Mode: "verify", TrustStoreARN: tsARN, IgnoreClientCertificateExpiry: true, AdvertiseTrustStoreCaNames: "on"},
			want:     []string{"ignoreClientCertificateExpiry", "advertiseTrustStoreCaNames"},
			listener: true,
		},
		"verify to passthrough changes only the mode": {
			current:  verify,
			desired:  mtlsv1alpha1.AppliedSettings{Mode: "passthrough"},
			want:     []string{"mode"},
			listener: true,
		},
		"a renamed header only": {
			current: mtlsv1alpha1.AppliedSettings{Mode: "passthrough", HeaderNames: map[string]string{AttrHeaderClientCert: "X-Amzn-Mtls-Clientcert"}},
			desired: mtlsv1alpha1.AppliedSettings{Mode: "passthrough", HeaderNames: map[string]string{AttrHeaderClientCert: "X-Chain"}},
			targets: map[string]string{AttrHeaderClientCert: "X-Chain"},
			want:    []string{AttrHeaderClientCert},
			attrs:   true,
		},
		"attributes outside the targets are not compared": {
			current: mtlsv1alpha1.AppliedSettings{Mode: "off", HeaderNames: map[string]string{AttrHeaderLeaf: "X-Someone-Else"}},
			desired: mtlsv1alpha1.AppliedSettings{Mode: "off"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			changes := diffSettings(tc.current, tc.desired, tc.targets)
			var fields []string
			for _, c := range changes {
				fields = append(fields, c.Field)
			}
			if !reflect.DeepEqual(fields, tc.want) {
				t.Errorf("changed fields = %v, want %v", fields, tc.want)
			}
			if l, a := splitChanges(changes); l != tc.listener || a != tc.attrs {
				t.Errorf("splitChanges() = %v, %v; want %v, %v", l, a, tc.listener, tc.attrs)
			}
		})
	}
}

func TestIsDrift(t *testing.T) {
	desired := mtlsv1alpha1.AppliedSettings{Mode: "verify", TrustStoreARN: tsARN, AdvertiseTrustStoreCaNames: "off"}
	changes := []Change{{Field: "mode", From: "off", To: "verify"}}
	listener := &mtlsv1alpha1.ResolvedListener{ARN: lisARN}
	tests := map[string]struct {
		status  mtlsv1alpha1.ListenerMTLSStatus
		arn     string
		changes []Change
		want    bool
	}{
		"applied matches the spec and the listener differs": {
			status: mtlsv1alpha1.ListenerMTLSStatus{Listener: listener, Applied: &desired}, arn: lisARN, changes: changes, want: true,
		},
		"nothing differs": {
			status: mtlsv1alpha1.ListenerMTLSStatus{Listener: listener, Applied: &desired}, arn: lisARN,
		},
		"first apply": {
			status: mtlsv1alpha1.ListenerMTLSStatus{}, arn: lisARN, changes: changes,
		},
		"new spec": {
			status: mtlsv1alpha1.ListenerMTLSStatus{Listener: listener, Applied: &mtlsv1alpha1.AppliedSettings{Mode: "passthrough"}}, arn: lisARN, changes: changes,
		},
		"spec now points at another listener": {
			status: mtlsv1alpha1.ListenerMTLSStatus{Listener: listener, Applied: &desired}, arn: lisARN2, changes: changes,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := isDrift(tc.status, tc.arn, desired, tc.changes); got != tc.want {
				t.Errorf("isDrift() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMutualAuthenticationInput(t *testing.T) {
	tests := map[string]struct {
		in   mtlsv1alpha1.AppliedSettings
		want elbtypes.MutualAuthenticationAttributes
	}{
		"off sends only the mode": {
			in:   mtlsv1alpha1.AppliedSettings{Mode: "off"},
			want: elbtypes.MutualAuthenticationAttributes{Mode: aws.String("off")},
		},
		"passthrough sends only the mode": {
			in:   mtlsv1alpha1.AppliedSettings{Mode: "passthrough"},
			want: elbtypes.MutualAuthenticationAttributes{Mode: aws.String("passthrough")},
		},
		"verify sends every verify field": {
			in: mtlsv1alpha1.AppliedSettings{Mode: "verify", TrustStoreARN: tsARN, AdvertiseTrustStoreCaNames: "on"},
			want: elbtypes.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: aws.String(tsARN),
				IgnoreClientCertificateExpiry: aws.Bool(false), AdvertiseTrustStoreCaNames: elbtypes.AdvertiseTrustStoreCaNamesEnumOn},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := mutualAuthenticationInput(tc.in); !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("mutualAuthenticationInput() = %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestMatchesRef(t *testing.T) {
	tests := map[string]struct {
		ref  *mtlsv1alpha1.LoadBalancerRef
		lb   string
		port int32
		want bool
	}{
		"by name":             {ref: &mtlsv1alpha1.LoadBalancerRef{Name: "demo", Port: 443}, lb: lbARN, port: 443, want: true},
		"by name, other lb":   {ref: &mtlsv1alpha1.LoadBalancerRef{Name: "dem", Port: 443}, lb: lbARN, port: 443},
		"by name, other port": {ref: &mtlsv1alpha1.LoadBalancerRef{Name: "demo", Port: 8443}, lb: lbARN, port: 443},
		"by ARN":              {ref: &mtlsv1alpha1.LoadBalancerRef{ARN: lbARN, Port: 443}, lb: lbARN, port: 443, want: true},
		"no ref":              {lb: lbARN, port: 443},
		"malformed ARN":       {ref: &mtlsv1alpha1.LoadBalancerRef{Name: "demo", Port: 443}, lb: "arn:demo", port: 443},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := matchesRef(tc.ref, tc.lb, tc.port); got != tc.want {
				t.Errorf("matchesRef() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClassifyELB(t *testing.T) {
	tests := map[string]struct {
		err    error
		reason string
		kind   problemKind
	}{
		"throttling is transient":            {err: &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}, reason: mtlsv1alpha1.ReasonThrottled, kind: transient},
		"listener not found":                 {err: &elbtypes.ListenerNotFoundException{}, reason: mtlsv1alpha1.ReasonListenerNotFound, kind: userFixable},
		"load balancer not found":            {err: &elbtypes.LoadBalancerNotFoundException{}, reason: mtlsv1alpha1.ReasonLoadBalancerNotFound, kind: userFixable},
		"trust store not found":              {err: &elbtypes.TrustStoreNotFoundException{}, reason: mtlsv1alpha1.ReasonTrustStoreNotFound, kind: userFixable},
		"trust store creating is waited for": {err: &elbtypes.TrustStoreNotReadyException{}, reason: mtlsv1alpha1.ReasonTrustStoreNotReady, kind: waiting},
		"invalid configuration":              {err: &elbtypes.InvalidConfigurationRequestException{}, reason: mtlsv1alpha1.ReasonInvalidConfiguration, kind: userFixable},
		"validation error":                   {err: &smithy.GenericAPIError{Code: "ValidationError"}, reason: mtlsv1alpha1.ReasonInvalidConfiguration, kind: userFixable},
		"server error is transient":          {err: &smithy.GenericAPIError{Code: "InternalFailure"}, reason: mtlsv1alpha1.ReasonAWSError, kind: transient},
		"network error is transient":         {err: errors.New("dial tcp: connection refused"), reason: mtlsv1alpha1.ReasonAWSError, kind: transient},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			wrapped := fmt.Errorf("operation error: %w (RequestID: 7f3e-albsim-req)", tc.err)
			p := classifyELB("ModifyListener", lisARN, wrapped)
			if p.reason != tc.reason || p.kind != tc.kind {
				t.Errorf("classifyELB() = %s/%d, want %s/%d", p.reason, p.kind, tc.reason, tc.kind)
			}
			if containsAny(p.message, "RequestID", "7f3e-albsim-req", "Rate exceeded", "connection refused") {
				t.Errorf("message %q carries raw error text", p.message)
			}
			if !errors.Is(p, tc.err) {
				t.Errorf("problem does not wrap the error")
			}
		})
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestOwns(t *testing.T) {
	at := func(ns, name string, sec int) *mtlsv1alpha1.ListenerMTLS {
		o := &mtlsv1alpha1.ListenerMTLS{}
		o.Namespace, o.Name = ns, name
		o.CreationTimestamp = metav1.NewTime(time.Unix(int64(sec), 0))
		return o
	}
	tests := map[string]struct {
		a, b *mtlsv1alpha1.ListenerMTLS
		want bool
	}{
		"older wins":                       {a: at("x", "b", 1), b: at("x", "a", 2), want: true},
		"newer loses":                      {a: at("x", "a", 2), b: at("x", "b", 1)},
		"same second: namespace/name wins": {a: at("a", "z", 1), b: at("b", "a", 1), want: true},
		"same second: and not both ways":   {a: at("b", "a", 1), b: at("a", "z", 1)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := owns(tc.a, tc.b); got != tc.want {
				t.Errorf("owns() = %v, want %v", got, tc.want)
			}
		})
	}
}
