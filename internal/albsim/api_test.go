package albsim_test

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	smithy "github.com/aws/smithy-go"
)

// wantErr fails unless err is (or wraps) the SDK's typed exception T.
func wantErr[T error](t *testing.T, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("got error %v, want %T", err, target)
	}
	return target
}

// wantCode fails unless err is an API error with the given wire code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != code {
		t.Fatalf("got error %v, want API error code %s", err, code)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// fixture creates a load balancer and a target group.
func (e *env) lbAndTG(name string) (lbArn, tgArn string) {
	e.t.Helper()
	lb := must[*elbv2.CreateLoadBalancerOutput](e.t)(e.elb.CreateLoadBalancer(e.ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String(name)}))
	tg := must[*elbv2.CreateTargetGroupOutput](e.t)(e.elb.CreateTargetGroup(e.ctx, &elbv2.CreateTargetGroupInput{
		Name: aws.String(name + "-tg"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String("vpc-1"), TargetType: types.TargetTypeEnumIp,
	}))
	return aws.ToString(lb.LoadBalancers[0].LoadBalancerArn), aws.ToString(tg.TargetGroups[0].TargetGroupArn)
}

func (e *env) httpsListener(lbArn, tgArn string, port int32, ma *types.MutualAuthenticationAttributes) (*elbv2.CreateListenerOutput, error) {
	return e.elb.CreateListener(e.ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn:      aws.String(lbArn),
		Protocol:             types.ProtocolEnumHttps,
		Port:                 aws.Int32(port),
		Certificates:         []types.Certificate{{CertificateArn: aws.String("arn:aws:acm:eu-west-1:111122223333:certificate/test")}},
		DefaultActions:       []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgArn)}},
		MutualAuthentication: ma,
	})
}

// trustStore uploads bundle and creates a trust store from it.
func (e *env) trustStore(name string, bundle []byte) types.TrustStore {
	e.t.Helper()
	v := e.put(name+"/bundle.pem", bundle)
	out := must[*elbv2.CreateTrustStoreOutput](e.t)(e.elb.CreateTrustStore(e.ctx, &elbv2.CreateTrustStoreInput{
		Name: aws.String(name), CaCertificatesBundleS3Bucket: aws.String(e.bucket),
		CaCertificatesBundleS3Key: aws.String(name + "/bundle.pem"), CaCertificatesBundleS3ObjectVersion: aws.String(v),
	}))
	return out.TrustStores[0]
}

func TestLoadBalancers(t *testing.T) {
	e := newEnv(t)
	out := must[*elbv2.CreateLoadBalancerOutput](t)(e.elb.CreateLoadBalancer(e.ctx, &elbv2.CreateLoadBalancerInput{
		Name: aws.String("web"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("platform")}},
	}))
	lb := out.LoadBalancers[0]
	arn := aws.ToString(lb.LoadBalancerArn)
	if ok, _ := regexpMatch(`^arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web/[0-9a-f]{16}$`, arn); !ok {
		t.Fatalf("load balancer ARN %q is not in AWS's shape", arn)
	}
	if lb.Type != types.LoadBalancerTypeEnumApplication || lb.State == nil || lb.State.Code != types.LoadBalancerStateEnumActive || lb.CreatedTime == nil {
		t.Fatalf("unexpected load balancer %+v", lb)
	}
	again := must[*elbv2.CreateLoadBalancerOutput](t)(e.elb.CreateLoadBalancer(e.ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("web")}))
	if aws.ToString(again.LoadBalancers[0].LoadBalancerArn) != arn {
		t.Fatal("CreateLoadBalancer with the same name and settings must return the existing load balancer")
	}
	byName := must[*elbv2.DescribeLoadBalancersOutput](t)(e.elb.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"web"}}))
	if len(byName.LoadBalancers) != 1 || aws.ToString(byName.LoadBalancers[0].LoadBalancerArn) != arn {
		t.Fatalf("DescribeLoadBalancers by name returned %+v", byName.LoadBalancers)
	}

	errs := map[string]struct {
		call func() error
		code string
	}{
		"describe unknown name": {func() error {
			_, err := e.elb.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"nope"}})
			return err
		}, "LoadBalancerNotFound"},
		"describe unknown arn": {func() error {
			_, err := e.elb.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn + "0"}})
			return err
		}, "LoadBalancerNotFound"},
		"invalid name": {func() error {
			_, err := e.elb.CreateLoadBalancer(e.ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("-bad-")})
			return err
		}, "ValidationError"},
		"same name other scheme": {func() error {
			_, err := e.elb.CreateLoadBalancer(e.ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("web"), Scheme: types.LoadBalancerSchemeEnumInternal})
			return err
		}, "DuplicateLoadBalancerName"},
	}
	for name, tc := range errs {
		t.Run(name, func(t *testing.T) { wantCode(t, tc.call(), tc.code) })
	}
	_, err := e.elb.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"nope"}})
	wantErr[*types.LoadBalancerNotFoundException](t, err)
	_, err = e.elb.CreateLoadBalancer(e.ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("web"), Scheme: types.LoadBalancerSchemeEnumInternal})
	wantErr[*types.DuplicateLoadBalancerNameException](t, err)

	must[*elbv2.DeleteLoadBalancerOutput](t)(e.elb.DeleteLoadBalancer(e.ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(arn)}))
	_, err = e.elb.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}})
	wantErr[*types.LoadBalancerNotFoundException](t, err)
	_, err = e.elb.DeleteLoadBalancer(e.ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(arn)})
	wantErr[*types.LoadBalancerNotFoundException](t, err)
}

