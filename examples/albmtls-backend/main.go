// Command albmtls-backend is a small HTTP server meant to run behind an ALB
// (or albsim) listener with mutual TLS. It verifies the client certificate
// headers with pkg/albmtls and answers with the client's identity, which it
// also logs.
//
//	albmtls-backend -listen 127.0.0.1:8080 -ca-bundle ca.crt -crl ca.crl -mode passthrough
//
// In passthrough mode (behind a Passthrough listener) it verifies the
// forwarded chain against -ca-bundle and the -crl files, which are re-read
// when they change. In verify-headers mode (behind a Verify listener) it
// trusts the load balancer's verification; a -ca-bundle, if given, is used to
// check the leaf once more.
//
// Only the load balancer should be able to reach the listen address: the
// headers prove nothing when a client can send them directly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/albtrust/albtrust/pkg/albmtls"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "albmtls-backend:", err)
		os.Exit(1)
	}
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// run parses args, serves until ctx ends, and calls ready (if not nil) with
// the bound address once the listener is open.
func run(ctx context.Context, args []string, logOut io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("albmtls-backend", flag.ContinueOnError)
	fs.SetOutput(logOut)
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	bundle := fs.String("ca-bundle", "", "PEM file of trusted CA certificates (re-read when it changes)")
	var crls stringList
	fs.Var(&crls, "crl", "CRL file, PEM or DER (repeatable; re-read when it changes)")
	modeFlag := fs.String("mode", string(albmtls.ModePassthrough), "passthrough or verify-headers")
	ignoreExpiry := fs.Bool("ignore-expiry", false, "accept expired client certificates (like IgnoreClientCertificateExpiry)")
	certHeader := fs.String("clientcert-header", albmtls.HeaderClientCert, "name of the passthrough certificate header, if the listener renames it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	mode, err := albmtls.ParseMode(*modeFlag)
	if err != nil {
		return err
	}

	log := slog.New(slog.NewTextHandler(logOut, nil))
	opts := []albmtls.Option{
		albmtls.WithMode(mode),
		albmtls.WithHeaderNames(albmtls.HeaderNames{ClientCert: *certHeader}),
		albmtls.WithReloadErrorHandler(func(err error) {
			log.Error("Trust material changed but cannot be used, keeping the previous one", "err", err)
		}),
		albmtls.WithRejectHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			log.Info("Client refused", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
			albmtls.DefaultRejectHandler(w, r, err)
		}),
	}
	if *bundle != "" {
		opts = append(opts, albmtls.WithCABundleFile(*bundle))
	}
	for _, c := range crls {
		opts = append(opts, albmtls.WithCRLFile(c))
	}
	if *ignoreExpiry {
		opts = append(opts, albmtls.WithIgnoreExpiry())
	}
	v, err := albmtls.NewVerifier(opts...)
	if err != nil {
		return err
	}

	handler := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := albmtls.IdentityFromContext(r.Context())
		log.Info("Client verified", "remote", r.RemoteAddr, "path", r.URL.Path, "mode", id.Mode,
			"subject", id.Subject, "serial", id.SerialNumber, "fingerprint", id.FingerprintSHA256)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		writeIdentity(w, id)
	}))

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	log.Info("Serving", "addr", ln.Addr().String(), "mode", mode, "caBundle", *bundle, "crls", len(crls))
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// writeIdentity prints the identity as "key: value" lines.
func writeIdentity(w io.Writer, id *albmtls.Identity) {
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
	line("mode", string(id.Mode))
	line("subject", id.Subject)
	line("commonName", id.CommonName)
	line("issuer", id.Issuer)
	line("serialNumber", id.SerialNumber)
	line("fingerprintSHA256", id.FingerprintSHA256)
	line("emails", strings.Join(id.EmailAddresses, ", "))
	line("uris", strings.Join(id.URIs, ", "))
	line("dnsNames", strings.Join(id.DNSNames, ", "))
	if !id.NotBefore.IsZero() {
		line("notBefore", id.NotBefore.UTC().Format(time.RFC3339))
		line("notAfter", id.NotAfter.UTC().Format(time.RFC3339))
	}
	for i, c := range id.Chain {
		line(fmt.Sprintf("chain[%d]", i), c.Subject.String())
	}
}
