// Package albsim emulates the parts of an AWS Application Load Balancer that albtrust drives:
// the ELBv2 Query API (load balancers, target groups, HTTPS listeners with mutual TLS, trust
// stores with CA bundles and CRLs read from S3, tags) and a data plane of real TLS listeners on
// loopback that enforce Verify and Passthrough and forward to registered targets. The
// aws-sdk-go-v2 elasticloadbalancingv2 client talks to it unchanged through BaseEndpoint.
package albsim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Config says where albsim reads trust-store bundles and CRLs.
type S3Config struct {
	Endpoint  string // e.g. http://127.0.0.1:7070; empty uses the SDK's default resolution
	AccessKey string
	SecretKey string
	Region    string // defaults to Config.Region
	PathStyle bool
}

// Config configures a Sim.
type Config struct {
	Region    string // default us-east-1
	AccountID string // default 123456789012
	S3        S3Config
	// TrustStoreActivationDelay is how long a new trust store stays CREATING before it is ACTIVE.
	TrustStoreActivationDelay time.Duration
	// ListenAddress is the IP the data-plane listeners bind (default 127.0.0.1).
	ListenAddress string
	// ServerCertFile and ServerKeyFile replace the generated data-plane server certificate.
	ServerCertFile, ServerKeyFile string
	Logger                        *slog.Logger
}

// Sim is one emulated ALB account and region.
type Sim struct {
	cfg   Config
	log   *slog.Logger
	s3    *s3.Client
	admin adminState

	mu              sync.RWMutex
	state           *state
	activationDelay time.Duration
	// maxRevocationEntries is AWS's default quota; tests lower it instead of building huge CRLs.
	maxRevocationEntries int

	serverCert      tls.Certificate
	serverCAPEM     []byte
	targetTransport *http.Transport

	apiMu     sync.Mutex
	apiServer *http.Server
	closed    bool
}

// New builds a Sim. It starts nothing: call Start (or mount Handler) for the control plane;
// listeners start as they are created or seeded.
func New(cfg Config) (*Sim, error) {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	if cfg.ListenAddress == "" {
		cfg.ListenAddress = "127.0.0.1"
	}
	if cfg.S3.Region == "" {
		cfg.S3.Region = cfg.Region
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	s := &Sim{
		cfg:                  cfg,
		log:                  cfg.Logger,
		state:                newState(),
		activationDelay:      cfg.TrustStoreActivationDelay,
		maxRevocationEntries: defaultMaxRevocationEntries,
		targetTransport: &http.Transport{
			Proxy:           nil,
			MaxIdleConns:    16,
			IdleConnTimeout: 30 * time.Second,
			// ALB does not verify target certificates.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as ALB does
		},
	}
	s.admin.init()
	if err := s.loadServerCertificate(); err != nil {
		return nil, err
	}
	s3opts := s3.Options{
		Region:                     cfg.S3.Region,
		UsePathStyle:               cfg.S3.PathStyle,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           2,
	}
	if cfg.S3.Endpoint != "" {
		s3opts.BaseEndpoint = aws.String(cfg.S3.Endpoint)
	}
	if cfg.S3.AccessKey != "" {
		s3opts.Credentials = credentials.NewStaticCredentialsProvider(cfg.S3.AccessKey, cfg.S3.SecretKey, "")
	}
	s.s3 = s3.New(s3opts)
	return s, nil
}

// Handler serves the control plane: the ELBv2 Query API on POST / and the test hooks under /_albsim/.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(adminPrefix, s.adminHandler())
	mux.HandleFunc("/", s.serveQuery)
	return mux
}

// Start serves the control plane on addr (for example 127.0.0.1:0) and returns its URL.
func (s *Sim) Start(addr string) (string, error) {
	s.apiMu.Lock()
	defer s.apiMu.Unlock()
	if s.apiServer != nil {
		return "", errors.New("albsim: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.apiServer = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = s.apiServer.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	s.log.Info("API serving", "url", url)
	return url, nil
}

// Close stops the API server and every listener.
func (s *Sim) Close() error {
	s.apiMu.Lock()
	srv := s.apiServer
	s.closed = true
	s.apiMu.Unlock()
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = srv.Shutdown(ctx)
		cancel()
		if err != nil {
			err = srv.Close()
		}
	}
	s.mu.Lock()
	var servers []*dataServer
	for _, l := range s.state.listeners {
		if l.server != nil {
			servers = append(servers, l.server)
		}
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, ds := range servers {
		wg.Add(1)
		go func() { defer wg.Done(); ds.close() }()
	}
	wg.Wait()
	s.targetTransport.CloseIdleConnections()
	return err
}

// ServerCAPEM returns the PEM of the CA that signed the data-plane server certificate (with
// ServerCertFile, the content of that file).
func (s *Sim) ServerCAPEM() []byte { return append([]byte(nil), s.serverCAPEM...) }

// SetTrustStoreActivationDelay sets how long trust stores created from now on stay CREATING.
func (s *Sim) SetTrustStoreActivationDelay(d time.Duration) {
	s.mu.Lock()
	s.activationDelay = d
	s.mu.Unlock()
}

// ActivateTrustStores makes every CREATING trust store ACTIVE now.
func (s *Sim) ActivateTrustStores() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, ts := range s.state.trustStores {
		if ts.activeAt.After(now) {
			ts.activeAt = now
		}
	}
}

// LoadBalancerARN returns the ARN of the load balancer named name.
func (s *Sim) LoadBalancerARN(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if lb := s.state.loadBalancerByName(name); lb != nil {
		return lb.arn, true
	}
	return "", false
}

// TargetGroupARN returns the ARN of the target group named name.
func (s *Sim) TargetGroupARN(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if tg := s.state.targetGroupByName(name); tg != nil {
		return tg.arn, true
	}
	return "", false
}

// ListenerARN returns the ARN of the listener on port of the load balancer named lbName.
func (s *Sim) ListenerARN(lbName string, port int) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	lb := s.state.loadBalancerByName(lbName)
	if lb == nil {
		return "", false
	}
	for _, l := range s.state.listenersOf(lb) {
		if l.port == port {
			return l.arn, true
		}
	}
	return "", false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// serveQuery decodes one Query-protocol request, applies the test hooks and runs the action.
func (s *Sim) serveQuery(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		writeError(w, requestID, &apiError{Status: http.StatusMethodNotAllowed, Code: codeInvalidAction, Message: "Use POST with a form-encoded body"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeError(w, requestID, errorf("MalformedQueryString", "The request body cannot be parsed: %v", err))
		return
	}
	f := form(r.Form)
	name := f.str("Action")
	if name == "" {
		writeError(w, requestID, errorf("MissingAction", "The request must contain the parameter Action"))
		return
	}
	s.admin.count(name)
	if e := s.admin.fault(r.Context(), name); e != nil {
		s.log.Info("Injected fault", "action", name, "code", e.Code)
		writeError(w, requestID, e)
		return
	}
	fn, ok := actions[name]
	if !ok {
		writeError(w, requestID, errorf(codeInvalidAction, "Could not find operation %s for version 2015-12-01", name))
		return
	}
	result, e := fn(s, r.Context(), f, r)
	if e != nil {
		s.log.Info("API call failed", "action", name, "code", e.Code, "message", e.Message)
		writeError(w, requestID, e)
		return
	}
	s.log.Debug("API call", "action", name)
	writeResult(w, name, requestID, result)
}

// Region is the region albsim puts in ARNs.
func (s *Sim) Region() string { return s.cfg.Region }

// AccountID is the account albsim puts in ARNs.
func (s *Sim) AccountID() string { return s.cfg.AccountID }
