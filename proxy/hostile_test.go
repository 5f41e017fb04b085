package proxy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/testkit"
	"github.com/aigw/aigw/proxy"
	"github.com/aigw/aigw/store"
)

// rawRequest writes raw bytes to the proxy and reads one response.
func rawRequest(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// Headers that name the client or are hop-by-hop never reach the upstream,
// including those the client lists in Connection and names that are not
// valid header names.
func TestIdentifyingAndHopHeadersAreNotForwarded(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin")
	raw := "POST /p/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n" +
		"Content-Type: application/json\r\nContent-Length: " + fmt.Sprint(len(chatBody)) + "\r\n" +
		"Connection: keep-alive, X-Secret-Hop\r\nX-Secret-Hop: 1\r\n" +
		"X-Originating-IP: 10.1.1.1\r\nClient-IP: 10.1.1.2\r\nX-Remote-Addr: 10.1.1.3\r\nX-Remote-IP: 10.1.1.4\r\n" +
		"X-ProxyUser-Ip: 10.1.1.5\r\nX-Forwarded: for=10.1.1.6\r\nCookie2: $Version=1\r\n" +
		"X Spaced Name: 1\r\nX-Kept: yes\r\n\r\n" + chatBody
	resp, body := rawRequest(t, e.addr, raw)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	rec, _ := e.fake.Last()
	for name := range rec.Header {
		switch strings.ToLower(name) {
		case "x-secret-hop", "x-originating-ip", "client-ip", "x-remote-addr", "x-remote-ip",
			"x-proxyuser-ip", "x-forwarded", "cookie2", "x spaced name":
			t.Errorf("the upstream received %s: %v", name, rec.Header[name])
		}
	}
	if len(rec.Header) != 4 || rec.Header.Get("X-Kept") != "yes" {
		t.Errorf("an ordinary header was lost: %v", rec.Header)
	}
}

// TRACE, CONNECT and made-up methods are refused before the key is even
// looked at; the credential never goes upstream with them.
func TestOnlyAPIMethodsAreForwarded(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin")
	for _, m := range []string{"TRACE", "CONNECT", "PROPFIND", "FOO"} {
		target := "/p/v1/models"
		if m == "CONNECT" {
			target = "/p/v1/models" // fasthttp reads the request-target as a path
		}
		resp, body := rawRequest(t, e.addr, m+" "+target+" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+key+"\r\n\r\n")
		if resp.StatusCode != 405 || !strings.Contains(body, `"code":"method_not_allowed"`) || resp.Header.Get("Allow") == "" {
			t.Errorf("%s: %d %s (Allow %q), want a 405 in OpenAI's shape", m, resp.StatusCode, body, resp.Header.Get("Allow"))
		}
	}
	if n := e.fake.Count(); n != 0 {
		t.Fatalf("the upstream saw %d requests", n)
	}
	if r := e.do("PATCH", "/p/v1/models", bearer(key), ""); strings.Contains(r.body, "aigw:") || e.fake.Count() != 1 {
		t.Fatalf("PATCH was not forwarded: %d %s", r.status, r.body)
	}
}

// Headers over the limit are the client's error: 431 in the provider's
// shape, not "upstream_error".
func TestOversizedHeadersAre431(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("anthropic", 1, "round_robin")
	raw := "POST /p/v1/messages HTTP/1.1\r\nHost: x\r\nX-Api-Key: " + key + "\r\nX-Big: " +
		strings.Repeat("a", 20<<10) + "\r\n\r\n"
	resp, body := rawRequest(t, e.addr, raw)
	if resp.StatusCode != 431 || !strings.Contains(body, `"type":"invalid_request_error"`) || !strings.Contains(body, "headers larger than") {
		t.Fatalf("got %d %s, want 431 in Anthropic's shape", resp.StatusCode, body)
	}
	// The refusal is traced under the id the client was given, without the
	// key (the headers could not be read whole).
	if tr := e.rec.wait(t, 1)[0]; tr.Status != 431 || tr.RequestID != resp.Header.Get("X-Aigw-Request-Id") || tr.KeyID != "" ||
		!strings.Contains(tr.Error, "headers larger than") {
		t.Fatalf("trace of the 431: %+v", tr)
	}
}

// fasthttp's own messages about malformed or aborted requests carry the
// request's bytes; none of them may reach the log, and a flood of them
// gives a few lines, all counted.
func TestServerLogNeverPrintsRequestBytes(t *testing.T) {
	var logs testkit.SyncBuffer
	e := newEnv(t, func(c *proxy.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	key, _ := e.setup("openai", 1, "round_robin")
	const flood = 300
	for i := range flood {
		conn, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		// A request line fasthttp cannot parse, the key right behind it.
		fmt.Fprintf(conn, "POST /p/v1/chat\x00completions%d HTTP/1.1 garbage\r\nAuthorization: Bearer %s\r\nX: \x01\r\n\r\n", i, key)
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _ = io.Copy(io.Discard, conn)
		conn.Close()
	}
	deadline := time.Now().Add(3 * time.Second)
	for e.px.ConnStats().ConnErrors < flood && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if strings.Contains(out, key) || strings.Contains(out, key[len(key)-8:]) || strings.Contains(out, "garbage") {
		t.Fatalf("the log holds request bytes:\n%.2000s", out)
	}
	if n := logs.Writes(); n == 0 || n > 3 {
		t.Fatalf("%d log lines for %d malformed requests, want 1 to 3 (rate-limited)", n, flood)
	}
	if got := e.px.ConnStats().ConnErrors; got < flood {
		t.Fatalf("%d connection errors counted for %d malformed requests", got, flood)
	}
}

// A client without a good key is answered from its headers: its body is
// not read first (here the client sends 16 KiB of an announced 30 MiB and
// still gets its 401 at once), and no body memory is taken.
func TestKeyIsCheckedBeforeTheBodyIsRead(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.MaxBodySize = 64 << 20 })
	e.setup("openai", 1, "round_robin")
	for _, auth := range []string{"", "Authorization: Bearer aigw_not_a_key_000000000000000000000\r\n"} {
		conn, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /p/v1/chat/completions HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			auth, 30<<20, strings.Repeat("x", 16<<10))
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer while the body was still coming: %v", err)
		}
		if resp.StatusCode != 401 {
			t.Fatalf("status %d, want 401", resp.StatusCode)
		}
		conn.Close()
	}
	if held := e.px.ConnStats().BodyBytesHeld; held != 0 {
		t.Fatalf("%d body bytes held after refused uploads", held)
	}
}

