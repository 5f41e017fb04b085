package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/config"
	"github.com/aigw/aigw/gateway"
	"github.com/aigw/aigw/proxytest"
)

// holdingReceiver is a loopback webhook receiver that keeps every POST
// waiting until released.
type holdingReceiver struct {
	*httptest.Server
	release chan struct{}
	mu      sync.Mutex
	bodies  [][]byte
	sigs    []string
}

func newHoldingReceiver(t *testing.T) *holdingReceiver {
	r := &holdingReceiver{release: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.sigs = append(r.sigs, req.Header.Get("X-Aigw-Signature"))
		r.mu.Unlock()
		select {
		case <-r.release:
		case <-req.Context().Done():
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *holdingReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func followAlerts(t *testing.T, g *gw, args ...string) *followed {
	t.Helper()
	return followCmd(t, g, "alerts", args...)
}

// A credential the upstream refuses raises credential_invalid and, as it
// was its key's only credential, pool_unhealthy: `aigw alerts --follow`
// prints them, `aigw alerts` lists them, a signed POST reaches the
// webhook — and while that webhook holds its POST, requests of other keys
// go through. After a restart the follower reconnects, prints the next
// alert once, and nothing fired before is raised again.
func TestAlertsFromTheCLI(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	fake.Program(proxytest.Rule{Credential: "sk-refused", Status: 401})
	defer func(b [2]time.Duration) { followBackoff = b }(followBackoff)
	followBackoff = [2]time.Duration{100 * time.Millisecond, 200 * time.Millisecond}
	rcv := newHoldingReceiver(t)
	g, err := tryStartGateway(t, t.TempDir(), false, func(o *gateway.Options) {
		o.Config.Alerts.Webhooks = []config.Webhook{{URL: rcv.URL + "/hook", Secret: "shared"}}
	})
	if err != nil {
		t.Fatal(err)
	}
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", fake.URL)
	var bad, good idOnly
	g.okJSON(t, &bad, "credential", "add", "--provider", "openai", "--secret", "sk-refused")
	g.okJSON(t, &good, "credential", "add", "--provider", "openai", "--secret", "sk-fine")
	var k1, k2 struct{ ID, Secret string }
	g.okJSON(t, &k1, "key", "create", "--provider", "openai", "--credentials", bad.ID, "--name", "doomed")
	g.okJSON(t, &k2, "key", "create", "--provider", "openai", "--credentials", good.ID)

	f := followAlerts(t, g, "-o", "json")
	time.Sleep(200 * time.Millisecond) // subscribed
	url := "http://" + g.proxyAddr + "/openai/v1/chat/completions"
	if r := post(t, url, "Bearer "+k1.Secret, chatJSON); r.status == 200 {
		t.Fatalf("a request on the refused credential answered 200")
	}
	waitIn(t, f.out, `"kind":"credential_invalid"`)
	waitIn(t, f.out, `"kind":"pool_unhealthy"`)
	waitIn(t, f.out, `key:`+k1.ID)

	// The webhook holds the first alert's POST: traffic does not wait.
	deadline := time.Now().Add(5 * time.Second)
	for rcv.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if rcv.count() != 1 {
		t.Fatalf("webhook got %d POSTs; want the first one, held", rcv.count())
	}
	for i := range 20 {
		if r := post(t, url, "Bearer "+k2.Secret, chatJSON); r.status != 200 {
			t.Fatalf("request %d while the webhook hangs: %d %s", i, r.status, r.body)
		}
	}
	close(rcv.release)
	deadline = time.Now().Add(5 * time.Second)
	for rcv.count() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	rcv.mu.Lock()
	for i, b := range rcv.bodies {
		mac := hmac.New(sha256.New, []byte("shared"))
		mac.Write(b)
		if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); rcv.sigs[i] != want {
			t.Errorf("POST %d signature %q; want %q", i, rcv.sigs[i], want)
		}
	}
	if len(rcv.bodies) != 2 {
		t.Errorf("webhook got %d POSTs; want 2 (credential_invalid, pool_unhealthy)", len(rcv.bodies))
	}
	rcv.mu.Unlock()
	token, err := os.ReadFile(filepath.Join(g.dir, admin.LocalTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	var metrics string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		metrics = scrapeMetrics(t, g.adminURL, strings.TrimSpace(string(token)))
		if strings.Contains(metrics, `aigw_webhook_deliveries_total{result="delivered"} 2`) || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{`aigw_alerts_total{kind="credential_invalid"} 1`, `aigw_alerts_total{kind="pool_unhealthy"} 1`,
		`aigw_alerts_total{kind="budget_threshold"} 0`, `aigw_webhook_deliveries_total{result="delivered"} 2`,
		`aigw_webhook_deliveries_total{result="failed"} 0`, `aigw_webhook_deliveries_total{result="queue_full"} 0`} {
		if !strings.Contains(metrics, "\n"+want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	var list []struct{ ID, Kind, Subject, Message string }
	g.okJSON(t, &list, "alerts")
	if len(list) != 2 || list[0].Kind != "credential_invalid" || list[0].Subject != "credential:"+bad.ID || list[1].Kind != "pool_unhealthy" {
		t.Fatalf("aigw alerts -o json = %+v; want credential_invalid then pool_unhealthy", list)
	}
	table := g.ok(t, "alerts", "--since", "1h")
	if !strings.Contains(table, "KIND") || !strings.Contains(table, "credential_invalid") ||
		!strings.Contains(table, "has no healthy credential in its pool") {
		t.Errorf("aigw alerts table:\n%s", table)
	}
	if r := g.cli(t, "", nil, "alerts", "--limit", "0"); r.code != 2 {
		t.Errorf("--limit 0: exit %d; want 2", r.code)
	}
	if r := g.cli(t, "", nil, "alerts", "--no-retry"); r.code != 2 || !strings.Contains(r.stderr, "--no-retry goes with --follow") {
		t.Errorf("--no-retry alone: exit %d %q; want 2", r.code, r.stderr)
	}

	// Restart: the follower reconnects; the same failure the same day is
	// not raised again; a new alert (a model without a price) comes once.
	g.stop(t)
	waitIn(t, f.err, "aigw: connection lost, reconnecting…")
	g2 := restartOnSameAddrs(t, g)
	waitIn(t, f.err, "aigw: reconnected")
	post(t, url, "Bearer "+k1.Secret, chatJSON)
	if r := post(t, url, "Bearer "+k2.Secret, `{"model":"model-without-a-price","messages":[{"role":"user","content":"hi"}]}`); r.status != 200 {
		t.Fatalf("unpriced request: %d %s", r.status, r.body)
	}
	waitIn(t, f.out, `"kind":"model_unpriced"`)
	time.Sleep(300 * time.Millisecond)
	if code := f.stop(t); code != 0 {
		t.Errorf("Ctrl-C: exit %d; want 0", code)
	}
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(f.out.String()), "\n") {
		var a struct{ Kind string }
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("follow printed a line that is not an alert: %q", line)
		}
		kinds = append(kinds, a.Kind)
	}
	if got := strings.Join(kinds, " "); got != "credential_invalid pool_unhealthy model_unpriced" {
		t.Errorf("followed %s; want each alert once", got)
	}
	g2.okJSON(t, &list, "alerts")
	if len(list) != 3 {
		t.Errorf("%d alerts stored after the restart; want 3: %+v", len(list), list)
	}
}

// Bad alert settings stop `aigw serve` before anything starts, with the
// field named.
func TestServeRefusesBadAlertSettings(t *testing.T) {
	for _, c := range []struct{ content, want string }{
		{"[alerts]\nthresholds = [80, 150]\n", "alerts.thresholds"},
		{"[[alerts.webhook]]\nurl = \"file:///etc/passwd\"\n", "alerts.webhook[0].url"},
		{"[[alerts.webhook]]\nurl = \"https://h.example\"\nevents = [\"everything\"]\n", "alerts.webhook[0].events"},
	} {
		dir := t.TempDir()
		file := filepath.Join(dir, "config.toml")
		if err := os.WriteFile(file, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(dir, "data")
		var out, errb strings.Builder
		streams := &ioStreams{In: strings.NewReader(""), Out: &out, Err: &errb, getenv: func(string) string { return "" }}
		code := run([]string{"serve", "--config", file, "--data-dir", data, "--proxy-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, streams)
		if code == 0 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q; want non-zero naming %s", c.content, code, errb.String(), c.want)
		}
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Errorf("%q: the data directory was created (%v): something started", c.content, err)
		}
	}
}
