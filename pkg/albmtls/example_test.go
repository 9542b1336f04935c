package albmtls_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/albtrust/albtrust/pkg/albmtls"
)

// A backend behind an ALB listener in Passthrough mode. In production the
// bundle is a file such as the ca.crt of a mounted Secret, and the handler is
// served with http.ListenAndServe; here one request stands in for the load
// balancer. The fixtures were made with openssl (testdata/gen.sh).
func Example() {
	v, err := albmtls.NewVerifier(albmtls.WithCABundleFile("testdata/ca.crt"))
	if err != nil {
		log.Fatal(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := albmtls.IdentityFromContext(r.Context())
		fmt.Fprintf(w, "hello %s <%s>\n", id.CommonName, id.EmailAddresses[0])
	})
	handler := v.Middleware(hello) // http.ListenAndServe("127.0.0.1:8080", handler)

	header, _ := os.ReadFile("testdata/alice.header")
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set(albmtls.HeaderClientCert, string(header))
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, req)
	fmt.Print(w.Code, " ", w.Body)
	// Output: 200 hello alice <alice@example.com>
}

// Telling the reasons apart, for logs or metrics.
func ExampleVerifier_VerifyRequest() {
	v, err := albmtls.NewVerifier(albmtls.WithCABundleFile("testdata/ca.crt"))
	if err != nil {
		log.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set(albmtls.HeaderClientCert, "-----BEGIN%20CERTIFICATE-----%0Anot%20base64")
	_, err = v.VerifyRequest(req)
	switch {
	case errors.Is(err, albmtls.ErrNoCertificate):
		fmt.Println("anonymous")
	case errors.Is(err, albmtls.ErrMalformed):
		fmt.Println("malformed:", err)
	case errors.Is(err, albmtls.ErrRevoked), errors.Is(err, albmtls.ErrUntrusted):
		fmt.Println("refused:", err)
	}
	// Output: malformed: albmtls: malformed client certificate header: truncated PEM or trailing data after 0 certificate(s)
}
