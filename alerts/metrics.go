package alerts

import "github.com/prometheus/client_golang/prometheus"

// Collectors are the alerts' metrics: aigw_alerts_total{kind} (one series
// per kind) and aigw_webhook_deliveries_total{result} (summed over the
// webhooks), read at scrape time.
func (m *Manager) Collectors() []prometheus.Collector {
	var out []prometheus.Collector
	for i, k := range Kinds {
		out = append(out, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "aigw_alerts_total", Help: "Alerts raised, by kind.", ConstLabels: prometheus.Labels{"kind": k},
		}, func() float64 { return float64(m.raised[i].Load()) }))
	}
	for i, r := range deliveryResults {
		out = append(out, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "aigw_webhook_deliveries_total", Help: "Webhook deliveries of alerts, by result (delivered, failed after every try, dropped because the queue was full).",
			ConstLabels: prometheus.Labels{"result": r},
		}, func() float64 {
			var n uint64
			for _, h := range m.hooks {
				n += h.results[i].Load()
			}
			return float64(n)
		}))
	}
	return out
}
