package tui

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	tea "github.com/charmbracelet/bubbletea"
)

// run runs cmd and every command it batches, sending what they answer
// back to m, and returns the messages (one level of answers: enough for
// the list pages, whose commands here do no I/O).
func run(m tea.Model, cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range b {
			out = append(out, run(m, c)...)
		}
		return out
	}
	if msg != nil {
		send(m, msg)
	}
	return []tea.Msg{msg}
}

// rowsWith are the data lines of a list that contain s.
func rowsWith(view, s string) int {
	n := 0
	for _, l := range strings.Split(view, "\n") {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// "/" filters every list page by the text of its visible columns,
// case-insensitively; a filter that matches nothing says so; esc clears.
func TestFilterOnEveryListPage(t *testing.T) {
	t.Run("keys", func(t *testing.T) {
		m := keysModel(t)
		press(m, "/")
		typeText(m, "SUPP")
		v := m.View()
		mustContain(t, v, "/ SUPP", "key_support")
		mustNotContain(t, v, "key_billing")
		press(m, "enter") // keeps it; the keys are the list's again
		v = m.View()
		mustContain(t, v, "filter `SUPP`: 1 of 2 shown")
		mustContain(t, selectedLine(v), "key_support")
		checkFits(t, v, 80, 24)
		press(m, "esc")
		mustContain(t, m.View(), "key_billing", "key_support")

		press(m, "/")
		typeText(m, "zzz")
		mustContain(t, m.View(), "No key matches `zzz`")
		press(m, "esc") // while typing: clears too
		v = m.View()
		mustContain(t, v, "key_billing")
		mustNotContain(t, v, "zzz")
	})
	t.Run("credentials", func(t *testing.T) {
		m := credentialsModel(t)
		press(m, "/")
		typeText(m, "cooling")
		press(m, "enter")
		v := m.View()
		mustContain(t, v, "cred_anthropic2")
		mustNotContain(t, v, "cred_openai1", "cred_anthropic1")
		// The details are the selected (the only listed) credential's.
		mustContain(t, v, "team-b (cred_anthropic2)")
		// The filter stays as the states change on each reload.
		send(m, fixtureCredentials())
		mustNotContain(t, m.View(), "cred_openai1", "is no longer listed")
	})
	t.Run("providers", func(t *testing.T) {
		m := newTestModel(t, nil)
		press(m, "5")
		send(m, providersLoadedMsg{Providers: fixtureProviders()})
		press(m, "/")
		typeText(m, "api.openai")
		v := m.View()
		mustContain(t, v, "Authorization: Bearer {key}") // openai's details
		if rowsWith(v, "anthropic") != 0 {
			t.Errorf("anthropic is listed under the filter:\n%s", v)
		}
		press(m, "esc")
		typeText(m, "/nope")
		mustContain(t, m.View(), "No provider matches `nope`")
	})
	t.Run("usage", func(t *testing.T) {
		m := usageModel(t)
		press(m, "/")
		typeText(m, "lab")
		press(m, "enter")
		v := m.View()
		mustContain(t, v, "key_lab")
		mustNotContain(t, v, "key_billing", "key_support")
		// The total is the total of what is shown.
		mustContain(t, v, "Total  77 requests")
		checkFits(t, v, 80, 24)
	})
}

// enter drills down to the traces of a key, a credential or a usage row;
// esc comes back to the page, its row and its filter.
func TestEnterDrillsDownAndEscComesBack(t *testing.T) {
	withTraces := func(m *Model) {
		for _, tr := range fixtureTraces() {
			send(m, traceMsg{Traces: []admin.Trace{tr}})
		}
	}
	t.Run("key", func(t *testing.T) {
		m := keysModel(t)
		withTraces(m)
		press(m, "/")
		typeText(m, "openai")
		press(m, "enter")
		mustContain(t, selectedLine(m.View()), "key_billing")
		run(m, press(m, "enter"))
		v := m.View()
		mustContain(t, v, "[2 Traces]", `filter "key:key_billing": 7 shown of the last 1000 kept`, "esc back to Keys")
		for _, r := range tableRows(v) {
			if !strings.Contains(r, "billing") {
				t.Errorf("a trace of another key is listed: %q", r)
			}
		}
		// esc first closes a trace that is open, then goes back.
		press(m, "enter")
		mustContain(t, m.View(), "Trace req")
		press(m, "esc")
		mustContain(t, m.View(), "[2 Traces]")
		press(m, "esc")
		v = m.View()
		mustContain(t, v, "[3 Keys]", "filter `openai`: 1 of 2 shown")
		mustContain(t, selectedLine(v), "key_billing")
		// The Traces page has its own filter back (none).
		press(m, "2")
		mustContain(t, m.View(), "18 shown")
	})
	t.Run("credential", func(t *testing.T) {
		m := credentialsModel(t)
		withTraces(m)
		press(m, "down", "down")
		mustContain(t, selectedLine(m.View()), "cred_openai1")
		run(m, press(m, "enter"))
		v := m.View()
		mustContain(t, v, `filter "cred:cred_openai1"`)
		if n := len(tableRows(v)); n != 7 {
			t.Errorf("%d traces listed, want the 7 that cred_openai1 served:\n%s", n, v)
		}
		press(m, "esc")
		mustContain(t, selectedLine(m.View()), "cred_openai1")
	})
	t.Run("usage row", func(t *testing.T) {
		m := usageModel(t)
		withTraces(m)
		send(m, usageLoadedMsg{By: "key", Period: 1, Rows: []admin.UsageRow{{Group: "key_search", Requests: 5, CostUSD: 1}}})
		run(m, press(m, "enter"))
		// The period shown (the last 7 days) goes with it.
		mustContain(t, m.View(), `filter "key:key_search since:2025-05-26 until:2025-06-01": 5 shown`)
		press(m, "esc")
		mustContain(t, m.View(), "[6 Usage]")

		press(m, "b") // by model: exact, gpt-4o is not gpt-4o-mini
		send(m, usageLoadedMsg{By: "model", Period: 1, Rows: []admin.UsageRow{{Group: "gpt-4o", Requests: 1, CostUSD: 1}}})
		run(m, press(m, "enter"))
		v := m.View()
		mustContain(t, v, "model:=gpt-4o", "1 shown")
		mustNotContain(t, v, "gpt-4o-mini")
	})
	t.Run("changing page forgets the way back", func(t *testing.T) {
		m := keysModel(t)
		run(m, press(m, "enter"))
		press(m, "1", "2", "esc")
		mustContain(t, m.View(), "[2 Traces]")
	})
}

// s cycles the sort column, S reverses it; the header and the status line
// say so, and the selection stays on its item.
func TestSortByColumn(t *testing.T) {
	m := keysModel(t)
	press(m, "H", "down")
	mustContain(t, selectedLine(m.View()), "key_support")
	press(m, "s") // NAME: "-" (no name) first, then billing, support-bot
	v := m.View()
	mustContain(t, v, "NAME▲", "sorted by NAME ▲ (s, S)")
	mustContain(t, selectedLine(v), "key_support")
	rows := keyRows(v)
	if strings.Join(rows, " ") != "key_old key_billing key_support" {
		t.Errorf("by name: %v", rows)
	}
	press(m, "S")
	v = m.View()
	mustContain(t, v, "NAME▼", "sorted by NAME ▼")
	if rows := keyRows(v); strings.Join(rows, " ") != "key_support key_billing key_old" {
		t.Errorf("by name, reversed: %v", rows)
	}
	// COST is the 7th column: numbers sort as numbers ($3.41 < $11.02).
	press(m, "s", "s", "s", "s", "s", "s")
	v = m.View()
	mustContain(t, v, "sorted by COST ▲")
	if rows := keyRows(v); strings.Join(rows, " ") != "key_old key_billing key_support" {
		t.Errorf("by cost: %v", rows)
	}
	mustContain(t, selectedLine(v), "key_support")
	press(m, "s", "s", "s") // CACHE, LAST USED, then past the last column: the gateway's order again
	v = m.View()
	mustNotContain(t, v, "sorted by", "▲", "▼")
	// The help bar and ? name the keys.
	mustContain(t, v, "s sort")
	press(m, "?")
	mustContain(t, m.View(), "S     reverse the sort")
}

// keyRows are the key ids of the Keys table, top to bottom.
func keyRows(view string) []string {
	var ids []string
	for _, f := range strings.Fields(view) {
		if strings.HasPrefix(f, "key_") && !strings.Contains(f, ",") {
			if len(ids) == 0 || ids[len(ids)-1] != f {
				ids = append(ids, f)
			}
		}
	}
	// The details under the table name the selected key again.
	if len(ids) > 3 {
		ids = ids[:3]
	}
	return ids
}

// Revoked keys are hidden until H, and the page says how many.
func TestRevokedKeysHiddenByDefault(t *testing.T) {
	m := keysModel(t)
	v := m.View()
	mustNotContain(t, v, "key_old")
	mustContain(t, v, "1 revoked key hidden (H shows)")
	press(m, "H")
	v = m.View()
	mustContain(t, screenLine(v, "key_old"), "revoked")
	mustContain(t, v, "Revoked keys are listed (1 key); H hides them.")
	press(m, "H")
	mustNotContain(t, m.View(), "key_old")
}

// c copies the selected id with OSC 52 through the program's output; after
// a key is created, c copies its secret, and the screen never repeats it.
func TestCopyToClipboard(t *testing.T) {
	var out bytes.Buffer
	m := New(Options{
		Client: admin.NewClient("http://127.0.0.1:9", "test-token"), Context: t.Context(), Renderer: asciiRenderer(),
		Now: func() time.Time { return testNow }, Location: time.UTC, Output: &out,
	})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	press(m, "3")
	send(m, fixtureKeys())
	run(m, press(m, "c"))
	want := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte("key_billing")) + "\a"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	mustContain(t, m.View(), "Copied key id key_billing to the clipboard.")

	out.Reset()
	const secret = "aigw_s3cr3tS3cr3tS3cr3tS3cr3tS3cr3t"
	send(m, keyCreatedMsg{Key: admin.CreatedKey{Key: admin.Key{ID: "key_new", Provider: "openai", Status: admin.KeyActive}, Secret: secret}})
	mustContain(t, m.View(), "c copy the secret")
	run(m, press(m, "c"))
	if want := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(secret)) + "\a"; out.String() != want {
		t.Errorf("output %q, want the secret's OSC 52 %q", out.String(), want)
	}
	press(m, "enter")
	v := m.View()
	mustContain(t, v, "Copied the new key's secret to the clipboard.")
	mustNotContain(t, v, secret, "s3cr3t")

	// Credentials and Providers copy theirs; without a terminal, it says so.
	m2 := credentialsModel(t)
	run(m2, press(m2, "c"))
	mustContain(t, m2.View(), "Cannot copy credential id cred_anthropic1: no terminal to copy through.")
}

