// Command manager runs the albtrust controllers: ClientCA, ClientCertificate and ListenerMTLS.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers"
	albaws "github.com/albtrust/albtrust/internal/aws"
)

func main() {
	var (
		metricsAddr          string
		probeAddr            string
		secureMetrics        bool
		enableLeaderElection bool
		leaderElectionNS     string
		awsRegion            string
		s3PathStyle          bool
		awsMaxAttempts       int
		awsRPS               float64
		clusterID            string
		certConcurrency      int
		caConcurrency        int
		listenerConcurrency  int
		listenerResync       time.Duration
		resync               time.Duration
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address the metrics endpoint binds to; 0 disables it.")
	flag.BoolVar(&secureMetrics, "metrics-secure", false, "Serve metrics over HTTPS with Kubernetes authentication and authorization.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false, "Elect a leader, so that only one replica reconciles at a time.")
	flag.StringVar(&leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election lease (default: the manager's namespace).")
	flag.StringVar(&awsRegion, "aws-region", "", "AWS region of the load balancers and buckets (default: AWS_REGION or the shared config).")
	flag.BoolVar(&s3PathStyle, "s3-path-style", os.Getenv("AWS_S3_USE_PATH_STYLE") == "true", "Use path-style S3 addressing, for S3-compatible servers (env AWS_S3_USE_PATH_STYLE=true).")
	flag.IntVar(&awsMaxAttempts, "aws-max-attempts", 8, "Attempts per AWS call, the first included; the SDK backs off between them.")
	flag.Float64Var(&awsRPS, "aws-requests-per-second", 10, "Client-side limit on AWS calls per second.")
	flag.StringVar(&clusterID, "cluster-id", "default", "Identifies this cluster in the tags of the trust stores it creates.")
	flag.IntVar(&caConcurrency, "clientca-concurrency", 2, "ClientCAs reconciled at once.")
	flag.IntVar(&certConcurrency, "clientcertificate-concurrency", 8, "ClientCertificates reconciled at once.")
	flag.IntVar(&listenerConcurrency, "listenermtls-concurrency", 2, "ListenerMTLS objects reconciled at once.")
	flag.DurationVar(&listenerResync, "listener-resync-period", 3*time.Minute, "How often a listener is compared with its ListenerMTLS to correct drift.")
	flag.DurationVar(&resync, "resync-period", 10*time.Hour, "How often every object is reconciled even without changes.")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(mtlsv1alpha1.AddToScheme(scheme))

	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
		// HTTP/2 stays off: it has had denial-of-service issues (CVE-2023-44487).
		metricsOpts.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	}

	// Cache only the Secrets albtrust owns or is pointed at: memory stays flat however many
	// unrelated Secrets the cluster holds.
	cacheOpts := controllers.CacheOptions()
	cacheOpts.SyncPeriod = &resync

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          enableLeaderElection,
		LeaderElectionID:        "albtrust.mtls.albtrust.io",
		LeaderElectionNamespace: leaderElectionNS,
		Cache:                   cacheOpts,
	})
	if err != nil {
		log.Error(err, "Unable to create the manager")
		os.Exit(1)
	}

	awsClients, err := albaws.NewClients(context.Background(), albaws.Options{
		Region:            awsRegion,
		S3PathStyle:       s3PathStyle,
		MaxAttempts:       awsMaxAttempts,
		RequestsPerSecond: awsRPS,
	})
	if err != nil {
		log.Error(err, "Unable to configure AWS")
		os.Exit(1)
	}
	log.Info("AWS configured", "region", awsClients.Region, "s3PathStyle", s3PathStyle)

	if err := controllers.SetupWithManager(mgr, controllers.Options{
		AWS:                          awsClients,
		Clock:                        clock.RealClock{},
		ClusterID:                    clusterID,
		ClientCAConcurrency:          caConcurrency,
		ClientCertificateConcurrency: certConcurrency,
		ListenerMTLSConcurrency:      listenerConcurrency,
		ListenerResyncPeriod:         listenerResync,
	}); err != nil {
		log.Error(err, "Unable to set up the controllers")
		os.Exit(1)
	}

	utilruntime.Must(mgr.AddHealthzCheck("healthz", healthz.Ping))
	utilruntime.Must(mgr.AddReadyzCheck("readyz", healthz.Ping))

	log.Info("Starting the manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "The manager stopped with an error")
		os.Exit(1)
	}
}
