package proxy_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/proxy"
	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/store"
)

// Responses API state lives on the upstream account that created it. The
// fake keeps it the same way (400 previous_response_not_found, 404 for
// stored reads, from any other credential), so these tests fail the moment
// a follow-up reaches another credential of the pool.

// secretIndex is the pool position of a secret made by env.setup.
func secretIndex(t *testing.T, secret string) int {
	t.Helper()
	var i int
	if _, err := fmt.Sscanf(secret, "sk-%d-secret-value", &i); err != nil {
		t.Fatalf("secret %q is not one of setup's", secret)
	}
	return i
}

// createResponse asks for a new response (streamed or not) and returns its
// id and the secret of the credential that created it, checking that the
// client saw the answer whole.
func (e *env) createResponse(t *testing.T, key, body string, stream bool) (id, secret string) {
	t.Helper()
	if stream {
		body = strings.Replace(body, "{", `{"stream":true,`, 1)
	}
	r := e.do("POST", "/p/v1/responses", bearer(key), body)
	if r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id = responseIDOf(t, r.body, stream)
	secret, ok := e.fake.ResponseOwner(id)
	if !ok {
		t.Fatalf("the upstream holds no response %q", id)
	}
	return id, secret
}

// responseIDOf reads a response's id as a client does: from the JSON
// object, or from the stream's response.created event.
func responseIDOf(t *testing.T, body string, stream bool) string {
	t.Helper()
	var obj struct {
		ID       string `json:"id"`
		Response struct {
			ID string `json:"id"`
		} `json:"response"`
	}
	if !stream {
		if err := json.Unmarshal([]byte(body), &obj); err != nil || obj.ID == "" {
			t.Fatalf("no response id in %s", body)
		}
		return obj.ID
	}
	for line := range strings.SplitSeq(body, "\n") {
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			if json.Unmarshal([]byte(data), &obj) == nil && obj.Response.ID != "" {
				if !strings.Contains(body, `"type":"response.completed"`) {
					t.Fatalf("the stream did not reach response.completed: %s", body)
				}
				return obj.Response.ID
			}
		}
	}
	t.Fatalf("no response.created in the stream %s", body)
	return ""
}

func followUp(prev string) string {
	return `{"model":"gpt-4.1","input":"go on","previous_response_id":"` + prev + `"}`
}

const firstTurn = `{"model":"gpt-4.1","input":"write a haiku"}`

func TestResponsesFollowUpsStayOnTheCredentialThatCreatedThem(t *testing.T) {
	for _, strategy := range []string{store.StrategyRoundRobin, "cache_affinity"} {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", strategy, stream), func(t *testing.T) {
				e := newEnv(t)
				key, _ := e.setup("openai", 4, strategy)
				id, creator := e.createResponse(t, key, firstTurn, stream)
				before := e.fake.Count()
				// A chain of follow-ups, each on the previous answer (streamed
				// and not, in turn): every id the proxy passes on is remembered.
				for i := range 10 {
					next, secret := e.createResponse(t, key, followUp(id), (i%2 == 0) != stream)
					if secret != creator {
						t.Fatalf("follow-up %d went to %s, the response lives on %s", i, secret, creator)
					}
					id = next
				}
				if got := e.fake.CountBy(creator) - 1; got != 10 || e.fake.Count()-before != 10 {
					t.Fatalf("upstream saw %d requests (%d with the creator), want 10, all with it", e.fake.Count()-before, got)
				}
				// Stored-response reads and writes go there too.
				for _, req := range []struct{ method, path string }{
					{"GET", "/p/v1/responses/" + id}, {"GET", "/p/v1/responses/" + id + "/input_items"},
					{"POST", "/p/v1/responses/" + id + "/cancel"}, {"GET", "/p/v1/responses/" + id},
					{"DELETE", "/p/v1/responses/" + id},
				} {
					if r := e.do(req.method, req.path, bearer(key), ""); r.status != 200 {
						t.Fatalf("%s %s: %d %s", req.method, req.path, r.status, r.body)
					}
					if got := credentialOf(t, e.fake); got != creator {
						t.Fatalf("%s %s went to %s, the response lives on %s", req.method, req.path, got, creator)
					}
				}
				traces := e.rec.wait(t, 16)
				for i, tr := range traces[1:] {
					if tr.Affinity != "pinned" || tr.Status != 200 || tr.Retries != 0 {
						t.Fatalf("trace %d: affinity %q status %d retries %d, want pinned 200 0", i+1, tr.Affinity, tr.Status, tr.Retries)
					}
				}
				if traces[0].Affinity == "pinned" {
					t.Fatal("the first request named no response but was traced as pinned")
				}
			})
		}
	}
}

