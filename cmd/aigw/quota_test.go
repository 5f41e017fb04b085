package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/proxytest"
)

// The upstream's rate-limit windows, as a user sees them: a credential
// whose answer said its requests window is used up shows quota_exhausted
// with the window in `credential list -o json` and `credential show`, and
// in /metrics.
func TestQuotaWindowsShownByCLIAndMetrics(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	reset := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	fake.Program(proxytest.Rule{Credential: "sk-ant-first", Headers: map[string]string{
		"anthropic-ratelimit-requests-limit":     "50",
		"anthropic-ratelimit-requests-remaining": "0",
		"anthropic-ratelimit-requests-reset":     reset.Format(time.RFC3339),
		"anthropic-ratelimit-tokens-limit":       "30000",
		"anthropic-ratelimit-tokens-remaining":   "29000",
		"anthropic-ratelimit-tokens-reset":       reset.Format(time.RFC3339),
	}})
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "claude", "--type", "anthropic", "--base-url", fake.URL)
	var first, second idOnly
	g.okJSON(t, &first, "credential", "add", "--provider", "claude", "--secret", "sk-ant-first")
	g.okJSON(t, &second, "credential", "add", "--provider", "claude", "--secret", "sk-ant-second")
	var key struct{ Secret string }
	g.okJSON(t, &key, "key", "create", "--provider", "claude", "--credentials", first.ID+","+second.ID, "--strategy", "round_robin")
	for i := 0; fake.CountBy("sk-ant-first") == 0; i++ {
		if i == 2 {
			t.Fatal("round robin never reached the first credential")
		}
		if r := post(t, "http://"+g.proxyAddr+"/claude/v1/messages", "Bearer "+key.Secret,
			`{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`); r.status != 200 {
			t.Fatalf("request through the proxy: %d %s", r.status, r.body)
		}
	}

	var creds []struct {
		ID     string `json:"id"`
		Health struct {
			State  string    `json:"state"`
			Until  time.Time `json:"until"`
			Reason string    `json:"reason"`
			Quota  []struct {
				Window            string    `json:"window"`
				Limit             *int64    `json:"limit"`
				Remaining         *int64    `json:"remaining"`
				RemainingFraction *float64  `json:"remaining_fraction"`
				Reset             time.Time `json:"reset"`
				Exhausted         bool      `json:"exhausted"`
			} `json:"quota"`
		} `json:"health"`
	}
	g.okJSON(t, &creds, "credential", "list")
	for _, c := range creds {
		h := c.Health
		switch c.ID {
		case first.ID:
			if h.State != "quota_exhausted" || !h.Until.Equal(reset) || h.Reason != "requests window: 0 of 50 left" || len(h.Quota) != 2 {
				t.Fatalf("first credential: %+v", h)
			}
			r, tk := h.Quota[0], h.Quota[1]
			if r.Window != "requests" || *r.Limit != 50 || *r.Remaining != 0 || *r.RemainingFraction != 0 || !r.Reset.Equal(reset) || !r.Exhausted {
				t.Errorf("requests window: %+v", r)
			}
			if tk.Window != "tokens" || *tk.Limit != 30000 || *tk.Remaining != 29000 || tk.Exhausted {
				t.Errorf("tokens window: %+v", tk)
			}
		case second.ID:
			if h.State != "healthy" || len(h.Quota) != 0 {
				t.Errorf("second credential (its answers name no window): %+v", h)
			}
		}
	}
	show := g.ok(t, "credential", "show", first.ID)
	for _, want := range []string{"quota_exhausted until", "reason:", "requests window: 0 of 50 left", "quota_requests:", "0 of 50 left, resets", "(used up)", "quota_tokens:", "29000 of 30000 left"} {
		if !strings.Contains(show, want) {
			t.Errorf("credential show lacks %q:\n%s", want, show)
		}
	}

	token, err := os.ReadFile(filepath.Join(g.dir, admin.LocalTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	metrics := scrapeMetrics(t, g.adminURL, strings.TrimSpace(string(token)))
	for _, want := range []string{
		`aigw_credential_state{credential="` + first.ID + `",state="quota_exhausted"} 1`,
		`aigw_credential_quota_remaining{credential="` + first.ID + `",window="requests"} 0`,
		`aigw_credential_quota_limit{credential="` + first.ID + `",window="requests"} 50`,
		`aigw_credential_quota_exhausted{credential="` + first.ID + `",window="requests"} 1`,
		`aigw_credential_quota_remaining_ratio{credential="` + first.ID + `",window="tokens"} 0.9666`,
		`aigw_credential_quota_reset_timestamp_seconds{credential="` + first.ID + `",window="tokens"} `,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, `aigw_credential_quota_remaining{credential="`+second.ID) {
		t.Error("/metrics has quota series for a credential whose upstream named no window")
	}
}
