package albsim

import "time"

// XML shapes of ELBv2 responses (part of the Query codec). Lists are `<Name><member>...</member></Name>`.

type tagKV struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type xLoadBalancerState struct {
	Code string `xml:"Code"`
}

type xLoadBalancer struct {
	LoadBalancerArn       string             `xml:"LoadBalancerArn"`
	DNSName               string             `xml:"DNSName"`
	CanonicalHostedZoneID string             `xml:"CanonicalHostedZoneId"`
	CreatedTime           string             `xml:"CreatedTime"`
	LoadBalancerName      string             `xml:"LoadBalancerName"`
	Scheme                string             `xml:"Scheme"`
	VpcID                 string             `xml:"VpcId"`
	State                 xLoadBalancerState `xml:"State"`
	Type                  string             `xml:"Type"`
	IPAddressType         string             `xml:"IpAddressType"`
	SecurityGroups        []string           `xml:"SecurityGroups>member"`
}

type xTarget struct {
	ID   string `xml:"Id"`
	Port int    `xml:"Port"`
}

type xTargetGroup struct {
	TargetGroupArn   string   `xml:"TargetGroupArn"`
	TargetGroupName  string   `xml:"TargetGroupName"`
	Protocol         string   `xml:"Protocol,omitempty"`
	Port             int      `xml:"Port,omitempty"`
	VpcID            string   `xml:"VpcId,omitempty"`
	TargetType       string   `xml:"TargetType"`
	IPAddressType    string   `xml:"IpAddressType"`
	LoadBalancerArns []string `xml:"LoadBalancerArns>member"`
}

type xCertificate struct {
	CertificateArn string `xml:"CertificateArn"`
	IsDefault      *bool  `xml:"IsDefault,omitempty"`
}

type xTargetGroupTuple struct {
	TargetGroupArn string `xml:"TargetGroupArn"`
	Weight         int    `xml:"Weight"`
}

type xForwardConfig struct {
	TargetGroups []xTargetGroupTuple `xml:"TargetGroups>member"`
}

type xAction struct {
	Type           string          `xml:"Type"`
	Order          int             `xml:"Order,omitempty"`
	TargetGroupArn string          `xml:"TargetGroupArn,omitempty"`
	ForwardConfig  *xForwardConfig `xml:"ForwardConfig,omitempty"`
}

type xMutualAuthentication struct {
	Mode                          string `xml:"Mode"`
	TrustStoreArn                 string `xml:"TrustStoreArn,omitempty"`
	IgnoreClientCertificateExpiry *bool  `xml:"IgnoreClientCertificateExpiry,omitempty"`
	AdvertiseTrustStoreCaNames    string `xml:"AdvertiseTrustStoreCaNames,omitempty"`
	TrustStoreAssociationStatus   string `xml:"TrustStoreAssociationStatus,omitempty"`
}

type xListener struct {
	ListenerArn          string                 `xml:"ListenerArn"`
	LoadBalancerArn      string                 `xml:"LoadBalancerArn"`
	Port                 int                    `xml:"Port"`
	Protocol             string                 `xml:"Protocol"`
	Certificates         []xCertificate         `xml:"Certificates>member"`
	SslPolicy            string                 `xml:"SslPolicy,omitempty"`
	DefaultActions       []xAction              `xml:"DefaultActions>member"`
	AlpnPolicy           []string               `xml:"AlpnPolicy>member"`
	MutualAuthentication *xMutualAuthentication `xml:"MutualAuthentication,omitempty"`
}

type xTrustStore struct {
	Name                   string `xml:"Name"`
	TrustStoreArn          string `xml:"TrustStoreArn"`
	Status                 string `xml:"Status"`
	NumberOfCaCertificates int    `xml:"NumberOfCaCertificates"`
	TotalRevokedEntries    int    `xml:"TotalRevokedEntries"`
}

type xTrustStoreRevocation struct {
	TrustStoreArn          string `xml:"TrustStoreArn"`
	RevocationID           int64  `xml:"RevocationId"`
	RevocationType         string `xml:"RevocationType"`
	NumberOfRevokedEntries int    `xml:"NumberOfRevokedEntries"`
}

type xAssociation struct {
	ResourceArn string `xml:"ResourceArn"`
}

type xTagDescription struct {
	ResourceArn string  `xml:"ResourceArn"`
	Tags        []tagKV `xml:"Tags>member"`
}

// Results, one per action shape.

type loadBalancersResult struct {
	LoadBalancers []xLoadBalancer `xml:"LoadBalancers>member"`
	NextMarker    string          `xml:"NextMarker,omitempty"`
}

