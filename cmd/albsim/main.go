// Command albsim runs the AWS ALB emulator: an ELBv2 Query API that the AWS SDKs and CLI talk to
// through their endpoint override, trust stores read from an S3-compatible server, and real TLS
// listeners on loopback that enforce mutual TLS and forward to registered targets.
//
//	albsim --api-address 127.0.0.1:8090 --s3-endpoint http://127.0.0.1:7070 --seed demo.yaml
//	AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=http://127.0.0.1:8090 aws elbv2 describe-load-balancers
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/albtrust/albtrust/internal/albsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "albsim:", err)
		os.Exit(1)
	}
}

// faultFlags collects repeated --fault values.
type faultFlags []string

func (f *faultFlags) String() string     { return strings.Join(*f, " ") }
func (f *faultFlags) Set(v string) error { *f = append(*f, v); return nil }

type options struct {
	apiAddress, urlFile                  string
	region, accountID                    string
	s3Endpoint, s3AccessKey, s3SecretKey string
	s3Region                             string
	s3PathStyle                          bool
	listenAddress                        string
	seedFile                             string
	serverCert, serverKey, writeServerCA string
	activationDelay                      time.Duration
	faults                               faultFlags
	logLevel, logFormat                  string
}

func envOr(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func parseFlags(args []string, out io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("albsim", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, `albsim emulates an AWS Application Load Balancer for local runs and tests.

The control plane speaks the ELBv2 Query API on --api-address (point the SDK at it with
BaseEndpoint, or AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2). Trust-store bundles and CRLs are
read from S3 at --s3-endpoint. Each HTTPS listener is a TLS server on --listen-address:<port>
that enforces its mutual-TLS mode and forwards to its target group. Test hooks live under
/_albsim/ on the API address (calls, faults, connections, activation-delay, activate,
server-ca.pem).

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.apiAddress, "api-address", "127.0.0.1:8090", "address of the ELBv2 API and /_albsim/ hooks (port 0 picks a free port)")
	fs.StringVar(&o.urlFile, "url-file", "", "write the API URL to this file once serving (useful with port 0)")
	fs.StringVar(&o.region, "region", envOr("AWS_REGION", "AWS_DEFAULT_REGION"), "region in ARNs (default $AWS_REGION or us-east-1)")
	fs.StringVar(&o.accountID, "account-id", "123456789012", "account ID in ARNs")
	fs.StringVar(&o.s3Endpoint, "s3-endpoint", envOr("AWS_ENDPOINT_URL_S3"), "S3 endpoint URL for bundles and CRLs (default $AWS_ENDPOINT_URL_S3)")
	fs.StringVar(&o.s3AccessKey, "s3-access-key", envOr("ALBSIM_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID"), "S3 access key (default $ALBSIM_S3_ACCESS_KEY or $AWS_ACCESS_KEY_ID)")
	fs.StringVar(&o.s3SecretKey, "s3-secret-key", "", "S3 secret key (prefer $ALBSIM_S3_SECRET_KEY or $AWS_SECRET_ACCESS_KEY, which are used when this is empty)")
	fs.StringVar(&o.s3Region, "s3-region", "", "S3 signing region (default: --region)")
	fs.BoolVar(&o.s3PathStyle, "s3-path-style", true, "use path-style S3 addressing, as S3-compatible servers need")
	fs.StringVar(&o.listenAddress, "listen-address", "127.0.0.1", "IP the listeners bind; a listener's port is its real port")
	fs.StringVar(&o.seedFile, "seed", "", "YAML or JSON file of target groups, load balancers and listeners to create at start")
	fs.StringVar(&o.serverCert, "server-cert", "", "PEM certificate (chain) for the listeners; default: generated for localhost/127.0.0.1")
	fs.StringVar(&o.serverKey, "server-key", "", "PEM private key for --server-cert")
	fs.StringVar(&o.writeServerCA, "write-server-ca", "", "write the PEM CA of the listeners' server certificate to this file, for clients to trust")
	fs.DurationVar(&o.activationDelay, "trust-store-activation-delay", 0, "how long new trust stores stay CREATING before ACTIVE")
	fs.Var(&o.faults, "fault", "inject a fault, repeatable: ACTION=CODE[,count=N][,fraction=F][,latency=D]\n(ACTION may be *; CODE Throttling, InternalFailure, another ELBv2 code, or none for latency only)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.s3SecretKey == "" {
		o.s3SecretKey = envOr("ALBSIM_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY")
	}
	if (o.serverCert == "") != (o.serverKey == "") {
		return nil, errors.New("--server-cert and --server-key go together")
	}
	return o, nil
}

// parseFault reads ACTION=CODE[,count=N][,fraction=F][,latency=D].
func parseFault(v string) (string, albsim.Fault, error) {
	var f albsim.Fault
	action, spec, ok := strings.Cut(v, "=")
	if !ok || action == "" {
		return "", f, fmt.Errorf("fault %q: want ACTION=CODE[,count=N][,fraction=F][,latency=D]", v)
	}
	parts := strings.Split(spec, ",")
	if parts[0] != "none" {
		f.Code = parts[0]
	}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		var err error
		switch k {
		case "count":
			f.Count, err = strconv.Atoi(val)
		case "fraction":
			f.Fraction, err = strconv.ParseFloat(val, 64)
			if err == nil && (f.Fraction < 0 || f.Fraction > 1) {
				err = errors.New("must be between 0 and 1")
			}
		case "latency":
			f.Latency, err = time.ParseDuration(val)
		default:
			err = errors.New("unknown setting")
		}
		if err != nil {
			return "", f, fmt.Errorf("fault %q, %s: %v", v, k, err)
		}
	}
	return action, f, nil
}

func newLogger(level, format string, out io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(out, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(out, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// run starts albsim and serves until ctx ends.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(o.logLevel, o.logFormat, stderr)
	if err != nil {
		return err
	}
	sim, err := albsim.New(albsim.Config{
		Region:    o.region,
		AccountID: o.accountID,
		S3: albsim.S3Config{
			Endpoint: o.s3Endpoint, AccessKey: o.s3AccessKey, SecretKey: o.s3SecretKey, Region: o.s3Region, PathStyle: o.s3PathStyle,
		},
		TrustStoreActivationDelay: o.activationDelay,
		ListenAddress:             o.listenAddress,
		ServerCertFile:            o.serverCert,
		ServerKeyFile:             o.serverKey,
		Logger:                    log,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := sim.Close(); err != nil {
			log.Warn("Shutdown incomplete", "error", err)
		}
		log.Info("Stopped")
	}()
	for _, v := range o.faults {
		action, f, err := parseFault(v)
		if err != nil {
			return err
		}
		sim.InjectFault(action, f)
	}
	if o.writeServerCA != "" {
		if err := os.WriteFile(o.writeServerCA, sim.ServerCAPEM(), 0o644); err != nil {
			return fmt.Errorf("write server CA: %w", err)
		}
	}
	if o.seedFile != "" {
		st, err := albsim.LoadSeedFile(o.seedFile)
		if err != nil {
			return err
		}
		if err := sim.Seed(st); err != nil {
			return fmt.Errorf("seed from %s: %w", o.seedFile, err)
		}
	}
	url, err := sim.Start(o.apiAddress)
	if err != nil {
		return err
	}
	if o.urlFile != "" {
		// Write then rename, so a reader never sees a partial URL.
		tmp := o.urlFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(url+"\n"), 0o644); err != nil {
			return fmt.Errorf("write URL file: %w", err)
		}
		if err := os.Rename(tmp, o.urlFile); err != nil {
			return fmt.Errorf("write URL file: %w", err)
		}
	}
	log.Info("Ready", "api", url, "region", sim.Region(), "account", o.accountID)
	<-ctx.Done()
	log.Info("Shutting down")
	return nil
}
