package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
)

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// ReadManifests reads every YAML document of the .yaml files in dir (kustomization.yaml aside),
// in file-name order.
func ReadManifests(dir string) ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var objs []*unstructured.Unstructured
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, doc := range docSeparator.Split(string(data), -1) {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			objs = append(objs, u)
		}
	}
	return objs, nil
}

// Apply creates the objects in namespace with server-side apply.
func (st *Stack) Apply(ctx context.Context, namespace string, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		o.SetNamespace(namespace)
		if err := st.Kube.Client.Patch(ctx, o, client.Apply, client.FieldOwner("albtrust-demo"), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}

// WaitReady waits until every albtrust object in the list is Ready, calling progress with a
// line whenever the picture changes.
func (st *Stack) WaitReady(ctx context.Context, namespace string, objs []*unstructured.Unstructured, timeout time.Duration, progress func(string)) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		var lines []string
		allReady := true
		for _, o := range objs {
			if o.GetAPIVersion() != mtlsv1alpha1.GroupVersion.String() {
				continue
			}
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(o.GroupVersionKind())
			if err := st.Kube.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: o.GetName()}, got); err != nil {
				return err
			}
			state, reason := "Unknown", "waiting for the controller"
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				if m, _ := c.(map[string]interface{}); str(m["type"]) == mtlsv1alpha1.ConditionReady {
					state, reason = str(m["status"]), str(m["reason"])+": "+str(m["message"])
				}
			}
			if state != "True" {
				allReady = false
			}
			lines = append(lines, fmt.Sprintf("%-18s %-10s Ready=%-7s %s", o.GetKind(), o.GetName(), state, reason))
		}
		now := strings.Join(lines, "\n")
		if now != last && progress != nil {
			progress(now)
			last = now
		}
		if allReady {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not Ready after %s:\n%s", timeout, now)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func str(v interface{}) string {
	s, _ := v.(string)
	return s
}
