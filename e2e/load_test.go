package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aigw/aigw/proxytest"
)

// A mixed load: the kinds of request a gateway sees at once, from good
// clients and bad, against a fake upstream that fails some of them.
type reqKind int

const (
	kindPlain      reqKind = iota // chat completion, JSON answer
	kindStream                    // Anthropic messages stream, paced by the fake
	kindFault500                  // the upstream answers 500
	kindFaultReset                // the upstream resets the connection
	kindLimited                   // a key with a low rpm limit: mostly 429
	kindBadKey                    // an unknown key: 401, no trace
	kindSlowBody                  // the body arrives in pieces
	kindStalled                   // a large answer the client stops reading
	kindCount
)

var kindNames = [kindCount]string{"plain", "stream", "fault500", "faultReset", "limited", "badKey", "slowBody", "stalled"}

func (k reqKind) String() string { return kindNames[k] }

// crashMix is the load of the crash tests; the soak adds slow clients and
// stalled readers.
var crashMix = []reqKind{kindPlain, kindStream, kindPlain, kindFault500, kindStream, kindFaultReset, kindLimited, kindBadKey}

// result is what one client saw of one request.
type result struct {
	kind   reqKind
	valid  bool      // sent with a valid gateway key (a trace is due once answered)
	status int       // 0: no answer (no status line came back)
	id     string    // x-aigw-request-id of the answer
	done   time.Time // when the answer was read to its end, or broke off
	body   string    // an error answer's body (at most 4 KiB)
}

// mixedLoad is a gateway provisioned for the mixed load, and the fake
// upstream behind it.
type mixedLoad struct {
	fake *proxytest.Server
	// Secrets of the credentials and the gateway keys, for the leak checks.
	creds     []string
	faultCred string
	keys      map[reqKind]string
	// StallFor is how long a stalled reader stops reading.
	StallFor time.Duration
}

// newSecret returns prefix followed by 32 random hex digits.
func newSecret(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// loadEnv is the environment for `aigw serve` under the mixed load: the
// faulty credential must keep reaching the upstream rather than cool down.
var loadEnv = []string{"AIGW_HEALTH_FAILURE_THRESHOLD=1000000"}

// setupMixed provisions three providers on s, all pointing at fake:
// "openai" (the plain, limited, slow and stalled keys on one credential),
// "claude" (streams, each event 15 ms apart) and "faulty" (whose credential
// the fake answers with 500 for chats and a reset for embeddings).
func setupMixed(t *testing.T, s *server, fake *proxytest.Server) *mixedLoad {
	t.Helper()
	l := &mixedLoad{fake: fake, keys: map[reqKind]string{}, StallFor: 3 * time.Second}
	addCred := func(provider, secret string) string {
		var c struct{ ID string }
		out := s.cli(t, secret+"\n", "credential", "add", "--provider", provider, "--secret-stdin", "--name", provider+"-cred", "-o", "json")
		if err := json.Unmarshal([]byte(out), &c); err != nil {
			t.Fatal(err)
		}
		l.creds = append(l.creds, secret)
		return c.ID
	}
	addKey := func(provider, cred string, extra ...string) string {
		var k struct{ Secret string }
		s.cliJSON(t, &k, append([]string{"key", "create", "--provider", provider, "--credentials", cred}, extra...)...)
		return k.Secret
	}
	s.cli(t, "", "provider", "add", "openai", "--type", "openai", "--base-url", fake.URL)
	s.cli(t, "", "provider", "add", "claude", "--type", "anthropic", "--base-url", fake.URL)
	s.cli(t, "", "provider", "add", "faulty", "--type", "openai", "--base-url", fake.URL)
	plainCred, streamCred, faultCred := newSecret("sk-SECRETCANARY-plain-"), newSecret("sk-SECRETCANARY-stream-"), newSecret("sk-SECRETCANARY-fault-")
	openaiID := addCred("openai", plainCred)
	claudeID := addCred("claude", streamCred)
	faultyID := addCred("faulty", faultCred)
	l.faultCred = faultCred
	l.keys[kindPlain] = addKey("openai", openaiID, "--name", "plain")
	l.keys[kindSlowBody] = l.keys[kindPlain]
	l.keys[kindStalled] = addKey("openai", openaiID, "--name", "stalled")
	l.keys[kindLimited] = addKey("openai", openaiID, "--name", "limited", "--rpm", "10")
	l.keys[kindStream] = addKey("claude", claudeID, "--name", "stream")
	l.keys[kindFault500] = addKey("faulty", faultyID, "--name", "fault", "--max-retries", "0")
	l.keys[kindFaultReset] = l.keys[kindFault500]
	// Models and responses of the faulty credential are not part of the
	// load: the leak test asks for them last (a 401 takes the credential
	// out of rotation).
	fake.Program(
		proxytest.Rule{Credential: streamCred, ChunkDelay: 15 * time.Millisecond},
		proxytest.Rule{Credential: faultCred, Path: "/v1/models", Status: 401},
		proxytest.Rule{Credential: faultCred, Path: "/v1/responses", Status: 429, RetryAfter: "1"},
		proxytest.Rule{Credential: faultCred, Path: "/v1/embeddings", Reset: true},
		proxytest.Rule{Credential: faultCred, Status: 500},
	)
	return l
}

// keySecrets are the secrets of the load's gateway keys.
func (l *mixedLoad) keySecrets() []string {
	var out []string
	for _, k := range l.keys {
		out = append(out, k)
	}
	return out
}

// loadClient is an HTTP client for the load: keep-alive connections, no
// retries, and every request bounded in time.
func loadClient(workers int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: workers,
			DisableCompression:  true,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		},
	}
}

