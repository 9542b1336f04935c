package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Key algorithms accepted by GenerateKey (the values of the CRDs' privateKey.algorithm).
const (
	AlgorithmRSA   = "RSA"
	AlgorithmECDSA = "ECDSA"
)

// Private key encodings accepted by MarshalPrivateKeyPEM (privateKey.encoding).
const (
	EncodingPKCS1 = "PKCS1"
	EncodingPKCS8 = "PKCS8"
)

// PEM block types written and read by this package.
const (
	pemTypeRSAPrivateKey = "RSA PRIVATE KEY"
	pemTypeECPrivateKey  = "EC PRIVATE KEY"
	pemTypePrivateKey    = "PRIVATE KEY"
	pemTypeEncryptedKey  = "ENCRYPTED PRIVATE KEY"
	pemTypeCertificate   = "CERTIFICATE"
	pemTypeCSR           = "CERTIFICATE REQUEST"
	pemTypeCSRLegacy     = "NEW CERTIFICATE REQUEST"
	pemTypeCRL           = "X509 CRL"
)

// RSA modulus limits ALB accepts in trust stores (and therefore in client chains).
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// ErrUnsupportedKey is wrapped by every error that refuses a key because of its
// algorithm or size (GenerateKey, ParseCSR, ValidateCA, IssueClientCertificate).
var ErrUnsupportedKey = errors.New("unsupported key")

// GenerateKey creates a new private key. RSA accepts 2048, 3072, 4096 and 8192
// bits; ECDSA accepts 256, 384 and 521 (the NIST curves P-256, P-384, P-521).
// These are exactly the sizes the CRDs allow and ALB accepts.
func GenerateKey(algorithm string, size int) (crypto.Signer, error) {
	switch algorithm {
	case AlgorithmRSA:
		switch size {
		case 2048, 3072, 4096, 8192:
		default:
			return nil, fmt.Errorf("%w: RSA size must be 2048, 3072, 4096 or 8192, not %d", ErrUnsupportedKey, size)
		}
		k, err := rsa.GenerateKey(rand.Reader, size)
		if err != nil {
			return nil, fmt.Errorf("generate RSA-%d key: %w", size, err)
		}
		return k, nil
	case AlgorithmECDSA:
		curve, ok := curveForSize(size)
		if !ok {
			return nil, fmt.Errorf("%w: ECDSA size must be 256, 384 or 521, not %d", ErrUnsupportedKey, size)
		}
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate ECDSA P-%d key: %w", size, err)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("%w: algorithm must be %q or %q, not %q", ErrUnsupportedKey, AlgorithmRSA, AlgorithmECDSA, algorithm)
	}
}

func curveForSize(size int) (elliptic.Curve, bool) {
	switch size {
	case 256:
		return elliptic.P256(), true
	case 384:
		return elliptic.P384(), true
	case 521:
		return elliptic.P521(), true
	}
	return nil, false
}

// MarshalPrivateKeyPEM encodes key as one PEM block. EncodingPKCS1 writes
// "RSA PRIVATE KEY" (PKCS#1) for RSA keys and "EC PRIVATE KEY" (SEC 1) for
// ECDSA keys, which is what `openssl genrsa` / `openssl ecparam -genkey` print
// and what the CRDs call PKCS1; EncodingPKCS8 writes "PRIVATE KEY" (PKCS#8).
// An empty encoding means EncodingPKCS1, the CRD default.
//
// Errors never include key material.
func MarshalPrivateKeyPEM(key crypto.Signer, encoding string) ([]byte, error) {
	if key == nil {
		return nil, errors.New("marshal private key: key is nil")
	}
	var block *pem.Block
	switch encoding {
	case EncodingPKCS1, "":
		switch k := key.(type) {
		case *rsa.PrivateKey:
			block = &pem.Block{Type: pemTypeRSAPrivateKey, Bytes: x509.MarshalPKCS1PrivateKey(k)}
		case *ecdsa.PrivateKey:
			der, err := x509.MarshalECPrivateKey(k)
			if err != nil {
				return nil, fmt.Errorf("marshal EC private key: %w", err)
			}
			block = &pem.Block{Type: pemTypeECPrivateKey, Bytes: der}
		default:
			return nil, fmt.Errorf("%w: %s encoding supports RSA and ECDSA keys, not %T", ErrUnsupportedKey, EncodingPKCS1, key)
		}
	case EncodingPKCS8:
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("marshal PKCS#8 private key (%T): %w", key, err)
		}
		block = &pem.Block{Type: pemTypePrivateKey, Bytes: der}
	default:
		return nil, fmt.Errorf("unsupported private key encoding %q: must be %q or %q", encoding, EncodingPKCS1, EncodingPKCS8)
	}
	return pem.EncodeToMemory(block), nil
}

// ParsePrivateKeyPEM reads the first private key block in data: "RSA PRIVATE
// KEY" (PKCS#1), "EC PRIVATE KEY" (SEC 1) or "PRIVATE KEY" (PKCS#8). Other
// blocks before it (for example "EC PARAMETERS" written by `openssl ecparam`)
// are skipped. Encrypted keys are refused: the operator has no passphrase.
// The returned key may be of a type ALB does not support (Ed25519 in PKCS#8);
// ValidateCA and KeyDescription report that.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("parse private key: no PEM private key block found")
		}
		switch block.Type {
		case pemTypeRSAPrivateKey:
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse PKCS#1 RSA private key: %w", err)
			}
			return k, nil
		case pemTypeECPrivateKey:
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse SEC 1 EC private key: %w", err)
			}
			return k, nil
		case pemTypePrivateKey:
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse PKCS#8 private key: %w", err)
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("%w: PKCS#8 key of type %T cannot sign", ErrUnsupportedKey, k)
			}
			return s, nil
		case pemTypeEncryptedKey:
			return nil, errors.New("parse private key: encrypted private keys are not supported; store the key unencrypted in the Secret")
		}
	}
}

