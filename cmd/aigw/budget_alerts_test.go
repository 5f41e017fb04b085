package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/gateway"
	"github.com/aigw/aigw/internal/units"
	"github.com/aigw/aigw/proxytest"
)

// A key's budget crossing its thresholds through the real gateway raises
// one budget_threshold alert per threshold, seen by `aigw alerts`; once the
// budget is spent, requests are refused.
func TestBudgetThresholdAlertThroughTheGateway(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g, err := tryStartGateway(t, t.TempDir(), false, func(o *gateway.Options) { o.AlertsEvery = 50 * time.Millisecond })
	if err != nil {
		t.Fatal(err)
	}
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", fake.URL)
	var cred idOnly
	g.okJSON(t, &cred, "credential", "add", "--provider", "openai", "--secret", "sk-upstream")
	var key struct{ ID, Secret string }
	g.okJSON(t, &key, "key", "create", "--provider", "openai", "--credentials", cred.ID, "--name", "metered")
	url := "http://" + g.proxyAddr + "/openai/v1/chat/completions"
	if r := post(t, url, "Bearer "+key.Secret, chatJSON); r.status != 200 {
		t.Fatalf("first request: %d %s", r.status, r.body)
	}
	var traces []struct {
		CostUSD float64 `json:"cost_usd"`
	}
	for deadline := time.Now().Add(5 * time.Second); len(traces) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		g.okJSON(t, &traces, "traces", "--key", key.ID)
	}
	if len(traces) != 1 || traces[0].CostUSD <= 0 {
		t.Fatalf("traces of the first request: %+v", traces)
	}
	// A budget the first request used 90 % of: the 80 % threshold is crossed.
	budget := traces[0].CostUSD / 0.9
	g.ok(t, "key", "update", key.ID, "--monthly-cost", strconv.FormatFloat(budget, 'g', -1, 64))

	// key show says how much of it is used.
	var shown struct {
		BudgetUse []struct {
			Budget      string
			Used, Limit float64
			Reset       *time.Time
		} `json:"budget_use"`
	}
	g.okJSON(t, &shown, "key", "show", key.ID)
	if len(shown.BudgetUse) != 1 || shown.BudgetUse[0].Budget != "monthly_cost" || shown.BudgetUse[0].Used != traces[0].CostUSD ||
		shown.BudgetUse[0].Limit != budget || shown.BudgetUse[0].Reset == nil {
		t.Fatalf("key show budget_use: %+v; want monthly_cost %g of %g with its reset", shown.BudgetUse, traces[0].CostUSD, budget)
	}
	if out := g.ok(t, "key", "show", key.ID); !strings.Contains(out, "(90.0%, until ") {
		t.Errorf("key show does not say 90.0%% of the budget is used:\n%s", out)
	}

	type alert struct {
		Kind    string `json:"kind"`
		Subject string `json:"subject"`
		Message string `json:"message"`
	}
	var got []alert
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var all []alert
		if err := json.Unmarshal([]byte(g.ok(t, "alerts", "-o", "json")), &all); err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, a := range all {
			if a.Kind == "budget_threshold" {
				got = append(got, a)
			}
		}
		if len(got) > 0 {
			break
		}
	}
	if len(got) != 1 || got[0].Subject != "key:"+key.ID || !strings.Contains(got[0].Message, "80") {
		t.Fatalf("budget alerts: %+v; want one for key:%s at 80 %%", got, key.ID)
	}
	// At 90 % the budget is not reached: one more request goes, and spends
	// it (180 %); then the key is refused, and the 100 % alert comes once.
	if r := post(t, url, "Bearer "+key.Secret, chatJSON); r.status != 200 {
		t.Fatalf("a request at 90 %% of the budget: %d %s", r.status, r.body)
	}
	if r := post(t, url, "Bearer "+key.Secret, chatJSON); r.status != 429 || !strings.Contains(r.body, "monthly_cost") {
		t.Fatalf("a request once the budget is spent: %d %s", r.status, r.body)
	}
	var all []alert
	n := 0
	for deadline := time.Now().Add(5 * time.Second); n < 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		all = all[:0]
		if err := json.Unmarshal([]byte(g.ok(t, "alerts", "-o", "json")), &all); err != nil {
			t.Fatal(err)
		}
		n = 0
		for _, a := range all {
			if a.Kind == "budget_threshold" {
				n++
			}
		}
	}
	time.Sleep(200 * time.Millisecond) // a few more checks raise nothing twice
	all = all[:0]
	if err := json.Unmarshal([]byte(g.ok(t, "alerts", "-o", "json")), &all); err != nil {
		t.Fatal(err)
	}
	n = 0
	for _, a := range all {
		if a.Kind == "budget_threshold" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d budget alerts; want 2 (80 %% and 100 %%), once each: %+v", n, all)
	}
}

// A budget set right after some requests starts from all of them, not
// from those the trace writer had got to: the change waits for the queued
// traces to be written (here the writer would wait 10 s for a batch).
func TestBudgetSetAfterRequestsCountsThemAll(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g, err := tryStartGateway(t, t.TempDir(), false, func(o *gateway.Options) {
		o.Config.Traces.FlushInterval = units.Duration(10 * time.Second)
	})
	if err != nil {
		t.Fatal(err)
	}
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", fake.URL)
	var cred idOnly
	g.okJSON(t, &cred, "credential", "add", "--provider", "openai", "--secret", "sk-upstream")
	var key struct{ ID, Secret string }
	g.okJSON(t, &key, "key", "create", "--provider", "openai", "--credentials", cred.ID)
	url := "http://" + g.proxyAddr + "/openai/v1/chat/completions"
	const n = 5
	for range n {
		if r := post(t, url, "Bearer "+key.Secret, chatJSON); r.status != 200 {
			t.Fatalf("request: %d %s", r.status, r.body)
		}
	}
	var shown struct {
		BudgetUse []struct{ Used float64 } `json:"budget_use"`
	}
	g.okJSON(t, &shown, "key", "update", key.ID, "--monthly-tokens", "1000000")
	var traces []struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
	}
	g.okJSON(t, &traces, "traces", "--key", key.ID)
	var want int64
	for _, tr := range traces {
		want += tr.PromptTokens + tr.CompletionTokens
	}
	if len(traces) != n || len(shown.BudgetUse) != 1 || shown.BudgetUse[0].Used != float64(want) {
		t.Fatalf("after %d requests (%d traces, %d tokens), the new budget starts from %+v", n, len(traces), want, shown.BudgetUse)
	}
}
