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

// "My app gets 401" is debugged from the CLI: requests refused before a
// good key was found are in `aigw traces --status 401` (a preview of what
// was presented, never the key itself, and the reason), and /metrics
// counts every refusal by reason.
func TestRefusedRequestsInTracesAndMetrics(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", fake.URL)
	const appKey = "sk-proj-the-applications-own-openai-key-000"
	chat := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	if r := post(t, "http://"+g.proxyAddr+"/openai/v1/chat/completions", "Bearer "+appKey, chat); r.status != 401 {
		t.Fatalf("provider key instead of a gateway key: %d", r.status)
	}
	if r := post(t, "http://"+g.proxyAddr+"/opneai/v1/chat/completions", "Bearer aigw_typo", chat); r.status != 404 {
		t.Fatalf("misspelt provider: %d", r.status)
	}
	var traces []struct {
		Status     int    `json:"status"`
		KeyID      string `json:"key_id"`
		KeyPreview string `json:"key_preview"`
		Provider   string `json:"provider"`
		Error      string `json:"error"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(traces) == 0 && time.Now().Before(deadline) {
		g.okJSON(t, &traces, "traces", "--status", "401")
		time.Sleep(50 * time.Millisecond)
	}
	if len(traces) != 1 || traces[0].KeyID != "" || traces[0].KeyPreview != "sk-… (43 chars)" || traces[0].Provider != "openai" ||
		traces[0].Error != "aigw: invalid gateway key" {
		t.Fatalf("traces --status 401: %+v", traces)
	}
	table := g.ok(t, "traces", "--status", "4xx")
	for _, want := range []string{"sk-… (43 chars)", "invalid gateway key", `unknown provider "opneai"`} {
		if !strings.Contains(table, want) {
			t.Errorf("traces table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, appKey) || strings.Contains(table, "applications-own") {
		t.Errorf("the table shows the presented key:\n%s", table)
	}
	token, err := os.ReadFile(filepath.Join(g.dir, admin.LocalTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	metrics := scrapeMetrics(t, g.adminURL, strings.TrimSpace(string(token)))
	for _, want := range []string{`aigw_proxy_refused_total{reason="invalid_key"} 1`, `aigw_proxy_refused_total{reason="unknown_provider"} 1`,
		`aigw_proxy_refused_untraced_total 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, `key=""`) {
		t.Error("/metrics counts the refused requests under an empty key")
	}
}