// KeyMatches reports whether key is the private half of cert's public key.
func KeyMatches(key crypto.Signer, cert *x509.Certificate) bool {
	if key == nil || cert == nil || cert.PublicKey == nil {
		return false
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// KeyDescription names a public key the way the CRDs do: ("RSA", modulus
// bits), ("ECDSA", curve bits) or ("Ed25519", 256). It only describes;
// whether ALB accepts the key is checkALBKey's decision.
func KeyDescription(pub crypto.PublicKey) (algorithm string, size int, err error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return "", 0, errors.New("describe key: empty RSA public key")
		}
		return AlgorithmRSA, k.N.BitLen(), nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return "", 0, errors.New("describe key: empty ECDSA public key")
		}
		return AlgorithmECDSA, k.Curve.Params().BitSize, nil
	case ed25519.PublicKey:
		return "Ed25519", 256, nil
	case nil:
		return "", 0, errors.New("describe key: public key is nil")
	default:
		return "", 0, fmt.Errorf("describe key: unknown public key type %T", pub)
	}
}

// checkALBKey accepts exactly the public keys ALB accepts in trust stores and
// client chains: RSA 2048–8192 bits, ECDSA on P-256, P-384 or P-521.
func checkALBKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return fmt.Errorf("%w: empty RSA public key", ErrUnsupportedKey)
		}
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return fmt.Errorf("%w: RSA key of %d bits; ALB accepts RSA keys of 2048 to 8192 bits", ErrUnsupportedKey, bits)
		}
		return nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return fmt.Errorf("%w: empty ECDSA public key", ErrUnsupportedKey)
		}
		switch name := k.Curve.Params().Name; name {
		case "P-256", "P-384", "P-521":
			return nil
		default:
			return fmt.Errorf("%w: ECDSA curve %s; ALB accepts P-256, P-384 and P-521", ErrUnsupportedKey, name)
		}
	case ed25519.PublicKey:
		return fmt.Errorf("%w: Ed25519; ALB accepts RSA 2048-8192 and ECDSA P-256/P-384/P-521 keys", ErrUnsupportedKey)
	default:
		return fmt.Errorf("%w: key type %T; ALB accepts RSA 2048-8192 and ECDSA P-256/P-384/P-521 keys", ErrUnsupportedKey, pub)
	}
}

// SignatureAlgorithmFor picks the signature algorithm used when signing with
// the private half of pub, following the key's strength:
//
//	RSA below 4096 bits (2048, 3072)   SHA256WithRSA
//	RSA 4096 up to 8191 bits           SHA384WithRSA
//	RSA 8192 bits and more             SHA512WithRSA
//	ECDSA P-256                        ECDSAWithSHA256
//	ECDSA P-384                        ECDSAWithSHA384
//	ECDSA P-521                        ECDSAWithSHA512
//
// All of them are on ALB's list. RSA signatures use PKCS #1 v1.5 (what
// `openssl x509 -req` produces), not PSS. Any other key yields
// x509.UnknownSignatureAlgorithm.
func SignatureAlgorithmFor(pub crypto.PublicKey) x509.SignatureAlgorithm {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return x509.UnknownSignatureAlgorithm
		}
		switch bits := k.N.BitLen(); {
		case bits >= 8192:
			return x509.SHA512WithRSA
		case bits >= 4096:
			return x509.SHA384WithRSA
		default:
			return x509.SHA256WithRSA
		}
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return x509.UnknownSignatureAlgorithm
		}
		switch k.Curve.Params().Name {
		case "P-256":
			return x509.ECDSAWithSHA256
		case "P-384":
			return x509.ECDSAWithSHA384
		case "P-521":
			return x509.ECDSAWithSHA512
		}
	}
	return x509.UnknownSignatureAlgorithm
}

// albSignatureAlgorithms are the certificate signature algorithms ALB accepts:
// SHA-256/384/512 with RSA (PKCS #1 v1.5 or PSS with MGF1) or ECDSA.
var albSignatureAlgorithms = map[x509.SignatureAlgorithm]bool{
	x509.SHA256WithRSA:    true,
	x509.SHA384WithRSA:    true,
	x509.SHA512WithRSA:    true,
	x509.SHA256WithRSAPSS: true,
	x509.SHA384WithRSAPSS: true,
	x509.SHA512WithRSAPSS: true,
	x509.ECDSAWithSHA256:  true,
	x509.ECDSAWithSHA384:  true,
	x509.ECDSAWithSHA512:  true,
}

// ErrUnsupportedSignature is wrapped by errors that refuse a certificate
// because ALB does not accept its signature algorithm.
var ErrUnsupportedSignature = errors.New("unsupported signature algorithm")

func checkALBSignature(alg x509.SignatureAlgorithm) error {
	if !albSignatureAlgorithms[alg] {
		return fmt.Errorf("%w: %v; ALB accepts SHA-256/384/512 with RSA, RSASSA-PSS or ECDSA", ErrUnsupportedSignature, alg)
	}
	return nil
}