func TestTargetGroups(t *testing.T) {
	e := newEnv(t)
	lbArn, tgArn := e.lbAndTG("app")
	if ok, _ := regexpMatch(`^arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/app-tg/[0-9a-f]{16}$`, tgArn); !ok {
		t.Fatalf("target group ARN %q is not in AWS's shape", tgArn)
	}
	_, err := e.elb.CreateTargetGroup(e.ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("app-tg"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), VpcId: aws.String("vpc-1")})
	wantErr[*types.DuplicateTargetGroupNameException](t, err)

	must[*elbv2.RegisterTargetsOutput](t)(e.elb.RegisterTargets(e.ctx, &elbv2.RegisterTargetsInput{
		TargetGroupArn: aws.String(tgArn), Targets: []types.TargetDescription{{Id: aws.String("127.0.0.1"), Port: aws.Int32(9000)}},
	}))
	_, err = e.elb.RegisterTargets(e.ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(tgArn + "0"), Targets: []types.TargetDescription{{Id: aws.String("127.0.0.1")}}})
	wantErr[*types.TargetGroupNotFoundException](t, err)
	_, err = e.elb.DescribeTargetGroups(e.ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{"missing"}})
	wantErr[*types.TargetGroupNotFoundException](t, err)

	port := freePort(t)
	must[*elbv2.CreateListenerOutput](t)(e.httpsListener(lbArn, tgArn, port, nil))
	byLB := must[*elbv2.DescribeTargetGroupsOutput](t)(e.elb.DescribeTargetGroups(e.ctx, &elbv2.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(lbArn)}))
	if len(byLB.TargetGroups) != 1 || len(byLB.TargetGroups[0].LoadBalancerArns) != 1 || byLB.TargetGroups[0].LoadBalancerArns[0] != lbArn {
		t.Fatalf("DescribeTargetGroups by load balancer returned %+v", byLB.TargetGroups)
	}
	_, err = e.elb.DeleteTargetGroup(e.ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: aws.String(tgArn)})
	wantErr[*types.ResourceInUseException](t, err)
	must[*elbv2.DeleteLoadBalancerOutput](t)(e.elb.DeleteLoadBalancer(e.ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(lbArn)}))
	must[*elbv2.DeleteTargetGroupOutput](t)(e.elb.DeleteTargetGroup(e.ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: aws.String(tgArn)}))
	_, err = e.elb.DeleteTargetGroup(e.ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: aws.String(tgArn)})
	wantErr[*types.TargetGroupNotFoundException](t, err)
}

