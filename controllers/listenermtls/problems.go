package listenermtls

import (
	"errors"
	"fmt"

	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	albaws "github.com/albtrust/albtrust/internal/aws"
)

// problemKind says how the reconciler reacts to a problem.
type problemKind int

const (
	// userFixable: the spec or the AWS account must change. Condition False, a Warning Event
	// and a slow requeue; never a hot loop.
	userFixable problemKind = iota
	// waiting: something is on its way (a CREATING trust store). Requeue after a few seconds.
	waiting
	// transient: AWS or the network failed; controller-runtime retries with backoff.
	transient
)

// problem is why a reconcile could not bring the listener to its spec. Reason and Message go
// to the Ready condition; Message is stable text for a person, never the raw AWS error (which
// carries request IDs and would change status on every retry).
type problem struct {
	kind    problemKind
	reason  string
	message string
	// err is the underlying error, for logs and controller-runtime's backoff.
	err error
}

func (p *problem) Error() string {
	if p.err != nil {
		return p.message + ": " + p.err.Error()
	}
	return p.message
}

func (p *problem) Unwrap() error { return p.err }

func userProblem(reason, format string, args ...any) *problem {
	return &problem{kind: userFixable, reason: reason, message: fmt.Sprintf(format, args...)}
}

// classifyELB maps an ELB error to a problem. subject names what the call was about, for the
// message ("listener arn:...", "load balancer demo").
func classifyELB(op, subject string, err error) *problem {
	var (
		listenerNotFound *elbtypes.ListenerNotFoundException
		lbNotFound       *elbtypes.LoadBalancerNotFoundException
		tsNotFound       *elbtypes.TrustStoreNotFoundException
		tsNotReady       *elbtypes.TrustStoreNotReadyException
		invalidConfig    *elbtypes.InvalidConfigurationRequestException
	)
	code := albaws.ErrorCode(err)
	p := &problem{kind: userFixable, err: err}
	switch {
	case albaws.IsThrottling(err):
		p.kind, p.reason = transient, mtlsv1alpha1.ReasonThrottled
		p.message = fmt.Sprintf("ELB throttled %s; albtrust backs off and retries", op)
	case errors.As(err, &listenerNotFound):
		p.reason = mtlsv1alpha1.ReasonListenerNotFound
		p.message = fmt.Sprintf("Listener %s does not exist; fix listenerARN or create the listener", subject)
	case errors.As(err, &lbNotFound):
		p.reason = mtlsv1alpha1.ReasonLoadBalancerNotFound
		p.message = fmt.Sprintf("Load balancer %s does not exist; fix spec.loadBalancer", subject)
	case errors.As(err, &tsNotFound):
		p.reason = mtlsv1alpha1.ReasonTrustStoreNotFound
		p.message = fmt.Sprintf("Trust store %s does not exist; fix trustStoreARN or the ClientCA", subject)
	case errors.As(err, &tsNotReady):
		p.kind, p.reason = waiting, mtlsv1alpha1.ReasonTrustStoreNotReady
		p.message = fmt.Sprintf("Trust store %s is still CREATING; retrying in %s", subject, trustStorePollInterval)
	case errors.As(err, &invalidConfig), code == "ValidationError":
		p.reason = mtlsv1alpha1.ReasonInvalidConfiguration
		p.message = fmt.Sprintf("ELB refused %s for %s (%s); check the spec", op, subject, code)
	default:
		p.kind, p.reason = transient, mtlsv1alpha1.ReasonAWSError
		p.message = fmt.Sprintf("ELB %s failed (%s); albtrust retries with backoff", op, albaws.ResultLabel(err))
	}
	return p
}
