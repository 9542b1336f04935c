// Package devstack runs albtrust the way a user would, on one machine: a real kube-apiserver
// and etcd, a real S3 server (versitygw) with a versioned bucket, the albsim binary seeded with
// a load balancer whose HTTPS listener forwards to a small backend, and the albtrust manager
// binary configured only through flags and the standard AWS environment variables. make demo
// and the end-to-end suite both use it.
package devstack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/albtrust/albtrust/internal/albsim"
	"github.com/albtrust/albtrust/internal/testenv/kubeenv"
	"github.com/albtrust/albtrust/internal/testenv/s3server"
)

// Config says where the binaries are and how the stack looks.
type Config struct {
	// Dir holds the stack's files (kubeconfig, logs, S3 data, certificates).
	Dir string
	// ManagerBinary and AlbsimBinary are the built commands (go build ./cmd, ./cmd/albsim).
	ManagerBinary, AlbsimBinary string
	// Bucket is created with versioning; the samples publish into albtrust-demo.
	Bucket string
	// LoadBalancer and ListenerPort name the seeded ALB and its HTTPS listener.
	LoadBalancer string
	ListenerPort int
	// ExtraSeed adds load balancers, target groups and listeners to the seed.
	ExtraSeed albsim.SeedState
	// ManagerArgs are added to the manager's flags.
	ManagerArgs []string
	// Log receives progress lines.
	Log io.Writer
}

// Stack is a running local stack.
type Stack struct {
	cfg        Config
	Kube       *kubeenv.Env
	S3         *s3server.Server
	AlbsimURL  string
	ServerCA   string // file with albsim's listener server CA
	TargetURL  string
	Kubeconfig string

	target  *http.Server
	albsim  *exec.Cmd
	mu      sync.Mutex
	manager *exec.Cmd
	mgrDone chan struct{}
}

// BackendHandler answers requests behind the listener with who the load balancer said the
// client was.
func BackendHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subject := r.Header.Get("X-Amzn-Mtls-Clientcert-Subject")
		if subject == "" {
			subject = "(no client certificate)"
		}
		fmt.Fprintf(w, "hello from the backend; client subject: %s; serial: %s\n",
			subject, r.Header.Get("X-Amzn-Mtls-Clientcert-Serial-Number"))
	})
}

