// Package s3server runs a real S3 server, Versity Gateway with its posix backend and bucket
// versioning, on a free loopback port for tests. The binary comes from $VERSITYGW, else
// bin/versitygw in the repository, else hack/versitygw.sh builds it from the Go module proxy.
//
// Start one server per test package (in TestMain) and give each test its own bucket.
package s3server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Options configures the server. Zero values pick working defaults.
type Options struct {
	AccessKey string // default "albtrust-test"
	SecretKey string // default "albtrust-test-secret"
	Region    string // default us-east-1
	// Dir holds the server's data; default a temporary directory removed by Stop.
	Dir string
	// Binary overrides the versitygw binary path (else $VERSITYGW, bin/versitygw, hack/versitygw.sh).
	Binary string
	// StartTimeout bounds how long Start waits for the server to answer (default 30s; building
	// the binary on first use has its own, longer bound).
	StartTimeout time.Duration
	// Output receives the server's stdout and stderr (default discarded, kept for errors).
	Output *os.File
}

// Server is a running versitygw.
type Server struct {
	AccessKey, SecretKey, Region string

	endpoint string
	cmd      *exec.Cmd
	dir      string
	ownDir   bool
	logs     *lockedBuffer
	waitErr  chan error
	stopOnce sync.Once
}

// TB is the part of testing.TB that Start uses (so Start also works from TestMain with nil).
type TB interface {
	Helper()
	Cleanup(func())
}

// Start runs versitygw on a free 127.0.0.1 port and waits until it answers S3 requests. With a
// non-nil t the server is stopped on t's cleanup; otherwise call Stop.
func Start(t TB, opts Options) (*Server, error) {
	if t != nil {
		t.Helper()
	}
	if opts.AccessKey == "" {
		opts.AccessKey = "albtrust-test"
	}
	if opts.SecretKey == "" {
		opts.SecretKey = "albtrust-test-secret"
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	bin, err := binary(opts.Binary)
	if err != nil {
		return nil, err
	}
	s := &Server{AccessKey: opts.AccessKey, SecretKey: opts.SecretKey, Region: opts.Region, logs: &lockedBuffer{}, waitErr: make(chan error, 1)}
	s.dir = opts.Dir
	if s.dir == "" {
		if s.dir, err = os.MkdirTemp("", "albtrust-s3-"); err != nil {
			return nil, err
		}
		s.ownDir = true
	}
	root, versions := filepath.Join(s.dir, "root"), filepath.Join(s.dir, "versions")
	for _, d := range []string{root, versions} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			s.cleanupDir()
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		s.cleanupDir()
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s.endpoint = "http://" + addr
	s.cmd = exec.Command(bin, "--port", addr, "posix", "--versioning-dir", versions, root)
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+opts.AccessKey, "ROOT_SECRET_KEY="+opts.SecretKey)
	// Its own process group, so Stop also ends anything it spawned.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if opts.Output != nil {
		s.cmd.Stdout, s.cmd.Stderr = opts.Output, opts.Output
	} else {
		s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	}
	if err := s.cmd.Start(); err != nil {
		s.cleanupDir()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { s.waitErr <- s.cmd.Wait() }()
	if t != nil {
		t.Cleanup(s.Stop)
	}
	if err := s.waitReady(opts.StartTimeout); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Endpoint is the server's URL, e.g. http://127.0.0.1:40123.
func (s *Server) Endpoint() string { return s.endpoint }

// Client returns an S3 client for the server (path-style, static credentials).
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     s.Region,
		BaseEndpoint:               aws.String(s.endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// CreateBucket creates a bucket and turns versioning on.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	c := s.Client()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(name),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	}); err != nil {
		return fmt.Errorf("enable versioning on bucket %s: %w", name, err)
	}
	return nil
}

// Stop kills the server and removes its temporary data. It is safe to call more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-s.waitErr:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
				<-s.waitErr
			}
		}
		s.cleanupDir()
	})
}

func (s *Server) cleanupDir() {
	if s.ownDir && s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// waitReady polls ListBuckets until the server answers or exits.
func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c := s.Client()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-s.waitErr:
			s.waitErr <- werr
			return fmt.Errorf("versitygw exited before it answered (%v); output:\n%s", werr, s.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw on %s did not answer within %s: %v; output:\n%s", s.endpoint, timeout, err, s.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

var buildMu sync.Mutex

// binary finds versitygw: explicit path, $VERSITYGW, <repo>/bin/versitygw, else builds it with
// <repo>/hack/versitygw.sh (which caches the build per version).
func binary(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	linked := filepath.Join(root, "bin", "versitygw")
	if st, err := os.Stat(linked); err == nil && !st.IsDir() {
		return linked, nil
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	script := filepath.Join(root, "hack", "versitygw.sh")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build versitygw with %s: %w\n%s", script, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// repoRoot walks up from the working directory to the directory holding hack/versitygw.sh.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "versitygw.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("s3server: hack/versitygw.sh not found above the working directory; set VERSITYGW to a versitygw binary")
		}
		dir = parent
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// RunTests is a TestMain body for packages that share one S3 server: it starts the server,
// hands it to the package through assign, runs the tests and stops it. It returns the exit code.
func RunTests(m interface{ Run() int }, assign func(*Server)) int {
	srv, err := Start(nil, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start S3 server:", err)
		return 1
	}
	defer srv.Stop()
	assign(srv)
	return m.Run()
}
