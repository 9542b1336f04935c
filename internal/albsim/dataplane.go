package albsim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file is the data plane: every listener is a real server on ListenAddress:<port> that
// enforces the listener's mutual-TLS mode and forwards HTTP to its target group.

// Verify outcomes, as ALB writes them in the tls_verify_status field of its connection log.
const (
	VerifySuccess                 = "Success"
	VerifyClientCertUntrusted     = "Failed:ClientCertUntrusted"
	VerifyClientCertExpired       = "Failed:ClientCertExpired"
	VerifyClientCertNotYetValid   = "Failed:ClientCertNotYetValid"
	VerifyClientCertCrlHit        = "Failed:ClientCertCrlHit"
	VerifyClientCertMaxChainDepth = "Failed:ClientCertMaxChainDepthExceeded"
	VerifyClientCertPurpose       = "Failed:ClientCertPurposeInvalid"
	// VerifyNoClientCert is logged when a verify listener's client sends no certificate, which
	// fails the handshake before any verification. ALB logs connection errors that fit no other
	// outcome as an unmapped error.
	VerifyNoClientCert = "Failed:UnmappedConnectionError"
	// VerifyNotApplicable is logged for listeners that do not verify (off, passthrough).
	VerifyNotApplicable = "-"
)

// ConnLogEntry is one handshake on a listener, as in ALB's connection log.
type ConnLogEntry struct {
	Time         time.Time `json:"time"`
	Listener     string    `json:"listener"`
	Port         int       `json:"port"`
	Mode         string    `json:"mode"`
	ClientAddr   string    `json:"clientAddr"`
	ClientSerial string    `json:"clientSerial,omitempty"`
	Subject      string    `json:"subject,omitempty"`
	VerifyStatus string    `json:"tls_verify_status"`
	Error        string    `json:"error,omitempty"`
}

// handshakePolicy is the listener's mutual-TLS state captured when a handshake starts, so that a
// change through the API applies to the next handshake and never to one in flight.
type handshakePolicy struct {
	listenerArn  string
	port         int
	mode         string
	ignoreExpiry bool
	advertise    bool
	bundle       *caBundle
	revoked      map[string]bool
}

// handshake records one connection's TLS outcome.
type handshake struct {
	remote string
	policy handshakePolicy
	status string
	serial string
	subj   string
}

type dataServer struct {
	s     *Sim
	l     *listener // guarded by s.mu
	ln    net.Listener
	srv   *http.Server
	conns sync.Map // *tls.Conn -> *handshake
	once  sync.Once
}

type ctxKey struct{}

func (s *Sim) startListener(l *listener) error {
	addr := net.JoinHostPort(s.cfg.ListenAddress, strconv.Itoa(l.port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ds := &dataServer{s: s, l: l, ln: ln}
	ds.srv = &http.Server{
		Handler:           ds,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if hs, ok := ds.conns.Load(c); ok {
				return context.WithValue(ctx, ctxKey{}, hs)
			}
			return ctx
		},
		ConnState: func(c net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				ds.conns.Delete(c)
			}
		},
	}
	l.server = ds
	served := ln
	if l.protocol == "HTTPS" {
		served = &tlsListener{Listener: ln, ds: ds}
	}
	go func() { _ = ds.srv.Serve(served) }()
	s.log.Info("Listener serving", "listener", l.arn, "address", ln.Addr().String(), "protocol", l.protocol)
	return nil
}

// stop closes the listening socket now, so the port is free when the API call returns, and
// drains open connections in the background (the caller holds the state lock, which in-flight
// handshakes need).
func (ds *dataServer) stop() {
	_ = ds.ln.Close()
	go ds.close()
}

func (ds *dataServer) close() {
	ds.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := ds.srv.Shutdown(ctx); err != nil {
			_ = ds.srv.Close()
		}
	})
}

// tlsListener hands http.Server *tls.Conn values whose handshake albsim watches, so it can log
// one connection-log line per handshake, including handshakes that fail before verification.
type tlsListener struct {
	net.Listener
	ds *dataServer
}

func (tl *tlsListener) Accept() (net.Conn, error) {
	raw, err := tl.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ds := tl.ds
	hs := &handshake{remote: raw.RemoteAddr().String()}
	tc := tls.Server(raw, &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return ds.configFor(hs), nil },
	})
	ds.conns.Store(tc, hs)
	go func() {
		// http.Server runs the same handshake; tls.Conn serialises both callers and hands
		// each the one result.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := tc.HandshakeContext(ctx)
		cancel()
		ds.logHandshake(hs, err)
		if err != nil {
			ds.conns.Delete(tc)
		}
	}()
	return tc, nil
}

