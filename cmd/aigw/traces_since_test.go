package main

import (
	"strings"
	"testing"

	"github.com/aigw/aigw/proxytest"
)

// --since and --until take durations ago as well as times.
func TestTracesSinceAndUntilTakeDurations(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g := startGateway(t, t.TempDir())
	_, secret := provisioned(t, g, fake)
	if r := post(t, "http://"+g.proxyAddr+"/openai/v1/chat/completions", "Bearer "+secret, `{"model":"gpt-4o-mini","messages":[]}`); r.status != 200 {
		t.Fatal(r.status, r.body)
	}
	if got := waitTraces(t, g, 1, "--since", "1h"); len(got) != 1 {
		t.Fatalf("--since 1h: %d traces, want the one just sent", len(got))
	}
	var none []map[string]any
	g.okJSON(t, &none, "traces", "--until", "1h")
	if len(none) != 0 {
		t.Fatalf("--until 1h (an hour ago): %d traces, want none", len(none))
	}
	if r := g.cli(t, "", nil, "traces", "--since", "1h", "--until", "2h"); r.code == 0 || !strings.Contains(r.stderr, "is after until") {
		t.Fatalf("since an hour ago until two hours ago: exit %d %q", r.code, r.stderr)
	}
	if r := g.cli(t, "", nil, "traces", "--since", "-1h"); r.code != exitUsage {
		t.Fatalf("--since -1h: exit %d %s", r.code, r.stderr)
	}
}