// Without pinning, the same follow-ups through round_robin reach other
// accounts, which deny the response exists: what the tests above guard.
func TestWithoutPinningFollowUpsReachOtherAccounts(t *testing.T) {
	e := newEnv(t, func(c *proxy.Config) { c.ResponsePins = -1 })
	key, _ := e.setup("openai", 4, store.StrategyRoundRobin)
	id, _ := e.createResponse(t, key, firstTurn, false)
	failed := 0
	for range 4 {
		if r := e.do("POST", "/p/v1/responses", bearer(key), followUp(id)); r.status == 400 && strings.Contains(r.body, "previous_response_not_found") {
			failed++
		}
	}
	if failed != 3 {
		t.Fatalf("%d of 4 unpinned follow-ups failed, want the 3 that reached another account", failed)
	}
}

// pinErr is aigw's OpenAI-shaped error body.
type pinErr struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    string `json:"code"`
	} `json:"error"`
}

func decodeErr(t *testing.T, r reply) pinErr {
	t.Helper()
	var pe pinErr
	if err := json.Unmarshal([]byte(r.body), &pe); err != nil || pe.Error.Message == "" {
		t.Fatalf("not an OpenAI error body: %s", r.body)
	}
	return pe
}

func TestPinnedCredentialOutOfRotationIsSaidSoWithoutAskingAnotherAccount(t *testing.T) {
	e := newEnv(t)
	key, creds := e.setup("openai", 4, store.StrategyRoundRobin)
	id, creator := e.createResponse(t, key, firstTurn, false)
	credID := creds[secretIndex(t, creator)]

	// The creator is rate limited: the follow-up that meets the 429 gets it
	// as the upstream sent it (not retried elsewhere), the next one aigw's
	// 503 with the time left, without an upstream call.
	e.fake.Program(proxytest.Rule{Credential: creator, Status: 429, RetryAfter: "30", Times: 1})
	before := e.fake.Count()
	if r := e.do("POST", "/p/v1/responses", bearer(key), followUp(id)); r.status != 429 || e.fake.Count()-before != 1 {
		t.Fatalf("follow-up meeting a 429: %d after %d upstream calls, want the upstream's 429 after 1", r.status, e.fake.Count()-before)
	}
	r := e.do("POST", "/p/v1/responses", bearer(key), followUp(id))
	ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
	pe := decodeErr(t, r)
	if r.status != 503 || ra < 28 || ra > 30 || !strings.Contains(pe.Error.Message, `response "`+id+`"`) ||
		!strings.Contains(pe.Error.Message, "out of rotation") || pe.Error.Code != "no_credential_available" {
		t.Fatalf("follow-up while its account cools down: %d Retry-After %q %+v", r.status, r.header.Get("Retry-After"), pe.Error)
	}
	if got := e.do("GET", "/p/v1/responses/"+id, bearer(key), ""); got.status != 503 {
		t.Fatalf("GET while its account cools down: %d %s", got.status, got.body)
	}

	// Disabled by the operator: 409, the message says why.
	off := false
	if _, err := e.st.UpdateCredential(credID, store.CredentialPatch{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	e.reload()
	r = e.do("POST", "/p/v1/responses", bearer(key), followUp(id))
	if pe = decodeErr(t, r); r.status != 409 || !strings.Contains(pe.Error.Message, "disabled") || pe.Error.Type != "invalid_request_error" {
		t.Fatalf("follow-up while its account is disabled: %d %+v", r.status, pe.Error)
	}

	// Taken out of the key's pool: 409 too.
	on := true
	if _, err := e.st.UpdateCredential(credID, store.CredentialPatch{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	keys, _, err := e.st.Keys(store.KeyFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var rest []string
	for _, c := range creds {
		if c != credID {
			rest = append(rest, c)
		}
	}
	if _, err := e.st.UpdateKey(keys[0].ID, store.KeyPatch{Credentials: &rest}); err != nil {
		t.Fatal(err)
	}
	e.reload()
	r = e.do("GET", "/p/v1/responses/"+id, bearer(key), "")
	if pe = decodeErr(t, r); r.status != 409 || !strings.Contains(pe.Error.Message, "outside this gateway key's credential pool") {
		t.Fatalf("GET once its account left the pool: %d %+v", r.status, pe.Error)
	}
	if n := e.fake.Count() - before; n != 1 {
		t.Fatalf("the upstream saw %d requests, want only the one that met the 429", n)
	}
	for _, tr := range e.rec.wait(t, 6)[2:] {
		if tr.Affinity != "pinned" || tr.CredentialID != credID || len(tr.Attempts) != 0 || tr.Error == "" {
			t.Fatalf("refused pinned request traced as %+v", tr)
		}
	}
	for _, s := range []string{"sk-0-secret-value", "sk-1-secret-value", "sk-2-secret-value", "sk-3-secret-value"} {
		if strings.Contains(r.body, s) || strings.Contains(r.body, s[:8]) {
			t.Fatalf("an error body shows a credential's secret: %s", r.body)
		}
	}
}

// A pinned request that meets a 5xx is retried on its own credential only.
func TestPinnedRequestIsRetriedOnlyOnItsCredential(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 4, store.StrategyRoundRobin)
	id, creator := e.createResponse(t, key, firstTurn, false)
	e.fake.Program(proxytest.Rule{Credential: creator, Status: 502, Times: 1})
	before := e.fake.CountBy(creator)
	if _, secret := e.createResponse(t, key, followUp(id), false); secret != creator {
		t.Fatalf("the retried follow-up was answered by %s, want %s", secret, creator)
	}
	if n := e.fake.CountBy(creator) - before; n != 2 {
		t.Fatalf("the creator saw %d attempts, want 2 (the 502, then the retry)", n)
	}
}

func TestResponsePinsAreBoundedAndExpire(t *testing.T) {
	t.Run("least recently used beyond the cap", func(t *testing.T) {
		e := newEnv(t, func(c *proxy.Config) { c.ResponsePins = 2 })
		key, _ := e.setup("openai", 4, store.StrategyRoundRobin)
		ids := make([]string, 3)
		for i := range ids {
			ids[i], _ = e.createResponse(t, key, firstTurn, false)
		}
		e.do("GET", "/p/v1/responses/"+ids[2], bearer(key), "") // pinned; ids[1] is now the least recent
		e.do("GET", "/p/v1/responses/"+ids[0], bearer(key), "") // forgotten: the key's own choice
		e.do("GET", "/p/v1/responses/"+ids[2], bearer(key), "")
		tr := e.rec.wait(t, 6)
		if tr[3].Affinity != "pinned" || tr[4].Affinity == "pinned" || tr[5].Affinity != "pinned" {
			t.Fatalf("affinities %q %q %q, want pinned, not pinned, pinned", tr[3].Affinity, tr[4].Affinity, tr[5].Affinity)
		}
	})
	t.Run("forgotten after the TTL", func(t *testing.T) {
		e := newEnv(t, func(c *proxy.Config) { c.ResponsePinTTL = 300 * time.Millisecond })
		key, _ := e.setup("openai", 4, store.StrategyRoundRobin)
		id, _ := e.createResponse(t, key, firstTurn, false)
		e.do("GET", "/p/v1/responses/"+id, bearer(key), "")
		time.Sleep(400 * time.Millisecond)
		e.do("GET", "/p/v1/responses/"+id, bearer(key), "")
		tr := e.rec.wait(t, 3)
		if tr[1].Affinity != "pinned" || tr[2].Affinity == "pinned" {
			t.Fatalf("affinities %q then %q, want pinned, then not once the TTL passed", tr[1].Affinity, tr[2].Affinity)
		}
	})
}

// Ids a client or an upstream makes up change nothing: huge, forged or
// strange ones are ignored, and the request goes where the key sends it.
func TestMadeUpResponseIDsAreHarmless(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 2, store.StrategyRoundRobin)
	huge := "resp_" + strings.Repeat("x", 64<<10)
	// An upstream answer with a huge id is passed on whole, and not remembered.
	e.fake.Program(proxytest.Rule{Status: 200, Times: 1, Body: `{"id":"` + huge + `","object":"response"}`})
	if r := e.do("POST", "/p/v1/responses", bearer(key), firstTurn); r.status != 200 || !strings.Contains(r.body, huge) {
		t.Fatalf("answer with a huge id: %d, %d bytes", r.status, len(r.body))
	}
	for _, prev := range []string{huge, `resp_\u0041`, "resp_../../x", "", "resp_never_seen"} {
		body := `{"model":"gpt-4.1","input":"x","previous_response_id":` + strconv.Quote(prev) + `}`
		if r := e.do("POST", "/p/v1/responses", bearer(key), body); r.status == 0 || r.status >= 500 {
			t.Fatalf("previous_response_id %.40q: %d %s", prev, r.status, r.body)
		}
	}
	for _, path := range []string{"/p/v1/responses/" + huge[:4000], "/p/v1/responses/%00", "/p/v1/responses/", "/p/v1/responsesX/a"} {
		if r := e.do("GET", path, bearer(key), ""); r.status == 0 || r.status >= 500 {
			t.Fatalf("GET %.60s: %d %s", path, r.status, r.body)
		}
	}
	for _, tr := range e.rec.wait(t, 10) {
		if tr.Affinity == "pinned" {
			t.Fatalf("a made-up id pinned a request: %+v", tr)
		}
	}
}
