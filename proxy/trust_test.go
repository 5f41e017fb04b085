package proxy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/store"
)

// Two clients with two keys share the provider's upstream connections. The
// upstream answers every request with 100 Continue and 103 Early Hints
// before a delayed final answer; each client must get exactly its own
// answer, every time (an interim answer taken as the final one leaves the
// real answer on the connection for the next request to read).
func TestInterimAnswersNeverReachAnotherClient(t *testing.T) {
	e := newEnv(t)
	e.provider("p", "openai")
	cred := e.cred("p", "sk-shared-secret", 1)
	keys := []string{
		e.key(store.KeyInput{Provider: "p", Credentials: []string{cred}, Name: "alice"}),
		e.key(store.KeyInput{Provider: "p", Credentials: []string{cred}, Name: "bob"}),
	}
	e.fake.Program(proxytest.Rule{Interim: []int{100, 103}, HeaderDelay: time.Millisecond})

	const perClient = 500
	var wg sync.WaitGroup
	errs := make(chan string, 2*perClient)
	for c, key := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				model := fmt.Sprintf("client-%d-request-%d", c, i)
				hdr := bearer(key)
				if i%2 == 1 {
					hdr["Expect"] = "100-continue" // as curl sends for large bodies
				}
				r := e.do("POST", "/p/v1/chat/completions", hdr,
					`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`)
				var got struct{ Model string }
				_ = json.Unmarshal([]byte(r.body), &got)
				if r.status != 200 || got.Model != model {
					errs <- fmt.Sprintf("client %d asked for %s, got %d %.200s", c, model, r.status, r.body)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for msg := range errs {
		if n++; n <= 5 {
			t.Error(msg)
		}
	}
	if n > 0 {
		t.Fatalf("%d of %d answers went to the wrong request", n, 2*perClient)
	}
	for _, rec := range e.fake.Requests() {
		if v := rec.Header.Get("Expect"); v != "" {
			t.Fatalf("the upstream received Expect: %s", v)
		}
	}
	if got := len(e.rec.wait(t, 2*perClient)); got != 2*perClient {
		t.Fatalf("%d traces for %d requests", got, 2*perClient)
	}
}

// rawUpstream is a TCP server that reads each HTTP request on a kept-alive
// connection and lets answer write whatever bytes it likes.
func rawUpstream(t *testing.T, answer func(w io.Writer, n int, r *http.Request)) string {
	t.Helper()
	return rawCountingUpstream(t, func(w io.Writer, n int, r *http.Request) bool {
		answer(w, n, r)
		return true
	}).url
}

func rawProvider(e *env, baseURL string) (key string) {
	e.t.Helper()
	e.provider("raw", "openai", func(p *store.Provider) { p.BaseURL = baseURL })
	cred := e.cred("raw", "sk-raw-secret", 1)
	return e.key(store.KeyInput{Provider: "raw", Credentials: []string{cred}, MaxRetries: ptr(0)})
}

func ptr[T any](v T) *T { return &v }

// 101 Switching Protocols to a request that asked for no upgrade is not an
// answer aigw can pass on: the client gets a 502, and the connection is
// closed rather than reused.
func TestUpstream101IsAnError(t *testing.T) {
	e := newEnv(t)
	url := rawUpstream(t, func(w io.Writer, n int, r *http.Request) {
		if n == 1 {
			fmt.Fprint(w, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			fmt.Fprint(w, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled")
			return
		}
		fmt.Fprint(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
	})
	key := rawProvider(e, url)
	r := e.do("GET", "/raw/v1/models", bearer(key), "")
	if r.status != 502 || !strings.Contains(r.body, "101") {
		t.Fatalf("101 answer: got %d %s, want a 502 naming the status", r.status, r.body)
	}
	r = e.do("GET", "/raw/v1/models", bearer(key), "")
	if r.status != 200 || r.body != `{"ok":true}` {
		t.Fatalf("next request: got %d %s", r.status, r.body)
	}
}
