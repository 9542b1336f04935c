package listenermtls

import (
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
)

// Mutual authentication modes as ELB spells them on the wire.
const (
	elbModeOff         = "off"
	elbModePassthrough = "passthrough"
	elbModeVerify      = "verify"
)

// TrustStoreStatusCreating is the ELB trust-store status before it becomes ACTIVE.
const trustStoreStatusCreating = "CREATING"

// Listener attribute keys that rename the mTLS headers ALB sends to targets, as the ELBv2 API
// reference lists them for ListenerAttribute.
const (
	AttrHeaderClientCert   = "routing.http.request.x_amzn_mtls_clientcert.header_name"
	AttrHeaderSerialNumber = "routing.http.request.x_amzn_mtls_clientcert_serial_number.header_name"
	AttrHeaderIssuer       = "routing.http.request.x_amzn_mtls_clientcert_issuer.header_name"
	AttrHeaderSubject      = "routing.http.request.x_amzn_mtls_clientcert_subject.header_name"
	AttrHeaderValidity     = "routing.http.request.x_amzn_mtls_clientcert_validity.header_name"
	AttrHeaderLeaf         = "routing.http.request.x_amzn_mtls_clientcert_leaf.header_name"
)

// defaultHeaderNames are ALB's own header names, which an attribute goes back to when the spec
// stops renaming it.
var defaultHeaderNames = map[string]string{
	AttrHeaderClientCert:   "X-Amzn-Mtls-Clientcert",
	AttrHeaderSerialNumber: "X-Amzn-Mtls-Clientcert-Serial-Number",
	AttrHeaderIssuer:       "X-Amzn-Mtls-Clientcert-Issuer",
	AttrHeaderSubject:      "X-Amzn-Mtls-Clientcert-Subject",
	AttrHeaderValidity:     "X-Amzn-Mtls-Clientcert-Validity",
	AttrHeaderLeaf:         "X-Amzn-Mtls-Clientcert-Leaf",
}

