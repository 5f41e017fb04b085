package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/store"
)

// Demo names: a provider backed by the loopback fake, one credential, one key.
const (
	DemoProvider   = "demo"
	demoName       = "demo"
	demoCredential = "sk-demo-0000000000000000"
)

// DemoInfo is what --demo set up.
type DemoInfo struct {
	UpstreamURL string
	KeySecret   string
	KeyID       string
}

// startDemo starts the fake provider on loopback and registers it as
// provider "demo" with a credential and a fresh key (the previous demo key
// is deleted: its secret was only ever printed).
func startDemo(_ context.Context, st *store.Store, refs store.KeyRefs, reload func() error, proxyAddr, adminAddr net.Addr, out io.Writer) (*DemoInfo, func(), error) {
	fake, err := proxytest.Start("127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*DemoInfo, func(), error) {
		fake.Close()
		return nil, nil, err
	}
	if _, err := st.Provider(DemoProvider); errors.Is(err, store.ErrNotFound) {
		_, err = st.CreateProvider(store.Provider{Name: DemoProvider, Type: store.TypeOpenAI, BaseURL: fake.URL})
		if err != nil {
			return fail(err)
		}
	} else if err != nil {
		return fail(err)
	} else {
		url := fake.URL
		if _, err := st.UpdateProvider(DemoProvider, store.ProviderPatch{BaseURL: &url}); err != nil {
			return fail(err)
		}
	}
	creds, _, err := st.Credentials(store.CredentialFilter{Provider: DemoProvider, NamePrefix: demoName, Limit: store.MaxPageLimit})
	if err != nil {
		return fail(err)
	}
	var credID string
	for _, c := range creds {
		if c.Name == demoName {
			credID = c.ID
		}
	}
	if credID == "" {
		c, err := st.CreateCredential(store.CredentialInput{Provider: DemoProvider, Name: demoName, Secret: demoCredential})
		if err != nil {
			return fail(err)
		}
		credID = c.ID
	}
	// The demo key of an earlier start is kept (its traces and usage stay
	// under it) with a new secret, since the old one was shown only once.
	// By name, the keys named exactly so come first.
	keys, _, err := st.KeysFrom(store.KeyFilter{Provider: DemoProvider, NamePrefix: demoName, Status: store.KeyActive}, refs)
	if err != nil {
		return fail(err)
	}
	var k store.Key
	var secret string
	for _, old := range keys {
		if old.Provider == DemoProvider && old.Name == demoName && old.Status == store.KeyActive {
			if k, secret, err = st.RotateKeySecret(old.ID); err != nil {
				return fail(err)
			}
			break
		}
	}
	if secret == "" {
		if k, secret, err = st.CreateKey(store.KeyInput{Provider: DemoProvider, Name: demoName, Credentials: []string{credID}}); err != nil {
			return fail(err)
		}
	}
	if err := reload(); err != nil {
		return fail(err)
	}
	host := "127.0.0.1"
	if ta, ok := proxyAddr.(*net.TCPAddr); ok && !ta.IP.IsUnspecified() {
		host = ta.IP.String()
	}
	port := 8080
	if ta, ok := proxyAddr.(*net.TCPAddr); ok {
		port = ta.Port
	}
	base := fmt.Sprintf("http://%s/%s", net.JoinHostPort(host, fmt.Sprint(port)), DemoProvider)
	fmt.Fprintf(out, `
aigw demo: provider %q forwards to a fake OpenAI-style upstream at %s (no internet needed).
Demo gateway key (shown once): %s

Try it:
  curl -s %s/v1/chat/completions \
    -H "Authorization: Bearer %s" -H "Content-Type: application/json" \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}'

Or point an OpenAI SDK at base URL %s/v1 with that key.
In another terminal: aigw tui (or aigw key list); the admin API is at http://%s.

`, DemoProvider, fake.URL, secret, base, secret, base, adminAddr)
	return &DemoInfo{UpstreamURL: fake.URL, KeySecret: secret, KeyID: k.ID}, fake.Close, nil
}