// P asks for a period of your own; a day that is not YYYY-MM-DD, or an end
// before the start, is refused with a clear message; the rows and a
// drill-down then use it.
func TestUsageCustomPeriod(t *testing.T) {
	m := usageModel(t)
	press(m, "P")
	mustContain(t, m.View(), "Usage period", "2025-05-26", "2025-06-01")
	press(m, "tab")
	for range "2025-06-01" {
		press(m, "backspace")
	}
	typeText(m, "June 1")
	press(m, "enter")
	mustContain(t, m.View(), `✗ "June 1" is not a day: use YYYY-MM-DD`)
	for range "June 1" {
		press(m, "backspace")
	}
	typeText(m, "2025-05-01")
	press(m, "enter")
	mustContain(t, m.View(), "✗ 2025-05-01 is before the first day, 2025-05-26")
	press(m, "shift+tab")
	for range "2025-05-26" {
		press(m, "backspace")
	}
	typeText(m, "2025-04-01")
	cmd := press(m, "enter")
	if cmd == nil {
		t.Fatal("the period does not load the usage")
	}
	v := m.View()
	mustContain(t, v, "(b)  2025-04-01→05-01 (p, P)")
	send(m, usageLoadedMsg{By: "key", Period: customPeriod, Rows: []admin.UsageRow{{Group: "key_april", Requests: 9, CostUSD: 2}}})
	mustContain(t, m.View(), "key_april")
	run(m, press(m, "enter"))
	mustContain(t, m.View(), `filter "key:key_april since:2025-04-01 until:2025-05-01"`)
	press(m, "esc", "p")
	mustContain(t, m.View(), "period today")
}

