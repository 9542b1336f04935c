// Package aws holds albtrust's narrow view of the AWS SDK: the few ELBv2 and S3 calls the
// controllers make, the SDK configuration (credential chain, region, endpoint overrides,
// retries and client-side rate limiting), error classification and call metrics.
package aws

import (
	"context"
	"fmt"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/time/rate"
)

// ELB is the part of the ELBv2 API albtrust uses; *elasticloadbalancingv2.Client satisfies it.
type ELB interface {
	CreateTrustStore(ctx context.Context, in *elbv2.CreateTrustStoreInput, optFns ...func(*elbv2.Options)) (*elbv2.CreateTrustStoreOutput, error)
	ModifyTrustStore(ctx context.Context, in *elbv2.ModifyTrustStoreInput, optFns ...func(*elbv2.Options)) (*elbv2.ModifyTrustStoreOutput, error)
	DeleteTrustStore(ctx context.Context, in *elbv2.DeleteTrustStoreInput, optFns ...func(*elbv2.Options)) (*elbv2.DeleteTrustStoreOutput, error)
	DescribeTrustStores(ctx context.Context, in *elbv2.DescribeTrustStoresInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeTrustStoresOutput, error)
	DescribeTrustStoreAssociations(ctx context.Context, in *elbv2.DescribeTrustStoreAssociationsInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeTrustStoreAssociationsOutput, error)
	AddTrustStoreRevocations(ctx context.Context, in *elbv2.AddTrustStoreRevocationsInput, optFns ...func(*elbv2.Options)) (*elbv2.AddTrustStoreRevocationsOutput, error)
	RemoveTrustStoreRevocations(ctx context.Context, in *elbv2.RemoveTrustStoreRevocationsInput, optFns ...func(*elbv2.Options)) (*elbv2.RemoveTrustStoreRevocationsOutput, error)
	DescribeTrustStoreRevocations(ctx context.Context, in *elbv2.DescribeTrustStoreRevocationsInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeTrustStoreRevocationsOutput, error)
	DescribeTags(ctx context.Context, in *elbv2.DescribeTagsInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error)
	AddTags(ctx context.Context, in *elbv2.AddTagsInput, optFns ...func(*elbv2.Options)) (*elbv2.AddTagsOutput, error)
	RemoveTags(ctx context.Context, in *elbv2.RemoveTagsInput, optFns ...func(*elbv2.Options)) (*elbv2.RemoveTagsOutput, error)

	DescribeLoadBalancers(ctx context.Context, in *elbv2.DescribeLoadBalancersInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error)
	DescribeListeners(ctx context.Context, in *elbv2.DescribeListenersInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error)
	DescribeListenerAttributes(ctx context.Context, in *elbv2.DescribeListenerAttributesInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeListenerAttributesOutput, error)
	ModifyListener(ctx context.Context, in *elbv2.ModifyListenerInput, optFns ...func(*elbv2.Options)) (*elbv2.ModifyListenerOutput, error)
	ModifyListenerAttributes(ctx context.Context, in *elbv2.ModifyListenerAttributesInput, optFns ...func(*elbv2.Options)) (*elbv2.ModifyListenerAttributesOutput, error)
}

// S3 is the part of the S3 API albtrust uses; *s3.Client satisfies it.
type S3 interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
}

var (
	_ ELB = (*elbv2.Client)(nil)
	_ S3  = (*s3.Client)(nil)
)

// Options configure the SDK clients.
type Options struct {
	// Region overrides the region from the environment (AWS_REGION) or shared config.
	Region string
	// S3PathStyle addresses buckets as https://host/bucket/key, as S3-compatible servers need.
	S3PathStyle bool
	// MaxAttempts per call, including the first; the SDK retryer backs off between attempts.
	MaxAttempts int
	// MaxBackoff caps the delay between attempts.
	MaxBackoff time.Duration
	// RequestsPerSecond and Burst limit the calls albtrust makes, before AWS has to throttle it.
	RequestsPerSecond float64
	Burst             int

	// ELBEndpoint and S3Endpoint replace the endpoints; in production leave them empty and let
	// the SDK resolve them, honouring AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2 and AWS_ENDPOINT_URL_S3.
	ELBEndpoint, S3Endpoint string
	// Credentials replace the default credential chain (tests only).
	Credentials awssdk.CredentialsProvider
}

// DefaultOptions are sensible for a production account.
func DefaultOptions() Options {
	return Options{MaxAttempts: 8, MaxBackoff: 20 * time.Second, RequestsPerSecond: 10, Burst: 20}
}

// Clients are the SDK clients the controllers use.
type Clients struct {
	ELB    ELB
	S3     S3
	Region string
}

// NewClients loads the default credential chain (environment, shared files, IRSA web identity,
// EKS Pod Identity, instance role) and builds the ELBv2 and S3 clients. The SDK itself honours
// the standard endpoint overrides AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3 and
// AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2.
func NewClients(ctx context.Context, opts Options) (*Clients, error) {
	def := DefaultOptions()
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = def.MaxAttempts
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = def.MaxBackoff
	}
	if opts.RequestsPerSecond <= 0 {
		opts.RequestsPerSecond = def.RequestsPerSecond
	}
	if opts.Burst <= 0 {
		opts.Burst = def.Burst
	}
	loadOpts := []func(*config.LoadOptions) error{
		// Adaptive mode adds client-side rate limiting that tightens when AWS answers with
		// throttling errors, so a throttled account slows albtrust down instead of failing it.
		config.WithRetryer(func() awssdk.Retryer {
			return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
				o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
					so.MaxAttempts = opts.MaxAttempts
					so.MaxBackoff = opts.MaxBackoff
				})
			})
		}),
	}
	if opts.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(opts.Credentials))
	}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("no AWS region: set --aws-region or AWS_REGION")
	}
	limiter := rate.NewLimiter(rate.Limit(opts.RequestsPerSecond), opts.Burst)
	cfg.APIOptions = append(cfg.APIOptions, withRateLimit(limiter), withCallMetrics)
	return &Clients{
		ELB: elbv2.NewFromConfig(cfg, func(o *elbv2.Options) {
			if opts.ELBEndpoint != "" {
				o.BaseEndpoint = awssdk.String(opts.ELBEndpoint)
			}
		}),
		S3: s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.UsePathStyle = opts.S3PathStyle
			if opts.S3Endpoint != "" {
				o.BaseEndpoint = awssdk.String(opts.S3Endpoint)
			}
		}),
		Region: cfg.Region,
	}, nil
}
