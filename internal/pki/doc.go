// Package pki holds all of albtrust's cryptography: keys, CA and client
// certificates, CSRs, PKCS#12 keystores, CRLs and the checks that keep
// everything within what AWS Application Load Balancer mutual TLS accepts.
// It is pure Go on crypto/x509 and go-pkcs12, with no Kubernetes or AWS
// imports, so the controllers, albsim and the tests share one implementation.
//
// # Keys
//
// GenerateKey makes RSA 2048/3072/4096/8192 or ECDSA P-256/P-384/P-521 keys,
// the sizes the CRDs allow. MarshalPrivateKeyPEM writes "PKCS1" (PKCS#1
// "RSA PRIVATE KEY", or SEC 1 "EC PRIVATE KEY" for ECDSA, as openssl does) or
// "PKCS8" ("PRIVATE KEY"); ParsePrivateKeyPEM reads all three. Signatures use
// the hash SignatureAlgorithmFor picks from the signing key: SHA-256 for RSA
// 2048/3072 and P-256, SHA-384 for RSA 4096 and P-384, SHA-512 for RSA 8192
// and P-521; RSA signatures are PKCS #1 v1.5.
//
// # Certificate profiles
//
// The profiles reproduce the manual openssl walkthrough the operator
// replaces, so certificates issued before and after adoption look alike:
//
//   - CA (CreateCA): self-signed X.509 v3; basicConstraints critical CA:TRUE
//     without a path length; keyUsage digitalSignature, keyCertSign, cRLSign;
//     subject key identifier.
//   - Client (IssueClientCertificate): basicConstraints CA:FALSE; keyUsage
//     digitalSignature, plus keyEncipherment for RSA keys; extKeyUsage
//     clientAuth, plus serverAuth on request; authority key identifier
//     (keyid of the CA); subject key identifier; e-mail, URI and DNS SANs.
//     notAfter is capped at the CA's notAfter.
//
// Both use random positive 127-bit serial numbers (NewSerialNumber): ALB
// cannot revoke a negative serial. SerialHex prints serials as ALB's
// X-Amzn-Mtls-Clientcert-Serial-Number header does, Fingerprint as
// `openssl x509 -fingerprint -sha256` does.
//
// # ALB rules
//
// ValidateBundle enforces ALB's trust-store bundle rules: PEM certificates
// only; comment lines start with '#' and contain no '-'; no blank lines;
// X.509 v3; RSA 2048-8192 or ECDSA P-256/P-384/P-521 keys (no Ed25519);
// SHA-256/384/512 signatures with RSA, RSASSA-PSS or ECDSA; each certificate a
// CA and at most 16 KB; at most 25 certificates. Problems come back together
// in a *BundleError, each naming the certificate index, subject and rule.
// BuildBundle writes bundles that pass, deterministically (sorted by
// notBefore, then fingerprint), so an unchanged set of CAs yields the same
// bytes and needs no upload. ALB's chain-depth limit (4) is a property of a
// client's chain at handshake time and is not checked here.
//
// ValidateCA checks an imported CA before use: a v3 CA certificate with
// keyCertSign and cRLSign usages and a subject key identifier (needed to
// sign CRLs), a matching key, and ALB-supported key and signature
// algorithms. ParseCSR refuses CSRs with bad signatures or keys ALB would
// not accept.
//
// # Revocation
//
// CreateCRL writes PEM "X509 CRL" (the only form ALB takes) with the CA's
// issuer name and authority key identifier, a CRL number, and entries sorted
// by serial. Serials must be positive and unique.
//
// # Keystores
//
// EncodePKCS12 writes keystores with one of three go-pkcs12 profiles:
// LegacyDES (default; `openssl pkcs12 -export -legacy`, importable into
// macOS Keychain), LegacyRC2, and Modern2023 (AES-256/PBKDF2, OpenSSL 3's
// default).
//
// No error or log message of this package contains private key material or
// keystore passwords.
package pki
