package clientca

import (
	"crypto/x509"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
)

var storeNamePattern = regexp.MustCompile(`^([a-zA-Z0-9]+-)*[a-zA-Z0-9]+$`)

func TestTrustStoreName(t *testing.T) {
	long := strings.Repeat("a", 63)
	for name, tc := range map[string]struct {
		ns, name, spec string
		want           string
	}{
		"spec name wins":              {ns: "team", name: "ca", spec: "my-store", want: "my-store"},
		"short names keep their text": {ns: "team", name: "ca"},
		"long names are cut to fit":   {ns: long, name: long},
		"dots and dashes collapse":    {ns: "a--b", name: "x.y.z"},
		"leading dash is trimmed":     {ns: "-x", name: "y-"},
	} {
		t.Run(name, func(t *testing.T) {
			ca := &mtlsv1alpha1.ClientCA{ObjectMeta: metav1.ObjectMeta{Namespace: tc.ns, Name: tc.name}}
			ca.Spec.TrustStore.Name = tc.spec
			got := TrustStoreName(ca, "cluster-a")
			if tc.want != "" && got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if len(got) < 1 || len(got) > 32 || !storeNamePattern.MatchString(got) {
				t.Fatalf("%q breaks ALB's name rule", got)
			}
			if tc.spec == "" && got == TrustStoreName(ca, "cluster-b") {
				t.Fatalf("%q does not depend on the cluster id", got)
			}
		})
	}
	a := &mtlsv1alpha1.ClientCA{ObjectMeta: metav1.ObjectMeta{Namespace: long, Name: long + "1"}}
	b := &mtlsv1alpha1.ClientCA{ObjectMeta: metav1.ObjectMeta{Namespace: long, Name: long + "2"}}
	if TrustStoreName(a, "c") == TrustStoreName(b, "c") {
		t.Fatal("names that differ only past the cut collide")
	}
}

func TestCRLDecision(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	validity := 9 * time.Hour
	cur := &mtlsv1alpha1.CRLStatus{ThisUpdate: metav1.NewTime(now.Add(-time.Hour)), EntriesSHA256: "h1", RevocationIDs: []int64{4}}
	for name, tc := range map[string]struct {
		cur          *mtlsv1alpha1.CRLStatus
		hash         string
		now          time.Time
		storeChanged bool
		want         bool
	}{
		"no CRL yet":                     {cur: nil, hash: "h1", now: now, want: true},
		"registered, unchanged":          {cur: cur, hash: "h1", now: now, want: false},
		"revoked set changed":            {cur: cur, hash: "h2", now: now, want: true},
		"trust store changed":            {cur: cur, hash: "h1", now: now, storeChanged: true, want: true},
		"just before two thirds":         {cur: cur, hash: "h1", now: now.Add(5*time.Hour - time.Second), want: false},
		"two thirds of validity passed":  {cur: cur, hash: "h1", now: now.Add(5 * time.Hour), want: true},
		"status lost its revocation IDs": {cur: &mtlsv1alpha1.CRLStatus{ThisUpdate: cur.ThisUpdate, EntriesSHA256: "h1"}, hash: "h1", now: now, want: true},
	} {
		t.Run(name, func(t *testing.T) {
			got, why := crlDecision(tc.cur, tc.hash, validity, tc.now, tc.storeChanged)
			if got != tc.want {
				t.Fatalf("crlDecision = %v (%s), want %v", got, why, tc.want)
			}
			if got && why == "" {
				t.Fatal("a decision to publish must say why")
			}
		})
	}
}

func TestRenewalTime(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ca := &mtlsv1alpha1.ClientCA{}
	cert := newTestCert(start, start.Add(90*24*time.Hour))
	if got, want := renewalTime(ca, cert), start.Add(60*24*time.Hour); !got.Equal(want) {
		t.Errorf("default renewal at %s, want two thirds in at %s", got, want)
	}
	ca.Spec.RenewBefore = &metav1.Duration{Duration: 24 * time.Hour}
	if got, want := renewalTime(ca, cert), start.Add(89*24*time.Hour); !got.Equal(want) {
		t.Errorf("renewBefore 24h renews at %s, want %s", got, want)
	}
}

func newTestCert(notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{NotBefore: notBefore, NotAfter: notAfter}
}
