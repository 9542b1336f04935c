package aws

import (
	"context"
	"errors"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// CallsTotal counts AWS API calls by service, operation and result ("success" or the AWS
// error code). It counts logical calls, after the SDK's retries.
var CallsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "albtrust_aws_api_calls_total",
	Help: "AWS API calls made by albtrust, by service, operation and result (success or AWS error code).",
}, []string{"service", "operation", "result"})

func init() {
	metrics.Registry.MustRegister(CallsTotal)
}

// withCallMetrics counts every call once, at the outermost step.
func withCallMetrics(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("albtrustCallMetrics",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			CallsTotal.WithLabelValues(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), ResultLabel(err)).Inc()
			return out, md, err
		}), middleware.Before)
}

// withRateLimit waits for the client-side limiter before each call.
func withRateLimit(limiter *rate.Limiter) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("albtrustRateLimit",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if err := limiter.Wait(ctx); err != nil {
					return middleware.InitializeOutput{}, middleware.Metadata{}, err
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}

// ResultLabel is "success" or the AWS error code of err.
func ResultLabel(err error) string {
	if err == nil {
		return "success"
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "Canceled"
	}
	return "ClientError"
}
