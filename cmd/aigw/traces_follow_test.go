package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/gateway"
	"github.com/aigw/aigw/internal/testkit"
	"github.com/aigw/aigw/proxytest"
)

// followed is a running `aigw traces --follow` with its streams apart.
type followed struct {
	out, err *testkit.SyncBuffer
	cancel   context.CancelFunc
	done     chan int
}

func startFollow(t *testing.T, g *gw, args ...string) *followed {
	t.Helper()
	return followCmd(t, g, "traces", args...)
}

// followCmd runs `aigw COMMAND --follow ARGS…` against g until stopped.
func followCmd(t *testing.T, g *gw, command string, args ...string) *followed {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &followed{out: &testkit.SyncBuffer{}, err: &testkit.SyncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	env := map[string]string{"AIGW_DATA_DIR": g.dir, "AIGW_ADMIN_URL": g.adminURL}
	go func() {
		streams := &ioStreams{In: strings.NewReader(""), Out: f.out, Err: f.err, getenv: func(k string) string { return env[k] }}
		f.done <- runContext(ctx, append([]string{command, "--follow"}, args...), streams)
	}()
	t.Cleanup(cancel)
	return f
}

// stop is Ctrl-C: it returns the exit code.
func (f *followed) stop(t *testing.T) int {
	t.Helper()
	f.cancel()
	select {
	case code := <-f.done:
		return code
	case <-time.After(5 * time.Second):
		t.Fatal("traces --follow did not stop within 5s of Ctrl-C")
		return -1
	}
}

// waitIn waits up to 10 s for b to contain s.
func waitIn(t *testing.T, b *testkit.SyncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within 10s in:\n%s", s, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restartOnSameAddrs starts the gateway again on g's data directory and
// ports, as a user restarting `aigw serve` would.
func restartOnSameAddrs(t *testing.T, g *gw) *gw {
	t.Helper()
	proxyAddr, adminAddr := g.proxyAddr, strings.TrimPrefix(g.adminURL, "http://")
	deadline := time.Now().Add(5 * time.Second)
	for {
		g2, err := tryStartGateway(t, g.dir, false, func(o *gateway.Options) {
			o.Config.Proxy.Addr, o.Config.Admin.Addr = proxyAddr, adminAddr
		})
		if err == nil {
			return g2
		}
		if time.Now().After(deadline) {
			t.Fatalf("restart on %s/%s: %v", proxyAddr, adminAddr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// followedIDs are the request ids of the JSON lines printed, in order.
func followedIDs(t *testing.T, out string) []string {
	t.Helper()
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var tr struct {
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(line), &tr); err != nil {
			t.Fatalf("follow -o json printed a line that is not a trace: %q", line)
		}
		ids = append(ids, tr.RequestID)
	}
	return ids
}

// The gateway is stopped and started again on the same port and data
// directory while `aigw traces --follow` runs: it says so on stderr,
// reconnects, prints the requests made while it was away (oldest first)
// and the ones after, each exactly once, and Ctrl-C exits 0.
func TestTracesFollowSurvivesARestart(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	// Reconnect attempts 1.5 s apart: the requests sent right after the
	// restart land before the follower is back, so only the catch-up can
	// show them.
	defer func(b [2]time.Duration) { followBackoff = b }(followBackoff)
	followBackoff = [2]time.Duration{1500 * time.Millisecond, 1500 * time.Millisecond}

	g := startGateway(t, t.TempDir())
	_, secret := provisioned(t, g, fake)
	f := startFollow(t, g, "-o", "json")
	time.Sleep(200 * time.Millisecond) // subscribed
	send := func(g *gw) string {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+g.proxyAddr+"/openai/v1/chat/completions", strings.NewReader(chatJSON))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("x-aigw-request-id") == "" {
			t.Fatalf("request: %d, request id %q", resp.StatusCode, resp.Header.Get("x-aigw-request-id"))
		}
		return resp.Header.Get("x-aigw-request-id")
	}
	before := send(g)
	waitIn(t, f.out, before)

	g.stop(t)
	waitIn(t, f.err, "aigw: connection lost, reconnecting…")
	g2 := restartOnSameAddrs(t, g)
	gap := []string{send(g2), send(g2)}
	if strings.Contains(f.err.String(), "reconnected") {
		t.Fatal("the follower reconnected before the requests of the gap were sent: the test proves nothing")
	}
	waitIn(t, f.err, "aigw: reconnected")
	after := send(g2)
	waitIn(t, f.out, after)
	if code := f.stop(t); code != 0 {
		t.Errorf("Ctrl-C: exit %d, want 0", code)
	}

	want := append(append([]string{before}, gap...), after)
	if got := followedIDs(t, f.out.String()); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("followed request ids %v, want each of %v once, in order", got, want)
	}
	if n := strings.Count(f.err.String(), "connection lost"); n != 1 {
		t.Errorf("stderr says 'connection lost' %d times (one outage): %q", n, f.err.String())
	}
}

// With --no-retry a lost connection ends the command with exit 3 (the
// admin API cannot be reached), as before reconnection existed.
func TestTracesFollowNoRetryExits3(t *testing.T) {
	g := startGateway(t, t.TempDir())
	f := startFollow(t, g, "--no-retry")
	waitIn(t, f.out, "TIME ") // the header comes once the stream is open
	g.stop(t)
	select {
	case code := <-f.done:
		if code != exitUnreachable || !strings.Contains(f.err.String(), "aigw: cannot reach the aigw admin API") || !strings.Contains(f.err.String(), "stream") {
			t.Errorf("--no-retry after the gateway stopped: exit %d, stderr %q", code, f.err.String())
		}
		if strings.Contains(f.err.String(), "reconnecting") {
			t.Errorf("--no-retry tried to reconnect: %q", f.err.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("traces --follow --no-retry did not notice the gateway went away")
	}
}

// Ctrl-C while waiting to reconnect exits 0 at once; the first connection
// failing is exit 3 as for every command (no retry before the stream was
// ever open: a wrong address is not an outage).
func TestTracesFollowCtrlCWhileReconnecting(t *testing.T) {
	g := startGateway(t, t.TempDir())
	f := startFollow(t, g)
	waitIn(t, f.out, "TIME ")
	g.stop(t)
	waitIn(t, f.err, "reconnecting")
	start := time.Now()
	if code := f.stop(t); code != 0 || time.Since(start) > 2*time.Second {
		t.Errorf("Ctrl-C while reconnecting: exit %d after %v", code, time.Since(start))
	}
	if n := strings.Count(f.out.String(), "TIME "); n != 1 {
		t.Errorf("the table header printed %d times", n)
	}

	r := g.cli(t, "", nil, "--admin", "http://127.0.0.1:1", "traces", "--follow")
	if r.code != exitUnreachable || r.stdout != "" {
		t.Errorf("follow with nothing to connect to: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestIDRingIsBounded(t *testing.T) {
	s := newIDRing(3)
	for _, id := range []string{"a", "b", "c"} {
		if !s.add(id) {
			t.Fatalf("%s is new", id)
		}
	}
	if s.add("a") {
		t.Error("a seen twice")
	}
	s.add("d") // pushes out a
	if len(s.ids) != 3 || !s.add("a") {
		t.Errorf("after 4 ids in a ring of 3: %d kept, a forgotten = %v", len(s.ids), len(s.ids) == 3)
	}
}
