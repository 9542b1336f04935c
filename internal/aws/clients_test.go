package aws_test

import (
	"context"
	"errors"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/albtrust/albtrust/internal/albsim"
	albaws "github.com/albtrust/albtrust/internal/aws"
)

// newClients points albaws.NewClients at an in-process albsim, as the manager would be
// pointed at AWS, with short backoffs.
func newClients(t *testing.T, attempts int) (*albaws.Clients, *albsim.Sim) {
	t.Helper()
	sim, err := albsim.New(albsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	c, err := albaws.NewClients(context.Background(), albaws.Options{
		Region: "us-east-1", MaxAttempts: attempts, MaxBackoff: 20 * time.Millisecond,
		RequestsPerSecond: 1000, Burst: 1000, ELBEndpoint: url,
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, sim
}

func TestThrottlingIsRetriedByTheSDK(t *testing.T) {
	c, sim := newClients(t, 4)
	sim.InjectFault("DescribeLoadBalancers", albsim.Fault{Code: "Throttling", Count: 2})
	before := testutil.ToFloat64(albaws.CallsTotal.WithLabelValues("Elastic Load Balancing v2", "DescribeLoadBalancers", "success"))
	if _, err := c.ELB.DescribeLoadBalancers(context.Background(), &elbv2.DescribeLoadBalancersInput{}); err != nil {
		t.Fatalf("a call throttled twice with 4 attempts must succeed: %v", err)
	}
	if got := sim.Calls()["DescribeLoadBalancers"]; got != 3 {
		t.Errorf("albsim saw %d attempts, want 3 (two throttled, one served)", got)
	}
	after := testutil.ToFloat64(albaws.CallsTotal.WithLabelValues("Elastic Load Balancing v2", "DescribeLoadBalancers", "success"))
	if after-before != 1 {
		t.Errorf("the metric counted %v successful calls, want 1 logical call", after-before)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	c, sim := newClients(t, 1)
	ctx := context.Background()

	_, err := c.ELB.DescribeTrustStores(ctx, &elbv2.DescribeTrustStoresInput{Names: []string{"missing"}})
	var nf *elbtypes.TrustStoreNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("want a typed TrustStoreNotFoundException, got %v", err)
	}
	if got := albaws.ErrorCode(err); got != "TrustStoreNotFound" {
		t.Errorf("ErrorCode = %q", got)
	}
	if albaws.IsThrottling(err) || albaws.IsServerError(err) {
		t.Error("not found is neither throttling nor a server error")
	}
	if got := albaws.ResultLabel(err); got != "TrustStoreNotFound" {
		t.Errorf("ResultLabel = %q", got)
	}

	sim.InjectFault("DescribeListeners", albsim.Fault{Code: "Throttling", Count: 1})
	_, err = c.ELB.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: awssdk.String("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/0123456789abcdef")})
	if !albaws.IsThrottling(err) {
		t.Errorf("want throttling, got %v", err)
	}

	sim.InjectFault("DescribeListeners", albsim.Fault{Code: "InternalFailure", Count: 1})
	_, err = c.ELB.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: awssdk.String("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/0123456789abcdef")})
	if !albaws.IsServerError(err) {
		t.Errorf("want a 5xx, got %v", err)
	}
	if albaws.ResultLabel(nil) != "success" || albaws.ResultLabel(context.Canceled) != "Canceled" {
		t.Error("ResultLabel of nil or a canceled context")
	}
}

func TestRegionIsRequired(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	_, err := albaws.NewClients(context.Background(), albaws.Options{Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
	if err == nil {
		t.Fatal("no region must be an error")
	}
}
