package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/config"
	"github.com/aigw/aigw/gateway"
	"github.com/aigw/aigw/proxytest"
)

// An operator imports a LiteLLM price list: it prices requests at once,
// survives a restart, loses to config [pricing], and `prices list` says
// where each row comes from. A bad list is refused whole.
func TestPricesImportAndList(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	dir := t.TempDir()
	withConfigPrice := func(o *gateway.Options) {
		o.Config.Pricing = map[string]config.Price{"gpt-4o": {Input: 7, Output: 8}}
	}
	g, err := tryStartGateway(t, dir, false, withConfigPrice)
	if err != nil {
		t.Fatal(err)
	}
	_, secret := provisioned(t, g, fake)

	var rows []admin.PriceRow
	g.okJSON(t, &rows, "prices", "list", "--model", "claude-sonnet-4-5*")
	if len(rows) == 0 || rows[0].Model != "claude-sonnet-4-5" || rows[0].Source != "built-in" || rows[0].CacheWrite1h != 6 ||
		rows[0].Above200k == nil || rows[0].Above200k.Input != 6 {
		t.Fatalf("built-in claude-sonnet-4-5: %+v", rows)
	}
	g.okJSON(t, &rows, "prices", "list", "--model", "gpt-4o")
	if len(rows) != 1 || rows[0].Source != "config" || rows[0].Input != 7 {
		t.Fatalf("config gpt-4o: %+v", rows)
	}

	list := filepath.Join(t.TempDir(), "model_prices_and_context_window.json")
	write := func(s string) {
		if err := os.WriteFile(list, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A wrong type: refused, the model and field named, nothing stored.
	write(`{"my-model": {"input_cost_per_token": 1e-6, "output_cost_per_token": "2e-6"}}`)
	r := g.cli(t, "", nil, "prices", "import", list)
	if r.code != exitUsage || !strings.Contains(r.stderr, `"my-model"`) || !strings.Contains(r.stderr, "output_cost_per_token") ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("bad list: exit %d, %q", r.code, r.stderr)
	}
	if r := g.cli(t, "", nil, "prices", "list", "--model", "my-model", "-o", "json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("a refused list was stored: %q", r.stdout)
	}
	// The server refuses it too, for a client that skips the CLI's check.
	c := admin.NewClient(g.adminURL, readToken(t, dir))
	if _, err := c.ImportPrices(t.Context(), []byte(`{"m": {"input_cost_per_token": -1, "output_cost_per_token": 1}}`), "x"); err == nil ||
		!strings.Contains(err.Error(), "negative") {
		t.Fatalf("server import of a negative price: %v", err)
	}

	write(`{
		"my-model": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "cache_read_input_token_cost": 5e-7},
		"gpt-4o": {"litellm_provider": "openai", "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6},
		"bedrock/other": {"litellm_provider": "bedrock", "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6}
	}`)
	out := g.ok(t, "prices", "import", list)
	if !strings.Contains(out, "imported 2 models") || !strings.Contains(out, "1 of other providers") {
		t.Errorf("import said %q", out)
	}
	// At once: a request for the imported model is priced with it.
	if r := post(t, "http://"+g.proxyAddr+"/openai/v1/chat/completions", "Bearer "+secret, `{"model":"my-model","messages":[]}`); r.status != 200 {
		t.Fatal(r.status, r.body)
	}
	tr := waitTraces(t, g, 1)[0]
	u := proxytest.DefaultUsage
	want := (float64(u.Prompt-u.CacheRead)*1 + float64(u.CacheRead)*0.5 + float64(u.Completion)*2) / 1e6
	if tr["cost_known"] != true || math.Abs(tr["cost_usd"].(float64)-want) > 1e-15 {
		t.Errorf("my-model priced %v (known %v), want %v", tr["cost_usd"], tr["cost_known"], want)
	}

	check := func(when string) {
		t.Helper()
		g.okJSON(t, &rows, "prices", "list", "--model", "my-model")
		if len(rows) != 1 || rows[0].Source != "imported" || rows[0].Input != 1 || rows[0].CacheRead != 0.5 {
			t.Errorf("%s: my-model %+v", when, rows)
		}
		g.okJSON(t, &rows, "prices", "list", "--model", "gpt-4o")
		if len(rows) != 1 || rows[0].Source != "config" || rows[0].Input != 7 {
			t.Errorf("%s: config must win over the import: %+v", when, rows)
		}
		table := g.ok(t, "prices", "list", "--model", "my-*")
		if !strings.Contains(table, "my-model") || !strings.Contains(table, "imported") {
			t.Errorf("%s: table %q", when, table)
		}
	}
	check("after the import")
	g.stop(t)
	g, err = tryStartGateway(t, dir, false, withConfigPrice)
	if err != nil {
		t.Fatal(err)
	}
	check("after a restart")

	for _, args := range [][]string{
		{"prices", "list", "--model", "["},
		{"prices", "import", filepath.Join(dir, "missing.json")},
		{"prices", "import"},
	} {
		if r := g.cli(t, "", nil, args...); r.code != exitUsage || r.stdout != "" {
			t.Errorf("aigw %s: exit %d %q %q", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
}

func readToken(t *testing.T, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, admin.LocalTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(raw))
}
