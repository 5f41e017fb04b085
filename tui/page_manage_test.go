package tui

import (
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
)

func credentialsModel(t *testing.T) *Model {
	m := newTestModel(t, nil)
	press(m, "4")
	send(m, fixtureCredentials())
	return m
}

func TestCredentialsListLiveState(t *testing.T) {
	m := credentialsModel(t)
	v := m.View()
	tests := []struct{ id, state, requests, errors string }{
		{"cred_anthropic1", "healthy", "1,204", "3"},
		{"cred_anthropic2", "cooling_down until 12:00:40", "388", "41"},
		{"cred_openai3", "invalid until 12:04:00", "17", "17"},
		{"cred_openai4", "disabled", "0", "0"},
	}
	for _, tc := range tests {
		line := screenLine(v, tc.id)
		fields := strings.Fields(line)
		if !strings.Contains(line, tc.state) || fields[len(fields)-2] != tc.requests || fields[len(fields)-1] != tc.errors {
			t.Errorf("%s: row %q, want state %q, %s requests and %s errors today", tc.id, line, tc.state, tc.requests, tc.errors)
		}
	}
	// The weight column.
	if f := strings.Fields(screenLine(v, "cred_anthropic1")); f[len(f)-3] != "3" {
		t.Errorf("weight not shown: %v", f)
	}
	checkFits(t, v, 80, 24)
}

func TestCredentialsReloadWhileShown(t *testing.T) {
	m := credentialsModel(t)
	p := m.pages[3].(*credentialsPage)
	if cmd := p.update(activeTickMsg{}); cmd == nil {
		t.Error("the page does not reload with the status poll: health would go stale")
	}
	if cmd := p.update(activeTickMsg{}); cmd != nil {
		t.Error("a second reload starts while one is in flight")
	}
}

func TestCredentialAddMasksTheSecret(t *testing.T) {
	m := credentialsModel(t)
	press(m, "a", "tab", "tab")
	typeText(m, "sk-live-very-secret")
	v := m.View()
	mustNotContain(t, v, "sk-live-very-secret")
	mustContain(t, screenLine(v, "Secret"), "•••••••••••••••••••")
	// The form holds what was typed.
	if got := m.pages[3].(*credentialsPage).form.value("secret"); got != "sk-live-very-secret" {
		t.Errorf("secret field holds %q", got)
	}
}

func TestCredentialFormValidation(t *testing.T) {
	m := credentialsModel(t)
	press(m, "a", "tab", "tab", "tab", "backspace") // weight: "1" → ""
	typeText(m, "0")
	press(m, "enter")
	v := m.View()
	mustContain(t, v, "Secret", "✗ required", "✗ must be between 1 and 1000")
	if cmd := press(m, "enter"); cmd != nil {
		t.Error("an invalid credential was submitted")
	}
}

func TestCredentialToggleAndRemove(t *testing.T) {
	m := credentialsModel(t)
	// Disabling an enabled credential is asked first; "n" leaves it alone.
	if cmd := press(m, "t"); cmd != nil {
		t.Fatal("t disabled a credential without asking")
	}
	mustContain(t, m.View(), "Disable credential team-a (cred_anthropic1)?")
	if cmd := press(m, "n"); cmd != nil {
		t.Fatal("no still disabled the credential")
	}
	press(m, "t")
	if cmd := press(m, "y"); cmd == nil {
		t.Fatal("yes does not disable")
	}
	// Enabling a disabled one (the fifth row) is not asked.
	press(m, "down", "down", "down", "down")
	if cmd := press(m, "t"); cmd == nil {
		t.Fatal("t on a disabled credential does not enable it at once")
	}
	press(m, "up", "up", "up", "up")
	send(m, credentialSavedMsg{Verb: "disabled", Credential: admin.Credential{ID: "cred_anthropic1", Name: "team-a"}})
	mustContain(t, m.View(), "✓ Credential team-a (cred_anthropic1) disabled.")

	press(m, "d")
	mustContain(t, m.View(), "Remove credential team-a (cred_anthropic1)?")
	if cmd := press(m, "y"); cmd == nil {
		t.Fatal("yes does not remove")
	}
	send(m, credentialRemovedMsg{ID: "cred_anthropic1", Err: &admin.APIError{Status: 409,
		Message: "credential cred_anthropic1 is in use by keys key_support (take it out of their pools or revoke them first)"}})
	v := m.View()
	mustSay(t, v, "✗ cannot remove credential cred_anthropic1: credential cred_anthropic1 is in use by keys key_support (take it out of their pools or revoke them first)")
	checkFits(t, v, 80, 24)
}

func TestCredentialEditForm(t *testing.T) {
	m := credentialsModel(t)
	press(m, "down", "e")
	v := m.View()
	mustContain(t, v, "Edit credential team-b (cred_anthropic2)", "Leave the secret empty")
	if line := screenLine(v, "Weight"); !strings.HasPrefix(line, "› Weight") || !strings.Contains(line, "1") {
		t.Errorf("the weight is not first and prefilled: %q", line)
	}
	if cmd := press(m, "enter"); cmd == nil {
		t.Error("an unchanged edit form does not submit")
	}
}

func providersModel(t *testing.T) *Model {
	m := newTestModel(t, nil)
	press(m, "5")
	send(m, providersLoadedMsg{Providers: fixtureProviders()})
	return m
}