// configFor builds the TLS configuration of one handshake from the listener's current state.
func (ds *dataServer) configFor(hs *handshake) *tls.Config {
	s := ds.s
	s.mu.RLock()
	l := ds.l
	p := handshakePolicy{listenerArn: l.arn, port: l.port, mode: l.mtls.mode, ignoreExpiry: l.mtls.ignoreExpiry, advertise: l.mtls.advertise == "on"}
	if ts := s.state.trustStore(l.mtls.trustStoreArn); ts != nil {
		p.bundle, p.revoked = ts.bundle, ts.revoked
	}
	s.mu.RUnlock()
	hs.policy = p

	cfg := &tls.Config{
		Certificates: []tls.Certificate{s.serverCert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
	switch p.mode {
	case modePassthrough:
		// Passthrough accepts any certificate, or none, and leaves verification to the targets.
		cfg.ClientAuth = tls.RequestClientCert
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			hs.status = VerifyNotApplicable
			hs.noteLeaf(cs.PeerCertificates)
			return nil
		}
	case modeVerify:
		// RequireAnyClientCert makes the TLS stack insist on a certificate while albsim does the
		// chain verification itself, so every failure can be named as ALB names it.
		cfg.ClientAuth = tls.RequireAnyClientCert
		if p.advertise && p.bundle != nil {
			cfg.ClientCAs = p.bundle.pool
		}
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			hs.noteLeaf(cs.PeerCertificates)
			hs.status = verifyClientChain(cs.PeerCertificates, p, time.Now())
			if hs.status != VerifySuccess {
				return fmt.Errorf("client certificate rejected: %s", hs.status)
			}
			return nil
		}
	default:
		cfg.ClientAuth = tls.NoClientCert
	}
	return cfg
}

func (hs *handshake) noteLeaf(certs []*x509.Certificate) {
	if len(certs) > 0 {
		hs.serial = serialHex(certs[0])
		hs.subj = certs[0].Subject.String()
	}
}

func (ds *dataServer) logHandshake(hs *handshake, err error) {
	e := ConnLogEntry{
		Time: time.Now().UTC(), Listener: hs.policy.listenerArn, Port: hs.policy.port, Mode: hs.policy.mode,
		ClientAddr: hs.remote, ClientSerial: hs.serial, Subject: hs.subj, VerifyStatus: hs.status,
	}
	if e.Mode == "" {
		// The client went away before sending a ClientHello; there is no handshake to log.
		return
	}
	if e.VerifyStatus == "" {
		switch {
		case err != nil && e.Mode == modeVerify:
			e.VerifyStatus = VerifyNoClientCert
		default:
			e.VerifyStatus = VerifyNotApplicable
		}
	}
	if err != nil {
		e.Error = err.Error()
	}
	ds.s.recordConnection(e)
}

// verifyClientChain checks a client chain against a trust store the way ALB's verify mode does
// and returns the connection-log outcome.
func verifyClientChain(certs []*x509.Certificate, p handshakePolicy, now time.Time) string {
	if len(certs) == 0 {
		return VerifyNoClientCert
	}
	if p.bundle == nil {
		return VerifyClientCertUntrusted
	}
	if len(certs) > maxChainDepth {
		return VerifyClientCertMaxChainDepth
	}
	leaf := certs[0]
	chain := trustedChain(leaf, certs[1:], p.bundle, now)
	if chain == nil {
		return VerifyClientCertUntrusted
	}
	if len(chain) > maxChainDepth {
		return VerifyClientCertMaxChainDepth
	}
	if !clientAuthAllowed(leaf) {
		return VerifyClientCertPurpose
	}
	if !p.ignoreExpiry {
		if now.After(leaf.NotAfter) {
			return VerifyClientCertExpired
		}
		if now.Before(leaf.NotBefore) {
			return VerifyClientCertNotYetValid
		}
	}
	for _, c := range chain {
		if p.revoked[revokedKey(c.RawIssuer, c.SerialNumber.Text(16))] {
			return VerifyClientCertCrlHit
		}
	}
	return VerifySuccess
}

