// Package stack starts the whole albtrust stack for tests: a real kube-apiserver and etcd with
// the CRDs, a real S3 server (versitygw) with a versioned bucket, albsim in-process, and the
// albtrust manager with all three controllers, which can be stopped and started again to test
// restarts.
package stack

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/albtrust/albtrust/controllers"
	"github.com/albtrust/albtrust/internal/albsim"
	albaws "github.com/albtrust/albtrust/internal/aws"
	"github.com/albtrust/albtrust/internal/testenv/kubeenv"
	"github.com/albtrust/albtrust/internal/testenv/s3server"
)

// Bucket is the versioned bucket every stack creates.
const Bucket = "albtrust-test"

// Options configure a Stack.
type Options struct {
	// TrustStoreActivationDelay keeps new trust stores CREATING that long in albsim.
	TrustStoreActivationDelay time.Duration
	// Seed is loaded into albsim before the manager starts.
	Seed *albsim.SeedState
}

// Stack is a running test stack.
type Stack struct {
	Kube   *kubeenv.Env
	S3     *s3server.Server
	Sim    *albsim.Sim
	SimURL string
	// ELB and S3Client talk to albsim and the S3 server directly, without retries, for tests
	// that look behind the operator's back.
	ELB      *elbv2.Client
	S3Client *s3.Client

	mu        sync.Mutex
	mgrCancel context.CancelFunc
	mgrDone   chan error
}

// Start starts the apiserver, the S3 server and albsim. Call StartManager to run albtrust.
func Start(opts Options) (st *Stack, err error) {
	st = &Stack{}
	defer func() {
		if err != nil {
			st.Stop()
		}
	}()
	if st.Kube, err = kubeenv.Start(); err != nil {
		return nil, err
	}
	if st.S3, err = s3server.Start(nil, s3server.Options{}); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err = st.S3.CreateBucket(ctx, Bucket); err != nil {
		return nil, err
	}
	st.Sim, err = albsim.New(albsim.Config{
		S3: albsim.S3Config{
			Endpoint: st.S3.Endpoint(), AccessKey: st.S3.AccessKey, SecretKey: st.S3.SecretKey,
			Region: st.S3.Region, PathStyle: true,
		},
		TrustStoreActivationDelay: opts.TrustStoreActivationDelay,
		Logger:                    slog.New(slog.NewTextHandler(managerLogs, nil)),
	})
	if err != nil {
		return nil, err
	}
	if st.SimURL, err = st.Sim.Start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	if opts.Seed != nil {
		if err = st.Sim.Seed(*opts.Seed); err != nil {
			return nil, err
		}
	}
	cfg := st.awsConfig(aws.NopRetryer{})
	st.ELB = elbv2.NewFromConfig(cfg, func(o *elbv2.Options) { o.BaseEndpoint = aws.String(st.SimURL) })
	st.S3Client = s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(st.S3.Endpoint())
		o.UsePathStyle = true
	})
	return st, nil
}

func (st *Stack) awsConfig(retryer aws.Retryer) aws.Config {
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(st.S3.Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(st.S3.AccessKey, st.S3.SecretKey, "")),
		config.WithRetryer(func() aws.Retryer { return retryer }),
	)
	if err != nil {
		panic(err)
	}
	return cfg
}

// AWSClients builds the clients the manager uses: albaws.NewClients, as in production, with the
// endpoint overrides pointing at albsim and the S3 server and short backoffs.
func (st *Stack) AWSClients() (*albaws.Clients, error) {
	return albaws.NewClients(context.Background(), albaws.Options{
		Region:            st.S3.Region,
		S3PathStyle:       true,
		MaxAttempts:       3,
		MaxBackoff:        200 * time.Millisecond,
		RequestsPerSecond: 200,
		Burst:             200,
		ELBEndpoint:       st.SimURL,
		S3Endpoint:        st.S3.Endpoint(),
		Credentials:       credentials.NewStaticCredentialsProvider(st.S3.AccessKey, st.S3.SecretKey, ""),
	})
}

// ManagerOptions tune the manager a test starts.
type ManagerOptions struct {
	Clock                clock.PassiveClock
	ListenerResyncPeriod time.Duration
	// CertificateConcurrency is MaxConcurrentReconciles for ClientCertificates.
	CertificateConcurrency int
	// UserErrorRetry is how soon an object blocked on a user-fixable problem is retried
	// (default 2s in tests, so that a cleared fault converges quickly).
	UserErrorRetry time.Duration
}

// StartManager runs the albtrust manager with all controllers until StopManager.
func (st *Stack) StartManager(mo ManagerOptions) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.mgrCancel != nil {
		return errors.New("manager already running")
	}
	userRetry := mo.UserErrorRetry
	if userRetry == 0 {
		userRetry = 2 * time.Second
	}
	clients, err := st.AWSClients()
	if err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(managerLogs), zap.UseDevMode(true)))
	mgr, err := ctrl.NewManager(st.Kube.Config, ctrl.Options{
		Scheme:                 st.Kube.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
		// Tests start the manager more than once in a process.
		Controller: ctrlconfig.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return err
	}
	if err := controllers.SetupWithManager(mgr, controllers.Options{
		AWS:                          clients,
		Clock:                        mo.Clock,
		ClusterID:                    "test",
		ListenerResyncPeriod:         mo.ListenerResyncPeriod,
		ClientCertificateConcurrency: mo.CertificateConcurrency,
		UserErrorRetry:               userRetry,
	}); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	st.mgrCancel, st.mgrDone = cancel, done
	return nil
}

// StopManager stops the manager and waits for it to return.
func (st *Stack) StopManager() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.mgrCancel == nil {
		return nil
	}
	st.mgrCancel()
	err := <-st.mgrDone
	st.mgrCancel, st.mgrDone = nil, nil
	return err
}

// Stop stops everything that was started.
func (st *Stack) Stop() {
	_ = st.StopManager()
	if st.Sim != nil {
		_ = st.Sim.Close()
	}
	if st.S3 != nil {
		st.S3.Stop()
	}
	if st.Kube != nil {
		_ = st.Kube.Stop()
	}
}

// Logs returns everything the manager has logged so far (every run in this process).
func (st *Stack) Logs() string { return managerLogs.String() }

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if os.Getenv("ALBTRUST_TEST_VERBOSE") != "" {
		_, _ = os.Stderr.Write(p)
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// managerLogs keeps the manager's log lines so that tests can scan them for key material.
var managerLogs = &lockedBuffer{}
