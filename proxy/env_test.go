package proxy_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigw/aigw/proxy"
	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
)

// env is a real proxy on a loopback port, configured through a real store
// in t.TempDir(), in front of a real fake provider.
type env struct {
	t    testing.TB
	addr string // 127.0.0.1:PORT
	st   *store.Store
	px   *proxy.Proxy
	url  string // http://127.0.0.1:PORT
	fake *proxytest.Server
	rec  *recorder
}

// recorder keeps the traces the proxy hands over.
type recorder struct {
	mu     sync.Mutex
	traces []*store.Trace
	added  chan struct{}
}

func (r *recorder) Record(t *store.Trace) {
	r.mu.Lock()
	r.traces = append(r.traces, t)
	r.mu.Unlock()
	select {
	case r.added <- struct{}{}:
	default:
	}
}

// wait returns the first n traces, waiting up to 5 s for them (a streamed
// response is accounted when its body has been written).
func (r *recorder) wait(t testing.TB, n int) []*store.Trace {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		if len(r.traces) >= n {
			out := append([]*store.Trace(nil), r.traces...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.added:
		case <-deadline:
			t.Fatalf("waited 5s for %d traces, have %d", n, len(r.traces))
		}
	}
}

func testConfig() proxy.Config {
	return proxy.Config{
		MaxBodySize:       1 << 20,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       10 * time.Second,
		CORSOrigins:       []string{"*"},
		ConnectTimeout:    2 * time.Second,
		FirstByteTimeout:  5 * time.Second,
		StreamIdle:        5 * time.Second,
		MaxRetries:        2,
		BackoffBase:       time.Millisecond,
		BackoffMax:        5 * time.Millisecond,
		Health:            scheduler.HealthConfig{FailureThreshold: 3, FailureWindow: time.Minute, Cooldown: time.Minute, MaxCooldown: 10 * time.Minute},
		MaxTrackedKeys:    1000,
		InjectStreamUsage: true,
	}
}

func newEnv(t testing.TB, mod ...func(*proxy.Config)) *env {
	t.Helper()
	master := make([]byte, store.MasterKeySize)
	_, _ = rand.Read(master)
	st, err := store.Open(filepath.Join(t.TempDir(), "aigw.db"), master, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := testConfig()
	rec := &recorder{added: make(chan struct{}, 1)}
	cfg.Recorder = rec
	for _, m := range mod {
		m(&cfg)
	}
	px := proxy.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = px.Serve(ln) }()
	t.Cleanup(func() { _ = px.Shutdown(t.Context()) })
	fake := proxytest.NewServer()
	t.Cleanup(fake.Close)
	return &env{t: t, st: st, px: px, addr: ln.Addr().String(), url: "http://" + ln.Addr().String(), fake: fake, rec: rec}
}

// provider registers a provider pointing at the fake.
func (e *env) provider(name, typ string, mod ...func(*store.Provider)) {
	e.t.Helper()
	p := store.Provider{Name: name, Type: typ, BaseURL: e.fake.URL}
	for _, m := range mod {
		m(&p)
	}
	if _, err := e.st.CreateProvider(p); err != nil {
		e.t.Fatal(err)
	}
	e.reload()
}

// cred adds a credential and returns its id.
func (e *env) cred(provider, secret string, weight int) string {
	e.t.Helper()
	c, err := e.st.CreateCredential(store.CredentialInput{Provider: provider, Secret: secret, Weight: &weight})
	if err != nil {
		e.t.Fatal(err)
	}
	e.reload()
	return c.ID
}

// key creates a gateway key and returns its secret.
func (e *env) key(in store.KeyInput) string {
	e.t.Helper()
	_, secret, err := e.st.CreateKey(in)
	if err != nil {
		e.t.Fatal(err)
	}
	e.reload()
	return secret
}

func (e *env) reload() {
	e.t.Helper()
	d, err := e.st.Load()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.px.Load(d); err != nil {
		e.t.Fatal(err)
	}
}

// setup is the common case: one provider of typ named "p", n credentials
// "sk-0", "sk-1", …, and a key over all of them with the given strategy.
func (e *env) setup(typ string, n int, strategy string, mod ...func(*store.KeyInput)) (key string, creds []string) {
	e.t.Helper()
	e.provider("p", typ)
	for i := range n {
		creds = append(creds, e.cred("p", "sk-"+string(rune('0'+i))+"-secret-value", 1))
	}
	in := store.KeyInput{Provider: "p", Credentials: creds, Strategy: strategy}
	for _, m := range mod {
		m(&in)
	}
	return e.key(in), creds
}

var client = &http.Client{Timeout: 20 * time.Second}

type reply struct {
	status int
	header http.Header
	body   string
}

// do sends a request through the proxy and reads the whole answer.
func (e *env) do(method, path string, header map[string]string, body string) reply {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func bearer(k string) map[string]string { return map[string]string{"Authorization": "Bearer " + k} }

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
const chatStreamBody = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`

// direct sends the same request straight to the fake, for comparison.
func (e *env) direct(method, path string, header map[string]string, body string) reply {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.t.Context(), method, e.fake.URL+path, bytes.NewBufferString(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}
