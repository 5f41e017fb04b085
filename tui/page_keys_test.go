package tui

import (
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
)

func keysModel(t *testing.T) *Model {
	m := newTestModel(t, nil)
	press(m, "3")
	send(m, statusMsg{Status: fixtureStatus()}, fixtureKeys())
	return m
}

func TestKeysList(t *testing.T) {
	m := keysModel(t)
	press(m, "H") // revoked keys are hidden until H
	v := m.View()
	billing := screenLine(v, "key_billing")
	for _, col := range []string{"billing", "openai", "active", "4,210", "3.5M", "$3.4187"} {
		if !strings.Contains(billing, col) {
			t.Errorf("row %q lacks %q", billing, col)
		}
	}
	// Some of support-bot's requests had no price: its cost says so.
	if line := screenLine(v, "key_support"); !strings.Contains(line, "$11.02+?") {
		t.Errorf("unpriced requests not flagged: %q", line)
	}
	mustContain(t, screenLine(v, "key_old"), "revoked")
	// The selected key's limits beside today's use.
	mustContain(t, v,
		"weighted · cred_openai1, cred_openai3",
		"rpm 600 · tpm none · in flight none · per day 5.0M tokens, $25.00",
		"max retries 2",
		"4,210 req · 38 errors · 3.5M of 5.0M tokens · $3.4187 of $25.00",
	)
	checkFits(t, v, 80, 24)
}