func TestListeners(t *testing.T) {
	e := newEnv(t)
	lbArn, tgArn := e.lbAndTG("lst")
	port := freePort(t)
	created := must[*elbv2.CreateListenerOutput](t)(e.httpsListener(lbArn, tgArn, port, nil))
	l := created.Listeners[0]
	arn := aws.ToString(l.ListenerArn)
	lbID := lbArn[strings.LastIndex(lbArn, "/")+1:]
	if ok, _ := regexpMatch(`^arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/lst/`+lbID+`/[0-9a-f]{16}$`, arn); !ok {
		t.Fatalf("listener ARN %q is not in AWS's shape", arn)
	}
	if l.MutualAuthentication == nil || aws.ToString(l.MutualAuthentication.Mode) != "off" {
		t.Fatalf("a new HTTPS listener must report mutual authentication off, got %+v", l.MutualAuthentication)
	}

	_, err := e.httpsListener(lbArn, tgArn, port, nil)
	wantErr[*types.DuplicateListenerException](t, err)
	_, err = e.httpsListener(lbArn+"0", tgArn, freePort(t), nil)
	wantErr[*types.LoadBalancerNotFoundException](t, err)
	_, err = e.httpsListener(lbArn, tgArn+"0", freePort(t), nil)
	wantErr[*types.TargetGroupNotFoundException](t, err)
	_, err = e.httpsListener(lbArn, tgArn, freePort(t), &types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: aws.String("arn:aws:elasticloadbalancing:eu-west-1:111122223333:truststore/nope/0123456789abcdef")})
	wantErr[*types.TrustStoreNotFoundException](t, err)
	_, err = e.elb.DescribeListeners(e.ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{arn + "0"}})
	wantErr[*types.ListenerNotFoundException](t, err)

	// ModifyListener with only MutualAuthentication keeps port, certificates and actions.
	mod := must[*elbv2.ModifyListenerOutput](t)(e.elb.ModifyListener(e.ctx, &elbv2.ModifyListenerInput{
		ListenerArn: aws.String(arn), MutualAuthentication: &types.MutualAuthenticationAttributes{Mode: aws.String("passthrough")},
	}))
	got := mod.Listeners[0]
	if aws.ToInt32(got.Port) != port || len(got.Certificates) != 1 || len(got.DefaultActions) != 1 ||
		aws.ToString(got.DefaultActions[0].TargetGroupArn) != tgArn || got.Protocol != types.ProtocolEnumHttps || aws.ToString(got.SslPolicy) == "" {
		t.Fatalf("ModifyListener changed fields it was not given: %+v", got)
	}
	// And a modification without MutualAuthentication keeps the mode.
	must[*elbv2.ModifyListenerOutput](t)(e.elb.ModifyListener(e.ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(arn), SslPolicy: aws.String("ELBSecurityPolicy-TLS13-1-2-2021-06")}))
	desc := must[*elbv2.DescribeListenersOutput](t)(e.elb.DescribeListeners(e.ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(lbArn)}))
	if len(desc.Listeners) != 1 || aws.ToString(desc.Listeners[0].MutualAuthentication.Mode) != "passthrough" || aws.ToString(desc.Listeners[0].SslPolicy) != "ELBSecurityPolicy-TLS13-1-2-2021-06" {
		t.Fatalf("DescribeListeners after two partial modifications: %+v", desc.Listeners)
	}
	_, err = e.elb.ModifyListener(e.ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(arn + "0"), MutualAuthentication: &types.MutualAuthenticationAttributes{Mode: aws.String("off")}})
	wantErr[*types.ListenerNotFoundException](t, err)

	// Listener attributes.
	attrs := must[*elbv2.DescribeListenerAttributesOutput](t)(e.elb.DescribeListenerAttributes(e.ctx, &elbv2.DescribeListenerAttributesInput{ListenerArn: aws.String(arn)}))
	if v := attrValue(attrs.Attributes, "routing.http.request.x_amzn_mtls_clientcert_serial_number.header_name"); v != "X-Amzn-Mtls-Clientcert-Serial-Number" {
		t.Fatalf("default serial header name = %q", v)
	}
	must[*elbv2.ModifyListenerAttributesOutput](t)(e.elb.ModifyListenerAttributes(e.ctx, &elbv2.ModifyListenerAttributesInput{
		ListenerArn: aws.String(arn),
		Attributes:  []types.ListenerAttribute{{Key: aws.String("routing.http.request.x_amzn_mtls_clientcert.header_name"), Value: aws.String("X-Client-Chain")}},
	}))
	attrs = must[*elbv2.DescribeListenerAttributesOutput](t)(e.elb.DescribeListenerAttributes(e.ctx, &elbv2.DescribeListenerAttributesInput{ListenerArn: aws.String(arn)}))
	if v := attrValue(attrs.Attributes, "routing.http.request.x_amzn_mtls_clientcert.header_name"); v != "X-Client-Chain" {
		t.Fatalf("renamed header = %q", v)
	}
	_, err = e.elb.ModifyListenerAttributes(e.ctx, &elbv2.ModifyListenerAttributesInput{
		ListenerArn: aws.String(arn), Attributes: []types.ListenerAttribute{{Key: aws.String("no.such.attribute"), Value: aws.String("x")}},
	})
	wantCode(t, err, "ValidationError")
	_, err = e.elb.DescribeListenerAttributes(e.ctx, &elbv2.DescribeListenerAttributesInput{ListenerArn: aws.String(arn + "0")})
	wantErr[*types.ListenerNotFoundException](t, err)

	must[*elbv2.DeleteListenerOutput](t)(e.elb.DeleteListener(e.ctx, &elbv2.DeleteListenerInput{ListenerArn: aws.String(arn)}))
	_, err = e.elb.DeleteListener(e.ctx, &elbv2.DeleteListenerInput{ListenerArn: aws.String(arn)})
	wantErr[*types.ListenerNotFoundException](t, err)
}

func attrValue(attrs []types.ListenerAttribute, key string) string {
	for _, a := range attrs {
		if aws.ToString(a.Key) == key {
			return aws.ToString(a.Value)
		}
	}
	return ""
}