// stallClient reads through a socket with a 4 KiB receive buffer, so that a
// reader that stops really pushes back on the gateway.
func stallClient() *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		_ = c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return err
	}}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

const (
	chatBody   = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	streamBody = `{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	embedBody  = `{"model":"text-embedding-3-small","input":"hi"}`
)

// stalledBody asks for about 6.5 MB of embeddings: more than the socket
// buffers on both sides hold.
var stalledBody = `{"model":"text-embedding-3-small","encoding_format":"base64","dimensions":4096,"input":[` +
	strings.TrimSuffix(strings.Repeat(`"x",`, 300), ",") + `]}`

// slowReader hands out its bytes in pieces, pausing between them.
type slowReader struct {
	b     []byte
	piece int
	pause time.Duration
	n     int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if r.n > 0 {
		time.Sleep(r.pause)
	}
	r.n++
	n := copy(p[:min(len(p), r.piece)], r.b)
	r.b = r.b[n:]
	return n, nil
}

// do sends one request of kind k to the proxy at base and reports what
// the client saw.
func (l *mixedLoad) do(ctx context.Context, c *http.Client, base string, k reqKind) result {
	r := result{kind: k, valid: k != kindBadKey}
	var path, body string
	var reader io.Reader
	switch k {
	case kindPlain, kindLimited, kindBadKey, kindSlowBody:
		path, body = "/openai/v1/chat/completions", chatBody
	case kindStream:
		path, body = "/claude/v1/messages", streamBody
	case kindFault500:
		path, body = "/faulty/v1/chat/completions", chatBody
	case kindFaultReset:
		path, body = "/faulty/v1/embeddings", embedBody
	case kindStalled:
		path, body = "/openai/v1/embeddings", stalledBody
	}
	reader = strings.NewReader(body)
	if k == kindSlowBody {
		reader = &slowReader{b: []byte(body), piece: 16, pause: 50 * time.Millisecond}
	}
	req, err := http.NewRequestWithContext(ctx, "POST", base+path, reader)
	if err != nil {
		panic(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	key := l.keys[k]
	if k == kindBadKey {
		key = newSecret("aigw_")
	}
	if k == kindStream {
		req.Header.Set("x-api-key", key)
		req.Header.Set("anthropic-version", "2023-06-01")
	} else {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.Do(req)
	if err != nil {
		r.done = time.Now()
		return r
	}
	defer resp.Body.Close()
	r.status, r.id = resp.StatusCode, resp.Header.Get("X-Aigw-Request-Id")
	if k == kindStalled && resp.StatusCode == 200 {
		var first [1024]byte
		_, _ = io.ReadFull(resp.Body, first[:])
		time.Sleep(l.StallFor)
	}
	if resp.StatusCode >= 400 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		r.body = string(b)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	r.done = time.Now()
	return r
}

// results collects what the clients saw.
type results struct {
	mu  sync.Mutex
	all []result
}

func (rs *results) add(r result) {
	rs.mu.Lock()
	rs.all = append(rs.all, r)
	rs.mu.Unlock()
}

func (rs *results) list() []result {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]result(nil), rs.all...)
}

// run drives the load from workers goroutines until ctx ends or each sent
// perWorker requests (0: no bound but ctx), cycling through mix. Requests
// in flight when ctx ends run to their end (each is bounded by the
// client's timeout). The returned function waits for the workers.
func (l *mixedLoad) run(ctx context.Context, base string, workers, perWorker int, mix []reqKind, rs *results) (wait func()) {
	c, stall := loadClient(workers), stallClient()
	reqCtx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; (perWorker == 0 || i < perWorker) && ctx.Err() == nil; i++ {
				k := mix[(w+i)%len(mix)]
				cl := c
				if k == kindStalled {
					cl = stall
				}
				r := l.do(reqCtx, cl, base, k)
				rs.add(r)
				if r.status == 0 {
					time.Sleep(10 * time.Millisecond) // the gateway is gone: do not spin
				}
			}
		}()
	}
	return func() {
		wg.Wait()
		c.CloseIdleConnections()
	}
}

// tally counts results.
type tally struct {
	sent, answered, validAnswered, noAnswer int
	byStatus                                map[int]int
}

func count(rs []result) tally {
	t := tally{sent: len(rs), byStatus: map[int]int{}}
	for _, r := range rs {
		t.byStatus[r.status]++
		if r.status == 0 {
			t.noAnswer++
			continue
		}
		t.answered++
		if r.valid {
			t.validAnswered++
		}
	}
	return t
}

func (t tally) String() string {
	var b strings.Builder
	b.WriteString("sent " + strconv.Itoa(t.sent) + ", answered " + strconv.Itoa(t.answered) +
		" (valid key " + strconv.Itoa(t.validAnswered) + "), no answer " + strconv.Itoa(t.noAnswer) + "; by status:")
	for _, code := range []int{200, 401, 429, 500, 502, 503, 504, 0} {
		if n := t.byStatus[code]; n > 0 {
			b.WriteString(" " + strconv.Itoa(code) + "×" + strconv.Itoa(n))
		}
	}
	return b.String()
}

// tracedIDs pages through every stored trace with the admin API and
// returns their request ids.
func tracedIDs(t *testing.T, s *server) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	cursor := ""
	for range 1000 {
		code, body := adminGet(t, s, "/api/v1/traces?limit=10000&cursor="+cursor)
		if code != 200 {
			t.Fatalf("GET /api/v1/traces: %d %s", code, body)
		}
		var page struct {
			Traces []struct {
				RequestID string `json:"request_id"`
			} `json:"traces"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		for _, tr := range page.Traces {
			ids[tr.RequestID] = true
		}
		if page.NextCursor == "" {
			return ids
		}
		cursor = page.NextCursor
	}
	t.Fatal("more than 1000 pages of traces")
	return nil
}

