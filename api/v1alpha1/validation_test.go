package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/albtrust/albtrust/internal/testenv/kubeenv"
)

var testEnv *kubeenv.Env

func TestMain(m *testing.M) {
	env, err := kubeenv.Start()
	if err != nil {
		// Without a real apiserver the suite proves nothing; fail loudly instead of skipping.
		os.Stderr.WriteString("validation suite: " + err.Error() + "\n")
		os.Exit(1)
	}
	testEnv = env
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

var expectLine = regexp.MustCompile(`(?m)^# expect: (.+)$`)

// splitDocs splits a multi-document YAML file into objects.
func splitDocs(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("parse YAML: %v", err)
		}
		objs = append(objs, u)
	}
	return objs
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := testEnv.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}

// TestInvalidManifestsAreRefused applies every manifest under testdata/invalid and expects the
// apiserver to refuse it with the message named in the file's "# expect:" line. A file with two
// documents is a transition: the first must be accepted, the update to the second refused.
func TestInvalidManifestsAreRefused(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("the catalogue has %d invalid manifests, want at least 30", len(files))
	}
	ns := newNamespace(t, "invalid")
	ctx := context.Background()
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			m := expectLine.FindSubmatch(data)
			if m == nil {
				t.Fatalf("%s has no '# expect:' line", file)
			}
			want := strings.TrimSpace(string(m[1]))
			objs := splitDocs(t, data)
			for _, o := range objs {
				o.SetNamespace(ns)
			}
			var applyErr error
			switch len(objs) {
			case 1:
				applyErr = testEnv.Client.Create(ctx, objs[0])
			case 2:
				if err := testEnv.Client.Create(ctx, objs[0]); err != nil {
					t.Fatalf("the first document must be accepted: %v", err)
				}
				objs[1].SetResourceVersion(objs[0].GetResourceVersion())
				applyErr = testEnv.Client.Update(ctx, objs[1])
			default:
				t.Fatalf("want 1 or 2 documents, got %d", len(objs))
			}
			if applyErr == nil {
				t.Fatalf("the apiserver accepted it; want a refusal containing %q", want)
			}
			if !strings.Contains(applyErr.Error(), want) {
				t.Fatalf("refused with\n  %v\nwant a message containing\n  %q", applyErr, want)
			}
		})
	}
}

// TestSamplesAreAccepted applies every manifest in config/samples.
func TestSamplesAreAccepted(t *testing.T) {
	root, err := kubeenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t, "samples")
	kinds := map[string]bool{}
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range splitDocs(t, data) {
			o.SetNamespace(ns)
			if err := testEnv.Client.Create(context.Background(), o); err != nil {
				t.Errorf("%s: %v", filepath.Base(file), err)
				continue
			}
			kinds[o.GetKind()] = true
		}
	}
	for _, k := range []string{"ClientCA", "ClientCertificate", "ListenerMTLS"} {
		if !kinds[k] {
			t.Errorf("config/samples has no accepted %s", k)
		}
	}
}

// TestDefaultsAreApplied checks the schema defaults a user relies on without writing them.
func TestDefaultsAreApplied(t *testing.T) {
	ns := newNamespace(t, "defaults")
	ctx := context.Background()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("mtls.albtrust.io/v1alpha1")
	u.SetKind("ClientCA")
	u.SetName("defaults")
	u.SetNamespace(ns)
	u.Object["spec"] = map[string]interface{}{
		"subject":    map[string]interface{}{"commonName": "x"},
		"privateKey": map[string]interface{}{},
		"bundle":     map[string]interface{}{"s3": map[string]interface{}{"bucket": "b-1"}},
	}
	if err := testEnv.Client.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(u.GroupVersionKind())
	if err := testEnv.Client.Get(ctx, client.ObjectKeyFromObject(u), got); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"spec.duration":             "87600h",
		"spec.deletionPolicy":       "Retain",
		"spec.privateKey.algorithm": "RSA",
	} {
		v, _, _ := unstructured.NestedString(got.Object, strings.Split(path, ".")...)
		if v != want {
			t.Errorf("%s = %q, want %q", path, v, want)
		}
	}
}

// TestCategoryListsAllKinds checks that `kubectl get albtrust` lists the three kinds, with
// short names and printer columns.
func TestCategoryListsAllKinds(t *testing.T) {
	dc, err := discovery.NewDiscoveryClientForConfig(testEnv.Config)
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.ServerResourcesForGroupVersion("mtls.albtrust.io/v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	var inCategory []string
	for _, r := range list.APIResources {
		for _, c := range r.Categories {
			if c == "albtrust" {
				inCategory = append(inCategory, r.Kind)
			}
		}
		if !strings.Contains(r.Name, "/") && len(r.ShortNames) == 0 {
			t.Errorf("%s has no short name", r.Kind)
		}
	}
	sort.Strings(inCategory)
	if strings.Join(inCategory, ",") != "ClientCA,ClientCertificate,ListenerMTLS" {
		t.Errorf("category albtrust lists %v", inCategory)
	}
}
