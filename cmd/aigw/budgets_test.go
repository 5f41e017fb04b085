package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/proxytest"
)

// Budgets as a user sets and meets them, through the real gateway: a key
// with --monthly-tokens is refused with 429 once its month is used, and
// still after a restart (rebuilt from the roll-ups); a credential with
// --monthly-cost leaves rotation as budget_exhausted in `credential list`;
// a provider's --monthly-cost shows in `provider show`.
func TestBudgetsThroughTheGateway(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	dir := t.TempDir()
	g := startGateway(t, dir)
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", fake.URL, "--monthly-cost", "500")
	if out := g.ok(t, "provider", "show", "openai"); !strings.Contains(out, "$500/month") {
		t.Errorf("provider show lacks the budget:\n%s", out)
	}
	var capped, other idOnly
	g.okJSON(t, &capped, "credential", "add", "--provider", "openai", "--secret", "sk-capped-000000000001", "--monthly-cost", "0.000001")
	g.okJSON(t, &other, "credential", "add", "--provider", "openai", "--secret", "sk-other-0000000000002")
	var key struct {
		ID            string  `json:"id"`
		Secret        string  `json:"secret"`
		MonthlyTokens int64   `json:"monthly_tokens"`
		MonthlyCost   float64 `json:"monthly_cost"`
		TotalCost     float64 `json:"total_cost"`
		Unpriced      string  `json:"unpriced"`
	}
	g.okJSON(t, &key, "key", "create", "--provider", "openai", "--credentials", capped.ID+","+other.ID,
		"--strategy", "round_robin", "--monthly-tokens", "150", "--total-cost", "100", "--unpriced", "deny")
	if key.MonthlyTokens != 150 || key.TotalCost != 100 || key.Unpriced != "deny" || key.MonthlyCost != 0 {
		t.Fatalf("key create -o json: %+v", key)
	}
	if out := g.ok(t, "key", "show", key.ID); !strings.Contains(out, "tokens/month 150") || !strings.Contains(out, "$100 total") {
		t.Errorf("key show lacks the budgets:\n%s", out)
	}
	url := "http://" + g.proxyAddr + "/openai/v1/chat/completions"
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	for i := range 3 { // 60 tokens each: the third crosses 150
		if r := post(t, url, "Bearer "+key.Secret, body); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	r := post(t, url, "Bearer "+key.Secret, body)
	if r.status != 429 || !strings.Contains(r.body, "key budget monthly_tokens 150 reached (used 180)") {
		t.Fatalf("over the monthly tokens: %d %s", r.status, r.body)
	}
	if n := fake.CountBy("sk-capped-000000000001"); n != 1 {
		t.Errorf("the capped credential served %d requests, want 1", n)
	}
	var creds []struct {
		ID     string `json:"id"`
		Health struct {
			State  string    `json:"state"`
			Until  time.Time `json:"until"`
			Reason string    `json:"reason"`
		} `json:"health"`
	}
	g.okJSON(t, &creds, "credential", "list")
	for _, c := range creds {
		if c.ID == capped.ID && (c.Health.State != "budget_exhausted" || !strings.HasPrefix(c.Health.Reason, "monthly_cost $0.000001 reached (spent $0.0000") ||
			!c.Health.Until.Equal(nextMonthUTC(time.Now()))) {
			t.Errorf("capped credential in credential list: %+v", c.Health)
		}
	}
	if out := g.ok(t, "credential", "list"); !strings.Contains(out, "budget_exhausted until") {
		t.Errorf("credential list's table lacks budget_exhausted:\n%s", out)
	}
	token, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
	metrics := scrapeMetrics(t, g.adminURL, strings.TrimSpace(string(token)))
	for _, want := range []string{
		`aigw_budget_used_ratio{budget="monthly_tokens",subject="key:` + key.ID + `"} 1.2`,
		`aigw_credential_state{credential="` + capped.ID + `",state="budget_exhausted"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// A restart rebuilds the month from the roll-ups.
	g.stop(t)
	g = startGateway(t, dir)
	url = "http://" + g.proxyAddr + "/openai/v1/chat/completions"
	if r := post(t, url, "Bearer "+key.Secret, body); r.status != 429 || !strings.Contains(r.body, "(used 180)") {
		t.Fatalf("after a restart: %d %s", r.status, r.body)
	}
	g.okJSON(t, &creds, "credential", "list")
	for _, c := range creds {
		if c.ID == capped.ID && c.Health.State != "budget_exhausted" {
			t.Errorf("after a restart the capped credential is %s", c.Health.State)
		}
	}
	// Raising the budget lets the key go on at once.
	g.ok(t, "key", "update", key.ID, "--monthly-tokens", "1000")
	if r := post(t, url, "Bearer "+key.Secret, body); r.status != 200 {
		t.Fatalf("after raising the budget: %d %s", r.status, r.body)
	}
}

// Bad budgets: one line naming the field, exit 2, nothing stored.
func TestBadBudgetsAreRefused(t *testing.T) {
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", "https://api.openai.com")
	var cred, key idOnly
	g.okJSON(t, &cred, "credential", "add", "--provider", "openai", "--secret", "sk-test-000000000001")
	g.okJSON(t, &key, "key", "create", "--provider", "openai", "--credentials", cred.ID, "--monthly-cost", "5")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--monthly-cost", "-1"}, `--monthly-cost`},
		{[]string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--total-cost", "NaN"}, `--total-cost`},
		{[]string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--monthly-cost", "Inf"}, `--monthly-cost`},
		{[]string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--monthly-tokens", "-5"}, `--monthly-tokens`},
		{[]string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--unpriced", "maybe"}, `--unpriced`},
		{[]string{"key", "update", key.ID, "--monthly-cost", "-3"}, `--monthly-cost`},
		{[]string{"key", "update", key.ID, "--monthly-tokens", "-3"}, `--monthly-tokens`},
		{[]string{"key", "update", key.ID, "--monthly-cost", "2e9"}, `--monthly-cost`},
		{[]string{"provider", "update", "openai", "--monthly-cost", "-1"}, `--monthly-cost`},
		{[]string{"credential", "update", cred.ID, "--monthly-cost", "NaN"}, `--monthly-cost`},
		{[]string{"credential", "add", "--provider", "openai", "--secret", "sk-test-000000000002", "--monthly-cost", "-1"}, `--monthly-cost`},
	} {
		r := g.cli(t, "", nil, tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 || r.stdout != "" {
			t.Errorf("aigw %s: exit %d, stderr %q (want exit 2 naming %s)", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
	var keys []json.RawMessage
	g.okJSON(t, &keys, "key", "list")
	var k struct {
		MonthlyCost float64 `json:"monthly_cost"`
	}
	g.okJSON(t, &k, "key", "show", key.ID)
	var creds []json.RawMessage
	g.okJSON(t, &creds, "credential", "list")
	if len(keys) != 1 || k.MonthlyCost != 5 || len(creds) != 1 {
		t.Errorf("a refused command stored something: %d keys, monthly_cost %v, %d credentials", len(keys), k.MonthlyCost, len(creds))
	}
}

// A bad budgets.timezone stops aigw serve before it starts: one line
// naming the key.
func TestBadBudgetTimezone(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(file, []byte("[budgets]\ntimezone = \"Mars/Olympus\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	streams := &ioStreams{In: strings.NewReader(""), Out: &out, Err: &errb, getenv: func(string) string { return "" }}
	code := run([]string{"serve", "--config", file, "--data-dir", dir, "--proxy-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, streams)
	if code != exitUsage || !strings.Contains(errb.String(), "budgets.timezone") || !strings.Contains(errb.String(), "Mars/Olympus") ||
		strings.Count(strings.TrimSpace(errb.String()), "\n") > 0 {
		t.Fatalf("serve with budgets.timezone Mars/Olympus: exit %d, stderr %q", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "aigw.db")); err == nil {
		t.Error("serve created its database despite the bad configuration")
	}
}

func nextMonthUTC(now time.Time) time.Time {
	u := now.UTC()
	return time.Date(u.Year(), u.Month()+1, 1, 0, 0, 0, 0, time.UTC)
}