// The bodies held in memory are bounded all together: with room for one,
// a second large upload arriving meanwhile gets 503 with Retry-After, and
// the memory is given back when the first ends.
func TestBodyMemoryIsBounded(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.MaxBodySize = 1 << 20; c.BodyMemory = 1 << 20 })
	key, _ := e.setup("openai", 1, "round_robin")
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("a", 700<<10) + `"}]}`
	// The first upload stops half-way: its whole announced length is held.
	slow, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /p/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		key, len(body), body[:len(body)/2])
	deadline := time.Now().Add(3 * time.Second)
	for e.px.ConnStats().BodyBytesHeld == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r := e.do("POST", "/p/v1/chat/completions", bearer(key), body)
	if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "proxy.body_memory") {
		t.Fatalf("second upload while the first held the memory: %d %s", r.status, r.body)
	}
	if _, err := io.WriteString(slow, body[len(body)/2:]); err != nil {
		t.Fatal(err)
	}
	_ = slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first upload: %v %v", resp, err)
	}
	resp.Body.Close()
	if r := e.do("POST", "/p/v1/chat/completions", bearer(key), body); r.status != 200 {
		t.Fatalf("after the first ended: %d %s", r.status, r.body)
	}
	if held := e.px.ConnStats().BodyBytesHeld; held != 0 {
		t.Fatalf("%d body bytes still held", held)
	}
}

