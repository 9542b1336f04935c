package albsim

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// This file holds the test hooks: per-action call counters, fault injection, the connection
// log, and the admin endpoints that expose them over HTTP under /_albsim/.

const adminPrefix = "/_albsim/"

// AllActions, as a Fault's action, applies the fault to every action.
const AllActions = "*"

// Fault makes calls of one action fail or slow down.
type Fault struct {
	// Code is the error returned: "Throttling" (HTTP 400), "InternalFailure" (HTTP 500), any other
	// ELBv2 error code (HTTP 400), or empty to add only Latency.
	Code string
	// Count limits the fault to the next Count calls. Zero means no limit.
	Count int
	// Fraction, between 0 and 1, makes each call fail with that probability. Zero means every call.
	Fraction float64
	// Latency is added before the call is answered (or fails).
	Latency time.Duration
}

const maxConnLog = 10000

type adminState struct {
	mu      sync.Mutex
	calls   map[string]int
	faults  map[string]*Fault
	connLog []ConnLogEntry
}

func (a *adminState) init() {
	a.calls = map[string]int{}
	a.faults = map[string]*Fault{}
}

func (a *adminState) count(action string) {
	a.mu.Lock()
	a.calls[action]++
	a.mu.Unlock()
}

// fault decides whether this call of action is hit by an injected fault.
func (a *adminState) fault(ctx context.Context, action string) *apiError {
	a.mu.Lock()
	key := action
	f := a.faults[key]
	if f == nil {
		key = AllActions
		f = a.faults[key]
	}
	if f == nil || (f.Fraction > 0 && rand.Float64() >= f.Fraction) {
		a.mu.Unlock()
		return nil
	}
	hit := *f
	if f.Count > 0 {
		f.Count--
		if f.Count == 0 {
			delete(a.faults, key)
		}
	}
	a.mu.Unlock()
	if hit.Latency > 0 {
		t := time.NewTimer(hit.Latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	switch hit.Code {
	case "":
		return nil
	case codeThrottling:
		return errorf(codeThrottling, "Rate exceeded")
	case codeInternalFailure, "ServiceUnavailable":
		return &apiError{Status: http.StatusInternalServerError, Code: hit.Code, Message: "albsim injected an internal failure"}
	default:
		return errorf(hit.Code, "albsim injected error %s", hit.Code)
	}
}

// Calls returns how many times each action was called (faulted calls included).
func (s *Sim) Calls() map[string]int {
	s.admin.mu.Lock()
	defer s.admin.mu.Unlock()
	out := make(map[string]int, len(s.admin.calls))
	for k, v := range s.admin.calls {
		out[k] = v
	}
	return out
}

// ResetCalls sets every call counter back to zero.
func (s *Sim) ResetCalls() {
	s.admin.mu.Lock()
	s.admin.calls = map[string]int{}
	s.admin.mu.Unlock()
}

// InjectFault makes calls of action (or AllActions) fail or slow down; it replaces any fault
// set for that action before.
func (s *Sim) InjectFault(action string, f Fault) {
	s.admin.mu.Lock()
	s.admin.faults[action] = &f
	s.admin.mu.Unlock()
}

// ClearFaults removes every injected fault.
func (s *Sim) ClearFaults() {
	s.admin.mu.Lock()
	s.admin.faults = map[string]*Fault{}
	s.admin.mu.Unlock()
}

func (s *Sim) recordConnection(e ConnLogEntry) {
	s.log.Info("TLS handshake", "listener", e.Listener, "port", e.Port, "mode", e.Mode, "client", e.ClientAddr,
		"client_serial", e.ClientSerial, "tls_verify_status", e.VerifyStatus)
	s.admin.mu.Lock()
	s.admin.connLog = append(s.admin.connLog, e)
	if len(s.admin.connLog) > maxConnLog {
		s.admin.connLog = append([]ConnLogEntry(nil), s.admin.connLog[len(s.admin.connLog)-maxConnLog:]...)
	}
	s.admin.mu.Unlock()
}

// ConnectionLog returns the handshakes seen so far, oldest first (the last 10,000).
func (s *Sim) ConnectionLog() []ConnLogEntry {
	s.admin.mu.Lock()
	defer s.admin.mu.Unlock()
	return append([]ConnLogEntry(nil), s.admin.connLog...)
}

// ResetConnectionLog empties the connection log.
func (s *Sim) ResetConnectionLog() {
	s.admin.mu.Lock()
	s.admin.connLog = nil
	s.admin.mu.Unlock()
}

// faultJSON is Fault on the admin endpoint, with durations as Go duration strings ("250ms").
type faultJSON struct {
	Action   string  `json:"action"`
	Code     string  `json:"code,omitempty"`
	Count    int     `json:"count,omitempty"`
	Fraction float64 `json:"fraction,omitempty"`
	Latency  string  `json:"latency,omitempty"`
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// adminHandler serves:
//
//	GET    /_albsim/calls                 per-action call counts (JSON); DELETE resets them
//	GET    /_albsim/faults                injected faults; POST adds one
//	                                      {"action":"CreateTrustStore","code":"Throttling","count":2,"fraction":0.5,"latency":"100ms"};
//	                                      DELETE clears them all
//	GET    /_albsim/connections           connection log (JSON); DELETE empties it
//	GET    /_albsim/activation-delay      {"delay":"5s"}; PUT sets it for new trust stores
//	POST   /_albsim/activate              makes every CREATING trust store ACTIVE now
//	GET    /_albsim/server-ca.pem         the CA of the data-plane server certificate
//	GET    /_albsim/truststore-content    ?arn=...[&revocationId=N]: the bundle or CRL albsim holds
//	                                      (the target of the Get...Content "pre-signed" URLs)
func (s *Sim) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+adminPrefix+"calls", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.Calls()) })
	mux.HandleFunc("DELETE "+adminPrefix+"calls", func(w http.ResponseWriter, r *http.Request) {
		s.ResetCalls()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET "+adminPrefix+"faults", func(w http.ResponseWriter, r *http.Request) {
		s.admin.mu.Lock()
		out := []faultJSON{}
		for _, a := range sortedKeys(s.admin.faults) {
			f := s.admin.faults[a]
			out = append(out, faultJSON{Action: a, Code: f.Code, Count: f.Count, Fraction: f.Fraction, Latency: f.Latency.String()})
		}
		s.admin.mu.Unlock()
		writeJSON(w, out)
	})
	mux.HandleFunc("POST "+adminPrefix+"faults", func(w http.ResponseWriter, r *http.Request) {
		var in faultJSON
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
			http.Error(w, "bad fault JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		f := Fault{Code: in.Code, Count: in.Count, Fraction: in.Fraction}
		if in.Latency != "" {
			d, err := time.ParseDuration(in.Latency)
			if err != nil {
				http.Error(w, "bad latency: "+err.Error(), http.StatusBadRequest)
				return
			}
			f.Latency = d
		}
		if in.Action == "" || f.Fraction < 0 || f.Fraction > 1 || f.Count < 0 {
			http.Error(w, "a fault needs an action, a count >= 0 and a fraction between 0 and 1", http.StatusBadRequest)
			return
		}
		s.InjectFault(in.Action, f)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE "+adminPrefix+"faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET "+adminPrefix+"connections", func(w http.ResponseWriter, r *http.Request) {
		log := s.ConnectionLog()
		if log == nil {
			log = []ConnLogEntry{}
		}
		writeJSON(w, log)
	})
	mux.HandleFunc("DELETE "+adminPrefix+"connections", func(w http.ResponseWriter, r *http.Request) {
		s.ResetConnectionLog()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET "+adminPrefix+"activation-delay", func(w http.ResponseWriter, r *http.Request) {
		s.mu.RLock()
		d := s.activationDelay
		s.mu.RUnlock()
		writeJSON(w, map[string]string{"delay": d.String()})
	})
	mux.HandleFunc("PUT "+adminPrefix+"activation-delay", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Delay string `json:"delay"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<12)).Decode(&in); err != nil {
			http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		d, err := time.ParseDuration(in.Delay)
		if err != nil || d < 0 {
			http.Error(w, fmt.Sprintf("bad delay %q", in.Delay), http.StatusBadRequest)
			return
		}
		s.SetTrustStoreActivationDelay(d)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+adminPrefix+"activate", func(w http.ResponseWriter, r *http.Request) {
		s.ActivateTrustStores()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET "+adminPrefix+"server-ca.pem", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(s.ServerCAPEM())
	})
	mux.HandleFunc("GET "+adminPrefix+"truststore-content", s.serveTrustStoreContent)
	return mux
}

func (s *Sim) serveTrustStoreContent(w http.ResponseWriter, r *http.Request) {
	arn := r.URL.Query().Get("arn")
	s.mu.RLock()
	defer s.mu.RUnlock()
	ts := s.state.trustStore(arn)
	if ts == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	if idStr := r.URL.Query().Get("revocationId"); idStr != "" {
		id, err := strconv.ParseInt(idStr, 10, 64)
		rev, ok := ts.revocations[id]
		if err != nil || !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(rev.pem)
		return
	}
	_, _ = w.Write(ts.bundle.pem)
}
