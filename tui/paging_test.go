package tui

import (
	"fmt"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	tea "github.com/charmbracelet/bubbletea"
)

// settle runs cmd and what the answers lead to, as the runtime would, as
// far as the Keys page's loads go: every answer is sent to m, and the
// commands a keys answer returns are run in turn. A command that does not
// answer within a second (a timer, a stream) is left.
func settle(t *testing.T, m tea.Model, cmd tea.Cmd) {
	t.Helper()
	for range 1000 {
		if cmd == nil {
			return
		}
		answer := make(chan tea.Msg, 1)
		go func() { answer <- cmd() }()
		var msg tea.Msg
		select {
		case msg = <-answer:
		case <-time.After(time.Second):
			return
		}
		switch msg := msg.(type) {
		case tea.BatchMsg:
			for _, c := range msg {
				settle(t, m, c)
			}
			return
		case keysLoadedMsg, moreMsg[admin.Key], credentialsLoadedMsg, moreMsg[admin.Credential]:
			_, cmd = m.Update(msg)
		default:
			if msg != nil {
				m.Update(msg)
			}
			return
		}
	}
	t.Fatal("more than 1000 commands in a row")
}

func pageOf[P page](m *Model) P {
	for _, p := range m.pages {
		if want, ok := p.(P); ok {
			return want
		}
	}
	var none P
	return none
}

// A real gateway holding 250 keys (10 revoked): the Keys page loads the
// first 100, says more exist, and loads the next pages as the cursor goes
// down, until every key is listed once.
func TestKeysPageLoadsPagesAsYouScroll(t *testing.T) {
	g := startGateway(t, t.TempDir(), "127.0.0.1:0")
	client := g.client(t)
	if _, err := client.CreateProvider(t.Context(), admin.Provider{Name: "openai", Type: admin.TypeOpenAI, BaseURL: "https://api.openai.com"}); err != nil {
		t.Fatal(err)
	}
	cred, err := client.CreateCredential(t.Context(), admin.CredentialInput{Provider: "openai", Name: "main", Secret: "sk-pages-tui-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 250 {
		k, err := client.CreateKey(t.Context(), admin.KeyInput{Provider: "openai", Credentials: []string{cred.ID}, Name: fmt.Sprintf("app-%03d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
		if i%25 == 7 {
			if _, err := client.RevokeKey(t.Context(), k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}

	m := newTestModel(t, client)
	settle(t, m, press(m, "3"))
	p := pageOf[*keysPage](m)
	if len(p.keys) != 100 || p.pages.next == "" {
		t.Fatalf("the Keys page loaded %d keys (next %q); want the first page of 100 and a cursor", len(p.keys), p.pages.next)
	}
	v := m.View()
	mustContain(t, v, "100 keys loaded, more as you scroll", "app-000")
	mustNotContain(t, v, "app-249")
	checkFits(t, v, 80, 24)

	// The filter searches the loaded keys, and says so.
	press(m, "/")
	typeText(m, "app-24")
	press(m, "enter")
	mustContain(t, m.View(), "searches the 100 loaded")
	press(m, "esc")

	// Down to the bottom: the next pages come, each key once.
	for range 40 {
		settle(t, m, press(m, "G"))
		if p.pages.next == "" {
			break
		}
	}
	if p.pages.next != "" || len(p.keys) != 250 {
		t.Fatalf("after scrolling to the bottom: %d keys loaded, next %q; want all 250", len(p.keys), p.pages.next)
	}
	seen := map[string]bool{}
	for i, k := range p.keys {
		if seen[k.ID] || k.ID != ids[i] {
			t.Fatalf("key %d is %s (seen before: %v); want %s, oldest first, once", i, k.ID, seen[k.ID], ids[i])
		}
		seen[k.ID] = true
	}
	press(m, "G") // the cursor stayed where the pages were asked for
	v = m.View()
	mustContain(t, selectedLine(v), "app-249")
	mustContain(t, v, "10 revoked keys hidden")
	mustNotContain(t, v, "more as you scroll")
	press(m, "H")
	if len(p.list.shown) != 250 {
		t.Errorf("with revoked keys shown the list has %d rows; want 250", len(p.list.shown))
	}

	// A reload (after a change) keeps as many keys as were loaded.
	if _, err := client.RevokeKey(t.Context(), ids[3]); err != nil {
		t.Fatal(err)
	}
	settle(t, m, press(m, "r"))
	if len(p.keys) != 250 || p.pages.next != "" {
		t.Errorf("after a reload: %d keys, next %q; want the 250", len(p.keys), p.pages.next)
	}
	mustContain(t, selectedLine(m.View()), "app-249")
}

// The Credentials page pages the same way (130 credentials).
func TestCredentialsPageLoadsPagesAsYouScroll(t *testing.T) {
	g := startGateway(t, t.TempDir(), "127.0.0.1:0")
	client := g.client(t)
	if _, err := client.CreateProvider(t.Context(), admin.Provider{Name: "openai", Type: admin.TypeOpenAI, BaseURL: "https://api.openai.com"}); err != nil {
		t.Fatal(err)
	}
	for i := range 130 {
		if _, err := client.CreateCredential(t.Context(), admin.CredentialInput{Provider: "openai", Name: fmt.Sprintf("pool-%03d", i), Secret: fmt.Sprintf("sk-pages-tui-%03d-0123456789", i)}); err != nil {
			t.Fatal(err)
		}
	}
	m := newTestModel(t, client)
	settle(t, m, press(m, "4"))
	p := pageOf[*credentialsPage](m)
	if len(p.creds) != 100 || p.pages.next == "" {
		t.Fatalf("the Credentials page loaded %d (next %q); want the first page of 100", len(p.creds), p.pages.next)
	}
	mustContain(t, m.View(), "100 credentials loaded, more as you scroll")
	for range 10 {
		settle(t, m, press(m, "G"))
		if p.pages.next == "" {
			break
		}
	}
	press(m, "G")
	if len(p.creds) != 130 || len(p.list.shown) != 130 {
		t.Fatalf("after scrolling to the bottom: %d credentials loaded, %d shown; want 130", len(p.creds), len(p.list.shown))
	}
	v := m.View()
	mustContain(t, selectedLine(v), "pool-129")
	mustNotContain(t, v, "more as you scroll")
	checkFits(t, v, 80, 24)
}
