package albmtls

import (
	"errors"
	"fmt"
)

// Sentinel errors, one per reason a request is refused. Every error that
// VerifyRequest, VerifyChain and the parse functions return is a
// *VerificationError that matches exactly one of these with errors.Is
// (ErrHeaderTooLarge also matches ErrMalformed, since an oversized header is
// a malformed one).
var (
	// ErrNoCertificate: the request carries none of the client certificate
	// headers (the client presented no certificate, or the request did not
	// come through a load balancer with mutual TLS).
	ErrNoCertificate = errors.New("no client certificate")
	// ErrMalformed: a header is present but cannot be decoded (bad percent
	// escapes, truncated or non-CERTIFICATE PEM, unparsable DER, a Validity
	// header in the wrong format, headers that contradict each other).
	ErrMalformed = errors.New("malformed client certificate header")
	// ErrHeaderTooLarge: a header is larger than MaxHeaderBytes, ALB's limit for
	// a single HTTP header.
	ErrHeaderTooLarge = errors.New("client certificate header too large")
	// ErrChainTooLong: the client sent more than MaxIntermediates certificates
	// beyond the leaf (ALB logs this as ClientCertMaxChainDepthExceeded).
	ErrChainTooLong = errors.New("client certificate chain too long")
	// ErrUntrusted: the chain does not lead to a certificate in the CA bundle.
	ErrUntrusted = errors.New("client certificate untrusted")
	// ErrRevoked: a certificate in the chain is listed in a CRL of its issuer.
	ErrRevoked = errors.New("client certificate revoked")
	// ErrExpired: a certificate in the chain is past its NotAfter.
	ErrExpired = errors.New("client certificate expired")
	// ErrNotYetValid: a certificate in the chain is before its NotBefore.
	ErrNotYetValid = errors.New("client certificate not yet valid")
	// ErrWrongPurpose: the chain does not allow client authentication (for
	// example a leaf whose extended key usage is serverAuth only).
	ErrWrongPurpose = errors.New("client certificate not valid for client authentication")
)

// Reason names why a client certificate was refused. The values follow the
// verify outcomes ALB writes to its connection log, so a backend's log reads
// like the load balancer's.
type Reason string

// The reasons a VerificationError can carry.
const (
	ReasonMissing        Reason = "ClientCertMissing"
	ReasonMalformed      Reason = "ClientCertMalformed"
	ReasonHeaderTooLarge Reason = "ClientCertHeaderTooLarge"
	ReasonMaxChainDepth  Reason = "ClientCertMaxChainDepthExceeded"
	ReasonUntrusted      Reason = "ClientCertUntrusted"
	ReasonCRLHit         Reason = "ClientCertCrlHit"
	ReasonExpired        Reason = "ClientCertExpired"
	ReasonNotYetValid    Reason = "ClientCertNotYetValid"
	ReasonPurposeInvalid Reason = "ClientCertPurposeInvalid"
)

var reasonSentinels = map[Reason]error{
	ReasonMissing:        ErrNoCertificate,
	ReasonMalformed:      ErrMalformed,
	ReasonHeaderTooLarge: ErrHeaderTooLarge,
	ReasonMaxChainDepth:  ErrChainTooLong,
	ReasonUntrusted:      ErrUntrusted,
	ReasonCRLHit:         ErrRevoked,
	ReasonExpired:        ErrExpired,
	ReasonNotYetValid:    ErrNotYetValid,
	ReasonPurposeInvalid: ErrWrongPurpose,
}

// Sentinel returns the sentinel error matching r (ErrUntrusted for a reason
// this package does not know).
func (r Reason) Sentinel() error {
	if err, ok := reasonSentinels[r]; ok {
		return err
	}
	return ErrUntrusted
}

// VerificationError reports why a client certificate was refused. Its message
// is meant for logs: it never contains a header value, only the reason, the
// subject and serial of the offending certificate when known, and the
// underlying parse or x509 error.
type VerificationError struct {
	// Reason is the refusal, in ALB's connection-log vocabulary.
	Reason Reason
	// Subject and SerialNumber identify the offending certificate, when one
	// was decoded (the leaf, or the intermediate that expired or was revoked).
	// SerialNumber is uppercase hex.
	Subject      string
	SerialNumber string
	// Err is the underlying cause, if any (an *x509.CertificateInvalidError,
	// an x509.UnknownAuthorityError, a parse error ...).
	Err error
}

func (e *VerificationError) Error() string {
	msg := "albmtls: " + e.Reason.Sentinel().Error()
	if e.Subject != "" || e.SerialNumber != "" {
		msg += fmt.Sprintf(" (subject %q, serial %s)", e.Subject, e.SerialNumber)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap exposes the underlying cause to errors.Is and errors.As.
func (e *VerificationError) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel for e's reason.
func (e *VerificationError) Is(target error) bool {
	if target == e.Reason.Sentinel() {
		return true
	}
	return e.Reason == ReasonHeaderTooLarge && target == ErrMalformed
}

// publicMessage is the short text sent to the client with a 403: the reason
// only, never a header value or an internal error.
func (e *VerificationError) publicMessage() string {
	return e.Reason.Sentinel().Error()
}

func newError(r Reason, err error) *VerificationError {
	return &VerificationError{Reason: r, Err: err}
}
