package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/testkit"
	"github.com/aigw/aigw/proxytest"
)

// provisioned is a gateway with a provider "openai" on a fake upstream and a key.
func provisioned(t *testing.T, g *gw, fake *proxytest.Server, keyFlags ...string) (keyID, secret string) {
	t.Helper()
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", fake.URL)
	var cred idOnly
	g.okJSON(t, &cred, "credential", "add", "--provider", "openai", "--secret", "sk-upstream-credential-1")
	var key struct{ ID, Secret string }
	g.okJSON(t, &key, append([]string{"key", "create", "--provider", "openai", "--credentials", cred.ID}, keyFlags...)...)
	return key.ID, key.Secret
}

// waitTraces polls `aigw traces` until n traces are there (the pipeline
// writes within its flush interval).
func waitTraces(t *testing.T, g *gw, n int, extra ...string) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var out []map[string]any
		g.okJSON(t, &out, append([]string{"traces", "--limit", "100"}, extra...)...)
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTracesAndUsageFromTheCLI(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g := startGateway(t, t.TempDir())
	keyID, secret := provisioned(t, g, fake)
	url := "http://" + g.proxyAddr + "/openai/v1/chat/completions"
	for _, model := range []string{"gpt-4o-mini", "gpt-4o-mini", "gpt-4o"} {
		if r := post(t, url, "Bearer "+secret, `{"model":"`+model+`","messages":[]}`); r.status != 200 {
			t.Fatal(r.status, r.body)
		}
	}
	fake.Program(proxytest.Rule{Status: 503})
	post(t, url, "Bearer "+secret, `{"model":"gpt-4o","messages":[]}`)

	traces := waitTraces(t, g, 4)
	if len(traces) != 4 {
		t.Fatalf("%d traces, want 4", len(traces))
	}
	for _, field := range []string{"request_id", "time", "key_id", "provider", "credential_id", "model", "status", "latency_ms",
		"retries", "prompt_tokens", "completion_tokens", "cache_creation_tokens", "cache_read_tokens", "cost_usd", "error"} {
		if _, ok := traces[0][field]; !ok {
			t.Errorf("traces -o json lacks %q", field)
		}
	}
	newest := traces[0]
	if newest["status"] != 503.0 || newest["retries"] != 2.0 || newest["key_id"] != keyID {
		t.Errorf("newest trace: %v", newest)
	}
	oldest := traces[3]
	if oldest["model"] != "gpt-4o-mini" || oldest["prompt_tokens"] != float64(proxytest.DefaultUsage.Prompt) || oldest["cost_known"] != true {
		t.Errorf("oldest trace: %v", oldest)
	}
	if errs := waitTraces(t, g, 1, "--status", "5xx"); len(errs) != 1 || errs[0]["status"] != 503.0 {
		t.Errorf("--status 5xx: %v", errs)
	}

	var rows []map[string]any
	g.okJSON(t, &rows, "usage", "--by", "model")
	byModel := map[string]map[string]any{}
	for _, r := range rows {
		byModel[r["group"].(string)] = r
	}
	mini, full := byModel["gpt-4o-mini"], byModel["gpt-4o"]
	if mini == nil || mini["requests"] != 2.0 || mini["prompt_tokens"] != 2*float64(proxytest.DefaultUsage.Prompt) {
		t.Errorf("usage gpt-4o-mini: %v", mini)
	}
	if full == nil || full["requests"] != 2.0 || full["errors"] != 1.0 {
		t.Errorf("usage gpt-4o: %v", full)
	}
	for _, f := range []string{"group", "requests", "errors", "prompt_tokens", "completion_tokens", "cache_creation_tokens", "cache_read_tokens", "cost_usd"} {
		if _, ok := rows[0][f]; !ok {
			t.Errorf("usage -o json lacks %q", f)
		}
	}
	// The table shows a few requests' cost in millionths, not as $0.
	table := g.cli(t, "", nil, "usage", "--by", "model")
	want := usdText(mini["cost_usd"].(float64))
	if mini["cost_usd"].(float64) <= 0 || !strings.HasPrefix(want, "$0.0000") || !strings.Contains(table.stdout, want) {
		t.Errorf("usage table: want gpt-4o-mini's cost %s in\n%s", want, table.stdout)
	}
	if r := g.cli(t, "", nil, "usage", "--by", "color"); r.code != exitUsage || !strings.Contains(r.stderr, "--by") {
		t.Errorf("usage --by color: %d %q", r.code, r.stderr)
	}
}

