package admin_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The admin API checks a key's model allow-list itself (the CLI is not
// its only client): a bad pattern is a 400 naming it, nothing stored.
func TestKeyModelsThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	for _, c := range []struct{ body, want string }{
		{`{"models":["gpt-5","gpt-?"]}`, `invalid models: "gpt-?": "?" is not allowed (the only wildcard is *)`},
		{`{"models":[""]}`, "invalid models: item 1 is empty"},
		{`{"models":["a\u0000b"]}`, `invalid models: "a\x00b": a model name is printable ASCII without spaces`},
		{`{"models":"gpt-5"}`, "models"},
	} {
		for _, req := range [][2]string{
			{http.MethodPatch, "/api/v1/keys/" + f.key.ID},
			{http.MethodPost, "/api/v1/keys"},
		} {
			body := c.body
			if req[0] == http.MethodPost {
				body = `{"provider":"openai","credentials":["` + f.cred.ID + `"],` + body[1:]
			}
			before, reloads := e.snapshot(), e.reloads.Load()
			r := e.do(req[0], req[1], e.adminToken, body)
			msg, field := r.errorBody(t)
			if r.status != http.StatusBadRequest || field != "models" || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Errorf("%s %s: %d %q field %q; want 400 naming %s", req[0], body, r.status, msg, field, c.want)
			}
			if e.snapshot() != before || e.reloads.Load() != reloads {
				t.Errorf("%s %s: a refused request changed the keys", req[0], body)
			}
		}
	}

	var k struct {
		Models []string `json:"models"`
	}
	r := e.do(http.MethodPatch, "/api/v1/keys/"+f.key.ID, e.adminToken, `{"models":["gpt-5","claude-*"]}`)
	if err := json.Unmarshal(r.body, &k); r.status != 200 || err != nil || !slices.Equal(k.Models, []string{"gpt-5", "claude-*"}) {
		t.Fatalf("set: %d %s", r.status, r.body)
	}
	r = e.do(http.MethodPatch, "/api/v1/keys/"+f.key.ID, e.adminToken, `{"models":[]}`)
	if r.status != 200 || !strings.Contains(string(r.body), `"models": []`) {
		t.Fatalf("clear: %d %s", r.status, r.body)
	}
}
