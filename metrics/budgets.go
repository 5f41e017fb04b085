package metrics

import "github.com/prometheus/client_golang/prometheus"

// Budget is one configured budget's use, for aigw_budget_used_ratio.
type Budget struct {
	Subject     string // "key:key_x", "provider:openai", "credential:cred_x"
	Budget      string // "monthly_cost", "monthly_tokens", "total_cost"
	Used, Limit float64
}

// budgetCollector reports aigw_budget_used_ratio, one series per
// configured budget: the subjects are the operator's keys, providers and
// credentials, so the series are bounded by the configuration.
type budgetCollector struct{ budgets func() []Budget }

var budgetRatioDesc = prometheus.NewDesc("aigw_budget_used_ratio",
	"Share of a budget used in its current period (1 = reached; above 1: overshoot of requests that were in flight).",
	[]string{"subject", "budget"}, nil)

func (c budgetCollector) Describe(ch chan<- *prometheus.Desc) { ch <- budgetRatioDesc }

func (c budgetCollector) Collect(ch chan<- prometheus.Metric) {
	for _, b := range c.budgets() {
		if b.Limit <= 0 {
			continue
		}
		ch <- prometheus.MustNewConstMetric(budgetRatioDesc, prometheus.GaugeValue, b.Used/b.Limit, b.Subject, b.Budget)
	}
}