func TestProvidersList(t *testing.T) {
	m := providersModel(t)
	v := m.View()
	mustContain(t, screenLine(v, "api.anthropic.com"), "anthropic", "default")
	mustContain(t, v, "auth       x-api-key: {key}", "headers    anthropic-version: 2023-06-01")
}

// A refused removal shows the server's reason.
func TestProviderRemovalRefused(t *testing.T) {
	m := providersModel(t)
	press(m, "down", "d")
	mustContain(t, m.View(), "Remove provider openai?")
	if cmd := press(m, "y"); cmd == nil {
		t.Fatal("yes does not remove")
	}
	send(m, providerRemovedMsg{Name: "openai", Err: &admin.APIError{Status: 409,
		Message: `provider "openai" is in use by keys key_billing (revoke them first)`}})
	v := m.View()
	mustSay(t, v, `✗ cannot remove provider openai: provider "openai" is in use by keys key_billing (revoke them first)`)
	mustContain(t, v, "openai") // still listed
}

func TestProviderForm(t *testing.T) {
	m := providersModel(t)
	press(m, "a", "enter")
	v := m.View()
	mustContain(t, v, "New provider")
	if n := strings.Count(v, "✗ required"); n != 2 {
		t.Errorf("%d required-field messages, want 2 (name, base URL):\n%s", n, v)
	}
	typeText(m, "My Provider")
	press(m, "tab", "right", "tab")
	typeText(m, "https://api.example.com")
	if cmd := press(m, "enter"); cmd == nil {
		t.Fatal("a complete form does not submit")
	}
	// The store refuses the name; the message lands under it.
	send(m, providerSavedMsg{Err: &admin.APIError{Status: 400, Field: "name",
		Message: `invalid name: "My Provider": use lowercase letters, digits, '-', '_' or '.' (it is the first URL path segment)`}})
	v = m.View()
	mustContain(t, v, "✗ \"My Provider\": use lowercase letters")
	if line := screenLine(v, "My Provider"); !strings.HasPrefix(line, "› Name") {
		t.Errorf("focus not on the name: %q", line)
	}
	if m.pages[4].(*providersPage).form.value("type") != admin.TypeAnthropic {
		t.Error("→ did not change the type")
	}
}

func TestProviderEditForm(t *testing.T) {
	m := providersModel(t)
	press(m, "e")
	v := m.View()
	mustContain(t, v, "Edit provider anthropic", "https://api.anthropic.com", "x-api-key: {key}", "anthropic-version: 2023-06-01")
}

func usageModel(t *testing.T) *Model {
	m := newTestModel(t, nil)
	press(m, "6")
	send(m, usageLoadedMsg{By: "key", Period: 1, Rows: fixtureUsage(), KeyNames: map[string]string{"key_billing": "billing", "key_support": "support-bot"}})
	return m
}

func TestUsageBarChart(t *testing.T) {
	m := usageModel(t)
	v := m.View()
	support, billing, lab := screenLine(v, "key_support"), screenLine(v, "key_billing"), screenLine(v, "key_lab")
	bar := func(l string) int { return strings.Count(l, "█") }
	if bar(support) <= bar(billing) || bar(billing) == 0 || bar(lab) != 0 {
		t.Errorf("bars not proportional to cost: support %d, billing %d, lab %d\n%s", bar(support), bar(billing), bar(lab), v)
	}
	// Sorted by cost; names beside ids; unknown cost flagged, never $0.
	if strings.Index(v, "key_support") > strings.Index(v, "key_billing") {
		t.Error("not sorted by cost")
	}
	mustContain(t, support, "support-bot (key_support)", "$11.02+?")
	mustContain(t, lab, " ? ")
	mustContain(t, v, "Total  5,099 requests · 128 errors · 5.8M tokens · $14.44+?", "+? 81 requests had no price: their cost is not counted", "[key]", "last 7 days")
}

func TestUsageGroupingAndPeriod(t *testing.T) {
	m := usageModel(t)
	if cmd := press(m, "b"); cmd == nil {
		t.Fatal("b does not reload")
	}
	v := m.View()
	mustContain(t, v, "[model]")
	// The answer to the old question (by key) is ignored; the new one shows.
	send(m, usageLoadedMsg{By: "key", Period: 1, Rows: fixtureUsage()})
	send(m, usageLoadedMsg{By: "model", Period: 1, Rows: []admin.UsageRow{{Group: "gpt-4o", Requests: 3, CostUSD: 0.5}, {Group: "", Requests: 1}}})
	v = m.View()
	mustContain(t, v, "gpt-4o", "(unknown model)")
	mustNotContain(t, v, "key_billing")

	press(m, "p")
	mustContain(t, m.View(), "last 30 days")
	press(m, "p", "p")
	mustContain(t, m.View(), "today")
	press(m, "b", "b", "b")
	mustContain(t, m.View(), "[credential]")
	press(m, "b")
	mustContain(t, m.View(), "[key]")
}

func TestUsageDaysNewestFirst(t *testing.T) {
	m := newTestModel(t, nil)
	press(m, "6", "b", "b", "b") // by day
	send(m, usageLoadedMsg{By: "day", Period: 1, Rows: []admin.UsageRow{{Group: "2025-05-30", CostUSD: 9}, {Group: "2025-06-01", CostUSD: 1}}})
	v := m.View()
	if strings.Index(v, "2025-06-01") > strings.Index(v, "2025-05-30") {
		t.Errorf("days not newest first:\n%s", v)
	}
}