// The key form picks the pool from the chosen provider's credentials
// (name, id and state shown), space to pick; another provider offers its
// own; the edit form starts with the key's pool picked.
func TestKeyFormPicksCredentialsFromAList(t *testing.T) {
	m := keysModel(t)
	press(m, "a", "tab") // provider: anthropic, the first
	press(m, "tab")      // the pool
	v := m.View()
	mustContain(t, v, "(0 of 2; space picks)", "team-a", "cred_anthropic1", "healthy", "cred_anthropic2", "cooling_down until 12:00:40")
	mustNotContain(t, v, "cred_openai1")
	mustContain(t, v, "space/↑/↓ pick")
	press(m, "down", " ") // the second
	mustContain(t, m.View(), "[x] team-b", "(1 of 2; space picks)")
	// Another provider: its credentials, nothing picked of them.
	press(m, "shift+tab", "right", "tab")
	v = m.View()
	mustContain(t, v, "cred_openai1", "cred_openai3", "invalid until", "cred_openai4", "disabled", "(0 of 3; space picks)")
	press(m, " ", "down", "down", " ")
	p := m.pages[2].(*keysPage)
	if got := p.form.value("credentials"); got != "cred_openai1, cred_openai4" {
		t.Errorf("picked %q", got)
	}
	press(m, "up", "up", " ") // dropped again
	press(m, "down")          // ↓ past the last: the next field
	press(m, "down", "down")
	mustContain(t, screenLine(m.View(), "› "), "Strategy")
	if in, ok := p.createInput(); !ok || strings.Join(in.Credentials, ",") != "cred_openai4" {
		t.Errorf("create request pool %v (ok %v)", in.Credentials, ok)
	}
	checkFits(t, m.View(), 80, 24)

	// Edit: the key's pool is picked.
	press(m, "esc")
	press(m, "e", "tab")
	v = m.View()
	mustContain(t, v, "Edit key billing", "(2 of 3; space picks)", "[x] prod", "[x] personal-2023", "[ ] spare")
	press(m, "down", " ")
	patch, ok := p.patch()
	if !ok || strings.Join(*patch.Credentials, ",") != "cred_openai1" {
		t.Errorf("edit request pool %v", patch.Credentials)
	}
}

// Keys show when each was last used, relative to now, "never" when not
// since the traces kept; the details give the time; the column sorts by it.
func TestKeysLastUsed(t *testing.T) {
	m := newTestModel(t, nil)
	press(m, "3")
	msg := fixtureKeys()
	used := testNow.Add(-3 * time.Minute)
	msg.Keys[0].LastUsedAt = &used
	send(m, msg)
	v := m.View()
	mustContain(t, v, "USED")
	mustContain(t, screenLine(v, "key_billing"), "3m ago")
	mustContain(t, screenLine(v, "key_support"), "never")
	mustContain(t, screenLine(v, "last used "), "2025-06-01 11:57 (3m ago)")
	checkFits(t, v, 80, 24)
	press(m, "s", "s", "s", "s", "s", "s", "s", "s", "s", "S") // LAST USED, newest first
	if rows := keyRows(m.View()); strings.Join(rows, " ") != "key_billing key_support" {
		t.Errorf("by last use, newest first: %v", rows)
	}
}
