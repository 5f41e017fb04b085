package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/proxytest"
)

// `aigw usage --unpriced` names the models used without a price and how
// many of their requests went unpriced; once a price is added it says so.
func TestUsageUnpriced(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g := startGateway(t, t.TempDir())
	_, secret := provisioned(t, g, fake)
	url := "http://" + g.proxyAddr + "/openai/v1/chat/completions"
	for _, model := range []string{"my-finetune", "gpt-4o-mini", "my-finetune", "other-finetune"} {
		if r := post(t, url, "Bearer "+secret, `{"model":"`+model+`","messages":[]}`); r.status != 200 {
			t.Fatal(r.status, r.body)
		}
	}
	fake.Program(proxytest.Rule{Status: 503}) // a failed request is not "unpriced": nothing was billed
	post(t, url, "Bearer "+secret, `{"model":"failed-finetune","messages":[]}`)
	waitTraces(t, g, 5)

	var rows []admin.UsageRow
	g.okJSON(t, &rows, "usage", "--unpriced")
	if len(rows) != 2 || rows[0].Group != "my-finetune" || rows[0].CostUnknown != 2 || rows[0].Requests != 2 ||
		rows[1].Group != "other-finetune" || rows[1].CostUnknown != 1 {
		t.Fatalf("usage --unpriced: %+v", rows)
	}
	table := g.ok(t, "usage", "--unpriced")
	if !strings.Contains(table, "my-finetune") || !strings.Contains(table, "none") || strings.Contains(table, "gpt-4o-mini") {
		t.Errorf("table:\n%s", table)
	}

	list := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(list, []byte(`{"my-finetune": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	g.ok(t, "prices", "import", list)
	table = g.ok(t, "usage", "--unpriced")
	for _, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(l, "my-finetune") && !strings.Contains(l, "added since") ||
			strings.HasPrefix(l, "other-finetune") && !strings.Contains(l, "none") {
			t.Errorf("after the import: %q", l)
		}
	}

	if r := g.cli(t, "", nil, "usage", "--unpriced", "--by", "key"); r.code != exitUsage || !strings.Contains(r.stderr, "--unpriced") {
		t.Errorf("--unpriced --by key: %d %q", r.code, r.stderr)
	}
	if r := g.cli(t, "", nil, "usage", "--unpriced", "--since", "2020-01-01", "--until", "2020-01-02"); r.code != 0 || r.stdout != "" ||
		!strings.Contains(r.stderr, "had a price") {
		t.Errorf("nothing unpriced: %d %q %q", r.code, r.stdout, r.stderr)
	}
}