func TestTrustStoreLifecycle(t *testing.T) {
	e := newEnv(t)
	ca := newCA(t, "Lifecycle CA")
	e.sim.SetTrustStoreActivationDelay(time.Hour)
	ts := e.trustStore("lifecycle", ca.pem)
	arn := aws.ToString(ts.TrustStoreArn)
	if ok, _ := regexpMatch(`^arn:aws:elasticloadbalancing:eu-west-1:111122223333:truststore/lifecycle/[0-9a-f]{16}$`, arn); !ok {
		t.Fatalf("trust store ARN %q is not in AWS's shape", arn)
	}
	if ts.Status != types.TrustStoreStatusCreating || aws.ToInt32(ts.NumberOfCaCertificates) != 1 {
		t.Fatalf("new trust store: %+v", ts)
	}

	lbArn, tgArn := e.lbAndTG("lc")
	verify := &types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: aws.String(arn)}
	_, err := e.httpsListener(lbArn, tgArn, freePort(t), verify)
	wantErr[*types.TrustStoreNotReadyException](t, err)

	e.sim.ActivateTrustStores()
	desc := must[*elbv2.DescribeTrustStoresOutput](t)(e.elb.DescribeTrustStores(e.ctx, &elbv2.DescribeTrustStoresInput{TrustStoreArns: []string{arn}}))
	if desc.TrustStores[0].Status != types.TrustStoreStatusActive {
		t.Fatalf("status after activation = %s", desc.TrustStores[0].Status)
	}
	l := must[*elbv2.CreateListenerOutput](t)(e.httpsListener(lbArn, tgArn, freePort(t), verify)).Listeners[0]
	if ma := l.MutualAuthentication; aws.ToString(ma.Mode) != "verify" || aws.ToString(ma.TrustStoreArn) != arn || aws.ToBool(ma.IgnoreClientCertificateExpiry) ||
		ma.TrustStoreAssociationStatus != types.TrustStoreAssociationStatusEnumActive || ma.AdvertiseTrustStoreCaNames != types.AdvertiseTrustStoreCaNamesEnumOff {
		t.Fatalf("verify listener reports %+v", ma)
	}

	assoc := must[*elbv2.DescribeTrustStoreAssociationsOutput](t)(e.elb.DescribeTrustStoreAssociations(e.ctx, &elbv2.DescribeTrustStoreAssociationsInput{TrustStoreArn: aws.String(arn)}))
	if len(assoc.TrustStoreAssociations) != 1 || aws.ToString(assoc.TrustStoreAssociations[0].ResourceArn) != lbArn {
		t.Fatalf("associations = %+v", assoc.TrustStoreAssociations)
	}
	_, err = e.elb.DeleteSharedTrustStoreAssociation(e.ctx, &elbv2.DeleteSharedTrustStoreAssociationInput{TrustStoreArn: aws.String(arn), ResourceArn: aws.String(lbArn + "0")})
	wantErr[*types.TrustStoreAssociationNotFoundException](t, err)
	_, err = e.elb.DeleteSharedTrustStoreAssociation(e.ctx, &elbv2.DeleteSharedTrustStoreAssociationInput{TrustStoreArn: aws.String(arn), ResourceArn: aws.String(lbArn)})
	wantErr[*types.DeleteAssociationSameAccountException](t, err)

	_, err = e.elb.DeleteTrustStore(e.ctx, &elbv2.DeleteTrustStoreInput{TrustStoreArn: aws.String(arn)})
	wantErr[*types.TrustStoreInUseException](t, err)

	// The bundle is a snapshot: overwriting the S3 object changes nothing until ModifyTrustStore.
	ca2 := newCA(t, "Second CA")
	e.put("lifecycle/bundle.pem", append(append([]byte{}, ca.pem...), ca2.pem...))
	loc := must[*elbv2.GetTrustStoreCaCertificatesBundleOutput](t)(e.elb.GetTrustStoreCaCertificatesBundle(e.ctx, &elbv2.GetTrustStoreCaCertificatesBundleInput{TrustStoreArn: aws.String(arn)}))
	if got := httpGet(t, aws.ToString(loc.Location)); got != string(ca.pem) {
		t.Fatalf("bundle location served %q, want the original bundle", got)
	}
	must[*elbv2.ModifyTrustStoreOutput](t)(e.elb.ModifyTrustStore(e.ctx, &elbv2.ModifyTrustStoreInput{
		TrustStoreArn: aws.String(arn), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("lifecycle/bundle.pem"),
	}))
	desc = must[*elbv2.DescribeTrustStoresOutput](t)(e.elb.DescribeTrustStores(e.ctx, &elbv2.DescribeTrustStoresInput{Names: []string{"lifecycle"}}))
	if aws.ToInt32(desc.TrustStores[0].NumberOfCaCertificates) != 2 {
		t.Fatalf("after ModifyTrustStore the store holds %d CA certificates, want 2", aws.ToInt32(desc.TrustStores[0].NumberOfCaCertificates))
	}

	// Mode=off releases the store; then it can be deleted.
	must[*elbv2.ModifyListenerOutput](t)(e.elb.ModifyListener(e.ctx, &elbv2.ModifyListenerInput{ListenerArn: l.ListenerArn, MutualAuthentication: &types.MutualAuthenticationAttributes{Mode: aws.String("off")}}))
	must[*elbv2.DeleteTrustStoreOutput](t)(e.elb.DeleteTrustStore(e.ctx, &elbv2.DeleteTrustStoreInput{TrustStoreArn: aws.String(arn)}))

	notFound := map[string]func() error{
		"describe": func() error {
			_, err := e.elb.DescribeTrustStores(e.ctx, &elbv2.DescribeTrustStoresInput{TrustStoreArns: []string{arn}})
			return err
		},
		"describe by name": func() error {
			_, err := e.elb.DescribeTrustStores(e.ctx, &elbv2.DescribeTrustStoresInput{Names: []string{"lifecycle"}})
			return err
		},
		"modify": func() error {
			_, err := e.elb.ModifyTrustStore(e.ctx, &elbv2.ModifyTrustStoreInput{TrustStoreArn: aws.String(arn), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("lifecycle/bundle.pem")})
			return err
		},
		"delete": func() error {
			_, err := e.elb.DeleteTrustStore(e.ctx, &elbv2.DeleteTrustStoreInput{TrustStoreArn: aws.String(arn)})
			return err
		},
		"associations": func() error {
			_, err := e.elb.DescribeTrustStoreAssociations(e.ctx, &elbv2.DescribeTrustStoreAssociationsInput{TrustStoreArn: aws.String(arn)})
			return err
		},
		"bundle": func() error {
			_, err := e.elb.GetTrustStoreCaCertificatesBundle(e.ctx, &elbv2.GetTrustStoreCaCertificatesBundleInput{TrustStoreArn: aws.String(arn)})
			return err
		},
		"revocations": func() error {
			_, err := e.elb.DescribeTrustStoreRevocations(e.ctx, &elbv2.DescribeTrustStoreRevocationsInput{TrustStoreArn: aws.String(arn)})
			return err
		},
	}
	for name, call := range notFound {
		t.Run("deleted store "+name, func(t *testing.T) { wantErr[*types.TrustStoreNotFoundException](t, call()) })
	}
}