// cliTracedIDs reads the request ids of the stored traces with
// `aigw traces -o json`, as a user would (at most 10,000).
func cliTracedIDs(t *testing.T, s *server) map[string]bool {
	t.Helper()
	var traces []struct {
		RequestID string `json:"request_id"`
	}
	s.cliJSON(t, &traces, "traces", "--limit", "10000")
	if len(traces) == 10000 {
		t.Fatal("10,000 traces: the load is too big for one `aigw traces` page")
	}
	ids := make(map[string]bool, len(traces))
	for _, tr := range traces {
		ids[tr.RequestID] = true
	}
	return ids
}

// terminate sends sig to serve and waits for it to exit; it returns the
// exit error (nil for a clean exit).
func (s *server) terminate(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	_ = s.cmd.Process.Signal(sig)
	select {
	case err := <-s.exited:
		return err
	case <-time.After(40 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Fatalf("aigw serve did not exit within 40s of %v", sig)
		return nil
	}
}

// secret is something that must never leave aigw: its whole text, and
// the random part of which no 12-character piece may show either (a
// preview such as "aigw_…abcd" shows less).
type secret struct {
	what, full, random string
}

// leakIn returns a description of the first secret found in text, or "".
func leakIn(text string, secrets []secret) string {
	for _, s := range secrets {
		if strings.Contains(text, s.full) {
			return s.what + " (whole)"
		}
		for i := 0; i+12 <= len(s.random); i++ {
			if strings.Contains(text, s.random[i:i+12]) {
				return s.what + " (piece " + strconv.Quote(s.random[i:i+12]) + ")"
			}
		}
	}
	return ""
}

// pollUntil polls until fn's result satisfies ok or d passed; it returns
// the last value.
func pollUntil[T any](d time.Duration, fn func() T, ok func(T) bool) T {
	deadline := time.Now().Add(d)
	v := fn()
	for !ok(v) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		v = fn()
	}
	return v
}
