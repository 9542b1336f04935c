package albsim

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// SeedState describes load balancers, target groups and listeners that exist before any API
// call, so a demo can start with an ALB already in place. It is read from YAML or JSON:
//
//	targetGroups:
//	- name: demo
//	  port: 8080
//	  targets: [{id: 127.0.0.1, port: 8080}]
//	loadBalancers:
//	- name: demo
//	  listeners:
//	  - port: 8443
//	    targetGroup: demo
//	    mutualAuthentication: {mode: passthrough}
type SeedState struct {
	TargetGroups  []SeedTargetGroup  `json:"targetGroups,omitempty"`
	LoadBalancers []SeedLoadBalancer `json:"loadBalancers,omitempty"`
}

// SeedTargetGroup is a target group and its registered targets.
type SeedTargetGroup struct {
	Name     string            `json:"name"`
	Protocol string            `json:"protocol,omitempty"` // HTTP (default) or HTTPS
	Port     int               `json:"port"`
	Targets  []SeedTarget      `json:"targets,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
}

// SeedTarget is a registered target; Port defaults to the target group's port.
type SeedTarget struct {
	ID   string `json:"id"`
	Port int    `json:"port,omitempty"`
}

// SeedLoadBalancer is an application load balancer and its listeners.
type SeedLoadBalancer struct {
	Name      string            `json:"name"`
	Listeners []SeedListener    `json:"listeners,omitempty"`
	Tags      map[string]string `json:"tags,omitempty"`
}

// SeedListener is a listener forwarding to a target group named in the same seed (or already held).
type SeedListener struct {
	Port                 int               `json:"port"`
	Protocol             string            `json:"protocol,omitempty"`       // HTTPS (default) or HTTP
	CertificateArn       string            `json:"certificateArn,omitempty"` // default: a placeholder ACM ARN
	TargetGroup          string            `json:"targetGroup"`
	MutualAuthentication *SeedMutualAuth   `json:"mutualAuthentication,omitempty"`
	Attributes           map[string]string `json:"attributes,omitempty"`
	Tags                 map[string]string `json:"tags,omitempty"`
}

// SeedMutualAuth is a listener's MutualAuthentication; Mode is off, passthrough or verify.
type SeedMutualAuth struct {
	Mode                          string `json:"mode"`
	TrustStoreArn                 string `json:"trustStoreArn,omitempty"`
	IgnoreClientCertificateExpiry bool   `json:"ignoreClientCertificateExpiry,omitempty"`
	AdvertiseTrustStoreCaNames    string `json:"advertiseTrustStoreCaNames,omitempty"`
}

// LoadSeedFile reads a SeedState from a YAML or JSON file.
func LoadSeedFile(path string) (SeedState, error) {
	var st SeedState
	data, err := os.ReadFile(path)
	if err != nil {
		return st, fmt.Errorf("read seed file: %w", err)
	}
	if err := yaml.UnmarshalStrict(data, &st); err != nil {
		return st, fmt.Errorf("parse seed file %s: %w", path, err)
	}
	return st, nil
}

func tagList(m map[string]string) []tagKV {
	var out []tagKV
	for _, k := range sortedKeys(m) {
		out = append(out, tagKV{Key: k, Value: m[k]})
	}
	return out
}

// Seed creates the target groups, load balancers and listeners of st. Resources that already
// exist by name are reused; a listener port already in use is an error. Listeners start serving
// before Seed returns; use ListenerARN to find their ARNs.
func (s *Sim) Seed(st SeedState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range st.TargetGroups {
		if e := checkName("Target group", t.Name, resourceNamePattern); e != nil {
			return errors.New(e.Message)
		}
		if s.state.targetGroupByName(t.Name) != nil {
			continue
		}
		protocol := strings.ToUpper(t.Protocol)
		if protocol == "" {
			protocol = "HTTP"
		}
		if protocol != "HTTP" && protocol != "HTTPS" {
			return fmt.Errorf("target group %s: protocol %q is not HTTP or HTTPS", t.Name, t.Protocol)
		}
		if t.Port < 1 || t.Port > 65535 {
			return fmt.Errorf("target group %s: port %d is not valid", t.Name, t.Port)
		}
		tg := s.newTargetGroup(t.Name, protocol, t.Port)
		for _, tt := range t.Targets {
			p := tt.Port
			if p == 0 {
				p = t.Port
			}
			tg.targets = addTargets(tg.targets, []target{{id: tt.ID, port: p}})
		}
		s.state.tags[tg.arn] = map[string]string{}
		_ = s.state.addTags(tg.arn, tagList(t.Tags))
		s.state.targetGroups = append(s.state.targetGroups, tg)
	}
	for _, b := range st.LoadBalancers {
		if e := checkName("Load balancer", b.Name, resourceNamePattern); e != nil {
			return errors.New(e.Message)
		}
		lb := s.state.loadBalancerByName(b.Name)
		if lb == nil {
			lb = s.newLoadBalancer(b.Name)
			_ = s.state.addTags(lb.arn, tagList(b.Tags))
			s.state.loadBalancers = append(s.state.loadBalancers, lb)
		}
		for _, sl := range b.Listeners {
			if err := s.seedListener(lb, sl); err != nil {
				return fmt.Errorf("load balancer %s, listener %d: %w", b.Name, sl.Port, err)
			}
		}
	}
	return nil
}

func (s *Sim) seedListener(lb *loadBalancer, sl SeedListener) error {
	tg := s.state.targetGroupByName(sl.TargetGroup)
	if tg == nil {
		return fmt.Errorf("target group %q not found", sl.TargetGroup)
	}
	protocol := strings.ToUpper(sl.Protocol)
	if protocol == "" {
		protocol = "HTTPS"
	}
	if e := checkProtocol(protocol); e != nil {
		return errors.New(e.Message)
	}
	if sl.Port < 1 || sl.Port > 65535 {
		return fmt.Errorf("port %d is not valid", sl.Port)
	}
	l := newListener(lb, sl.Port, protocol)
	l.actions = []action{{typ: "forward", order: 1, targetGroupArn: tg.arn, forward: []weightedTG{{arn: tg.arn, weight: 1}}}}
	if protocol == "HTTPS" {
		cert := sl.CertificateArn
		if cert == "" {
			cert = fmt.Sprintf("arn:aws:acm:%s:%s:certificate/albsim-localhost", s.cfg.Region, s.cfg.AccountID)
		}
		l.certificates = []certificateRef{{arn: cert, isDefault: true}}
		l.sslPolicy = defaultSSLPolicy
	}
	if ma := sl.MutualAuthentication; ma != nil {
		l.mtls = mutualAuth{mode: strings.ToLower(ma.Mode), trustStoreArn: ma.TrustStoreArn, ignoreExpiry: ma.IgnoreClientCertificateExpiry, advertise: strings.ToLower(ma.AdvertiseTrustStoreCaNames)}
		if l.mtls.advertise == "" {
			l.mtls.advertise = "off"
		}
		if e := s.state.checkMutualAuth(l, l.mtls, time.Now()); e != nil {
			return errors.New(e.Message)
		}
	}
	for k, v := range sl.Attributes {
		if e := checkListenerAttribute(k, v); e != nil {
			return errors.New(e.Message)
		}
		l.attributes[k] = v
	}
	if e := s.checkPortFree(l, sl.Port); e != nil {
		return errors.New(e.Message)
	}
	if err := s.startListener(l); err != nil {
		return err
	}
	_ = s.state.addTags(l.arn, tagList(sl.Tags))
	s.state.listeners = append(s.state.listeners, l)
	return nil
}
