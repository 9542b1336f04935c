package listenermtls

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
)

// loadBalancerNameFromARN returns the name inside arn:...:loadbalancer/app/<name>/<id>.
func loadBalancerNameFromARN(arn string) string {
	_, rest, ok := strings.Cut(arn, ":loadbalancer/")
	if !ok {
		return ""
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}

// matchesRef reports whether a listener on lbARN:port is the one ref asks for.
func matchesRef(ref *mtlsv1alpha1.LoadBalancerRef, lbARN string, port int32) bool {
	if ref == nil || port != ref.Port {
		return false
	}
	if ref.ARN != "" {
		return lbARN == ref.ARN
	}
	return loadBalancerNameFromARN(lbARN) == ref.Name
}

// resolveListener finds the listener the spec names and checks that it is HTTPS. A listener
// found before (status.listener) is described by ARN, so a steady-state resync costs one
// DescribeListeners call; only when it is gone or no longer matches is the load balancer
// searched again.
func (r *Reconciler) resolveListener(ctx context.Context, obj *mtlsv1alpha1.ListenerMTLS) (elbtypes.Listener, *problem) {
	l, p := r.findListener(ctx, obj)
	if p != nil {
		return l, p
	}
	if l.Protocol != elbtypes.ProtocolEnumHttps {
		return l, userProblem(mtlsv1alpha1.ReasonNotHTTPS,
			"Listener %s on port %d is %s; mutual TLS needs an HTTPS listener", aws.ToString(l.ListenerArn), aws.ToInt32(l.Port), l.Protocol)
	}
	return l, nil
}

func (r *Reconciler) findListener(ctx context.Context, obj *mtlsv1alpha1.ListenerMTLS) (elbtypes.Listener, *problem) {
	spec := obj.Spec
	if spec.ListenerARN != "" {
		return r.describeListener(ctx, spec.ListenerARN)
	}
	ref := spec.LoadBalancer
	if ref == nil {
		return elbtypes.Listener{}, userProblem(mtlsv1alpha1.ReasonInvalidConfiguration, "Set listenerARN or loadBalancer")
	}
	if cached := obj.Status.Listener; cached != nil && matchesRef(ref, cached.LoadBalancerARN, cached.Port) {
		l, p := r.describeListener(ctx, cached.ARN)
		if p == nil && matchesRef(ref, aws.ToString(l.LoadBalancerArn), aws.ToInt32(l.Port)) {
			return l, nil
		}
		if p != nil && p.reason != mtlsv1alpha1.ReasonListenerNotFound {
			return l, p
		}
		// The listener is gone or has moved: search again.
	}
	lbARN := ref.ARN
	lbDesc := ref.ARN
	if lbARN == "" {
		lbDesc = ref.Name
		var p *problem
		if lbARN, p = r.loadBalancerARN(ctx, ref.Name); p != nil {
			return elbtypes.Listener{}, p
		}
	}
	pages := elbv2.NewDescribeListenersPaginator(r.AWS.ELB, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return elbtypes.Listener{}, classifyELB("DescribeListeners", "load balancer "+lbDesc, err)
		}
		for _, l := range out.Listeners {
			if aws.ToInt32(l.Port) == ref.Port {
				return l, nil
			}
		}
	}
	return elbtypes.Listener{}, userProblem(mtlsv1alpha1.ReasonListenerNotFound,
		"Load balancer %s has no listener on port %d; fix spec.loadBalancer.port or create the listener", lbDesc, ref.Port)
}

func (r *Reconciler) describeListener(ctx context.Context, arn string) (elbtypes.Listener, *problem) {
	out, err := r.AWS.ELB.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{arn}})
	if err != nil {
		return elbtypes.Listener{}, classifyELB("DescribeListeners", arn, err)
	}
	for _, l := range out.Listeners {
		if aws.ToString(l.ListenerArn) == arn {
			return l, nil
		}
	}
	return elbtypes.Listener{}, classifyELB("DescribeListeners", arn, &elbtypes.ListenerNotFoundException{})
}

func (r *Reconciler) loadBalancerARN(ctx context.Context, name string) (string, *problem) {
	pages := elbv2.NewDescribeLoadBalancersPaginator(r.AWS.ELB, &elbv2.DescribeLoadBalancersInput{Names: []string{name}})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return "", classifyELB("DescribeLoadBalancers", name, err)
		}
		for _, lb := range out.LoadBalancers {
			if aws.ToString(lb.LoadBalancerName) == name {
				if lb.Type != "" && lb.Type != elbtypes.LoadBalancerTypeEnumApplication {
					return "", userProblem(mtlsv1alpha1.ReasonInvalidConfiguration,
						"Load balancer %s is a %s load balancer; mutual TLS needs an application load balancer", name, lb.Type)
				}
				return aws.ToString(lb.LoadBalancerArn), nil
			}
		}
	}
	return "", classifyELB("DescribeLoadBalancers", name, &elbtypes.LoadBalancerNotFoundException{})
}

// verifyListenersElsewhere counts the other listeners of the load balancer in verify mode. ELB
// answers a third verify listener with InvalidConfigurationRequest, the same code as other
// refusals; counting tells the quota apart without reading the error text.
func (r *Reconciler) verifyListenersElsewhere(ctx context.Context, lbARN, listenerARN string) (int, error) {
	n := 0
	pages := elbv2.NewDescribeListenersPaginator(r.AWS.ELB, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		for _, l := range out.Listeners {
			if aws.ToString(l.ListenerArn) != listenerARN && l.MutualAuthentication != nil &&
				strings.EqualFold(aws.ToString(l.MutualAuthentication.Mode), elbModeVerify) {
				n++
			}
		}
	}
	return n, nil
}

// isListenerGone reports problems that mean there is nothing left to undo at deletion.
func isListenerGone(p *problem) bool {
	return p != nil && (p.reason == mtlsv1alpha1.ReasonListenerNotFound || p.reason == mtlsv1alpha1.ReasonLoadBalancerNotFound)
}
