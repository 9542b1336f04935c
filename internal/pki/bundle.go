package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
)

// ALB trust-store limits.
const (
	// MaxBundleCertificates is ALB's default quota of CA certificates per trust store.
	MaxBundleCertificates = 25
	// MaxCACertificateSize is the largest CA certificate ALB accepts, in
	// bytes. It is compared with the size of the certificate's canonical PEM
	// block (64-column base64, BEGIN to END line, newlines included), the
	// larger of the two encodings, so the check errs on the safe side.
	MaxCACertificateSize = 16 * 1024
)

// Rules named by BundleProblem.Rule. The strings are stable: albsim and the
// controllers may show them to users.
const (
	RuleEmpty          = "bundle contains no certificates"
	RuleBlankLine      = "blank lines are not allowed"
	RuleCommentDash    = "comments must not contain '-'"
	RuleCommentNewline = "comments must be a single line"
	RuleStrayText      = "only PEM certificates and '#' comment lines are allowed"
	RuleNotCertificate = "only PEM CERTIFICATE blocks are allowed"
	RuleMalformedPEM   = "malformed PEM block"
	RuleUnparsable     = "not a parsable X.509 certificate"
	RuleNotV3          = "certificate must be X.509 v3"
	RuleKey            = "key must be RSA 2048-8192 bits or ECDSA P-256/P-384/P-521"
	RuleSignature      = "signature must be SHA-256/384/512 with RSA, RSASSA-PSS or ECDSA"
	RuleTooLarge       = "CA certificate larger than 16 KB"
	RuleNotCA          = "certificate must be a CA (basicConstraints CA:TRUE)"
	RuleTooManyCerts   = "more than 25 certificates"
	RuleNilCertificate = "certificate is missing"
)

// BundleProblem is one broken rule. Index is the certificate's 0-based
// position (in the bundle for ValidateBundle, in the input for BuildBundle),
// or -1 when the problem is not about one certificate; Line is the 1-based
// line in the bundle text, or 0 when not known.
type BundleProblem struct {
	Index   int
	Subject string
	Rule    string
	Detail  string
	Line    int
}

func (p BundleProblem) String() string {
	var sb strings.Builder
	switch {
	case p.Index >= 0:
		fmt.Fprintf(&sb, "certificate %d", p.Index)
		if p.Subject != "" {
			fmt.Fprintf(&sb, " (%s)", p.Subject)
		}
	case p.Line > 0:
		fmt.Fprintf(&sb, "line %d", p.Line)
	default:
		sb.WriteString("bundle")
	}
	sb.WriteString(": ")
	sb.WriteString(p.Rule)
	if p.Detail != "" {
		sb.WriteString(" (")
		sb.WriteString(p.Detail)
		sb.WriteString(")")
	}
	return sb.String()
}

// BundleError lists every rule a CA bundle breaks.
type BundleError struct {
	Problems []BundleProblem
}

func (e *BundleError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return "invalid CA bundle: " + strings.Join(parts, "; ")
}

// HasRule reports whether any problem is about rule.
func (e *BundleError) HasRule(rule string) bool {
	return slices.ContainsFunc(e.Problems, func(p BundleProblem) bool { return p.Rule == rule })
}

// BundleEntry is one certificate of a bundle, with an optional comment
// written on the line above it as "# <Comment>".
type BundleEntry struct {
	Comment     string
	Certificate *x509.Certificate
}

