package proxy_test

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/testkit"
	"github.com/aigw/aigw/proxy"
)

// Requests refused before any good key was found leave a trace an
// operator can debug "my app gets 401/404" from: the status, the reason,
// the provider when there is one, and a preview of what was presented
// that does not reveal it.
func TestRefusedRequestsAreTraced(t *testing.T) {
	e := newEnv(t)
	e.setup("openai", 1, "round_robin")
	const providerKey = "sk-proj-0123456789abcdefghijklmnopqrstuvwxyz"
	cases := []struct {
		method, path string
		hdr          map[string]string
		status       int
		provider     string
		tracePath    string
		preview      string
		err          string
	}{
		{"POST", "/p/v1/chat/completions", bearer(providerKey), 401, "p", "/v1/chat/completions", "sk-… (44 chars)", "aigw: invalid gateway key"},
		{"POST", "/p/v1/chat/completions", nil, 401, "p", "/v1/chat/completions", "", "aigw: missing gateway key"},
		{"POST", "/nope/v1/chat/completions", bearer("aigw_Zyxw0000000000000000000000000000000000000"), 404, "",
			"/nope/v1/chat/completions", "aigw_Zyxw…", `aigw: unknown provider "nope"`},
		{"TRACE", "/p/v1/chat/completions", nil, 405, "p", "/v1/chat/completions", "", "aigw: method not allowed"},
	}
	for i, c := range cases {
		r := e.do(c.method, c.path, c.hdr, chatBody)
		if r.status != c.status {
			t.Fatalf("%s %s: status %d, want %d", c.method, c.path, r.status, c.status)
		}
		tr := e.rec.wait(t, i+1)[i]
		if tr.Status != c.status || tr.Provider != c.provider || tr.Path != c.tracePath || tr.KeyPreview != c.preview ||
			tr.KeyID != "" || tr.Method != c.method || !strings.HasPrefix(tr.Error, c.err) || tr.RequestID != r.header.Get("X-Aigw-Request-Id") {
			t.Errorf("%s %s: trace status %d provider %q path %q preview %q key %q method %q error %q id %q",
				c.method, c.path, tr.Status, tr.Provider, tr.Path, tr.KeyPreview, tr.KeyID, tr.Method, tr.Error, tr.RequestID)
		}
		if strings.Contains(tr.KeyPreview, providerKey[3:]) {
			t.Errorf("the preview %q shows the key", tr.KeyPreview)
		}
	}
	if e.fake.Count() != 0 {
		t.Fatal("a refused request reached the upstream")
	}
}

// A flood of bad keys is counted exactly, but traced (and so stored and
// logged) at most proxy.refused_traces a second, with one log line every
// 10 seconds saying how many went untraced.
func TestRefusalFloodIsBounded(t *testing.T) {
	var logs testkit.SyncBuffer
	const perSec = 20
	e := newEnv(t, func(c *proxy.Config) {
		c.RefusedTraces = perSec
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	e.setup("openai", 1, "round_robin")
	const n = 600
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				req, _ := http.NewRequest("POST", e.url+"/p/v1/chat/completions", strings.NewReader(chatBody))
				req.Header.Set("Authorization", "Bearer aigw_flood"+strings.Repeat("x", 40))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 401 {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	seconds := int(time.Since(start)/time.Second) + 1
	traced := len(e.rec.wait(t, perSec))
	if traced > perSec*(seconds+1) {
		t.Fatalf("%d traces for %d refused requests in %d s, want at most %d a second", traced, n, seconds, perSec)
	}
	st := e.px.RefusalStats()
	invalid := st.ByReason[slices.Index(proxy.RefusalReasons[:], "invalid_key")]
	if invalid != n || st.Untraced != uint64(n-traced) {
		t.Fatalf("counted %d invalid keys, %d untraced; want %d and %d", invalid, st.Untraced, n, n-traced)
	}
	lines := strings.Count(logs.String(), "were counted but not traced")
	if lines < 1 || lines > seconds/10+1 {
		t.Fatalf("%d log lines about untraced refusals in %d s:\n%s", lines, seconds, logs.String())
	}
}

// proxy.refused_traces < 0 traces no refusal, and still counts them.
func TestRefusedTracesOff(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.RefusedTraces = -1 })
	key, _ := e.setup("openai", 1, "round_robin")
	e.do("POST", "/p/v1/chat/completions", nil, chatBody)
	e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	if tr := e.rec.wait(t, 1); len(tr) != 1 || tr[0].Status != 200 {
		t.Fatalf("traces: %d, first status %d; want only the good request's", len(tr), tr[0].Status)
	}
	if st := e.px.RefusalStats(); st.ByReason[slices.Index(proxy.RefusalReasons[:], "missing_key")] != 1 || st.Untraced != 1 {
		t.Fatalf("stats %+v", st)
	}
}
