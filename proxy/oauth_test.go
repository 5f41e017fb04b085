package proxy_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/oauth"
	"github.com/aigw/aigw/proxy"
	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/store"
)

const (
	expiredToken = "at-expired-0123456789abcdef"
	freshToken   = "at-fresh-0123456789abcdef"
	oauthRefresh = "rt-0123456789abcdef-refresh"
)

// oauthEnv is env with the real refresher behind the proxy, a real token
// endpoint on loopback that counts its calls, and an upstream that refuses
// the expired access token (401) and serves any other.
type oauthEnv struct {
	*env
	tokenCalls atomic.Int32
	token      *httptest.Server
	fail       atomic.Bool // the token endpoint refuses the refresh token
	hookCalls  atomic.Int32
}

func newOAuthEnv(t *testing.T) *oauthEnv {
	t.Helper()
	o := &oauthEnv{}
	var r *oauth.Refresher
	o.env = newEnv(t, func(c *proxy.Config) {
		c.RefreshCredential = func(ctx context.Context, id string, refused [sha256.Size]byte) error {
			o.hookCalls.Add(1)
			return r.Rejected(ctx, id, refused)
		}
	})
	o.token = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		o.tokenCalls.Add(1)
		time.Sleep(100 * time.Millisecond) // the burst piles up behind it
		w.Header().Set("Content-Type", "application/json")
		if o.fail.Load() || req.FormValue("refresh_token") != oauthRefresh {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"refresh token revoked"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":3600}`, freshToken)
	}))
	t.Cleanup(o.token.Close)
	r = &oauth.Refresher{Store: o.st, Timeout: 2 * time.Second, Reload: func(id string) error {
		// as the gateway does: only the refreshed credential is loaded again
		c, broken, err := o.st.LoadCredential(id)
		if err != nil {
			return err
		}
		o.px.LoadCredential(id, c, broken)
		return nil
	}}
	t.Cleanup(r.Close)
	// The upstream refuses the expired token, slowly enough for a burst to
	// be refused together; any other token is served.
	o.fake.Program(proxytest.Rule{Credential: expiredToken, Status: 401, HeaderDelay: 50 * time.Millisecond})
	return o
}

// oauthCred adds an OAuth credential whose access token has expired.
func (o *oauthEnv) oauthCred(provider string) string {
	o.t.Helper()
	exp := time.Now().Add(-time.Minute)
	c, err := o.st.CreateCredential(store.CredentialInput{Provider: provider, Secret: expiredToken,
		OAuthTokenURL: o.token.URL + "/oauth/token", OAuthRefreshToken: oauthRefresh, ExpiresAt: &exp})
	if err != nil {
		o.t.Fatal(err)
	}
	o.reload()
	return c.ID
}

func zero() *int { z := 0; return &z }

// A single-credential pool and a key without retries: the request refused
// for the expired token succeeds after the refresh, on the same credential.
func TestExpiredOAuthTokenIsRefreshedAndTheRequestSucceeds(t *testing.T) {
	o := newOAuthEnv(t)
	o.provider("p", "openai")
	id := o.oauthCred("p")
	key := o.key(store.KeyInput{Provider: "p", Credentials: []string{id}, MaxRetries: zero()})

	for _, body := range []string{chatBody, chatStreamBody} {
		r := o.do("POST", "/p/v1/chat/completions", bearer(key), body)
		if r.status != 200 {
			t.Fatalf("client saw %d: %s", r.status, r.body)
		}
	}
	if n := o.tokenCalls.Load(); n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}
	tr := o.rec.wait(t, 2)[0]
	if len(tr.Attempts) != 2 || tr.Attempts[0].Status != 401 || tr.Attempts[0].CredentialID != id ||
		!strings.Contains(tr.Attempts[0].Error, "access token refreshed") || tr.Attempts[1].Status != 200 || tr.Attempts[1].CredentialID != id {
		t.Errorf("trace attempts %+v", tr.Attempts)
	}
	if tr.Status != 200 || tr.CredentialID != id || tr.PromptTokens == 0 {
		t.Errorf("trace %+v", tr)
	}
	if got := credState(o.env, id); got != "healthy" {
		t.Errorf("credential is %s after a successful refresh", got)
	}
	c, err := o.st.OAuthCredential(id)
	if err != nil || c.Secret != freshToken || c.OAuth.RefreshState != store.RefreshOK || c.OAuth.ExpiresAt == nil {
		t.Errorf("stored credential %+v %v", c.OAuth, err)
	}
	if n := o.fake.CountBy(freshToken); n != 2 {
		t.Errorf("the upstream saw the new token %d times, want 2", n)
	}
}