// BuildBundle writes a trust-store bundle that passes ValidateBundle. The
// output is deterministic: identical certificates are written once (the
// first comment wins), entries are sorted by (NotBefore, Fingerprint), there
// are no blank lines, and it ends with a newline. Comments must not contain
// '-' or line breaks. Every certificate must pass the per-certificate rules;
// otherwise the result is a *BundleError whose indices refer to entries.
func BuildBundle(entries []BundleEntry) ([]byte, error) {
	type item struct {
		index int
		entry BundleEntry
		fp    string
	}
	var problems []BundleProblem
	var items []item
	seen := map[string]bool{}
	for i, e := range entries {
		if e.Certificate == nil {
			problems = append(problems, BundleProblem{Index: i, Rule: RuleNilCertificate})
			continue
		}
		subject := e.Certificate.Subject.String()
		if strings.Contains(e.Comment, "-") {
			problems = append(problems, BundleProblem{Index: i, Subject: subject, Rule: RuleCommentDash})
		}
		if strings.ContainsAny(e.Comment, "\r\n") {
			problems = append(problems, BundleProblem{Index: i, Subject: subject, Rule: RuleCommentNewline})
		}
		size := len(pem.EncodeToMemory(&pem.Block{Type: pemTypeCertificate, Bytes: e.Certificate.Raw}))
		for _, p := range certificateProblems(e.Certificate, size) {
			p.Index, p.Subject = i, subject
			problems = append(problems, p)
		}
		fp := Fingerprint(e.Certificate)
		if seen[fp] {
			continue
		}
		seen[fp] = true
		items = append(items, item{index: i, entry: e, fp: fp})
	}
	slices.SortFunc(items, func(a, b item) int {
		if c := a.entry.Certificate.NotBefore.Compare(b.entry.Certificate.NotBefore); c != 0 {
			return c
		}
		return strings.Compare(a.fp, b.fp)
	})
	if len(items) == 0 && len(problems) == 0 {
		problems = append(problems, BundleProblem{Index: -1, Rule: RuleEmpty})
	}
	if len(items) > MaxBundleCertificates {
		over := items[MaxBundleCertificates]
		problems = append(problems, BundleProblem{
			Index: over.index, Subject: over.entry.Certificate.Subject.String(),
			Rule: RuleTooManyCerts, Detail: fmt.Sprintf("%d distinct certificates", len(items)),
		})
	}
	if len(problems) > 0 {
		return nil, &BundleError{Problems: problems}
	}
	var buf bytes.Buffer
	for _, it := range items {
		if it.entry.Comment != "" {
			buf.WriteString("# ")
			buf.WriteString(it.entry.Comment)
			buf.WriteByte('\n')
		}
		_ = pem.Encode(&buf, &pem.Block{Type: pemTypeCertificate, Bytes: it.entry.Certificate.Raw})
	}
	return buf.Bytes(), nil
}

// certificateProblems applies ALB's per-certificate trust-store rules.
// pemSize is the size of the certificate's PEM block.
func certificateProblems(c *x509.Certificate, pemSize int) []BundleProblem {
	var ps []BundleProblem
	if c.Version != 3 {
		ps = append(ps, BundleProblem{Rule: RuleNotV3, Detail: fmt.Sprintf("version %d", c.Version)})
	}
	if err := checkALBKey(c.PublicKey); err != nil {
		ps = append(ps, BundleProblem{Rule: RuleKey, Detail: describeKey(c)})
	}
	if err := checkALBSignature(c.SignatureAlgorithm); err != nil {
		ps = append(ps, BundleProblem{Rule: RuleSignature, Detail: c.SignatureAlgorithm.String()})
	}
	if pemSize > MaxCACertificateSize {
		ps = append(ps, BundleProblem{Rule: RuleTooLarge, Detail: fmt.Sprintf("%d bytes", pemSize)})
	}
	if !c.BasicConstraintsValid || !c.IsCA {
		ps = append(ps, BundleProblem{Rule: RuleNotCA})
	}
	return ps
}

func describeKey(c *x509.Certificate) string {
	alg, size, err := KeyDescription(c.PublicKey)
	if err != nil {
		return c.PublicKeyAlgorithm.String()
	}
	return fmt.Sprintf("%s %d", alg, size)
}

