package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/testkit"
	"github.com/aigw/aigw/proxytest"
)

// `aigw traces --follow -o json` (the built binary) while `aigw serve` is
// stopped with SIGTERM and started again on the same ports and data
// directory: the follower says it lost the connection and got it back,
// prints every request once, and Ctrl-C (SIGINT) ends it with exit 0.
func TestTracesFollowAcrossAServeRestart(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	dir := t.TempDir()
	s := serve(t, dir)
	secret := s.provision(t, "openai", "openai", fake.URL, "sk-e2e-follow-credential")

	var out, errb testkit.SyncBuffer
	follow := exec.Command(aigwBin, "traces", "--follow", "-o", "json")
	follow.Env = append(os.Environ(), "AIGW_DATA_DIR="+dir, "AIGW_ADMIN_URL="+s.adminURL)
	follow.Stdout, follow.Stderr = &out, &errb
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- follow.Wait() }()
	defer func() {
		if follow.ProcessState == nil {
			_ = follow.Process.Kill()
		}
	}()
	wait := func(b *testkit.SyncBuffer, what string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !strings.Contains(b.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q within 15s; stdout %q, stderr %q", what, out.String(), errb.String())
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	send := func(s *server) string {
		t.Helper()
		req, _ := http.NewRequest("POST", s.proxyURL+"/openai/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		id := resp.Header.Get("x-aigw-request-id")
		if resp.StatusCode != 200 || id == "" {
			t.Fatalf("request: %d, request id %q", resp.StatusCode, id)
		}
		return id
	}

	time.Sleep(500 * time.Millisecond) // the follower has connected
	first := send(s)
	wait(&out, first)
	s.stop(t)
	wait(&errb, "aigw: connection lost, reconnecting…")
	s2 := serveWith(t, dir, serveOptions{ProxyAddr: strings.TrimPrefix(s.proxyURL, "http://"), AdminAddr: strings.TrimPrefix(s.adminURL, "http://")})
	wait(&errb, "aigw: reconnected")
	second := send(s2)
	wait(&out, second)

	_ = follow.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("Ctrl-C: %v (want exit 0); stderr %q", err, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("aigw traces --follow did not exit within 10s of SIGINT")
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var tr struct {
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(line), &tr); err != nil {
			t.Fatalf("a line that is not a trace: %q", line)
		}
		ids = append(ids, tr.RequestID)
	}
	if strings.Join(ids, " ") != first+" "+second {
		t.Errorf("followed %v, want [%s %s]", ids, first, second)
	}
}
