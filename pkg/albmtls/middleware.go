package albmtls

import (
	"errors"
	"net/http"
)

// Middleware verifies each request before passing it to next. A refused
// request gets 403 Forbidden with a one-line reason such as "client
// certificate revoked" (never a header value or an internal error), unless
// WithRejectHandler says otherwise. An accepted request reaches next with the
// Identity in its context; read it with IdentityFromContext.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := v.VerifyRequest(r)
		if err != nil {
			v.reject(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(ContextWithIdentity(r.Context(), id)))
	})
}

func (v *Verifier) reject(w http.ResponseWriter, r *http.Request, err error) {
	if v.cfg.onReject != nil {
		v.cfg.onReject(w, r, err)
		return
	}
	DefaultRejectHandler(w, r, err)
}

// DefaultRejectHandler answers 403 Forbidden with the short text of err's
// reason, for example "client certificate expired". A handler given to
// WithRejectHandler can log the error and then call it.
func DefaultRejectHandler(w http.ResponseWriter, _ *http.Request, err error) {
	msg := "client certificate refused"
	var ve *VerificationError
	if errors.As(err, &ve) {
		msg = ve.publicMessage()
	}
	// http.Error sets text/plain and nosniff.
	http.Error(w, msg, http.StatusForbidden)
}
