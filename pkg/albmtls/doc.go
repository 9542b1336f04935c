// Package albmtls lets an HTTP backend behind an AWS Application Load
// Balancer with mutual TLS know, and check, who the client is.
//
// # Passthrough listeners
//
// In Passthrough mode ALB completes the TLS handshake, so the client has
// proven it holds the private key, but it does not check the certificate: it
// forwards the client's whole chain, leaf first, in the X-Amzn-Mtls-Clientcert
// header as percent-encoded PEM. The target has to decide whether to trust it.
// A Verifier does that with crypto/x509 alone: the chain must lead to a CA in
// the configured bundle, every certificate must be valid now (see
// WithIgnoreExpiry), the chain must allow client authentication (clientAuth
// extended key usage, or none), and no certificate may be listed in a CRL
// signed by its issuer.
//
// The header proves nothing by itself: anyone who can reach the backend
// directly can send a copied certificate. Accept traffic only from the load
// balancer (security groups, a private subnet), which replaces the header on
// every request.
//
// # Verify listeners
//
// In Verify mode ALB checks the chain against its trust store itself and
// sends the result in X-Amzn-Mtls-Clientcert-Serial-Number, -Issuer,
// -Subject, -Validity and -Leaf. WithMode(ModeVerifyHeaders) trusts those headers
// and builds the Identity from them; with a CA bundle configured as well, the
// leaf is verified a second time.
//
// # Trust material
//
// The CA bundle and CRLs come from bytes or from files. Files are checked with
// os.Stat on each request and re-read when they change, so a Kubernetes Secret
// mounted as a volume (for example the ca.crt that albtrust writes) is picked
// up without a restart. If a changed file cannot be used, the previous trust
// stays in force and the error goes to WithReloadErrorHandler.
//
// A CRL must be signed by a CA in the bundle; one from any other issuer is
// refused with ErrInvalidCRL, as ALB refuses it, rather than silently
// ignored. A CRL past its NextUpdate still applies: staleness never
// un-revokes a certificate.
//
// # Errors
//
// A refused certificate is reported as a *VerificationError whose Reason uses
// ALB's connection-log words (ClientCertUntrusted, ClientCertCrlHit, ...) and
// which matches one sentinel with errors.Is: ErrNoCertificate, ErrMalformed,
// ErrHeaderTooLarge, ErrChainTooLong, ErrUntrusted, ErrRevoked, ErrExpired,
// ErrNotYetValid or ErrWrongPurpose.
//
// Limits follow ALB: a header over MaxHeaderBytes (16 KB), more than
// MaxIntermediates certificates after the leaf, and PEM blocks other than
// CERTIFICATE are refused before any certificate is parsed.
//
// # Header names
//
// A listener can rename the headers (its
// routing.http.request.x_amzn_mtls_clientcert*.header_name attributes);
// WithHeaderNames tells the Verifier the names in use.
package albmtls
