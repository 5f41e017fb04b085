package tui

import (
	"slices"
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
)

const modelsField = 12 // tabs from the first field of the create form

// The create form's Models field becomes the key's allow-list.
func TestKeyCreateFormModels(t *testing.T) {
	m := keysModel(t)
	press(m, "a")
	for range modelsField {
		press(m, "tab")
	}
	typeText(m, "gpt-5, claude-*")
	mustContain(t, m.View(), "Models the key may use")
	p := m.pages[2].(*keysPage)
	if cmd := press(m, "enter"); cmd == nil || !p.form.busy {
		t.Fatalf("a valid form was not submitted:\n%s", m.View())
	}
	in, _ := p.createInput()
	if !slices.Equal(in.Models, []string{"gpt-5", "claude-*"}) {
		t.Errorf("create request models %q", in.Models)
	}
	// The admin API's refusal lands under the field.
	send(m, keyCreatedMsg{Err: &admin.APIError{Status: 400, Field: "models", Message: `invalid models: "claude-*" is listed twice`}})
	v := m.View()
	if line := screenLine(v, "gpt-5, claude-*"); !strings.HasPrefix(line, "› Models") {
		t.Errorf("focus is not on the refused field: %q", line)
	}
	mustContain(t, v, `✗ "claude-*" is listed twice`)
}

// A pattern the admin API would refuse is shown before anything is sent.
func TestKeyCreateFormRefusesBadModels(t *testing.T) {
	m := keysModel(t)
	press(m, "a")
	for range modelsField {
		press(m, "tab")
	}
	typeText(m, "gpt-5, gpt-?")
	if cmd := press(m, "enter"); cmd != nil {
		if _, ok := cmd().(keyCreatedMsg); ok {
			t.Fatal("an invalid form was submitted")
		}
	}
	v := m.View()
	mustContain(t, v, `✗ "gpt-?": "?" is not allowed (the only wildcard is *)`)
	if line := screenLine(v, "gpt-5, gpt-?"); !strings.HasPrefix(line, "›") {
		t.Errorf("the field in error does not have the focus: %q", line)
	}
}

// The edit form shows the key's list; emptying it sends [] (every model).
func TestKeyEditFormModels(t *testing.T) {
	m := newTestModel(t, nil)
	press(m, "3")
	keys := fixtureKeys()
	keys.Keys[0].Models = []string{"gpt-5", "o4-*"}
	send(m, statusMsg{Status: fixtureStatus()}, keys)
	mustContain(t, m.View(), "models", "gpt-5, o4-*")
	press(m, "j")
	mustContain(t, m.View(), "every model") // support-bot has no list

	press(m, "k", "e")
	mustContain(t, m.View(), "Edit key billing", "gpt-5, o4-*")
	p := m.pages[2].(*keysPage)
	patch, _ := p.patch()
	if patch.Models == nil || !slices.Equal(*patch.Models, []string{"gpt-5", "o4-*"}) {
		t.Fatalf("unchanged form: patch models %v", patch.Models)
	}
	for range modelsField - 1 { // the edit form has no provider field
		press(m, "tab")
	}
	for range len("gpt-5, o4-*") {
		press(m, "backspace")
	}
	patch, _ = p.patch()
	if patch.Models == nil || len(*patch.Models) != 0 {
		t.Fatalf("emptied field: patch models %v, want []", patch.Models)
	}
	if cmd := press(m, "enter"); cmd == nil {
		t.Fatalf("the edit was not submitted:\n%s", m.View())
	}
}