func TestKeyCreateFormValidation(t *testing.T) {
	tests := []struct {
		name  string
		field int // tabs from the first field
		text  string
		want  string
	}{
		{"rpm must be a number", 4, "lots", `✗ "lots" is not a whole number`},
		{"negative tpm", 5, "-5", "✗ must be between 0 and"},
		{"daily cost", 7, "five", `✗ "five" is not an amount of USD`},
		{"daily cost NaN", 7, "NaN", `✗ "NaN" is not an amount of USD`},
		{"daily cost infinite", 7, "Inf", `✗ "Inf" is not an amount of USD`},
		{"timeout", 9, "soon", `✗ "soon" is not a duration`},
		{"max retries bounded", 10, "11", "✗ must be between 0 and 10"},
		{"expiry", 11, "someday", `✗ "someday" is not a duration (30d)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := keysModel(t)
			press(m, "a")
			for range tc.field {
				press(m, "tab")
			}
			typeText(m, tc.text)
			if cmd := press(m, "enter"); cmd != nil {
				if _, ok := cmd().(keyCreatedMsg); ok {
					t.Fatal("an invalid form was submitted")
				}
			}
			v := m.View()
			mustContain(t, v, "New gateway key", tc.want)
			// The focus moved to the field in error.
			if line := screenLine(v, tc.text); !strings.HasPrefix(line, "›") {
				t.Errorf("the field in error does not have the focus: %q", line)
			}
			// Correcting the field clears its message.
			for range tc.text {
				press(m, "backspace")
			}
			mustNotContain(t, m.View(), "✗")
		})
	}
}

// A submitted form becomes a create request; the answer shows the secret
// once, with a note, until the user confirms.
func TestKeyCreateShowsSecretOnce(t *testing.T) {
	m := keysModel(t)
	press(m, "a")
	typeText(m, "new-app")
	press(m, "tab", "right") // provider: anthropic → openai
	press(m, "tab", "tab", "tab")
	typeText(m, "60")
	p := m.pages[2].(*keysPage)
	cmd := press(m, "enter")
	if cmd == nil || !p.form.busy {
		t.Fatal("a valid form was not submitted")
	}
	mustContain(t, m.View(), "Saving…")
	// What it asks for (the pool defaults to the provider's credentials).
	in, _ := p.createInput()
	if in.Name != "new-app" || in.Provider != "openai" || in.RPM != 60 || strings.Join(in.Credentials, ",") != "cred_openai1,cred_openai3,cred_openai4" {
		t.Errorf("create request %+v", in)
	}

	secret := "aigw_" + strings.Repeat("x", 43)
	send(m, keyCreatedMsg{Key: admin.CreatedKey{Key: admin.Key{ID: "key_new", Name: "new-app", Provider: "openai"}, Secret: secret}})
	v := m.View()
	mustContain(t, v, secret, "only time the secret is shown", "http://127.0.0.1:8080/openai", "Press enter when you have copied it")
	if !m.pages[2].capturing() {
		t.Error("the secret can be switched away from by accident")
	}
	press(m, "2") // ignored: the notice holds the keys
	mustContain(t, m.View(), secret)
	press(m, "enter")
	v = m.View()
	mustNotContain(t, v, secret)
	mustContain(t, v, "Key new-app (key_new) created.")
}

// The admin API's refusal lands under the field it names.
func TestKeyFormShowsServerRefusal(t *testing.T) {
	m := keysModel(t)
	press(m, "a", "tab", "tab", " ") // picks the first of anthropic's credentials
	press(m, "enter")
	send(m, keyCreatedMsg{Err: &admin.APIError{Status: 400, Field: "credentials", Message: "invalid credentials: credential cred_nope does not exist"}})
	v := m.View()
	mustContain(t, v, "New gateway key", "✗ credential cred_nope does not exist")
	if !strings.Contains(v, "\n› Credentials") {
		t.Errorf("focus is not on the refused field:\n%s", v)
	}
	// An error without a field shows under the form.
	press(m, "enter")
	send(m, keyCreatedMsg{Err: &admin.APIError{Status: 500, Message: "internal error: disk full"}})
	mustContain(t, m.View(), "✗ internal error: disk full")
}

func TestKeyEditForm(t *testing.T) {
	m := keysModel(t)
	press(m, "e")
	v := m.View()
	mustContain(t, v, "Edit key billing (key_billing)", "cred_openai1, cred_openai3", "600", "5000000", "25")
	mustNotContain(t, v, "\n  Provider ", "\n› Provider ") // a key stays with its provider
	press(m, "esc")
	mustNotContain(t, m.View(), "Edit key")
}

func TestKeyRevokeConfirm(t *testing.T) {
	m := keysModel(t)
	// No: nothing happens.
	press(m, "d")
	v := m.View()
	mustContain(t, v, "Revoke key billing (key_billing)?", "get 401", "y yes", "n/esc no")
	if cmd := press(m, "n"); cmd != nil {
		t.Error("answering no still runs the revocation")
	}
	mustNotContain(t, m.View(), "Revoke key")
	// Yes: the revocation runs; its failure is shown.
	press(m, "d")
	if cmd := press(m, "y"); cmd == nil {
		t.Fatal("answering yes does not revoke")
	}
	send(m, keySavedMsg{Verb: "revoked", Err: &admin.APIError{Status: 403, Message: "admin token tok_1 lacks the keys:write scope"}})
	mustContain(t, m.View(), "✗ admin token tok_1 lacks the keys:write scope")
	// Success.
	press(m, "d", "y")
	send(m, keySavedMsg{Verb: "revoked", Key: admin.Key{ID: "key_billing", Name: "billing"}})
	mustContain(t, m.View(), "✓ Key billing (key_billing) revoked.")
}

func TestKeyRevokedCannotBeRevokedAgain(t *testing.T) {
	m := keysModel(t)
	press(m, "H", "G", "d")
	v := m.View()
	mustContain(t, v, "Key key_old is already revoked.")
	mustNotContain(t, v, "Revoke key")
}

func TestKeyCreateNeedsAProvider(t *testing.T) {
	m := newTestModel(t, nil)
	press(m, "3")
	send(m, keysLoadedMsg{})
	press(m, "a")
	v := m.View()
	mustContain(t, v, "No gateway keys yet", "add them on pages 5 and 4 first")
	mustNotContain(t, v, "New gateway key")
}