type targetGroupsResult struct {
	TargetGroups []xTargetGroup `xml:"TargetGroups>member"`
	NextMarker   string         `xml:"NextMarker,omitempty"`
}

type listenersResult struct {
	Listeners  []xListener `xml:"Listeners>member"`
	NextMarker string      `xml:"NextMarker,omitempty"`
}

type attributesResult struct {
	Attributes []tagKV `xml:"Attributes>member"`
}

type trustStoresResult struct {
	TrustStores []xTrustStore `xml:"TrustStores>member"`
	NextMarker  string        `xml:"NextMarker,omitempty"`
}

type revocationsResult struct {
	TrustStoreRevocations []xTrustStoreRevocation `xml:"TrustStoreRevocations>member"`
	NextMarker            string                  `xml:"NextMarker,omitempty"`
}

type associationsResult struct {
	TrustStoreAssociations []xAssociation `xml:"TrustStoreAssociations>member"`
	NextMarker             string         `xml:"NextMarker,omitempty"`
}

type locationResult struct {
	Location string `xml:"Location"`
}

type tagsResult struct {
	TagDescriptions []xTagDescription `xml:"TagDescriptions>member"`
}

func boolPtr(b bool) *bool { return &b }

func (s *Sim) xLoadBalancer(lb *loadBalancer) xLoadBalancer {
	return xLoadBalancer{
		LoadBalancerArn:       lb.arn,
		DNSName:               s.dnsName(lb),
		CanonicalHostedZoneID: "Z35SXDOTRQ7X7K",
		CreatedTime:           lb.created.UTC().Format(time.RFC3339Nano),
		LoadBalancerName:      lb.name,
		Scheme:                lb.scheme,
		VpcID:                 "vpc-albsim",
		State:                 xLoadBalancerState{Code: "active"},
		Type:                  lb.lbType,
		IPAddressType:         lb.ipAddressType,
		SecurityGroups:        lb.securityGroups,
	}
}

func (s *Sim) xTargetGroup(tg *targetGroup) xTargetGroup {
	return xTargetGroup{
		TargetGroupArn:   tg.arn,
		TargetGroupName:  tg.name,
		Protocol:         tg.protocol,
		Port:             tg.port,
		VpcID:            tg.vpcID,
		TargetType:       tg.targetType,
		IPAddressType:    "ipv4",
		LoadBalancerArns: s.state.loadBalancerArnsOf(tg),
	}
}

func xListenerOf(l *listener) xListener {
	x := xListener{
		ListenerArn:     l.arn,
		LoadBalancerArn: l.lb.arn,
		Port:            l.port,
		Protocol:        l.protocol,
		SslPolicy:       l.sslPolicy,
		AlpnPolicy:      l.alpn,
	}
	for _, c := range l.certificates {
		xc := xCertificate{CertificateArn: c.arn}
		if c.isDefault {
			xc.IsDefault = boolPtr(true)
		}
		x.Certificates = append(x.Certificates, xc)
	}
	for _, a := range l.actions {
		xa := xAction{Type: a.typ, Order: a.order, TargetGroupArn: a.targetGroupArn}
		if len(a.forward) > 0 {
			xa.ForwardConfig = &xForwardConfig{}
			for _, t := range a.forward {
				xa.ForwardConfig.TargetGroups = append(xa.ForwardConfig.TargetGroups, xTargetGroupTuple{TargetGroupArn: t.arn, Weight: t.weight})
			}
		}
		x.DefaultActions = append(x.DefaultActions, xa)
	}
	if l.protocol == "HTTPS" {
		ma := &xMutualAuthentication{Mode: l.mtls.mode}
		if l.mtls.mode == modeVerify {
			ma.TrustStoreArn = l.mtls.trustStoreArn
			ma.IgnoreClientCertificateExpiry = boolPtr(l.mtls.ignoreExpiry)
			ma.AdvertiseTrustStoreCaNames = l.mtls.advertise
			ma.TrustStoreAssociationStatus = "active"
		}
		x.MutualAuthentication = ma
	}
	return x
}

func xTrustStoreOf(ts *trustStore, now time.Time) xTrustStore {
	return xTrustStore{
		Name:                   ts.name,
		TrustStoreArn:          ts.arn,
		Status:                 ts.status(now),
		NumberOfCaCertificates: len(ts.bundle.certs),
		TotalRevokedEntries:    ts.totalRevokedEntries(),
	}
}

func xRevocationOf(ts *trustStore, r *revocation) xTrustStoreRevocation {
	return xTrustStoreRevocation{TrustStoreArn: ts.arn, RevocationID: r.id, RevocationType: "CRL", NumberOfRevokedEntries: r.entries}
}