// A body over max_body_size is refused with 413, announced or chunked.
func TestBodyOverTheLimitIs413(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.MaxBodySize = 64 << 10 })
	key, _ := e.setup("openai", 1, "round_robin")
	big := strings.Repeat("a", 100<<10)
	resp, body := rawRequest(t, e.addr, fmt.Sprintf("POST /p/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s", key, len(big), big))
	if resp.StatusCode != 413 || !strings.Contains(body, "max_body_size") {
		t.Fatalf("announced: %d %s", resp.StatusCode, body)
	}
	var chunked strings.Builder
	for i := 0; i < len(big); i += 10 << 10 {
		fmt.Fprintf(&chunked, "%x\r\n%s\r\n", 10<<10, big[i:i+10<<10])
	}
	chunked.WriteString("0\r\n\r\n")
	resp, body = rawRequest(t, e.addr, "POST /p/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+key+"\r\nTransfer-Encoding: chunked\r\n\r\n"+chunked.String())
	if resp.StatusCode != 413 || !strings.Contains(body, "max_body_size") {
		t.Fatalf("chunked: %d %s", resp.StatusCode, body)
	}
	if n := e.fake.Count(); n != 0 {
		t.Fatalf("the upstream saw %d requests", n)
	}
	// A chunked body within the limit goes through whole.
	resp, body = rawRequest(t, e.addr, "POST /p/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+key+
		"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"+fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(chatBody), chatBody))
	if resp.StatusCode != 200 {
		t.Fatalf("small chunked body: %d %s", resp.StatusCode, body)
	}
	if rec, _ := e.fake.Last(); string(rec.Body) != chatBody {
		t.Fatalf("the upstream received %q", rec.Body)
	}
}

// A client that stops reading a stream loses it after the write timeout:
// its request ends, and the upstream request is cancelled.
func TestStalledReaderIsTimedOut(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.WriteTimeout = 300 * time.Millisecond; c.StreamIdle = 30 * time.Second })
	key, _ := e.setup("openai", 1, "round_robin", func(in *store.KeyInput) { in.MaxConcurrency = 1 })
	e.fake.SetChunks(60_000) // ~12 MB of events: more than the sockets' buffers hold
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "POST /p/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		key, len(chatStreamBody), chatStreamBody)
	// Read nothing. The proxy must give up on this client by itself.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := e.fake.WaitCancelled(ctx, 1); err != nil {
		t.Fatalf("the upstream request was not cancelled while the client stalled: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.px.InFlight() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := e.px.InFlight(); n != 0 {
		t.Fatalf("%d requests still in flight", n)
	}
	// The key's one concurrency slot is free again.
	e.fake.SetChunks(3)
	if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 200 {
		t.Fatalf("next request of the key: %d %s", r.status, r.body)
	}
	tr := e.rec.wait(t, 1)[0]
	if !strings.Contains(tr.Error, "client went away") {
		t.Errorf("trace error %q", tr.Error)
	}
}

// A client that waits for 100 Continue before sending its body (curl, for
// bodies over 1 MiB) is refused at once when its key is not known: no
// 100 Continue, so the body is never sent. A good key gets 100 Continue.
func TestExpectContinueIsRefusedWithoutAKnownKey(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin")
	send := func(path, auth string) *http.Response {
		conn, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
			path, auth, 30<<20)
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp
	}
	var ids []string
	for _, c := range []struct {
		path, auth string
		want       int
	}{
		{"/p/v1/chat/completions", "", 401},
		{"/p/v1/chat/completions", "Authorization: Bearer aigw_unknown_00000000000000000000000\r\n", 401},
		{"/nowhere/v1/chat/completions", "Authorization: Bearer " + key + "\r\n", 404},
		{"/p/v1/chat/completions", "Authorization: Bearer " + key + "\r\n", 100},
	} {
		resp := send(c.path, c.auth)
		if resp.StatusCode != c.want || (c.want != 100 && resp.Header.Get("X-Aigw-Request-Id") == "") {
			t.Errorf("%s with %q: first answer %d, want %d", c.path, c.auth, resp.StatusCode, c.want)
		}
		if c.want == 100 {
			continue
		}
		// Refused before the body was sent, and traced all the same.
		traces := e.rec.wait(t, len(ids)+1)
		tr := traces[len(ids)]
		ids = append(ids, tr.RequestID)
		if tr.Status != c.want || tr.RequestID != resp.Header.Get("X-Aigw-Request-Id") || tr.KeyID != "" {
			t.Errorf("%s with %q: trace %+v", c.path, c.auth, tr)
		}
	}
}
