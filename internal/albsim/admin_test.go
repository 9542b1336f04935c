package albsim_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/albtrust/albtrust/internal/albsim"
)

func TestFaultInjection(t *testing.T) {
	e := newEnv(t)
	describe := func() error {
		_, err := e.elb.DescribeTrustStores(e.ctx, &elbv2.DescribeTrustStoresInput{})
		return err
	}

	t.Run("throttling for two calls", func(t *testing.T) {
		e.sim.InjectFault("DescribeTrustStores", albsim.Fault{Code: "Throttling", Count: 2})
		for i := 0; i < 2; i++ {
			err := describe()
			wantCode(t, err, "Throttling")
			var re *smithyhttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
				t.Fatalf("throttling must be HTTP 400, got %v", err)
			}
		}
		if err := describe(); err != nil {
			t.Fatalf("third call after a two-call fault: %v", err)
		}
	})
	t.Run("internal failure", func(t *testing.T) {
		e.sim.InjectFault("DescribeTrustStores", albsim.Fault{Code: "InternalFailure", Count: 1})
		err := describe()
		wantCode(t, err, "InternalFailure")
		var re *smithyhttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError {
			t.Fatalf("internal failure must be HTTP 500, got %v", err)
		}
	})
	t.Run("typed error of the action", func(t *testing.T) {
		e.sim.InjectFault("DescribeTrustStores", albsim.Fault{Code: "TrustStoreNotFound", Count: 1})
		wantErr[*types.TrustStoreNotFoundException](t, describe())
	})
	t.Run("fraction one fails every call until cleared", func(t *testing.T) {
		e.sim.InjectFault(albsim.AllActions, albsim.Fault{Code: "Throttling", Fraction: 1})
		for i := 0; i < 3; i++ {
			wantCode(t, describe(), "Throttling")
		}
		_, err := e.elb.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{})
		wantCode(t, err, "Throttling")
		e.sim.ClearFaults()
		if err := describe(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("latency only", func(t *testing.T) {
		e.sim.InjectFault("DescribeTrustStores", albsim.Fault{Latency: 1, Count: 1})
		if err := describe(); err != nil {
			t.Fatalf("a latency-only fault must not fail the call: %v", err)
		}
	})
}

func TestCallCounters(t *testing.T) {
	e := newEnv(t)
	e.sim.ResetCalls()
	for i := 0; i < 3; i++ {
		_, _ = e.elb.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{})
	}
	_, _ = e.elb.DescribeTrustStores(e.ctx, &elbv2.DescribeTrustStoresInput{TrustStoreArns: []string{"arn:aws:elasticloadbalancing:eu-west-1:111122223333:truststore/x/0123456789abcdef"}})
	calls := e.sim.Calls()
	if calls["DescribeLoadBalancers"] != 3 || calls["DescribeTrustStores"] != 1 || len(calls) != 2 {
		t.Fatalf("calls = %v", calls)
	}

	// The same through the admin endpoint.
	var got map[string]int
	resp, err := http.Get(e.apiURL + "/_albsim/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got["DescribeLoadBalancers"] != 3 {
		t.Fatalf("admin calls = %v", got)
	}
}

func TestAdminEndpoints(t *testing.T) {
	e := newEnv(t)
	do := func(method, path string, body any) int {
		t.Helper()
		var buf bytes.Buffer
		if body != nil {
			_ = json.NewEncoder(&buf).Encode(body)
		}
		req, _ := http.NewRequest(method, e.apiURL+path, &buf)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do(http.MethodPost, "/_albsim/faults", map[string]any{"action": "CreateTrustStore", "code": "Throttling", "count": 1}); code != http.StatusNoContent {
		t.Fatalf("POST fault: %d", code)
	}
	_, err := e.elb.CreateTrustStore(e.ctx, &elbv2.CreateTrustStoreInput{Name: aws.String("x"), CaCertificatesBundleS3Bucket: aws.String(e.bucket), CaCertificatesBundleS3Key: aws.String("k")})
	wantCode(t, err, "Throttling")
	if code := do(http.MethodPost, "/_albsim/faults", map[string]any{"action": "CreateTrustStore", "fraction": 2}); code != http.StatusBadRequest {
		t.Fatalf("a fraction above 1 was accepted: %d", code)
	}

	if code := do(http.MethodPut, "/_albsim/activation-delay", map[string]string{"delay": "1h"}); code != http.StatusNoContent {
		t.Fatalf("PUT activation delay: %d", code)
	}
	ts := e.trustStore("delayed", newCA(t, "Delay CA").pem)
	if ts.Status != types.TrustStoreStatusCreating {
		t.Fatalf("with a one-hour delay a new store is %s", ts.Status)
	}
	if code := do(http.MethodPost, "/_albsim/activate", nil); code != http.StatusNoContent {
		t.Fatalf("POST activate: %d", code)
	}
	out := must[*elbv2.DescribeTrustStoresOutput](t)(e.elb.DescribeTrustStores(e.ctx, &elbv2.DescribeTrustStoresInput{Names: []string{"delayed"}}))
	if out.TrustStores[0].Status != types.TrustStoreStatusActive {
		t.Fatalf("after activate the store is %s", out.TrustStores[0].Status)
	}
	if got := httpGet(t, e.apiURL+"/_albsim/server-ca.pem"); got != string(e.sim.ServerCAPEM()) || len(got) == 0 {
		t.Fatal("server-ca.pem does not serve the server CA")
	}
	var log []albsim.ConnLogEntry
	if err := json.Unmarshal([]byte(httpGet(t, e.apiURL+"/_albsim/connections")), &log); err != nil {
		t.Fatal(err)
	}
}
