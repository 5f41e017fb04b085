package metrics

import (
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
	"github.com/aigw/aigw/tracing"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetricsFromTracesAndGauges(t *testing.T) {
	m := New(Sources{
		InFlight: func() int64 { return 3 },
		Credentials: func() []scheduler.Status {
			zero, fifty, none := int64(0), int64(50), 0.0
			return []scheduler.Status{{ID: "cred_a", State: "cooling_down", Requests: 9, Failures: 4},
				{ID: "cred_b", State: "quota_exhausted", Quota: []scheduler.QuotaWindowStatus{
					{Window: "requests", Limit: &fifty, Remaining: &zero, RemainingFraction: &none, Reset: time.Unix(1773158400, 5e8), Exhausted: true},
					{Window: "unified_5h", Status: "allowed", Reset: time.Unix(1773160000, 0)},
				}}}
		},
		Pipeline: func() tracing.Stats { return tracing.Stats{Queued: 7, Lag: 250 * time.Millisecond, Written: 100} },
	})
	m.Observe(&store.Trace{Provider: "openai", KeyID: "key_1", Status: 200, Model: "gpt-4o", LatencyMS: 120, TTFBMS: 80, OverheadMS: 0.05,
		PromptTokens: 10, CompletionTokens: 5, CacheReadTokens: 2, CostUSD: 0.25, CostKnown: true, Attempts: make([]store.Attempt, 2), Retries: 1})
	m.Observe(&store.Trace{Provider: "openai", KeyID: "key_1", Status: 200, Model: "mystery", PromptTokens: 1, CompletionTokens: 1, UsageSource: "response"})
	out := scrape(t, m)
	for _, want := range []string{
		`aigw_requests_total{key="key_1",provider="openai",status="200"} 2`,
		`aigw_tokens_total{kind="prompt",model="gpt-4o",provider="openai"} 10`,
		`aigw_tokens_total{kind="cache_read",model="gpt-4o",provider="openai"} 2`,
		`aigw_cost_usd_total{model="gpt-4o",provider="openai"} 0.25`,
		`aigw_cost_unknown_requests_total{model="mystery",provider="openai"} 1`,
		`aigw_retries_total{provider="openai"} 1`,
		`aigw_requests_in_flight 3`,
		`aigw_trace_queue_depth 7`,
		`aigw_trace_writer_lag_seconds 0.25`,
		`aigw_credential_state{credential="cred_a",state="cooling_down"} 1`,
		`aigw_credential_state{credential="cred_a",state="healthy"} 0`,
		`aigw_credential_failures_total{credential="cred_a"} 4`,
		`aigw_credential_state{credential="cred_b",state="quota_exhausted"} 1`,
		`aigw_credential_quota_remaining{credential="cred_b",window="requests"} 0`,
		`aigw_credential_quota_limit{credential="cred_b",window="requests"} 50`,
		`aigw_credential_quota_remaining_ratio{credential="cred_b",window="requests"} 0`,
		`aigw_credential_quota_exhausted{credential="cred_b",window="requests"} 1`,
		`aigw_credential_quota_reset_timestamp_seconds{credential="cred_b",window="requests"} 1.7731584005e+09`,
		`aigw_credential_quota_exhausted{credential="cred_b",window="unified_5h"} 0`,
		`aigw_request_duration_seconds_count{provider="openai"} 2`,
		`aigw_overhead_seconds_count 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// Models are chosen by clients: past MaxUnknownModels models the price
// table does not list, new ones are counted under model="other" (their
// tokens and requests still add up), while listed models and those already
// seen keep their own series.
func TestUnknownModelsCollapseIntoOther(t *testing.T) {
	m := New(Sources{KnownModel: func(model string) bool { return model == "gpt-4o" }})
	observe := func(model string) {
		m.Observe(&store.Trace{Provider: "openai", KeyID: "key_1", Status: 200, Model: model, PromptTokens: 3, CompletionTokens: 1, UsageSource: "response"})
	}
	for i := range MaxUnknownModels + 50 {
		observe("junk-" + strconv.Itoa(i))
	}
	observe("gpt-4o")
	observe("junk-0") // has its own series already
	out := scrape(t, m)
	for _, want := range []string{
		`aigw_tokens_total{kind="prompt",model="junk-0",provider="openai"} 6`,
		`aigw_tokens_total{kind="prompt",model="junk-99",provider="openai"} 3`,
		`aigw_tokens_total{kind="prompt",model="other",provider="openai"} 150`,
		`aigw_cost_unknown_requests_total{model="other",provider="openai"} 50`,
		`aigw_tokens_total{kind="prompt",model="gpt-4o",provider="openai"} 3`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(out, `model="junk-100"`) {
		t.Error("the 101st unknown model got its own series")
	}
	if n := strings.Count(out, "aigw_cost_unknown_requests_total{"); n != MaxUnknownModels+2 {
		t.Errorf("%d cost_unknown series, want %d (the unknown models, gpt-4o, other)", n, MaxUnknownModels+2)
	}
}
