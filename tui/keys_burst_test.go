package tui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// Keys that arrive together ("jjj" in one read) count one by one.
func TestKeysArrivingTogether(t *testing.T) {
	one := tracesModel(t)
	press(one, "j", "j", "j")
	want := selectedLine(one.View())

	m := tracesModel(t)
	send(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jjj")})
	if got := selectedLine(m.View()); got != want || want == "" {
		t.Errorf("jjj in one message selects %q, want %q", got, want)
	}
	send(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("kk")})
	press(one, "k", "k")
	if got, want := selectedLine(m.View()), selectedLine(one.View()); got != want {
		t.Errorf("kk in one message selects %q, want %q", got, want)
	}

	// A key that opens a text field hands it the rest of the read.
	send(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("/llama")})
	v := m.View()
	mustContain(t, v, "/ llama", "llama-3.1-70b")
	mustNotContain(t, strings.Join(tableRows(v), "\n"), "gpt-4o")

	// On another page: "3" then "j" go to the Keys page.
	k := newTestModel(t, nil)
	send(k, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("3")}, statusMsg{Status: fixtureStatus()}, fixtureKeys())
	send(k, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("Hjj")}) // H lists the revoked key
	mustContain(t, selectedLine(k.View()), "key_old")
}