// Fifty requests hitting the expiry together: one token request, fifty
// answers of 200.
func TestOAuthExpiryBurstMakesOneTokenRequest(t *testing.T) {
	o := newOAuthEnv(t)
	o.provider("p", "openai")
	id := o.oauthCred("p")
	key := o.key(store.KeyInput{Provider: "p", Credentials: []string{id}, MaxRetries: zero()})

	const n = 50
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(t.Context(), "POST", o.url+"/p/v1/chat/completions", strings.NewReader(chatBody))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	ok := 0
	for s := range statuses {
		if s == 200 {
			ok++
		}
	}
	if ok != n {
		t.Fatalf("%d of %d requests succeeded", ok, n)
	}
	if got := o.tokenCalls.Load(); got != 1 {
		t.Fatalf("%d token requests for one expiry, want exactly 1", got)
	}
	refused := o.fake.CountBy(expiredToken)
	if refused < 2 {
		t.Fatalf("only %d requests met the expired token: no burst was tested", refused)
	}
	if got := o.fake.CountBy(freshToken); got != n {
		t.Errorf("the upstream served %d requests with the new token, want %d", got, n)
	}
	if got := credState(o.env, id); got != "healthy" {
		t.Errorf("credential is %s", got)
	}
	t.Logf("%d of %d requests were refused with the expired token and sent again", refused, n)
}

// A refresh that fails makes the credential invalid with the reason; the
// client gets the generic 502, and no secret.
func TestFailedOAuthRefreshMakesTheCredentialInvalid(t *testing.T) {
	o := newOAuthEnv(t)
	o.fail.Store(true)
	o.provider("p", "openai")
	id := o.oauthCred("p")
	key := o.key(store.KeyInput{Provider: "p", Credentials: []string{id}})

	r := o.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	if r.status != 502 || !strings.Contains(r.body, "the upstream refused every credential tried (401)") {
		t.Fatalf("client saw %d: %s", r.status, r.body)
	}
	for _, secret := range []string{expiredToken, oauthRefresh, "invalid_grant", o.token.URL} {
		if strings.Contains(r.body, secret) {
			t.Errorf("the client's answer shows %q: %s", secret, r.body)
		}
	}
	st := o.px.Health().Status(id)
	if st.State != "invalid" || !strings.Contains(st.LastError, "refreshing the access token failed") || !strings.Contains(st.LastError, "invalid_grant") {
		t.Errorf("credential state %s, last error %q", st.State, st.LastError)
	}
	c, err := o.st.OAuthCredential(id)
	if err != nil || c.OAuth.RefreshState != store.RefreshInvalidGrant || c.Secret != expiredToken {
		t.Errorf("stored %+v %v", c.OAuth, err)
	}
	tr := o.rec.wait(t, 1)[0]
	if len(tr.Attempts) != 1 || !strings.Contains(tr.Attempts[0].Error, "invalid_grant") {
		t.Errorf("trace attempts %+v", tr.Attempts)
	}
	if n := o.tokenCalls.Load(); n != 1 {
		t.Errorf("%d token requests", n)
	}
}

// In a pool, a credential whose refresh fails is left for the next one.
func TestFailedOAuthRefreshMovesOnInThePool(t *testing.T) {
	o := newOAuthEnv(t)
	o.fail.Store(true)
	o.provider("p", "openai")
	id := o.oauthCred("p")
	other := o.cred("p", "sk-plain-api-key-0000000000", 1)
	key := o.key(store.KeyInput{Provider: "p", Credentials: []string{id, other}, Strategy: "round_robin"})
	for range 2 { // round robin: one of the two starts on the OAuth credential
		if r := o.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 200 {
			t.Fatalf("client saw %d: %s", r.status, r.body)
		}
	}
	var moved bool
	for _, tr := range o.rec.wait(t, 2) {
		a := tr.Attempts
		if len(a) == 2 && a[0].CredentialID == id && strings.Contains(a[0].Error, "refreshing the access token failed") &&
			a[1].CredentialID == other && a[1].Status == 200 {
			moved = true
		}
	}
	if !moved {
		t.Error("no request moved from the refused OAuth credential to the API key")
	}
}

// API-key credentials refused by the upstream are not sent to a refresh.
func TestRefusedAPIKeyIsNotRefreshed(t *testing.T) {
	o := newOAuthEnv(t)
	key, creds := o.setup("openai", 1, "round_robin")
	o.fake.Program(proxytest.Rule{Status: 401})
	if r := o.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 502 {
		t.Fatalf("client saw %d", r.status)
	}
	if n := o.hookCalls.Load(); n != 0 {
		t.Errorf("an API key was handed to the refresher %d times", n)
	}
	if got := credState(o.env, creds[0]); got != "invalid" {
		t.Errorf("refused API key is %s", got)
	}
}
