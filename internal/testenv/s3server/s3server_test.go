package s3server

import (
	"bytes"
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestVersionedObjects proves the server keeps old object versions readable by version ID, which
// albsim relies on to read a bundle "at the given object version".
func TestVersionedObjects(t *testing.T) {
	srv, err := Start(t, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.CreateBucket(ctx, "versioned"); err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	put := func(body string) string {
		out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("versioned"), Key: aws.String("a/b.pem"), Body: bytes.NewReader([]byte(body))})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.VersionId) == "" {
			t.Fatal("PutObject returned no version ID although versioning is enabled")
		}
		return aws.ToString(out.VersionId)
	}
	v1 := put("first")
	v2 := put("second")
	if v1 == v2 {
		t.Fatalf("two puts returned the same version %q", v1)
	}
	tests := map[string]struct{ version, want string }{
		"latest":        {"", "second"},
		"first version": {v1, "first"},
		"second":        {v2, "second"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := &s3.GetObjectInput{Bucket: aws.String("versioned"), Key: aws.String("a/b.pem")}
			if tc.version != "" {
				in.VersionId = aws.String(tc.version)
			}
			out, err := c.GetObject(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Body.Close()
			got, _ := io.ReadAll(out.Body)
			if string(got) != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestStopKillsProcess proves Stop leaves no server process behind.
func TestStopKillsProcess(t *testing.T) {
	srv, err := Start(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pid := srv.cmd.Process.Pid
	dir := srv.dir
	srv.Stop()
	srv.Stop() // idempotent
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("process %d still exists after Stop", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data directory %s still exists after Stop", dir)
	}
}
