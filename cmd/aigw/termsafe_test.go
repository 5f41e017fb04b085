package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxytest"
)

// hostileModel would retitle the terminal window (OSC 0 … BEL) and clear
// the screen (CSI 2J) if it were printed as it is.
const hostileModel = "evil\x1b]0;pwned\x07\x1b[2J"

// noRawControls fails when out holds a byte a terminal would act on.
func noRawControls(t *testing.T, what, out string) {
	t.Helper()
	for _, bad := range []string{"\x1b", "\x07", "\u009b", "\u202e", "\r"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s prints a raw %q:\n%q", what, bad, out)
		}
	}
}

// A key holder chooses the model and the path of a request; an operator
// chooses key and credential names. Tables and show commands print them
// escaped, -o json gives them back exactly.
func TestHostileTextIsEscapedInTablesAndExactInJSON(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g := startGateway(t, t.TempDir())
	_, secret := provisioned(t, g, fake)
	base := "http://" + g.proxyAddr + "/openai"
	body, _ := json.Marshal(map[string]any{"model": hostileModel, "messages": []any{}})
	if r := post(t, base+"/v1/chat/completions", "Bearer "+secret, string(body)); r.status != 200 {
		t.Fatal(r.status, r.body)
	}
	// ESC and BEL in the path, percent-encoded on the wire: the proxy
	// decodes them.
	post(t, base+"/v1/chat/completions%1B]0;title%07%1B[2J", "Bearer "+secret, string(body))
	traces := waitTraces(t, g, 2)
	if len(traces) != 2 {
		t.Fatalf("%d traces, want 2", len(traces))
	}

	// -o json: the exact strings.
	if traces[1]["model"] != hostileModel {
		t.Errorf("traces -o json model = %q, want %q", traces[1]["model"], hostileModel)
	}
	if want := "/v1/chat/completions\x1b]0;title\x07\x1b[2J"; traces[0]["path"] != want {
		t.Errorf("traces -o json path = %q, want %q", traces[0]["path"], want)
	}
	raw := g.ok(t, "traces", "-o", "json")
	if !strings.Contains(raw, `"evil\u001b]0;pwned\u0007\u001b[2J"`) {
		t.Errorf("traces -o json does not escape the model as JSON does:\n%s", raw)
	}
	var rows []map[string]any
	g.okJSON(t, &rows, "usage", "--by", "model")
	if len(rows) != 1 || rows[0]["group"] != hostileModel {
		t.Errorf("usage --by model -o json: %v", rows)
	}

	// Tables: escaped, visible.
	escaped := `evil\x1b]0;pwned\x07\x1b[2J`
	for _, args := range [][]string{{"traces"}, {"usage", "--by", "model"}} {
		out := g.ok(t, args...)
		noRawControls(t, "aigw "+strings.Join(args, " "), out)
		if !strings.Contains(out, escaped) {
			t.Errorf("aigw %s does not show the model escaped (%s):\n%s", strings.Join(args, " "), escaped, out)
		}
	}

	// Names an operator set (C0 controls are refused, C1 controls and
	// bidi overrides are not), in lists and show commands.
	name := "team\u009b2J\u202eevil"
	var cred idOnly
	g.okJSON(t, &cred, "credential", "add", "--provider", "openai", "--secret", "sk-second", "--name", name)
	var k struct{ ID string }
	g.okJSON(t, &k, "key", "create", "--provider", "openai", "--credentials", cred.ID, "--name", name)
	for _, args := range [][]string{{"key", "list"}, {"key", "show", k.ID}, {"credential", "list"}, {"credential", "show", cred.ID}} {
		out := g.ok(t, args...)
		noRawControls(t, "aigw "+strings.Join(args, " "), out)
		if !strings.Contains(out, `team\u009b2J\u202eevil`) {
			t.Errorf("aigw %s does not show the name escaped:\n%s", strings.Join(args, " "), out)
		}
	}
	var shown struct{ Name string }
	g.okJSON(t, &shown, "key", "show", k.ID)
	if shown.Name != name {
		t.Errorf("key show -o json name = %q, want %q", shown.Name, name)
	}
}

// `aigw traces --follow` prints each row as it comes: escaped too.
func TestTracesFollowTableEscapesTheModel(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g := startGateway(t, t.TempDir())
	_, secret := provisioned(t, g, fake)
	out, stop := follow(t, g)
	body, _ := json.Marshal(map[string]any{"model": hostileModel, "messages": []any{}})
	post(t, "http://"+g.proxyAddr+"/openai/v1/chat/completions", "Bearer "+secret, string(body))
	waitFor(out, "evil")
	if code := stop(); code != 0 {
		t.Errorf("follow ended with %d: %s", code, out.String())
	}
	noRawControls(t, "aigw traces --follow", out.String())
	if !strings.Contains(out.String(), `evil\x1b]0;pwned\x07\x1b[2J`) {
		t.Errorf("aigw traces --follow does not show the model escaped:\n%s", out.String())
	}
}

// The error line on stderr is one line with nothing a terminal acts on,
// whatever the message quotes.
func TestErrorLineIsOneSafeLine(t *testing.T) {
	got := oneLine("upstream said \x1b]0;x\x07\n  and \u009b2J\u202e")
	if want := `upstream said \x1b]0;x\x07; and \u009b2J\u202e`; got != want {
		t.Errorf("oneLine = %q, want %q", got, want)
	}
}
