package tui

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	tea "github.com/charmbracelet/bubbletea"
)

// fadeMsgs runs cmd as the runtime would (a batch's commands side by side)
// and returns the fade messages it produces within d.
func fadeMsgs(cmd tea.Cmd, d time.Duration) []flashFadeMsg {
	var (
		mu  sync.Mutex
		out []flashFadeMsg
		wg  sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	var run func(tea.Cmd)
	run = func(c tea.Cmd) {
		if c == nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan tea.Msg, 1)
			go func() { done <- c() }()
			select {
			case msg := <-done:
				switch msg := msg.(type) {
				case tea.BatchMsg:
					for _, sub := range msg {
						run(sub)
					}
				case flashFadeMsg:
					mu.Lock()
					out = append(out, msg)
					mu.Unlock()
				}
			case <-time.After(time.Until(deadline)):
			}
		}()
	}
	run(cmd)
	wg.Wait()
	return out
}

// statusModel is the real model on the Keys page with the fixture keys,
// whose status messages stay for statusFor.
func statusModel(t *testing.T, statusFor time.Duration) *Model {
	t.Helper()
	m := New(Options{
		Client: admin.NewClient("http://127.0.0.1:9", "test-token"), Context: t.Context(), Renderer: asciiRenderer(),
		Now: func() time.Time { return testNow }, Location: time.UTC, StatusFor: statusFor,
	})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	press(m, "3")
	send(m, statusMsg{Status: fixtureStatus()}, fixtureKeys())
	return m
}

func saved(name string) keySavedMsg {
	return keySavedMsg{Key: admin.Key{ID: "key_" + name, Name: name}, Verb: "updated"}
}

// A status message fades on its own after StatusFor.
func TestStatusMessageFades(t *testing.T) {
	m := statusModel(t, 30*time.Millisecond)
	cmd := send(m, saved("billing"))
	mustContain(t, m.View(), "✓ Key billing (key_billing) updated.")
	fades := fadeMsgs(cmd, 2*time.Second)
	if len(fades) != 1 {
		t.Fatalf("%d fade timers started, want 1", len(fades))
	}
	send(m, fades[0])
	mustNotContain(t, m.View(), "updated.")
	checkFits(t, m.View(), 80, 24)
}

// A newer message restarts the timer: the older message's timer does not
// clear it. Errors stay until something else is said.
func TestStatusMessageNewerWins(t *testing.T) {
	m := statusModel(t, time.Hour)
	send(m, saved("billing"))
	p := m.pages[2].(*keysPage) // the timers run an hour: their messages are made here
	older := flashFadeMsg{page: 2, id: p.flash.id}
	send(m, saved("support-bot"))
	newer := flashFadeMsg{page: 2, id: p.flash.id}
	if older == newer {
		t.Fatal("two messages share an id")
	}
	send(m, older)
	mustContain(t, m.View(), "✓ Key support-bot (key_support-bot) updated.")
	send(m, newer)
	mustNotContain(t, m.View(), "updated.")

	// An error does not fade.
	m = statusModel(t, 10*time.Millisecond)
	cmd := send(m, keySavedMsg{Verb: "revoked", Err: fmt.Errorf("revoking key key_billing: %w", errors.New("boom"))})
	mustContain(t, m.View(), "boom")
	if fades := fadeMsgs(cmd, 300*time.Millisecond); len(fades) != 0 {
		t.Errorf("an error fades: %v", fades)
	}
}

// A status message does not follow the user: back on its page it is gone.
func TestStatusMessageStaysOnItsPage(t *testing.T) {
	m := statusModel(t, time.Hour)
	send(m, saved("billing"))
	mustContain(t, m.View(), "updated.")
	press(m, "5")
	mustNotContain(t, m.View(), "updated.")
	press(m, "3")
	send(m, fixtureKeys())
	mustNotContain(t, m.View(), "updated.")
}

// A newly created key, credential or provider is selected when the list
// comes back with it.
func TestNewItemIsSelected(t *testing.T) {
	t.Run("key", func(t *testing.T) {
		m := keysModel(t)
		nk := admin.Key{ID: "key_new", Name: "new-app", Provider: "openai", Status: admin.KeyActive}
		send(m, keyCreatedMsg{Key: admin.CreatedKey{Key: nk, Secret: "aigw_" + "s3cr3t"}})
		press(m, "enter") // copied the secret
		msg := fixtureKeys()
		msg.Keys = append(msg.Keys[:1:1], append([]admin.Key{nk}, msg.Keys[1:]...)...)
		send(m, msg)
		mustContain(t, selectedLine(m.View()), "key_new")
	})
	t.Run("credential", func(t *testing.T) {
		m := credentialsModel(t)
		nc := admin.Credential{ID: "cred_new", Provider: "openai", Name: "fresh", Enabled: true}
		send(m, credentialSavedMsg{Credential: nc, Verb: "added"})
		msg := fixtureCredentials()
		msg.Credentials = append(msg.Credentials, nc)
		send(m, msg)
		mustContain(t, selectedLine(m.View()), "cred_new")
	})
	t.Run("provider", func(t *testing.T) {
		m := newTestModel(t, nil)
		press(m, "5")
		send(m, providersLoadedMsg{Providers: fixtureProviders()})
		np := admin.Provider{Name: "groq", Type: admin.TypeOpenAI, BaseURL: "https://api.groq.com/openai"}
		send(m, providerSavedMsg{Provider: np, Verb: "added"})
		mustContain(t, m.View(), "✓ Provider groq added.")
		send(m, providersLoadedMsg{Providers: append(fixtureProviders(), np)})
		mustContain(t, selectedLine(m.View()), "groq")
	})
}

// The Traces page's status line says what the header says about the
// connection: never "live" while the stream is down.
func TestTracesStatusFollowsTheConnection(t *testing.T) {
	m := tracesModel(t)
	send(m, streamOpenMsg{})
	v := m.View()
	mustContain(t, v, "● live", "▶ live")

	send(m, streamEndedMsg{Err: errors.New("EOF")})
	v = m.View()
	mustContain(t, v, "◌ retrying", "◌ retrying the live stream")
	mustNotContain(t, v, "▶ live")

	send(m, statusMsg{Err: fmt.Errorf("%w at http://127.0.0.1:9: refused", admin.ErrUnreachable)})
	v = m.View()
	mustContain(t, v, "○ offline", "○ offline: new traces show when the gateway is back")
	mustNotContain(t, v, "▶ live")
	mustContain(t, v, "18 shown") // what arrived before stays

	send(m, statusMsg{Status: fixtureStatus()}, streamOpenMsg{})
	mustContain(t, m.View(), "▶ live")
	checkFits(t, m.View(), 80, 24)
}