// Start brings the stack up; on error it stops whatever it started.
func Start(cfg Config) (st *Stack, err error) {
	if cfg.Bucket == "" {
		cfg.Bucket = "albtrust-demo"
	}
	if cfg.LoadBalancer == "" {
		cfg.LoadBalancer = "demo-alb"
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	st = &Stack{cfg: cfg}
	defer func() {
		if err != nil {
			st.Stop()
		}
	}()
	st.logf("Starting etcd and kube-apiserver")
	if st.Kube, err = kubeenv.Start(); err != nil {
		return nil, err
	}
	st.Kubeconfig = filepath.Join(cfg.Dir, "kubeconfig")
	if err := copyFile(st.Kube.Kubeconfig, st.Kubeconfig); err != nil {
		return nil, err
	}

	st.logf("Starting the S3 server (versitygw) with versioned bucket %s", cfg.Bucket)
	if st.S3, err = s3server.Start(nil, s3server.Options{Dir: filepath.Join(cfg.Dir, "s3")}); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.S3.CreateBucket(ctx, cfg.Bucket); err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	st.target = &http.Server{Handler: BackendHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = st.target.Serve(ln) }()
	targetPort := ln.Addr().(*net.TCPAddr).Port
	st.TargetURL = fmt.Sprintf("http://127.0.0.1:%d", targetPort)

	if err := st.startAlbsim(targetPort); err != nil {
		return nil, err
	}
	return st, nil
}

func (st *Stack) logf(format string, args ...interface{}) {
	fmt.Fprintf(st.cfg.Log, "==> "+format+"\n", args...)
}

func (st *Stack) startAlbsim(targetPort int) error {
	cfg := st.cfg
	seed := albsim.SeedState{
		TargetGroups: append([]albsim.SeedTargetGroup{{Name: "demo-backend", Port: targetPort, Targets: []albsim.SeedTarget{{ID: "127.0.0.1"}}}},
			cfg.ExtraSeed.TargetGroups...),
		LoadBalancers: append([]albsim.SeedLoadBalancer{{Name: cfg.LoadBalancer, Listeners: []albsim.SeedListener{{Port: cfg.ListenerPort, TargetGroup: "demo-backend"}}}},
			cfg.ExtraSeed.LoadBalancers...),
	}
	data, err := yaml.Marshal(seed)
	if err != nil {
		return err
	}
	seedFile := filepath.Join(cfg.Dir, "albsim-seed.yaml")
	urlFile := filepath.Join(cfg.Dir, "albsim-url")
	st.ServerCA = filepath.Join(cfg.Dir, "albsim-server-ca.pem")
	_ = os.Remove(urlFile)
	if err := os.WriteFile(seedFile, data, 0o600); err != nil {
		return err
	}
	st.logf("Starting albsim with load balancer %s and an HTTPS listener on 127.0.0.1:%d", cfg.LoadBalancer, cfg.ListenerPort)
	logFile, err := os.Create(filepath.Join(cfg.Dir, "albsim.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(cfg.AlbsimBinary,
		"--api-address", "127.0.0.1:0", "--url-file", urlFile, "--seed", seedFile,
		"--s3-endpoint", st.S3.Endpoint(), "--region", st.S3.Region, "--write-server-ca", st.ServerCA)
	cmd.Env = append(os.Environ(), "ALBSIM_S3_ACCESS_KEY="+st.S3.AccessKey, "ALBSIM_S3_SECRET_KEY="+st.S3.SecretKey)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start albsim: %w", err)
	}
	st.albsim = cmd
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(urlFile); err == nil && len(b) > 0 {
			st.AlbsimURL = strings.TrimSpace(string(b))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("albsim did not start; see %s", logFile.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ManagerEnv is the environment the manager runs with: the standard AWS variables only.
func (st *Stack) ManagerEnv() []string {
	return []string{
		"KUBECONFIG=" + st.Kubeconfig,
		"AWS_REGION=" + st.S3.Region,
		"AWS_ACCESS_KEY_ID=" + st.S3.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + st.S3.SecretKey,
		"AWS_ENDPOINT_URL_S3=" + st.S3.Endpoint(),
		"AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=" + st.AlbsimURL,
		"AWS_EC2_METADATA_DISABLED=true",
		"HOME=" + st.cfg.Dir,
		"PATH=" + os.Getenv("PATH"),
	}
}

// ManagerArgs are the manager's flags.
func (st *Stack) ManagerArgs() []string {
	return append([]string{"--s3-path-style", "--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--cluster-id", "demo"}, st.cfg.ManagerArgs...)
}

// StartManager runs the manager binary; its log goes to manager.log in the stack's directory.
func (st *Stack) StartManager() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.manager != nil {
		return fmt.Errorf("manager already running")
	}
	logFile, err := os.OpenFile(st.ManagerLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(st.cfg.ManagerBinary, st.ManagerArgs()...)
	cmd.Env = st.ManagerEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start manager: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(done) }()
	st.manager, st.mgrDone = cmd, done
	return nil
}

// ManagerLog is the path of the manager's log.
func (st *Stack) ManagerLog() string { return filepath.Join(st.cfg.Dir, "manager.log") }

// StopManager stops the manager with SIGTERM (SIGKILL after 10s) and waits for it.
func (st *Stack) StopManager() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.manager == nil {
		return
	}
	stopProcess(st.manager, st.mgrDone)
	st.manager, st.mgrDone = nil, nil
}

func stopProcess(cmd *exec.Cmd, done chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Stop stops everything that was started, the manager first.
func (st *Stack) Stop() {
	st.StopManager()
	if st.albsim != nil {
		done := make(chan struct{})
		go func() { _ = st.albsim.Wait(); close(done) }()
		stopProcess(st.albsim, done)
		st.albsim = nil
	}
	if st.target != nil {
		_ = st.target.Close()
	}
	if st.S3 != nil {
		st.S3.Stop()
	}
	if st.Kube != nil {
		_ = st.Kube.Stop()
	}
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o600)
}