func TestCreateTrustStoreErrors(t *testing.T) {
	e := newEnv(t)
	ca := newCA(t, "Errors CA")
	e.trustStore("taken", ca.pem)
	version := e.put("ok.pem", ca.pem)
	leafOnly, leaf := ca.issue(t, "not a CA", leafOpts{})
	_ = leafOnly
	var many []byte
	for i := 0; i < 26; i++ {
		many = append(many, newCA(t, fmt.Sprintf("CA %d", i)).pem...)
	}
	bundles := map[string][]byte{
		"garbage":             []byte("hello\n"),
		"empty":               []byte(""),
		"blank line":          append(append(append([]byte{}, ca.pem...), '\n'), newCA(t, "Other").pem...),
		"comment with hyphen": append([]byte("# my-ca\n"), ca.pem...),
		"not a CA":            pemCert(leaf),
		"ed25519 key":         ed25519CA(t).pem,
		"26 certificates":     many,
		"private key block":   append(append([]byte{}, ca.pem...), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")...),
	}
	for name, body := range bundles {
		t.Run("invalid bundle "+name, func(t *testing.T) {
			key := "bad/" + strings.ReplaceAll(name, " ", "-") + ".pem"
			e.put(key, body)
			_, err := e.elb.CreateTrustStore(e.ctx, &elbv2.CreateTrustStoreInput{Name: aws.String("bad"), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String(key)})
			wantErr[*types.InvalidCaCertificatesBundleException](t, err)
		})
	}
	t.Run("comment without hyphen is fine", func(t *testing.T) {
		e.put("commented.pem", append([]byte("# corporate root CA\n"), ca.pem...))
		_, err := e.elb.CreateTrustStore(e.ctx, &elbv2.CreateTrustStoreInput{Name: aws.String("commented"), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("commented.pem")})
		if err != nil {
			t.Fatal(err)
		}
	})

	cases := map[string]struct {
		in   elbv2.CreateTrustStoreInput
		code string
	}{
		"duplicate name":  {elbv2.CreateTrustStoreInput{Name: aws.String("taken"), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("ok.pem")}, "DuplicateTrustStoreName"},
		"name pattern":    {elbv2.CreateTrustStoreInput{Name: aws.String("bad--name"), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("ok.pem")}, "ValidationError"},
		"name too long":   {elbv2.CreateTrustStoreInput{Name: aws.String(strings.Repeat("a", 33)), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("ok.pem")}, "ValidationError"},
		"missing key":     {elbv2.CreateTrustStoreInput{Name: aws.String("nokey"), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("absent.pem")}, "CaCertificatesBundleNotFound"},
		"missing bucket":  {elbv2.CreateTrustStoreInput{Name: aws.String("nobucket"), CaCertificatesBundleS3Bucket: aws.String("no-such-bucket-here"), CaCertificatesBundleS3Key: aws.String("ok.pem")}, "CaCertificatesBundleNotFound"},
		"unknown version": {elbv2.CreateTrustStoreInput{Name: aws.String("noversion"), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("ok.pem"), CaCertificatesBundleS3ObjectVersion: aws.String("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo")}, "CaCertificatesBundleNotFound"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := e.elb.CreateTrustStore(e.ctx, &tc.in)
			wantCode(t, err, tc.code)
		})
	}
	_, err := e.elb.CreateTrustStore(e.ctx, &elbv2.CreateTrustStoreInput{Name: aws.String("taken"), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("ok.pem")})
	wantErr[*types.DuplicateTrustStoreNameException](t, err)
	_, err = e.elb.CreateTrustStore(e.ctx, &elbv2.CreateTrustStoreInput{Name: aws.String("nokey"), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("absent.pem")})
	wantErr[*types.CaCertificatesBundleNotFoundException](t, err)

	t.Run("quota of 20 trust stores", func(t *testing.T) {
		have := len(must[*elbv2.DescribeTrustStoresOutput](t)(e.elb.DescribeTrustStores(e.ctx, &elbv2.DescribeTrustStoresInput{})).TrustStores)
		for i := have; i < 20; i++ {
			must[*elbv2.CreateTrustStoreOutput](t)(e.elb.CreateTrustStore(e.ctx, &elbv2.CreateTrustStoreInput{
				Name: aws.String(fmt.Sprintf("quota-%d", i)), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("ok.pem"), CaCertificatesBundleS3ObjectVersion: aws.String(version),
			}))
		}
		_, err := e.elb.CreateTrustStore(e.ctx, &elbv2.CreateTrustStoreInput{Name: aws.String("one-too-many"), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("ok.pem")})
		wantErr[*types.TooManyTrustStoresException](t, err)
	})
}

