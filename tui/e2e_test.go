package tui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/config"
	"github.com/aigw/aigw/gateway"
	"github.com/aigw/aigw/proxytest"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"
)

// gw is a real `aigw serve` running in-process over a data directory in
// t.TempDir(), on loopback ports (as in cmd/aigw's harness).
type gw struct {
	dir       string
	adminAddr string
	proxyAddr string
	cancel    context.CancelFunc
	done      chan error
}

// startGateway serves dir with the admin API on adminAddr ("127.0.0.1:0"
// for any port); it stops at the end of the test.
func startGateway(t *testing.T, dir, adminAddr string) *gw {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Proxy.Addr = "127.0.0.1:0"
	cfg.Admin.Addr = adminAddr
	ctx, cancel := context.WithCancel(context.Background())
	g := &gw{dir: dir, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		g.done <- gateway.Run(ctx, gateway.Options{Config: cfg, Out: io.Discard, Ready: func(p, a net.Addr) {
			g.proxyAddr, g.adminAddr = p.String(), a.String()
			close(ready)
		}})
	}()
	select {
	case <-ready:
	case err := <-g.done:
		cancel()
		t.Fatalf("aigw serve: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("aigw serve did not start within 10s")
	}
	t.Cleanup(func() { g.stop(t) })
	g.waitServing(t)
	return g
}

// waitServing waits until the proxy answers. Ready comes when the
// listeners are open, a moment before the proxy serves them; a shutdown in
// that moment is not noticed by fasthttp and would hang the stop.
func (g *gw) waitServing(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + g.proxyAddr + "/")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy does not answer: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (g *gw) stop(t *testing.T) {
	t.Helper()
	if g.cancel == nil {
		return
	}
	// A connection the admin client dialled but never used (a request
	// cancelled mid-dial) looks new to the server, which then waits 5 s
	// for it before it can shut down: drop the client's idle connections.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	g.cancel()
	g.cancel = nil
	select {
	case err := <-g.done:
		if err != nil {
			t.Errorf("aigw serve returned: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("aigw serve did not stop within 15s")
	}
}

// client is what `aigw tui` builds: the admin URL and the data directory's token.
func (g *gw) client(t *testing.T) *admin.Client {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(g.dir, admin.LocalTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return admin.NewClient("http://"+g.adminAddr, strings.TrimSpace(string(raw)))
}

var secretRE = regexp.MustCompile(`aigw_[0-9A-Za-z]{43}`)

// The real TUI against a real gateway: a key created by typing into the
// Keys page's form works through the proxy, and the request appears live
// on the Traces page; removing the provider the key uses is refused with
// the server's reason.
func TestEndToEnd(t *testing.T) {
	g := startGateway(t, t.TempDir(), "127.0.0.1:0")
	fake := proxytest.NewServer()
	t.Cleanup(fake.Close)
	client := g.client(t)
	if _, err := client.CreateProvider(t.Context(), admin.Provider{Name: "openai", Type: admin.TypeOpenAI, BaseURL: fake.URL}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateCredential(t.Context(), admin.CredentialInput{Provider: "openai", Name: "upstream", Secret: "sk-upstream-e2e-0001"}); err != nil {
		t.Fatal(err)
	}

	tm := teatest.NewTestModel(t, New(Options{Client: client, Context: t.Context(), Renderer: asciiRenderer(), Location: time.UTC}),
		teatest.WithInitialTermSize(80, 24))
	t.Cleanup(func() { // before the gateway stops: the live stream holds a connection
		tm.Send(keyPress("ctrl+c"))
		tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	})

	// Keys: create one through the form.
	tm.Send(keyPress("3"))
	waitFor(t, tm, "No gateway keys yet")
	tm.Send(keyPress("a"))
	waitFor(t, tm, "New gateway key")
	tm.Type("e2e-app")
	for range 4 { // provider (openai, the only one), credentials (empty: all), strategy, requests/min
		tm.Send(keyPress("tab"))
	}
	tm.Type("120")
	tm.Send(keyPress("enter"))
	secret := string(waitForMatch(t, tm, secretRE))
	page, err := client.Keys(t.Context(), admin.KeyQuery{})
	keys := page.Keys
	if err != nil || len(keys) != 1 || keys[0].Name != "e2e-app" || keys[0].RPM != 120 || keys[0].Provider != "openai" {
		t.Fatalf("keys after the form: %+v, %v", keys, err)
	}
	tm.Send(keyPress("enter"))
	waitFor(t, tm, "Key e2e-app ("+keys[0].ID+") created.")

	// Traces: a request through the proxy with the secret the TUI showed appears live.
	// The probe of "/" that waitServing sent was refused (404, no provider)
	// and is listed already: the key's creation had the trace writer write
	// what it held.
	tm.Send(keyPress("2"))
	waitFor(t, tm, " 404 ", "1 shown")
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+g.proxyAddr+"/openai/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("request with the key from the form: %d", resp.StatusCode)
	}
	waitFor(t, tm, "e2e-app", "gpt-4o-mini", " 200 ", " 404 ", "2 shown")

	// Providers: the removal is refused, with the reason.
	tm.Send(keyPress("5"))
	waitFor(t, tm, fake.URL)
	tm.Send(keyPress("d"))
	waitFor(t, tm, "Remove provider openai?")
	tm.Send(keyPress("y"))
	waitFor(t, tm, "cannot remove provider openai", "in use by keys")
}

// waitForMatch waits until the screen shows something re matches and
// returns it.
func waitForMatch(t *testing.T, tm *teatest.TestModel, re *regexp.Regexp) []byte {
	t.Helper()
	var found []byte
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		found = re.Find(b)
		return found != nil
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	return bytes.Clone(found)
}

// When the gateway goes away the TUI shows the banner and keeps polling;
// when it is back the banner goes and the page reloads.
func TestGatewayGoesAwayAndComesBack(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, dir, "127.0.0.1:0")
	client := g.client(t)
	m := New(Options{Client: client, Context: t.Context(), Renderer: asciiRenderer(), Location: time.UTC})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	press(m, "5")
	poll := func() tea.Msg { return pollStatus(m.c)() }

	send(m, poll())
	mustNotContain(t, m.View(), "Cannot reach")

	g.stop(t)
	msg := poll()
	if sm := msg.(statusMsg); !errors.Is(sm.Err, admin.ErrUnreachable) {
		t.Fatalf("poll of a stopped gateway: %v", sm.Err)
	}
	if cmd := send(m, msg); cmd == nil {
		t.Fatal("no further poll scheduled")
	}
	mustSay(t, m.View(), "Cannot reach the aigw admin API at http://"+g.adminAddr, "Retrying every 2s")

	startGateway(t, dir, g.adminAddr) // same data, same address
	send(m, poll())
	v := m.View()
	mustNotContain(t, v, "Cannot reach")
	if !m.pages[4].(*providersPage).loading {
		t.Error("the page did not reload when the gateway came back")
	}
}

// The status the Overview shows, from a real gateway: a credential the
// upstream refuses is out of rotation under its provider and name, and a
// request for a model without a price is counted as unpriced, not as $0.
func TestStatusNamesOutCredentialsAndCountsUnpriced(t *testing.T) {
	g := startGateway(t, t.TempDir(), "127.0.0.1:0")
	fake := proxytest.NewServer()
	t.Cleanup(fake.Close)
	fake.Program(proxytest.Rule{Credential: "sk-refused-0001", Status: http.StatusUnauthorized})
	client := g.client(t)
	ctx := t.Context()
	if _, err := client.CreateProvider(ctx, admin.Provider{Name: "openai", Type: admin.TypeOpenAI, BaseURL: fake.URL}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range []struct{ name, secret string }{{"refused", "sk-refused-0001"}, {"good", "sk-good-0002"}} {
		cred, err := client.CreateCredential(ctx, admin.CredentialInput{Provider: "openai", Name: c.name, Secret: c.secret})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, cred.ID)
	}
	key, err := client.CreateKey(ctx, admin.KeyInput{Provider: "openai", Name: "app", Credentials: ids, Strategy: admin.StrategyRoundRobin})
	if err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{"gpt-4o-mini", "gpt-4o-mini", "model-with-no-price"} {
		body := `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+g.proxyAddr+"/openai/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key.Secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 { // the refused credential is retried on the good one
			t.Fatalf("%s: status %d", model, resp.StatusCode)
		}
	}

	var st admin.Status
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, err = client.Status(ctx); err != nil {
			t.Fatal(err)
		}
		if st.Today.Requests == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // traces reach the roll-ups within the writer's batch interval
	}
	if st.Today.Requests != 3 || st.Today.CostUnknown != 1 || st.Today.CostUSD <= 0 {
		t.Errorf("today: %+v, want 3 requests, 1 unpriced and the priced ones' cost", st.Today)
	}
	if len(st.Out) != 1 || st.Out[0].ID != ids[0] || st.Out[0].Provider != "openai" || st.Out[0].Name != "refused" || st.Out[0].State != "invalid" {
		t.Fatalf("out of rotation: %+v, want only openai/refused (%s), invalid", st.Out, ids[0])
	}

	m := New(Options{Client: client, Context: ctx, Renderer: asciiRenderer(), Location: time.UTC})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	send(m, statusMsg{Status: st})
	mustContain(t, m.View(), "! openai/refused", "invalid", "+ 1 unpriced")
}
