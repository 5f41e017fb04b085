package proxy_test

import (
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/store"
)

// An https upstream signed by a private CA works when the provider names
// that CA, and is refused (502, nothing leaks) when it does not.
func TestPrivateTLSUpstreamWithCAFile(t *testing.T) {
	fake := proxytest.NewUpstream()
	defer fake.Close()
	srv := httptest.NewUnstartedServer(fake)
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.provider("private", "openai", func(p *store.Provider) { p.BaseURL = srv.URL; p.CAFile = caFile })
	e.provider("untrusted", "openai", func(p *store.Provider) { p.BaseURL = srv.URL })
	c1 := e.cred("private", "sk-private-credential", 1)
	c2 := e.cred("untrusted", "sk-untrusted-credential", 1)
	k1 := e.key(store.KeyInput{Provider: "private", Credentials: []string{c1}})
	k2 := e.key(store.KeyInput{Provider: "untrusted", Credentials: []string{c2}})

	if r := e.do("POST", "/private/v1/chat/completions", bearer(k1), chatBody); r.status != 200 {
		t.Fatalf("TLS upstream with its CA: %d %s", r.status, r.body)
	}
	if n := fake.CountBy("sk-private-credential"); n != 1 {
		t.Fatalf("upstream saw %d requests", n)
	}
	r := e.do("POST", "/untrusted/v1/chat/completions", bearer(k2), chatBody)
	if r.status != 502 || !strings.Contains(r.body, "certificate") {
		t.Fatalf("TLS upstream with an unknown CA: %d %s", r.status, r.body)
	}
	if n := fake.CountBy("sk-untrusted-credential"); n != 0 {
		t.Fatal("a request went to an upstream whose certificate was not trusted")
	}
}