// TestBundleObjectVersion proves the store is read at the requested object version, not the latest.
func TestBundleObjectVersion(t *testing.T) {
	e := newEnv(t)
	ca1, ca2 := newCA(t, "Version one"), newCA(t, "Version two")
	v1 := e.put("v.pem", ca1.pem)
	e.put("v.pem", append(append([]byte{}, ca1.pem...), ca2.pem...))
	out := must[*elbv2.CreateTrustStoreOutput](t)(e.elb.CreateTrustStore(e.ctx, &elbv2.CreateTrustStoreInput{
		Name: aws.String("versioned"), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("v.pem"), CaCertificatesBundleS3ObjectVersion: aws.String(v1),
	}))
	if n := aws.ToInt32(out.TrustStores[0].NumberOfCaCertificates); n != 1 {
		t.Fatalf("store made from version %s holds %d certificates, want 1", v1, n)
	}
	latest := must[*elbv2.CreateTrustStoreOutput](t)(e.elb.CreateTrustStore(e.ctx, &elbv2.CreateTrustStoreInput{
		Name: aws.String("latest"), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("v.pem"),
	}))
	if n := aws.ToInt32(latest.TrustStores[0].NumberOfCaCertificates); n != 2 {
		t.Fatalf("store made from the latest version holds %d certificates, want 2", n)
	}
}

func TestDescribeTrustStoresPagination(t *testing.T) {
	e := newEnv(t)
	ca := newCA(t, "Paging CA")
	var want []string
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("page-%d", i)
		e.trustStore(name, ca.pem)
		want = append(want, name)
	}
	var got []string
	pages := 0
	p := elbv2.NewDescribeTrustStoresPaginator(e.elb, &elbv2.DescribeTrustStoresInput{PageSize: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(out.TrustStores) > 2 {
			t.Fatalf("page of %d items with PageSize 2", len(out.TrustStores))
		}
		for _, ts := range out.TrustStores {
			got = append(got, aws.ToString(ts.Name))
		}
	}
	sort.Strings(got)
	if pages != 3 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %d pages with %v, want 3 pages with %v", pages, got, want)
	}
	for _, size := range []int32{0, 401} {
		_, err := e.elb.DescribeTrustStores(e.ctx, &elbv2.DescribeTrustStoresInput{PageSize: aws.Int32(size)})
		wantCode(t, err, "ValidationError")
	}
	_, err := e.elb.DescribeTrustStores(e.ctx, &elbv2.DescribeTrustStoresInput{Marker: aws.String("not-a-marker!")})
	wantCode(t, err, "ValidationError")
}