// ValidateBundle checks a trust-store bundle against ALB's rules and returns
// its certificates. The rules: only PEM CERTIFICATE blocks and comment lines
// starting with '#' that contain no '-'; no blank lines (a single final
// newline is fine; CRLF line ends are tolerated); at least one and at most 25
// certificates; each one X.509 v3, a CA (basicConstraints CA:TRUE), with an
// RSA 2048-8192 or ECDSA P-256/P-384/P-521 key, signed with SHA-256/384/512
// and RSA, RSASSA-PSS or ECDSA, and at most 16 KB. On failure the error is a
// *BundleError naming every problem (certificate index, subject, rule).
// Certificate contents are never copied into problems, and the bodies of
// non-certificate blocks (a private key pasted by mistake) are never echoed.
func ValidateBundle(data []byte) ([]*x509.Certificate, error) {
	var (
		problems []BundleProblem
		certs    []*x509.Certificate
		index    int // CERTIFICATE blocks seen, parsable or not

		inBlock   bool
		blockType string
		blockLine int
		block     []string
	)
	text := string(data)
	text = strings.TrimSuffix(text, "\n")
	lines := strings.Split(text, "\n")
	if len(data) == 0 {
		lines = nil
	}
	finishCert := func() {
		idx := index
		index++
		raw := []byte(strings.Join(block, "\n") + "\n")
		b, rest := pem.Decode(raw)
		if b == nil || len(bytes.TrimSpace(rest)) > 0 {
			problems = append(problems, BundleProblem{Index: idx, Rule: RuleMalformedPEM, Line: blockLine})
			return
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			problems = append(problems, BundleProblem{Index: idx, Rule: RuleUnparsable, Detail: err.Error(), Line: blockLine})
			return
		}
		// Size is measured on the canonical PEM encoding (64-column lines), so
		// the verdict does not depend on how the input was wrapped.
		size := len(pem.EncodeToMemory(&pem.Block{Type: pemTypeCertificate, Bytes: c.Raw}))
		for _, p := range certificateProblems(c, size) {
			p.Index, p.Subject, p.Line = idx, c.Subject.String(), blockLine
			problems = append(problems, p)
		}
		if idx == MaxBundleCertificates {
			problems = append(problems, BundleProblem{Index: idx, Subject: c.Subject.String(), Rule: RuleTooManyCerts, Line: blockLine})
		}
		certs = append(certs, c)
	}
	for i, line := range lines {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			problems = append(problems, BundleProblem{Index: -1, Rule: RuleBlankLine, Line: n})
			continue
		}
		if inBlock {
			if !strings.HasPrefix(line, "-----END ") {
				block = append(block, line)
				continue
			}
			inBlock = false
			if blockType != pemTypeCertificate {
				continue // already reported at BEGIN; the body is never echoed
			}
			block = append(block, line)
			if line != "-----END CERTIFICATE-----" {
				problems = append(problems, BundleProblem{Index: index, Rule: RuleMalformedPEM, Line: blockLine})
				index++
				continue
			}
			finishCert()
			continue
		}
		switch {
		case strings.HasPrefix(line, "#"):
			if strings.Contains(line, "-") {
				problems = append(problems, BundleProblem{Index: -1, Rule: RuleCommentDash, Line: n})
			}
		case strings.HasPrefix(line, "-----BEGIN "):
			inBlock, blockLine, block = true, n, []string{line}
			blockType = strings.TrimSuffix(strings.TrimPrefix(line, "-----BEGIN "), "-----")
			if blockType != pemTypeCertificate {
				problems = append(problems, BundleProblem{Index: -1, Rule: RuleNotCertificate, Detail: fmt.Sprintf("found %q", truncate(blockType, 40)), Line: n})
			}
		default:
			problems = append(problems, BundleProblem{Index: -1, Rule: RuleStrayText, Line: n})
		}
	}
	if inBlock {
		idx := -1
		if blockType == pemTypeCertificate {
			idx = index
		}
		problems = append(problems, BundleProblem{Index: idx, Rule: RuleMalformedPEM, Detail: "no END line", Line: blockLine})
	}
	if index == 0 && len(problems) == 0 {
		problems = append(problems, BundleProblem{Index: -1, Rule: RuleEmpty})
	}
	if len(problems) > 0 {
		return nil, &BundleError{Problems: problems}
	}
	return certs, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