// headerNameAttributes maps the spec's renamed headers to their listener attribute keys.
func headerNameAttributes(h *mtlsv1alpha1.HeaderNames) map[string]string {
	if h == nil {
		return nil
	}
	out := map[string]string{}
	for key, v := range map[string]string{
		AttrHeaderClientCert:   h.ClientCert,
		AttrHeaderSerialNumber: h.SerialNumber,
		AttrHeaderIssuer:       h.Issuer,
		AttrHeaderSubject:      h.Subject,
		AttrHeaderValidity:     h.Validity,
		AttrHeaderLeaf:         h.Leaf,
	} {
		if v != "" {
			out[key] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// trustStoreSource is what the trust store for Verify resolved to.
type trustStoreSource struct {
	// ARN of the store; empty when it is not known yet.
	ARN string
	// Creating is true when the ClientCA reports its store as still CREATING.
	Creating bool
}

// caTrustStore reads the trust store a ClientCA publishes. Only status.trustStore.arn is needed;
// a store reported as CREATING is waited for, any other status is left to ELB to judge.
func caTrustStore(ca *mtlsv1alpha1.ClientCA) trustStoreSource {
	if ca == nil || ca.Status.TrustStore == nil {
		return trustStoreSource{}
	}
	return trustStoreSource{
		ARN:      ca.Status.TrustStore.ARN,
		Creating: strings.EqualFold(ca.Status.TrustStore.Status, trustStoreStatusCreating),
	}
}

// desiredSettings turns the spec, and for Verify the trust store ARN, into the settings the
// listener should have. Fields that do not apply to the mode stay zero, as normalize leaves them.
func desiredSettings(spec mtlsv1alpha1.ListenerMTLSSpec, trustStoreARN string) mtlsv1alpha1.AppliedSettings {
	s := mtlsv1alpha1.AppliedSettings{HeaderNames: headerNameAttributes(spec.HeaderNames)}
	switch spec.Mode {
	case mtlsv1alpha1.ModeVerify:
		s.Mode = elbModeVerify
		s.TrustStoreARN = trustStoreARN
		s.IgnoreClientCertificateExpiry = spec.IgnoreClientCertificateExpiry
		s.AdvertiseTrustStoreCaNames = onOff(spec.AdvertiseTrustStoreCaNames)
	case mtlsv1alpha1.ModePassthrough:
		s.Mode = elbModePassthrough
	default:
		s.Mode = elbModeOff
	}
	return s
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// currentSettings reads a listener's mutual authentication and the header-name attributes the
// desired settings care about. Output-only fields (TrustStoreAssociationStatus) are dropped, and
// verify-only fields are zeroed outside verify mode, so that only meaningful differences remain.
func currentSettings(l elbtypes.Listener, attrs []elbtypes.ListenerAttribute, managed []string) mtlsv1alpha1.AppliedSettings {
	s := mtlsv1alpha1.AppliedSettings{Mode: elbModeOff}
	if ma := l.MutualAuthentication; ma != nil {
		if m := strings.ToLower(aws.ToString(ma.Mode)); m != "" {
			s.Mode = m
		}
		if s.Mode == elbModeVerify {
			s.TrustStoreARN = aws.ToString(ma.TrustStoreArn)
			s.IgnoreClientCertificateExpiry = aws.ToBool(ma.IgnoreClientCertificateExpiry)
			s.AdvertiseTrustStoreCaNames = strings.ToLower(string(ma.AdvertiseTrustStoreCaNames))
			if s.AdvertiseTrustStoreCaNames == "" {
				s.AdvertiseTrustStoreCaNames = "off"
			}
		}
	}
	if len(managed) > 0 {
		have := map[string]string{}
		for _, a := range attrs {
			have[aws.ToString(a.Key)] = aws.ToString(a.Value)
		}
		s.HeaderNames = map[string]string{}
		for _, k := range managed {
			v, ok := have[k]
			if !ok {
				v = defaultHeaderNames[k]
			}
			s.HeaderNames[k] = v
		}
	}
	return s
}

// attributeTargets is the header-name attributes to compare and set: every one the spec
// renames, plus every one albtrust renamed before (previous) that the spec no longer renames,
// which goes back to ALB's default. Attributes albtrust never touched are left alone.
func attributeTargets(desired, previous map[string]string) map[string]string {
	out := maps.Clone(desired)
	for k := range previous {
		if _, ok := desired[k]; ok {
			continue
		}
		if def, known := defaultHeaderNames[k]; known {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = def
		}
	}
	return out
}

// Change names one field whose current value differs from the desired one.
type Change struct {
	// Field is "mode", "trustStoreArn", "ignoreClientCertificateExpiry",
	// "advertiseTrustStoreCaNames", or a listener attribute key.
	Field string
	From  string
	To    string
	// Attribute is true for listener attributes (ModifyListenerAttributes), false for
	// MutualAuthentication fields (ModifyListener).
	Attribute bool
}

// diffSettings lists what differs between current and desired. Header names are compared only
// for the keys in attrTargets.
func diffSettings(current, desired mtlsv1alpha1.AppliedSettings, attrTargets map[string]string) []Change {
	var out []Change
	add := func(field, from, to string) {
		if from != to {
			out = append(out, Change{Field: field, From: from, To: to})
		}
	}
	add("mode", current.Mode, desired.Mode)
	if desired.Mode == elbModeVerify {
		add("trustStoreArn", current.TrustStoreARN, desired.TrustStoreARN)
		add("ignoreClientCertificateExpiry", boolString(current.IgnoreClientCertificateExpiry), boolString(desired.IgnoreClientCertificateExpiry))
		add("advertiseTrustStoreCaNames", current.AdvertiseTrustStoreCaNames, desired.AdvertiseTrustStoreCaNames)
	}
	for _, k := range slices.Sorted(maps.Keys(attrTargets)) {
		if current.HeaderNames[k] != attrTargets[k] {
			out = append(out, Change{Field: k, From: current.HeaderNames[k], To: attrTargets[k], Attribute: true})
		}
	}
	return out
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// splitChanges tells whether ModifyListener and ModifyListenerAttributes are needed.
func splitChanges(changes []Change) (listener, attributes bool) {
	for _, c := range changes {
		if c.Attribute {
			attributes = true
		} else {
			listener = true
		}
	}
	return listener, attributes
}

// describeChanges renders changes for an Event: `mode "off" -> "verify"`.
func describeChanges(changes []Change) string {
	parts := make([]string, 0, len(changes))
	for _, c := range changes {
		parts = append(parts, c.Field+" \""+c.From+"\" -> \""+c.To+"\"")
	}
	return strings.Join(parts, ", ")
}

// mutualAuthenticationInput is the MutualAuthentication sent to ModifyListener: only Mode for
// off and passthrough, and the verify fields for verify. ModifyListener keeps whatever it is
// not told, so Mode is always sent, even to turn mutual TLS off.
func mutualAuthenticationInput(s mtlsv1alpha1.AppliedSettings) *elbtypes.MutualAuthenticationAttributes {
	ma := &elbtypes.MutualAuthenticationAttributes{Mode: aws.String(s.Mode)}
	if s.Mode == elbModeVerify {
		ma.TrustStoreArn = aws.String(s.TrustStoreARN)
		ma.IgnoreClientCertificateExpiry = aws.Bool(s.IgnoreClientCertificateExpiry)
		ma.AdvertiseTrustStoreCaNames = elbtypes.AdvertiseTrustStoreCaNamesEnum(s.AdvertiseTrustStoreCaNames)
	}
	return ma
}

// attributeInput lists the attributes to send: only the changed header names.
func attributeInput(changes []Change) []elbtypes.ListenerAttribute {
	var out []elbtypes.ListenerAttribute
	for _, c := range changes {
		if c.Attribute {
			out = append(out, elbtypes.ListenerAttribute{Key: aws.String(c.Field), Value: aws.String(c.To)})
		}
	}
	return out
}

// isDrift tells a change made behind albtrust's back from a new spec: it is drift only when
// what albtrust last applied, to this same listener, already equals what the spec now asks for.
func isDrift(status mtlsv1alpha1.ListenerMTLSStatus, listenerARN string, desired mtlsv1alpha1.AppliedSettings, changes []Change) bool {
	if len(changes) == 0 || status.Applied == nil || status.Listener == nil || status.Listener.ARN != listenerARN {
		return false
	}
	return appliedEqual(*status.Applied, desired)
}

func appliedEqual(a, b mtlsv1alpha1.AppliedSettings) bool {
	return a.Mode == b.Mode && a.TrustStoreARN == b.TrustStoreARN &&
		a.IgnoreClientCertificateExpiry == b.IgnoreClientCertificateExpiry &&
		a.AdvertiseTrustStoreCaNames == b.AdvertiseTrustStoreCaNames &&
		maps.Equal(a.HeaderNames, b.HeaderNames)
}