func TestRevocations(t *testing.T) {
	e := newEnv(t)
	ca, other := newCA(t, "Revoking CA"), newCA(t, "Foreign CA")
	ts := e.trustStore("revocations", ca.pem)
	arn := ts.TrustStoreArn
	_, a := ca.issue(t, "a", leafOpts{})
	_, b := ca.issue(t, "b", leafOpts{})
	e.put("crl1.pem", ca.crl(t, a.SerialNumber))
	e.put("crl2.pem", ca.crl(t, a.SerialNumber, b.SerialNumber))
	add := func(key string) (*elbv2.AddTrustStoreRevocationsOutput, error) {
		return e.elb.AddTrustStoreRevocations(e.ctx, &elbv2.AddTrustStoreRevocationsInput{
			TrustStoreArn: arn, RevocationContents: []types.RevocationContent{{S3Bucket: aws.String(e.bucket), S3Key: aws.String(key), RevocationType: types.RevocationTypeCrl}},
		})
	}
	r1 := must[*elbv2.AddTrustStoreRevocationsOutput](t)(add("crl1.pem")).TrustStoreRevocations[0]
	r2 := must[*elbv2.AddTrustStoreRevocationsOutput](t)(add("crl2.pem")).TrustStoreRevocations[0]
	if aws.ToInt64(r1.NumberOfRevokedEntries) != 1 || aws.ToInt64(r2.NumberOfRevokedEntries) != 2 || aws.ToInt64(r2.RevocationId) <= aws.ToInt64(r1.RevocationId) {
		t.Fatalf("revocations %+v and %+v", r1, r2)
	}
	desc := must[*elbv2.DescribeTrustStoresOutput](t)(e.elb.DescribeTrustStores(e.ctx, &elbv2.DescribeTrustStoresInput{TrustStoreArns: []string{*arn}}))
	if aws.ToInt64(desc.TrustStores[0].TotalRevokedEntries) != 3 {
		t.Fatalf("TotalRevokedEntries = %d, want 3", aws.ToInt64(desc.TrustStores[0].TotalRevokedEntries))
	}
	filtered := must[*elbv2.DescribeTrustStoreRevocationsOutput](t)(e.elb.DescribeTrustStoreRevocations(e.ctx, &elbv2.DescribeTrustStoreRevocationsInput{TrustStoreArn: arn, RevocationIds: []int64{aws.ToInt64(r2.RevocationId)}}))
	if len(filtered.TrustStoreRevocations) != 1 || aws.ToInt64(filtered.TrustStoreRevocations[0].RevocationId) != aws.ToInt64(r2.RevocationId) {
		t.Fatalf("filtered revocations = %+v", filtered.TrustStoreRevocations)
	}
	content := must[*elbv2.GetTrustStoreRevocationContentOutput](t)(e.elb.GetTrustStoreRevocationContent(e.ctx, &elbv2.GetTrustStoreRevocationContentInput{TrustStoreArn: arn, RevocationId: r1.RevocationId}))
	if got := httpGet(t, aws.ToString(content.Location)); !strings.Contains(got, "BEGIN X509 CRL") {
		t.Fatalf("revocation content location served %q", got)
	}

	// IDs only grow: after removing the newest, the next one is still larger.
	must[*elbv2.RemoveTrustStoreRevocationsOutput](t)(e.elb.RemoveTrustStoreRevocations(e.ctx, &elbv2.RemoveTrustStoreRevocationsInput{TrustStoreArn: arn, RevocationIds: []int64{aws.ToInt64(r2.RevocationId)}}))
	r3 := must[*elbv2.AddTrustStoreRevocationsOutput](t)(add("crl2.pem")).TrustStoreRevocations[0]
	if aws.ToInt64(r3.RevocationId) <= aws.ToInt64(r2.RevocationId) {
		t.Fatalf("revocation ID %d reused or went back after removing %d", aws.ToInt64(r3.RevocationId), aws.ToInt64(r2.RevocationId))
	}

	notFound := map[string]func() error{
		"describe": func() error {
			_, err := e.elb.DescribeTrustStoreRevocations(e.ctx, &elbv2.DescribeTrustStoreRevocationsInput{TrustStoreArn: arn, RevocationIds: []int64{aws.ToInt64(r2.RevocationId)}})
			return err
		},
		"remove": func() error {
			_, err := e.elb.RemoveTrustStoreRevocations(e.ctx, &elbv2.RemoveTrustStoreRevocationsInput{TrustStoreArn: arn, RevocationIds: []int64{aws.ToInt64(r1.RevocationId), 999999}})
			return err
		},
		"content": func() error {
			_, err := e.elb.GetTrustStoreRevocationContent(e.ctx, &elbv2.GetTrustStoreRevocationContentInput{TrustStoreArn: arn, RevocationId: r2.RevocationId})
			return err
		},
	}
	for name, call := range notFound {
		t.Run("unknown revocation ID "+name, func(t *testing.T) { wantErr[*types.RevocationIdNotFoundException](t, call()) })
	}
	// A failed remove removes nothing.
	still := must[*elbv2.DescribeTrustStoreRevocationsOutput](t)(e.elb.DescribeTrustStoreRevocations(e.ctx, &elbv2.DescribeTrustStoreRevocationsInput{TrustStoreArn: arn}))
	if len(still.TrustStoreRevocations) != 2 {
		t.Fatalf("after a failed remove there are %d revocations, want 2", len(still.TrustStoreRevocations))
	}

	crlDER := func() []byte {
		p := ca.crl(t, a.SerialNumber)
		blk, _ := pemDecode(p)
		return blk
	}()
	e.put("der.crl", crlDER)
	e.put("foreign.pem", other.crl(t, a.SerialNumber))
	e.put("cert.pem", ca.pem)
	invalid := map[string]string{"DER encoded": "der.crl", "signed by a CA outside the bundle": "foreign.pem", "not a CRL": "cert.pem"}
	for name, key := range invalid {
		t.Run("invalid CRL "+name, func(t *testing.T) {
			_, err := add(key)
			wantErr[*types.InvalidRevocationContentException](t, err)
		})
	}
	_, err := add("missing.pem")
	wantErr[*types.RevocationContentNotFoundException](t, err)

	t.Run("quota of 30 CRLs", func(t *testing.T) {
		var contents []types.RevocationContent
		for i := 0; i < 29; i++ {
			contents = append(contents, types.RevocationContent{S3Bucket: aws.String(e.bucket), S3Key: aws.String("crl1.pem")})
		}
		_, err := e.elb.AddTrustStoreRevocations(e.ctx, &elbv2.AddTrustStoreRevocationsInput{TrustStoreArn: arn, RevocationContents: contents})
		wantErr[*types.TooManyTrustStoreRevocationEntriesException](t, err)
		_, err = e.elb.AddTrustStoreRevocations(e.ctx, &elbv2.AddTrustStoreRevocationsInput{TrustStoreArn: arn, RevocationContents: contents[:28]})
		if err != nil {
			t.Fatalf("28 more CRLs (30 in all) must fit: %v", err)
		}
	})
	t.Run("quota of revoked entries", func(t *testing.T) {
		ts2 := e.trustStore("entries", ca.pem)
		e.sim.SetRevocationEntryQuota(2)
		defer e.sim.SetRevocationEntryQuota(500000)
		_, err := e.elb.AddTrustStoreRevocations(e.ctx, &elbv2.AddTrustStoreRevocationsInput{TrustStoreArn: ts2.TrustStoreArn, RevocationContents: []types.RevocationContent{
			{S3Bucket: aws.String(e.bucket), S3Key: aws.String("crl1.pem")}, {S3Bucket: aws.String(e.bucket), S3Key: aws.String("crl2.pem")},
		}})
		wantErr[*types.TooManyTrustStoreRevocationEntriesException](t, err)
	})
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	lbArn, tgArn := e.lbAndTG("tags")
	ts := e.trustStore("tagged", newCA(t, "Tag CA").pem)
	arns := []string{lbArn, tgArn, aws.ToString(ts.TrustStoreArn)}
	must[*elbv2.AddTagsOutput](t)(e.elb.AddTags(e.ctx, &elbv2.AddTagsInput{ResourceArns: arns, Tags: []types.Tag{
		{Key: aws.String("albtrust.io/owner"), Value: aws.String("ns/name")}, {Key: aws.String("env"), Value: aws.String("test")},
	}}))
	must[*elbv2.RemoveTagsOutput](t)(e.elb.RemoveTags(e.ctx, &elbv2.RemoveTagsInput{ResourceArns: []string{lbArn}, TagKeys: []string{"env"}}))
	out := must[*elbv2.DescribeTagsOutput](t)(e.elb.DescribeTags(e.ctx, &elbv2.DescribeTagsInput{ResourceArns: arns}))
	want := map[string]int{lbArn: 1, tgArn: 2, aws.ToString(ts.TrustStoreArn): 2}
	for _, d := range out.TagDescriptions {
		if len(d.Tags) != want[aws.ToString(d.ResourceArn)] {
			t.Fatalf("%s has tags %+v, want %d", aws.ToString(d.ResourceArn), d.Tags, want[aws.ToString(d.ResourceArn)])
		}
	}
	if len(out.TagDescriptions) != 3 {
		t.Fatalf("DescribeTags returned %d descriptions", len(out.TagDescriptions))
	}

	_, err := e.elb.AddTags(e.ctx, &elbv2.AddTagsInput{ResourceArns: []string{lbArn}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("1")}, {Key: aws.String("k"), Value: aws.String("2")}}})
	wantErr[*types.DuplicateTagKeysException](t, err)
	var tooMany []types.Tag
	for i := 0; i < 50; i++ {
		tooMany = append(tooMany, types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")})
	}
	_, err = e.elb.AddTags(e.ctx, &elbv2.AddTagsInput{ResourceArns: []string{lbArn}, Tags: tooMany})
	wantErr[*types.TooManyTagsException](t, err)
	_, err = e.elb.DescribeTags(e.ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{aws.ToString(ts.TrustStoreArn) + "0"}})
	wantErr[*types.TrustStoreNotFoundException](t, err)
	_, err = e.elb.RemoveTags(e.ctx, &elbv2.RemoveTagsInput{ResourceArns: []string{lbArn + "0"}, TagKeys: []string{"env"}})
	wantErr[*types.LoadBalancerNotFoundException](t, err)
}

