package clientcertificate

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	mtlsv1alpha1 "github.com/albtrust/albtrust/api/v1alpha1"
	"github.com/albtrust/albtrust/controllers/common"
)

var (
	notAfterSeconds = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "albtrust_clientcertificate_not_after_seconds",
		Help: "The notAfter of the current client certificate, in seconds since the Unix epoch.",
	}, []string{"namespace", "name"})
	readyGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "albtrust_clientcertificate_ready",
		Help: "1 when the ClientCertificate's Ready condition is True, 0 otherwise.",
	}, []string{"namespace", "name"})
)

func init() {
	metrics.Registry.MustRegister(notAfterSeconds, readyGauge)
}

// observe publishes the metrics of one ClientCertificate.
func observe(cc *mtlsv1alpha1.ClientCertificate) {
	ready := 0.0
	if common.IsTrue(cc.Status.Conditions, mtlsv1alpha1.ConditionReady) {
		ready = 1
	}
	readyGauge.WithLabelValues(cc.Namespace, cc.Name).Set(ready)
	if cc.Status.NotAfter != nil {
		notAfterSeconds.WithLabelValues(cc.Namespace, cc.Name).Set(float64(cc.Status.NotAfter.Unix()))
	} else {
		notAfterSeconds.DeleteLabelValues(cc.Namespace, cc.Name)
	}
}

// forget deletes the series of a ClientCertificate that is gone.
func forget(key types.NamespacedName) {
	readyGauge.DeleteLabelValues(key.Namespace, key.Name)
	notAfterSeconds.DeleteLabelValues(key.Namespace, key.Name)
}
