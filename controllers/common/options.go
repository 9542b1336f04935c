package common

import (
	"time"

	"k8s.io/utils/clock"

	albaws "github.com/albtrust/albtrust/internal/aws"
)

// Options are shared by the reconcilers.
type Options struct {
	// AWS clients; nil only in tests that run no AWS-facing controller.
	AWS *albaws.Clients
	// Clock is injected so that tests can move time instead of sleeping.
	Clock clock.PassiveClock
	// ClusterID goes into the tags of the trust stores albtrust creates.
	ClusterID string

	ClientCAConcurrency          int
	ClientCertificateConcurrency int
	ListenerMTLSConcurrency      int
	// UserErrorRetry is how often an object blocked on something only its user can fix (a
	// missing bucket, a quota) is looked at again when nothing it watches changes.
	UserErrorRetry time.Duration
	// ListenerResyncPeriod is how often a listener is compared with its spec to correct drift.
	ListenerResyncPeriod time.Duration
}

// Defaults fills in unset fields.
func (o *Options) Defaults() {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.ClusterID == "" {
		o.ClusterID = "default"
	}
	if o.ClientCAConcurrency <= 0 {
		o.ClientCAConcurrency = 2
	}
	if o.ClientCertificateConcurrency <= 0 {
		o.ClientCertificateConcurrency = 8
	}
	if o.ListenerMTLSConcurrency <= 0 {
		o.ListenerMTLSConcurrency = 2
	}
	if o.UserErrorRetry <= 0 {
		o.UserErrorRetry = 2 * time.Minute
	}
	if o.ListenerResyncPeriod <= 0 {
		o.ListenerResyncPeriod = 3 * time.Minute
	}
}
