package proxy_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/store"
)

// An answer of known length too large to be read whole before it is sent
// (over 64 KiB) reaches the client whole, with its own Content-Length,
// and the connection serves the next request cleanly.
func TestLargeAnswerOfKnownLengthArrivesWhole(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, store.StrategyRoundRobin)
	for _, n := range []int{64<<10 + 1, 100 << 10, 900 << 10} {
		body := `{"id":"chatcmpl-1","filler":"` + strings.Repeat("x", n) + `"}`
		e.fake.Program(proxytest.Rule{Status: 200, Times: 1, Body: body})
		r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
		if r.status != 200 || r.body != body || r.header.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Fatalf("%d-byte answer: status %d, %d bytes, Content-Length %s", len(body), r.status, len(r.body), r.header.Get("Content-Length"))
		}
		if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 200 || !strings.Contains(r.body, "chat.completion") {
			t.Fatalf("the request after a %d-byte answer: %d %.200s", len(body), r.status, r.body)
		}
	}
}
