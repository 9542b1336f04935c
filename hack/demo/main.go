// Command demo runs albtrust's walkthrough on a local stack: it starts kube-apiserver, etcd,
// an S3 server and albsim, runs the manager binary against them, applies config/samples,
// waits for everything to be Ready and proves that a client certificate gets through the
// Verify listener while a request without one is refused. hack/demo.sh builds what it needs
// and runs it; `make demo` calls that.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albtrust/albtrust/internal/testenv/devstack"
)

func main() {
	var (
		dir          = flag.String("dir", ".demo", "directory for the stack's files; emptied at start")
		samples      = flag.String("samples", "config/samples", "manifests to apply")
		manager      = flag.String("manager", "bin/manager", "the manager binary")
		albsimBin    = flag.String("albsim", "bin/albsim", "the albsim binary")
		port         = flag.Int("listener-port", 8443, "port of the demo listener on 127.0.0.1 (config/samples names 8443)")
		namespace    = flag.String("namespace", "default", "namespace for the samples")
		once         = flag.Bool("once", false, "exit after the proof: 0 when it held, 1 otherwise")
		readyTimeout = flag.Duration("ready-timeout", 3*time.Minute, "how long to wait for the samples to be Ready")
	)
	flag.Parse()
	if err := run(*dir, *samples, *manager, *albsimBin, *port, *namespace, *once, *readyTimeout); err != nil {
		fmt.Fprintf(os.Stderr, "\nDEMO FAILED: %v\n", err)
		os.Exit(1)
	}
}

func run(dir, samples, manager, albsimBin string, port int, namespace string, once bool, readyTimeout time.Duration) error {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(absDir); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, err := devstack.Start(devstack.Config{
		Dir: absDir, ManagerBinary: manager, AlbsimBinary: albsimBin, ListenerPort: port, Log: os.Stdout,
	})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("==> Stopping the stack")
		st.Stop()
		fmt.Println("==> Stopped; nothing left running")
	}()

	fmt.Println("==> Starting the albtrust manager (bin/manager) with the standard AWS environment variables")
	if err := st.StartManager(); err != nil {
		return err
	}
	objs, err := devstack.ReadManifests(samples)
	if err != nil {
		return err
	}
	fmt.Printf("==> Applying %s (%d objects) to namespace %s\n", samples, len(objs), namespace)
	if err := st.Apply(ctx, namespace, objs); err != nil {
		return err
	}
	fmt.Println("==> Waiting for every resource to be Ready")
	start := time.Now()
	err = st.WaitReady(ctx, namespace, objs, readyTimeout, func(s string) {
		fmt.Printf("--- %s\n%s\n", time.Since(start).Round(100*time.Millisecond), s)
	})
	if err != nil {
		return fmt.Errorf("%w\n(manager log: %s)", err, st.ManagerLog())
	}
	kubectl(st, "get", "albtrust", "-n", namespace)

	files, err := writeClientFiles(ctx, st, absDir, namespace)
	if err != nil {
		return err
	}
	proofErr := prove(st, port, files)
	printAccess(st, port, files, namespace)
	if proofErr != nil {
		return proofErr
	}
	if once {
		fmt.Println("\nDEMO OK")
		return nil
	}
	fmt.Println("\nThe stack keeps running. Press Ctrl-C to stop it.")
	<-ctx.Done()
	return nil
}

type clientFiles struct{ cert, key, ca, p12 string }

// writeClientFiles saves sample-2's certificate, key and keystore from its Secret, as a user
// would with kubectl get secret.
func writeClientFiles(ctx context.Context, st *devstack.Stack, dir, namespace string) (clientFiles, error) {
	s := &corev1.Secret{}
	if err := st.Kube.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "sample-2-tls"}, s); err != nil {
		return clientFiles{}, fmt.Errorf("read Secret sample-2-tls: %w", err)
	}
	f := clientFiles{
		cert: filepath.Join(dir, "sample-2.crt"), key: filepath.Join(dir, "sample-2.key"),
		ca: filepath.Join(dir, "sample-ca.crt"), p12: filepath.Join(dir, "sample-2.p12"),
	}
	for path, key := range map[string]string{f.cert: "tls.crt", f.key: "tls.key", f.ca: "ca.crt", f.p12: "keystore.p12"} {
		if len(s.Data[key]) == 0 {
			return f, fmt.Errorf("Secret sample-2-tls has no %s", key)
		}
		if err := os.WriteFile(path, s.Data[key], 0o600); err != nil {
			return f, err
		}
	}
	return f, nil
}

// prove makes the two requests of the walkthrough: with the client certificate (200) and
// without one (refused by the listener).
func prove(st *devstack.Stack, port int, f clientFiles) error {
	caPEM, err := os.ReadFile(st.ServerCA)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		return fmt.Errorf("load sample-2 key pair: %w", err)
	}
	url := fmt.Sprintf("https://127.0.0.1:%d/", port)
	get := func(certs []tls.Certificate) (*http.Response, error) {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12},
		}}
		return c.Get(url)
	}

	fmt.Printf("\n==> Proof 1: GET %s with sample-2's client certificate\n", url)
	resp, err := get([]tls.Certificate{pair})
	if err != nil {
		return fmt.Errorf("the request with the client certificate failed: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("    HTTP %d: %s", resp.StatusCode, body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("with the client certificate: HTTP %d, want 200", resp.StatusCode)
	}

	fmt.Printf("==> Proof 2: GET %s without a client certificate\n", url)
	resp, err = get(nil)
	if err == nil {
		resp.Body.Close()
		return fmt.Errorf("a request without a client certificate got HTTP %d; it must be refused", resp.StatusCode)
	}
	fmt.Printf("    refused, as it should be: %v\n", errors.Unwrap(err))
	fmt.Println("\nmTLS works: the Verify listener let sample-2 in and turned away a client without a certificate.")
	return nil
}

func kubectl(st *devstack.Stack, args ...string) {
	path, err := exec.LookPath("kubectl")
	if err != nil {
		fmt.Println("(kubectl is not installed; skipping `kubectl get albtrust`)")
		return
	}
	fmt.Printf("\n$ kubectl %s\n", joinArgs(args))
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+st.Kubeconfig)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	_ = cmd.Run()
}

func joinArgs(args []string) string {
	out := ""
	for i, a := range args {
		if i > 0 {
			out += " "
		}
		out += a
	}
	return out
}

func printAccess(st *devstack.Stack, port int, f clientFiles, namespace string) {
	fmt.Printf(`
==> How to reach the stack
  kubeconfig:        export KUBECONFIG=%s
                     kubectl get albtrust -n %s; kubectl describe clientca sample -n %s
  albsim (ELBv2):    %s   (AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2)
  S3 (versitygw):    %s   (AWS_ENDPOINT_URL_S3, path-style)
  test credentials:  AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=%s
  listener:          https://127.0.0.1:%d/  (server CA: %s)
  with a cert:       curl --cacert %s --cert %s --key %s https://127.0.0.1:%d/
  without a cert:    curl --cacert %s https://127.0.0.1:%d/   (refused)
  PKCS#12 keystore:  %s  (password: changeit, from Secret sample-2-p12-password)
  manager log:       %s
`, st.Kubeconfig, namespace, namespace, st.AlbsimURL, st.S3.Endpoint(), st.S3.AccessKey, st.S3.SecretKey, st.S3.Region,
		port, st.ServerCA, st.ServerCA, f.cert, f.key, port, st.ServerCA, port, f.p12, st.ManagerLog())
}