// TestVerifyListenerLimit proves the limit of two verify listeners per load balancer.
func TestVerifyListenerLimit(t *testing.T) {
	e := newEnv(t)
	ts := e.trustStore("limit", newCA(t, "Limit CA").pem)
	lbArn, tgArn := e.lbAndTG("limit")
	verify := &types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: ts.TrustStoreArn}
	for i := 0; i < 2; i++ {
		must[*elbv2.CreateListenerOutput](t)(e.httpsListener(lbArn, tgArn, freePort(t), verify))
	}
	_, err := e.httpsListener(lbArn, tgArn, freePort(t), verify)
	wantErr[*types.InvalidConfigurationRequestException](t, err)
	third := must[*elbv2.CreateListenerOutput](t)(e.httpsListener(lbArn, tgArn, freePort(t), nil)).Listeners[0]
	_, err = e.elb.ModifyListener(e.ctx, &elbv2.ModifyListenerInput{ListenerArn: third.ListenerArn, MutualAuthentication: verify})
	wantErr[*types.InvalidConfigurationRequestException](t, err)
}

type xmlError struct {
	Error struct {
		Type, Code, Message string
	}
	RequestID string `xml:"RequestId"`
}

// TestUnknownAction proves an unknown action gets AWS's InvalidAction error document.
func TestUnknownAction(t *testing.T) {
	e := newEnv(t)
	resp, err := http.PostForm(e.apiURL+"/", url.Values{"Action": {"LaunchRockets"}, "Version": {"2015-12-01"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc xmlError
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("error body is not XML: %v\n%s", err, body)
	}
	if resp.StatusCode != http.StatusBadRequest || doc.Error.Code != "InvalidAction" || doc.Error.Type != "Sender" || doc.RequestID == "" {
		t.Fatalf("status %d, error %+v", resp.StatusCode, doc)
	}
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}
