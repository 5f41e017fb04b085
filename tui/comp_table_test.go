package tui

import (
	"testing"

	"github.com/aigw/aigw/admin"
)

// selectedLine is the line of the screen the cursor is on.
func selectedLine(view string) string { return screenLine(view, "› ") }

// The cursor follows the selected item's id when the list is reloaded
// with an item added before it (from the CLI, say); when the item is gone
// the cursor rests on its neighbour and a note says so.
func TestListSelectionFollowsID(t *testing.T) {
	t.Run("keys", func(t *testing.T) {
		m := keysModel(t)
		press(m, "H", "down")
		mustContain(t, selectedLine(m.View()), "key_support")

		msg := fixtureKeys()
		added := admin.Key{ID: "key_added", Name: "added", Provider: "openai", Status: admin.KeyActive}
		msg.Keys = append([]admin.Key{added}, msg.Keys...)
		send(m, msg)
		mustContain(t, selectedLine(m.View()), "key_support")

		msg = fixtureKeys()
		msg.Keys = append([]admin.Key{added}, msg.Keys[0], msg.Keys[2]) // key_support gone
		send(m, msg)
		v := m.View()
		mustContain(t, selectedLine(v), "key_old")
		mustSay(t, v, "key_support is no longer listed")
		checkFits(t, v, 80, 24)
	})
	t.Run("credentials", func(t *testing.T) {
		m := credentialsModel(t)
		press(m, "down", "down")
		mustContain(t, selectedLine(m.View()), "cred_openai1")

		msg := fixtureCredentials()
		added := admin.Credential{ID: "cred_added", Provider: "anthropic", Name: "new", Kind: admin.KindAPIKey, Enabled: true, Weight: 1}
		msg.Credentials = append([]admin.Credential{added}, msg.Credentials...)
		send(m, msg)
		mustContain(t, selectedLine(m.View()), "cred_openai1")

		msg = fixtureCredentials()
		msg.Credentials = append(msg.Credentials[:2:2], msg.Credentials[3:]...) // cred_openai1 gone
		send(m, msg)
		v := m.View()
		mustContain(t, selectedLine(v), "cred_openai3")
		mustSay(t, v, "cred_openai1 is no longer listed")
		checkFits(t, v, 80, 24)
	})
	t.Run("providers", func(t *testing.T) {
		m := newTestModel(t, nil)
		press(m, "5")
		send(m, providersLoadedMsg{Providers: fixtureProviders()})
		press(m, "down")
		mustContain(t, selectedLine(m.View()), "openai")

		groq := admin.Provider{Name: "groq", Type: admin.TypeOpenAI, BaseURL: "https://api.groq.com"}
		send(m, providersLoadedMsg{Providers: append([]admin.Provider{groq}, fixtureProviders()...)})
		mustContain(t, selectedLine(m.View()), "openai")
	})
}

// A credential the TUI itself removed is not reported as gone.
func TestListSelectionRemovedHere(t *testing.T) {
	m := credentialsModel(t)
	send(m, credentialRemovedMsg{ID: "cred_anthropic1"})
	msg := fixtureCredentials()
	msg.Credentials = msg.Credentials[1:]
	send(m, msg)
	v := m.View()
	mustSay(t, v, "Credential cred_anthropic1 removed.")
	mustNotContain(t, v, "no longer listed")
	mustContain(t, selectedLine(v), "cred_anthropic2")
}
