package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aigw/aigw/proxytest"
)

// rawExchange writes payload on a new connection to addr (closing it right
// after when abort is set) and returns the answer that came back within
// 3 s: one response in full (body up to 64 KiB), or whatever bytes came.
// Write errors are ignored: a hostile request may be cut off.
func rawExchange(t *testing.T, addr, payload string, abort bool) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	_, _ = io.WriteString(c, payload)
	if abort {
		return ""
	}
	var got bytes.Buffer
	br := bufio.NewReader(io.TeeReader(io.LimitReader(c, 64<<10), &got))
	if resp, err := http.ReadResponse(br, nil); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	} else {
		_, _ = io.Copy(io.Discard, br)
	}
	return got.String()
}

// hostileTraffic sends what broken and malicious clients send, each
// carrying a real gateway key somewhere, and returns every answer.
func hostileTraffic(t *testing.T, s *server, l *mixedLoad) []string {
	t.Helper()
	addr := strings.TrimPrefix(s.proxyURL, "http://")
	key, streamKey := l.keys[kindPlain], l.keys[kindStream]
	nearKey := key[:len(key)-1] + "a" // one character off
	if strings.HasSuffix(key, "a") {
		nearKey = key[:len(key)-1] + "b"
	}
	chat := "Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(chatBody)) + "\r\n\r\n" + chatBody
	var answers []string
	for _, p := range []struct {
		payload string
		abort   bool
	}{
		// Malformed requests carrying the key.
		{"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\nContent-Length: zz\r\n\r\n", false},
		{"GET /openai/v1/models?key=" + key + " HTTP/9.9\r\nAuthorization: Bearer " + key + "\r\n\r\n", false},
		{"GET /openai/v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\nno colon here\r\n\r\n", false},
		{"GET /openai/v1/models HTTP/1.1\r\nHost: x\r\nx-api-key: " + key + "\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nzzz\r\n", false},
		{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + key + "\r\n\r\n", false},
		// Oversized headers.
		{"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\nX-Pad: " + strings.Repeat("a", 128<<10) + "\r\n" + chat, false},
		// Aborted uploads: mid-headers and mid-body.
		{"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\nX-Cut: ", true},
		{"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"model\":\"gpt-4o-mini\",\"messages\":[", true},
		{"POST /openai/v1/chat/completions?key=" + key + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{", true},
		// Bad keys: unknown, one character off a real one, another
		// provider's, and a key sent to an unknown provider.
		{"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + newSecret("aigw_") + "\r\n" + chat, false},
		{"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + nearKey + "\r\n" + chat, false},
		{"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + streamKey + "\r\n" + chat, false},
		{"POST /nowhere/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n" + chat, false},
		// The key in the query, the way a Gemini SDK may send it.
		{"POST /openai/v1/chat/completions?key=" + key + " HTTP/1.1\r\nHost: x\r\n" + chat, false},
		{"POST /openai/v1/chat/completions?key=" + nearKey + " HTTP/1.1\r\nHost: x\r\n" + chat, false},
		// Methods that would echo the request.
		{"TRACE /openai/v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n\r\n", false},
	} {
		answers = append(answers, rawExchange(t, addr, p.payload, p.abort))
	}
	// The admin API with broken tokens and requests.
	adminAddr := strings.TrimPrefix(s.adminURL, "http://")
	tok := adminToken(t, s)
	for _, p := range []string{
		"GET /api/v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok + "x\r\n\r\n",
		"GET /api/v1/keys?token=" + tok + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /api/v1/nothing HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok + "\r\n\r\n",
		"GET /api/v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok + "\r\nno colon here\r\n\r\n",
		"POST /api/v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok + "\r\nContent-Length: 9\r\n\r\n{\"rpm\":-1",
	} {
		answers = append(answers, rawExchange(t, adminAddr, p, false))
	}
	return answers
}

func adminToken(t *testing.T, s *server) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// jwtSecret is an admin token as a secret: the signature is its random part.
func jwtSecret(what, tok string) secret {
	return secret{what: what, full: tok, random: tok[strings.LastIndexByte(tok, '.')+1:]}
}

// After a run with good and hostile clients and a failing upstream, no
// credential secret, gateway key or admin token shows in serve's output,
// a trace, an error body a client received, /metrics, the status, the live
// trace stream, or any CLI listing (table or JSON). Nor does a gateway key
// or admin token reach the upstream.
func TestNoSecretLeavesAfterAHostileRun(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	s := serveWith(t, t.TempDir(), serveOptions{Env: loadEnv})
	l := setupMixed(t, s, fake)
	var created struct{ Token string }
	s.cliJSON(t, &created, "token", "create", "--scope", "traces:read", "--name", "reader")
	var secrets []secret
	for _, c := range l.creds {
		secrets = append(secrets, secret{what: "credential " + c[:len(c)-32], full: c, random: c[len(c)-32:]})
	}
	for k, v := range l.keys {
		secrets = append(secrets, secret{what: "gateway key (" + k.String() + ")", full: v, random: strings.TrimPrefix(v, "aigw_")})
	}
	secrets = append(secrets, jwtSecret("admin token", adminToken(t, s)), jwtSecret("created admin token", created.Token))

	// The fake's own error bodies do not echo the credential, so anything
	// found below is aigw's doing.
	req, _ := http.NewRequest("POST", fake.URL+"/v1/chat/completions", strings.NewReader(chatBody))
	req.Header.Set("Authorization", "Bearer "+l.faultCred)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	fakeBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || strings.Contains(string(fakeBody), l.faultCred) {
		t.Fatalf("the fake answered %d %s", resp.StatusCode, fakeBody)
	}

	// Good clients, rate-limited ones, bad keys and upstream faults.
	var rs results
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	l.run(ctx, s.proxyURL, 4, 24, crashMix, &rs)()
	tl := count(rs.list())
	checkMix(t, tl)
	answers := hostileTraffic(t, s, l)
	// Last, the upstream refuses the credential (401) and rate-limits it.
	for _, path := range []string{"/faulty/v1/responses", "/faulty/v1/models"} {
		r, err := http.NewRequest("POST", s.proxyURL+path, strings.NewReader(chatBody))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+l.keys[kindFault500])
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answers = append(answers, resp.Status+"\n"+string(b))
	}
	for _, r := range rs.list() {
		answers = append(answers, r.body)
	}
	if !strings.Contains(strings.Join(answers, "\n"), "431") {
		t.Fatalf("the oversized headers got no 431")
	}

	var traces []map[string]any
	waitFor(t, "the traces to be written", func() bool {
		s.cliJSON(t, &traces, "traces", "--limit", "10000")
		return len(traces) >= tl.validAnswered+2
	})

	// Everything that leaves aigw, by where it leaves.
	outputs := map[string]string{}
	for i, a := range answers {
		outputs["answer "+strconv.Itoa(i)] = a
	}
	var keyList []struct{ ID string }
	s.cliJSON(t, &keyList, "key", "list")
	var credList []struct{ ID string }
	s.cliJSON(t, &credList, "credential", "list")
	commands := [][]string{
		{"key", "list"}, {"credential", "list"}, {"provider", "list"}, {"token", "list"},
		{"traces", "--limit", "10000"}, {"usage"}, {"usage", "--by", "key"}, {"usage", "--by", "model"},
		{"usage", "--by", "provider"}, {"provider", "show", "faulty"},
	}
	for _, k := range keyList {
		commands = append(commands, []string{"key", "show", k.ID})
	}
	for _, c := range credList {
		commands = append(commands, []string{"credential", "show", c.ID})
	}
	for _, cmd := range commands {
		for _, format := range []string{"table", "json"} {
			out, errOut, code := s.run(t, "", append(cmd, "-o", format)...)
			if code != 0 {
				t.Fatalf("aigw %s -o %s: exit %d: %s", strings.Join(cmd, " "), format, code, errOut)
			}
			outputs["aigw "+strings.Join(cmd, " ")+" -o "+format] = out + errOut
		}
	}
	for _, path := range []string{"/metrics", "/api/v1/status", "/api/v1/traces?limit=10000"} {
		code, body := adminGet(t, s, path)
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		outputs["GET "+path] = body
	}
	outputs["live trace stream"] = liveTraces(t, s)
	// What the upstream received: credentials, of course, but never a
	// gateway key or an admin token.
	var upstream strings.Builder
	for _, r := range fake.Requests() {
		upstream.WriteString(r.Method + " " + r.Path + "?" + r.RawQuery + "\n")
		for name, v := range r.Header {
			if name != "Authorization" && name != "X-Api-Key" {
				upstream.WriteString(name + ": " + strings.Join(v, ",") + "\n")
			}
		}
		upstream.Write(r.Body)
	}
	outputs["requests the upstream received"] = upstream.String()

	if err := s.terminate(t, syscall.SIGTERM); err != nil {
		t.Fatalf("aigw serve exited with %v", err)
	}
	outputs["serve's stderr"] = s.stderr.String()
	outputs["serve's stdout"] = s.stdout.String()
	if !strings.Contains(outputs["serve's stderr"], "msg=request") {
		t.Fatalf("serve's stderr has no request log line:\n%s", outputs["serve's stderr"])
	}

	checked := 0
	for where, text := range outputs {
		checked += len(text)
		if leak := leakIn(text, secrets); leak != "" {
			t.Errorf("%s shows the %s", where, leak)
		}
	}
	t.Logf("%v; %d hostile requests; %d traces; %d places, %d bytes checked for %d secrets",
		tl, len(answers)-len(rs.list())-2, len(traces), len(outputs), checked, len(secrets))
}

// liveTraces reads the live trace stream's backlog for a second.
func liveTraces(t *testing.T, s *server) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.adminURL+"/api/v1/traces/stream?backlog=1000", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken(t, s))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != 200 || !strings.Contains(string(b), "request_id") {
		t.Fatalf("live trace stream: %d %.200s", resp.StatusCode, b)
	}
	return string(b)
}