// follow runs `aigw traces --follow` with args against g until stop is
// called, which returns the exit code; out collects what it printed.
func follow(t *testing.T, g *gw, args ...string) (out *testkit.SyncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &testkit.SyncBuffer{}
	done := make(chan int)
	go func() {
		streams := &ioStreams{In: strings.NewReader(""), Out: out, Err: out,
			getenv: func(k string) string {
				return map[string]string{"AIGW_DATA_DIR": g.dir, "AIGW_ADMIN_URL": g.adminURL}[k]
			}}
		done <- runContext(ctx, append([]string{"traces", "--follow"}, args...), streams)
	}()
	time.Sleep(200 * time.Millisecond) // subscribed
	return out, func() int { cancel(); return <-done }
}

// waitFor waits up to 5 s for out to contain s.
func waitFor(out *testkit.SyncBuffer, s string) {
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), s) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// `aigw traces --follow -o json` prints each new request as it happens.
func TestTracesFollow(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g := startGateway(t, t.TempDir())
	_, secret := provisioned(t, g, fake)
	out, stop := follow(t, g, "-o", "json")
	url := "http://" + g.proxyAddr + "/openai/v1/chat/completions"
	post(t, url, "Bearer "+secret, `{"model":"gpt-4o-mini","stream":true,"messages":[]}`)
	waitFor(out, "request_id")
	if code := stop(); code != 0 {
		t.Errorf("follow ended with %d: %s", code, out.String())
	}
	var tr map[string]any
	line, _, _ := strings.Cut(out.String(), "\n")
	if err := json.Unmarshal([]byte(line), &tr); err != nil || tr["stream"] != true || tr["model"] != "gpt-4o-mini" {
		t.Fatalf("followed trace: %v %q", err, out.String())
	}
}

// Daily quotas hold across a restart: the counters come back from the
// usage roll-ups.
func TestDailyQuotaSurvivesRestart(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	dir := t.TempDir()
	g := startGateway(t, dir)
	perRequest := proxytest.DefaultUsage.Prompt + proxytest.DefaultUsage.Completion
	_, secret := provisioned(t, g, fake, "--daily-tokens", itoa(2*perRequest))
	url := "http://" + g.proxyAddr + "/openai/v1/chat/completions"
	for range 2 {
		if r := post(t, url, "Bearer "+secret, chatJSON); r.status != 200 {
			t.Fatal(r.status)
		}
	}
	if r := post(t, url, "Bearer "+secret, chatJSON); r.status != 429 {
		t.Fatalf("over the daily quota: %d", r.status)
	}
	g.stop(t)
	g2 := startGateway(t, dir)
	url = "http://" + g2.proxyAddr + "/openai/v1/chat/completions"
	r := post(t, url, "Bearer "+secret, chatJSON)
	if r.status != 429 || !strings.Contains(r.body, "tokens per day") {
		t.Fatalf("after a restart the daily quota was reset: %d %s", r.status, r.body)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// A live stream (aigw tui, traces --follow) does not hold aigw serve's
// shutdown until its drain deadline; a follower with --no-retry is told
// the stream ended (one that reconnects: traces_follow_test.go).
func TestShutdownEndsLiveStreams(t *testing.T) {
	g := startGateway(t, t.TempDir())
	var out testkit.SyncBuffer
	done := make(chan int, 1)
	go func() {
		streams := &ioStreams{In: strings.NewReader(""), Out: &out, Err: &out,
			getenv: func(k string) string {
				return map[string]string{"AIGW_DATA_DIR": g.dir, "AIGW_ADMIN_URL": g.adminURL}[k]
			}}
		done <- runContext(context.Background(), []string{"traces", "--follow", "--no-retry"}, streams)
	}()
	time.Sleep(300 * time.Millisecond) // connected
	start := time.Now()
	g.stop(t)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown with a live stream open took %v", d)
	}
	select {
	case code := <-done:
		if code != exitUnreachable || !strings.Contains(out.String(), "stream ended") {
			t.Errorf("follow after shutdown: exit %d, %q", code, out.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("traces --follow did not notice the gateway went away")
	}
}

func TestUSDText(t *testing.T) {
	for _, c := range []struct {
		usd  float64
		want string
	}{
		{0, "$0"}, {0.0000001, "<$0.000001"}, {0.000018, "$0.000018"}, {0.000036, "$0.000036"},
		{0.0125, "$0.0125"}, {0.5, "$0.5"}, {3.41872, "$3.4187"}, {12345.678, "$12345.68"},
	} {
		if got := usdText(c.usd); got != c.want {
			t.Errorf("usdText(%v) = %q, want %q", c.usd, got, c.want)
		}
	}
}