// trustedChain links leaf to the trust store's bundle through the presented intermediates. The
// leaf's own validity period is left out (checked separately, so an expired certificate is
// reported as expired, or accepted with IgnoreClientCertificateExpiry); every CA above it must be
// valid now. It returns the chain leaf first, or nil.
func trustedChain(leaf *x509.Certificate, presented []*x509.Certificate, bundle *caBundle, now time.Time) []*x509.Certificate {
	inter := x509.NewCertPool()
	for _, c := range presented {
		inter.AddCert(c)
	}
	var best []*x509.Certificate
	for _, cand := range append(append([]*x509.Certificate(nil), presented...), bundle.certs...) {
		if !bytes.Equal(cand.RawSubject, leaf.RawIssuer) || leaf.CheckSignatureFrom(cand) != nil {
			continue
		}
		chains, err := cand.Verify(x509.VerifyOptions{
			Roots: bundle.pool, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			continue
		}
		for _, c := range chains {
			if best == nil || len(c)+1 < len(best) {
				best = append([]*x509.Certificate{leaf}, c...)
			}
		}
	}
	return best
}

func clientAuthAllowed(leaf *x509.Certificate) bool {
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return false
	}
	if len(leaf.ExtKeyUsage) == 0 && len(leaf.UnknownExtKeyUsage) == 0 {
		return true
	}
	for _, u := range leaf.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// serialHex formats a serial as ALB does in X-Amzn-Mtls-Clientcert-Serial-Number: upper-case hex
// of the serial's bytes (03A5B1).
func serialHex(c *x509.Certificate) string {
	return fmt.Sprintf("%X", c.SerialNumber.Bytes())
}

// EncodeCertificateHeader URL-encodes PEM the way ALB does for its certificate headers: every
// byte outside the unreserved set is percent-encoded except '+', '=' and '/', which stay as they are.
func EncodeCertificateHeader(pemText []byte) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for _, c := range pemText {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '+', c == '=', c == '/':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// requestRoute is what one request needs from the listener, copied under the lock.
type requestRoute struct {
	headers  map[string]string // attribute key -> header name
	protocol string
	target   *target
	tls      bool
}

func (ds *dataServer) route() requestRoute {
	s := ds.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	l := ds.l
	rt := requestRoute{headers: map[string]string{}}
	for k := range listenerAttributeDefaults {
		if strings.HasSuffix(k, ".header_name") {
			rt.headers[k] = l.attribute(k)
		}
	}
	if len(l.actions) == 0 {
		return rt
	}
	// The first action with the lowest order forwards; among its weighted target groups albsim
	// takes the first with a positive weight, and round-robins over that group's targets.
	act := l.actions[0]
	for _, a := range l.actions[1:] {
		if a.order < act.order {
			act = a
		}
	}
	for _, w := range act.forward {
		if w.weight <= 0 {
			continue
		}
		tg := s.state.targetGroup(w.arn)
		if tg == nil || len(tg.targets) == 0 {
			continue
		}
		t := tg.targets[int(tg.next.Add(1)-1)%len(tg.targets)]
		rt.target, rt.protocol = &t, tg.protocol
		break
	}
	return rt
}

func (ds *dataServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := ds.route()
	// Client-supplied mTLS headers are never forwarded: a target must be able to trust them.
	for name := range r.Header {
		if strings.HasPrefix(strings.ToLower(name), "x-amzn-mtls-") {
			r.Header.Del(name)
		}
	}
	for _, name := range rt.headers {
		r.Header.Del(name)
	}
	if hs, ok := r.Context().Value(ctxKey{}).(*handshake); ok && r.TLS != nil {
		setCertificateHeaders(r.Header, hs.policy.mode, r.TLS.PeerCertificates, rt.headers)
	}
	if rt.target == nil {
		http.Error(w, "503 Service Temporarily Unavailable", http.StatusServiceUnavailable)
		return
	}
	scheme := "http"
	if rt.protocol == "HTTPS" {
		scheme = "https"
	}
	dst := &url.URL{Scheme: scheme, Host: net.JoinHostPort(rt.target.id, strconv.Itoa(rt.target.port))}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(dst)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		Transport: ds.s.targetTransport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			ds.s.log.Warn("Target request failed", "target", dst.Host, "error", err)
			http.Error(w, "502 Bad Gateway", http.StatusBadGateway)
		},
	}
	proxy.ServeHTTP(w, r)
}

// setCertificateHeaders adds the headers ALB sends to targets for each mode.
func setCertificateHeaders(h http.Header, mode string, certs []*x509.Certificate, names map[string]string) {
	if len(certs) == 0 {
		return
	}
	switch mode {
	case modePassthrough:
		var chain []byte
		for _, c := range certs {
			chain = append(chain, certPEM(c)...)
		}
		h.Set(names[attrHeaderClientCert], EncodeCertificateHeader(chain))
	case modeVerify:
		leaf := certs[0]
		h.Set(names[attrHeaderSerial], serialHex(leaf))
		h.Set(names[attrHeaderIssuer], leaf.Issuer.String())
		h.Set(names[attrHeaderSubject], leaf.Subject.String())
		h.Set(names[attrHeaderValidity], fmt.Sprintf("NotBefore=%s;NotAfter=%s",
			leaf.NotBefore.UTC().Format("2006-01-02T15:04:05Z"), leaf.NotAfter.UTC().Format("2006-01-02T15:04:05Z")))
		h.Set(names[attrHeaderLeaf], EncodeCertificateHeader(certPEM(leaf)))
	}
}
