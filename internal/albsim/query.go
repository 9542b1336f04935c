package albsim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// This file is the ELBv2 Query-protocol codec: requests are form-encoded (`Action=...&Version=...`,
// lists as `Name.member.N`, structures as `Name.Field`), responses are
// `<ActionResponse><ActionResult>...</ActionResult><ResponseMetadata/></ActionResponse>` and
// errors are `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`,
// exactly as the aws-sdk-go-v2 elasticloadbalancingv2 request/response snapshots show.

const elbNamespace = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// apiError is an AWS error as the Query protocol carries it. Code is the wire code the SDK maps
// to its typed exception (for example "TrustStoreNotFound" to *types.TrustStoreNotFoundException).
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// errorf builds a client (HTTP 400, Type Sender) error.
func errorf(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wire error codes, as listed in the SDK's schemas (AWSQueryError traits) and AWS's API reference.
const (
	codeValidation                  = "ValidationError"
	codeInvalidAction               = "InvalidAction"
	codeThrottling                  = "Throttling"
	codeInternalFailure             = "InternalFailure"
	codeTrustStoreNotFound          = "TrustStoreNotFound"
	codeTrustStoreNotReady          = "TrustStoreNotReady"
	codeTrustStoreInUse             = "TrustStoreInUse"
	codeDuplicateTrustStoreName     = "DuplicateTrustStoreName"
	codeTooManyTrustStores          = "TooManyTrustStores"
	codeInvalidCaBundle             = "InvalidCaCertificatesBundle"
	codeCaBundleNotFound            = "CaCertificatesBundleNotFound"
	codeInvalidRevocationContent    = "InvalidRevocationContent"
	codeRevocationContentNotFound   = "RevocationContentNotFound"
	codeRevocationIDNotFound        = "RevocationIdNotFound"
	codeTooManyRevocationEntries    = "TooManyTrustStoreRevocationEntries"
	codeAssociationNotFound         = "AssociationNotFound"
	codeDeleteAssociationSame       = "DeleteAssociationSameAccount"
	codeListenerNotFound            = "ListenerNotFound"
	codeLoadBalancerNotFound        = "LoadBalancerNotFound"
	codeTargetGroupNotFound         = "TargetGroupNotFound"
	codeDuplicateListener           = "DuplicateListener"
	codeDuplicateLoadBalancerName   = "DuplicateLoadBalancerName"
	codeDuplicateTargetGroupName    = "DuplicateTargetGroupName"
	codeDuplicateTagKeys            = "DuplicateTagKeys"
	codeTooManyTags                 = "TooManyTags"
	codeResourceInUse               = "ResourceInUse"
	codeInvalidConfigurationRequest = "InvalidConfigurationRequest"
	codeInvalidLoadBalancerAction   = "InvalidLoadBalancerAction"
	codeUnsupportedProtocol         = "UnsupportedProtocol"
	codeCertificateNotFound         = "CertificateNotFound"
	codeInvalidTarget               = "InvalidTarget"
)

// form wraps the decoded request parameters with the Query protocol's list and structure rules.
type form url.Values

// get returns a scalar parameter and whether it was sent at all.
func (f form) get(key string) (string, bool) {
	v, ok := f[key]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

func (f form) str(key string) string {
	v, _ := f.get(key)
	return v
}

// required returns a parameter or the ValidationError AWS sends when it is missing.
func (f form) required(key string) (string, *apiError) {
	v, ok := f.get(key)
	if !ok || v == "" {
		return "", errorf(codeValidation, "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(key))
	}
	return v, nil
}

func (f form) int(key string) (int, bool, *apiError) {
	v, ok := f.get(key)
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, true, errorf(codeValidation, "Value '%s' at '%s' is not a valid integer", v, lowerFirst(key))
	}
	return n, true, nil
}

func (f form) bool(key string) (bool, bool, *apiError) {
	v, ok := f.get(key)
	if !ok {
		return false, false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, true, errorf(codeValidation, "Value '%s' at '%s' is not a valid boolean", v, lowerFirst(key))
	}
	return b, true, nil
}

// sub returns the parameters under prefix ("Prefix.X" becomes "X").
func (f form) sub(prefix string) form {
	out := form{}
	p := prefix + "."
	for k, v := range f {
		if strings.HasPrefix(k, p) {
			out[k[len(p):]] = v
		}
	}
	return out
}

// has reports whether any parameter was sent under prefix (a structure that was present).
func (f form) has(prefix string) bool {
	if _, ok := f[prefix]; ok {
		return true
	}
	p := prefix + "."
	for k := range f {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// memberIndexes returns the N of every "prefix.member.N[...]" key, sorted.
func (f form) memberIndexes(prefix string) []int {
	p := prefix + ".member."
	seen := map[int]bool{}
	for k := range f {
		if !strings.HasPrefix(k, p) {
			continue
		}
		rest := k[len(p):]
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			rest = rest[:i]
		}
		if n, err := strconv.Atoi(rest); err == nil && n > 0 {
			seen[n] = true
		}
	}
	idx := make([]int, 0, len(seen))
	for n := range seen {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	return idx
}

// list returns a list of scalars sent as "prefix.member.N".
func (f form) list(prefix string) []string {
	var out []string
	for _, n := range f.memberIndexes(prefix) {
		out = append(out, f.str(fmt.Sprintf("%s.member.%d", prefix, n)))
	}
	return out
}

// structs returns a list of structures sent as "prefix.member.N.Field".
func (f form) structs(prefix string) []form {
	var out []form
	for _, n := range f.memberIndexes(prefix) {
		out = append(out, f.sub(fmt.Sprintf("%s.member.%d", prefix, n)))
	}
	return out
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// writeResult writes `<{action}Response><{action}Result>result</...><ResponseMetadata/>`.
func writeResult(w http.ResponseWriter, action, requestID string, result any) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", requestID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	root := xml.StartElement{
		Name: xml.Name{Local: action + "Response"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: elbNamespace}},
	}
	_ = enc.EncodeToken(root)
	if result == nil {
		result = struct{}{}
	}
	_ = enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	_ = enc.EncodeElement(responseMetadata{RequestID: requestID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	_ = enc.EncodeToken(root.End())
	_ = enc.Flush()
}

type errorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

// writeError writes the Query protocol's error document. 5xx errors are the service's fault
// (Type Receiver), everything else the caller's (Type Sender).
func writeError(w http.ResponseWriter, requestID string, e *apiError) {
	var doc errorResponse
	doc.Xmlns = elbNamespace
	doc.Error.Type = "Sender"
	if e.Status >= 500 {
		doc.Error.Type = "Receiver"
	}
	doc.Error.Code = e.Code
	doc.Error.Message = e.Message
	doc.RequestID = requestID
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", requestID)
	w.WriteHeader(e.Status)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(doc)
}
