// Package e2e runs albtrust's walkthrough end to end, the way a user meets it: a real
// kube-apiserver and etcd, a real S3 server (versitygw), the albsim binary with real TLS
// listeners, the manager binary configured only through flags and the standard AWS environment
// variables, and the albmtls-backend example binary. Every assertion about access is a real
// HTTPS request through an albsim listener.
//
// One stack serves the whole package. Tests run in source order and build on each other
// (the walkthrough first, destructive ones last), so run the package as a whole:
//
//	KUBEBUILDER_ASSETS=$(hack/envtest-binaries.sh) VERSITYGW=$(hack/versitygw.sh) go test ./test/e2e/ -count=1 -v
//
// Without KUBEBUILDER_ASSETS and VERSITYGW the hack/ scripts build the binaries (slow the
// first time, cached afterwards). -short skips the package. E2E_KEEP_DIR=1 keeps the stack's
// directory (manager.log, albsim.log) after the run; a failed run prints the end of both logs.
package e2e

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/albtrust/albtrust/internal/albsim"
	"github.com/albtrust/albtrust/internal/testenv/devstack"
	"github.com/albtrust/albtrust/internal/testenv/kubeenv"
)

// Names shared by the tests.
const (
	// namespace holds every object of the suite.
	namespace = "albtrust-e2e"
	// bucket is the bucket config/samples publishes into; devstack creates it versioned.
	bucket = "albtrust-demo"
	// extraLB is the seeded load balancer for the cases beyond the walkthrough; its listeners
	// are rotationPort (Verify in front of devstack's echo backend) and passthroughPort
	// (Passthrough in front of the albmtls-backend binary).
	extraLB           = "e2e-alb"
	backendTargetName = "e2e-albmtls-backend"
)

// Set up by TestMain.
var (
	st      *devstack.Stack
	workDir string
	// Listener ports on 127.0.0.1: the walkthrough's Verify listener of demo-alb, and the two
	// listeners of extraLB. backendPort is where the albmtls-backend binary listens.
	samplePort, rotationPort, passthroughPort, backendPort int
	// Built binaries.
	managerBin, albsimBin, backendBin string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped with -short (the suite starts a whole stack)")
		return
	}
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) (code int) {
	dir, err := os.MkdirTemp("", "albtrust-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	workDir = dir
	defer func() {
		if code != 0 {
			dumpLogs(dir)
		}
		if os.Getenv("E2E_KEEP_DIR") != "" {
			fmt.Printf("e2e: E2E_KEEP_DIR is set; logs and files kept in %s\n", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}()
	if err := setUp(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: set-up failed:", err)
		if st != nil {
			st.Stop()
		}
		return 1
	}
	defer st.Stop()
	return m.Run()
}

func setUp(dir string) error {
	start := time.Now()
	root, err := kubeenv.RepoRoot()
	if err != nil {
		return err
	}
	binDir := filepath.Join(dir, "bin")
	managerBin = filepath.Join(binDir, "manager")
	albsimBin = filepath.Join(binDir, "albsim")
	backendBin = filepath.Join(binDir, "albmtls-backend")
	for out, pkg := range map[string]string{managerBin: "./cmd", albsimBin: "./cmd/albsim", backendBin: "./examples/albmtls-backend"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
		}
	}
	fmt.Printf("e2e: built the manager, albsim and albmtls-backend in %s\n", time.Since(start).Round(time.Second))

	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	samplePort, rotationPort, passthroughPort, backendPort = ports[0], ports[1], ports[2], ports[3]

	stackStart := time.Now()
	st, err = devstack.Start(devstack.Config{
		Dir: filepath.Join(dir, "stack"), ManagerBinary: managerBin, AlbsimBinary: albsimBin,
		ListenerPort: samplePort,
		ExtraSeed: albsim.SeedState{
			TargetGroups: []albsim.SeedTargetGroup{{
				Name: backendTargetName, Port: backendPort, Targets: []albsim.SeedTarget{{ID: "127.0.0.1"}},
			}},
			LoadBalancers: []albsim.SeedLoadBalancer{{
				Name: extraLB,
				Listeners: []albsim.SeedListener{
					// demo-backend is devstack's echo backend, seeded by Start.
					{Port: rotationPort, TargetGroup: "demo-backend"},
					{Port: passthroughPort, TargetGroup: backendTargetName},
				},
			}},
		},
	})
	if err != nil {
		return err
	}
	if err := st.StartManager(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := st.Kube.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return err
	}
	objs, err := sampleObjects(root)
	if err != nil {
		return err
	}
	if err := st.Apply(ctx, namespace, objs); err != nil {
		return err
	}
	if err := st.WaitReady(ctx, namespace, objs, 2*time.Minute, nil); err != nil {
		return err
	}
	fmt.Printf("e2e: stack up and config/samples Ready in %s (listener 127.0.0.1:%d)\n", time.Since(stackStart).Round(time.Second), samplePort)
	return nil
}

// sampleObjects reads config/samples and points the ListenerMTLS at this run's listener port.
func sampleObjects(root string) ([]*unstructured.Unstructured, error) {
	objs, err := devstack.ReadManifests(filepath.Join(root, "config", "samples"))
	if err != nil {
		return nil, err
	}
	found := false
	for _, o := range objs {
		if o.GetKind() == "ListenerMTLS" {
			if err := unstructured.SetNestedField(o.Object, int64(samplePort), "spec", "loadBalancer", "port"); err != nil {
				return nil, err
			}
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("config/samples has no ListenerMTLS")
	}
	return objs, nil
}

// freePorts returns n distinct loopback ports that are free now. All listeners stay open
// until every port is chosen, so the n ports differ.
func freePorts(n int) ([]int, error) {
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// dumpLogs prints the end of the manager's and albsim's logs after a failed run, before the
// directory is removed.
func dumpLogs(dir string) {
	for _, name := range []string{"manager.log", "albsim.log"} {
		path := filepath.Join(dir, "stack", name)
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		var lines []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if len(lines) > 120 {
				lines = lines[1:]
			}
		}
		f.Close()
		fmt.Printf("\n===== last %d lines of %s =====\n", len(lines), name)
		for _, l := range lines {
			fmt.Println(l)
		}
	}
}
