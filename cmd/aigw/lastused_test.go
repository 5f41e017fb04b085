package main

import (
	"strings"
	"testing"
	"time"
)

// A request through the proxy sets the key's last use: in `key list` and
// `key show` (table and JSON); it stays across a configuration change and
// a restart (seeded from the traces).
func TestKeyLastUsedEndToEnd(t *testing.T) {
	g, err := tryStartGateway(t, t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	id := g.demo.KeyID
	type key struct {
		ID         string     `json:"id"`
		LastUsedAt *time.Time `json:"last_used_at"`
	}
	lastUsed := func(g *gw) *time.Time {
		t.Helper()
		var ks []key
		g.okJSON(t, &ks, "key", "list")
		var one map[string]any
		g.okJSON(t, &one, "key", "show", id)
		if _, present := one["last_used_at"]; !present {
			t.Errorf("key show -o json has no last_used_at: %v", one)
		}
		for _, k := range ks {
			if k.ID == id {
				return k.LastUsedAt
			}
		}
		t.Fatalf("key %s not listed: %v", id, ks)
		return nil
	}
	if lu := lastUsed(g); lu != nil {
		t.Fatalf("a key never used has last_used_at %v", lu)
	}
	mustHave(t, g.ok(t, "key", "list"), "LAST USED", "never")

	before := time.Now()
	if r := post(t, "http://"+g.proxyAddr+"/demo/v1/chat/completions", "Bearer "+g.demo.KeySecret,
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}`); r.status != 200 {
		t.Fatalf("request: %d %s", r.status, r.body)
	}
	after := time.Now()
	lu := lastUsed(g)
	if lu == nil || lu.Before(before.Add(-time.Millisecond)) || lu.After(after) {
		t.Fatalf("after a request at %v…%v, last_used_at is %v", before, after, lu)
	}
	mustHave(t, g.ok(t, "key", "list"), "s ago")
	mustHave(t, g.ok(t, "key", "show", id), "last_used", "s ago")

	// A configuration change rebuilds the proxy's snapshot: the time stays.
	g.ok(t, "key", "update", id, "--rpm", "1000")
	if got := lastUsed(g); got == nil || !got.Equal(*lu) {
		t.Fatalf("after a key update, last_used_at %v, want %v", got, lu)
	}

	// A restart: read back from the newest traces.
	g.stop(t)
	g2, err := tryStartGateway(t, g.dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(g2); got == nil || !got.Equal(*lu) {
		t.Fatalf("after a restart, last_used_at %v, want %v", got, lu)
	}
}

func mustHave(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}
