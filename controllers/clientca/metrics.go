package clientca

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
)

var (
	caNotAfter = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "albtrust_clientca_not_after_seconds",
		Help: "Expiry of the signing CA of each ClientCA, as a Unix timestamp.",
	}, []string{"namespace", "name"})
	caReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "albtrust_clientca_ready",
		Help: "1 when the ClientCA is Ready, else 0.",
	}, []string{"namespace", "name"})
	crlNextUpdate = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "albtrust_clientca_crl_next_update_seconds",
		Help: "nextUpdate of the newest CRL of each ClientCA, as a Unix timestamp.",
	}, []string{"namespace", "name"})
)

func init() {
	metrics.Registry.MustRegister(caNotAfter, caReady, crlNextUpdate)
}

func recordMetrics(ca *mtlsv1alpha1.ClientCA, ready bool) {
	if ca.Status.NotAfter != nil {
		caNotAfter.WithLabelValues(ca.Namespace, ca.Name).Set(float64(ca.Status.NotAfter.Unix()))
	}
	v := 0.0
	if ready {
		v = 1
	}
	caReady.WithLabelValues(ca.Namespace, ca.Name).Set(v)
	if ca.Status.CRL != nil {
		crlNextUpdate.WithLabelValues(ca.Namespace, ca.Name).Set(float64(ca.Status.CRL.NextUpdate.Unix()))
	} else {
		crlNextUpdate.DeleteLabelValues(ca.Namespace, ca.Name)
	}
}

func clearMetrics(namespace, name string) {
	caNotAfter.DeleteLabelValues(namespace, name)
	caReady.DeleteLabelValues(namespace, name)
	crlNextUpdate.DeleteLabelValues(namespace, name)
}
