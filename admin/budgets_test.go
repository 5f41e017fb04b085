package admin_test

import (
	"strings"
	"testing"
)

// Bad budgets over the API: 400 naming the field, one line, nothing stored.
// (JSON has no NaN or Inf: such a body is not JSON, also a 400.)
func TestBadBudgetsAre400(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	tok := e.token("admin")
	before := e.snapshot()
	for _, tc := range []struct {
		method, path, body, field string
	}{
		{"POST", "/api/v1/keys", `{"provider":"openai","credentials":["` + f.cred.ID + `"],"monthly_cost":-1}`, "monthly_cost"},
		{"POST", "/api/v1/keys", `{"provider":"openai","credentials":["` + f.cred.ID + `"],"total_cost":1e10}`, "total_cost"},
		{"POST", "/api/v1/keys", `{"provider":"openai","credentials":["` + f.cred.ID + `"],"monthly_tokens":-5}`, "monthly_tokens"},
		{"POST", "/api/v1/keys", `{"provider":"openai","credentials":["` + f.cred.ID + `"],"monthly_cost":5,"unpriced":"maybe"}`, "unpriced"},
		{"PATCH", "/api/v1/keys/" + f.key.ID, `{"monthly_cost":-0.5}`, "monthly_cost"},
		{"PATCH", "/api/v1/keys/" + f.key.ID, `{"monthly_tokens":-1}`, "monthly_tokens"},
		{"PATCH", "/api/v1/providers/openai", `{"monthly_cost":-1}`, "monthly_cost"},
		{"POST", "/api/v1/providers", `{"name":"x","type":"openai","base_url":"https://x.example","monthly_cost":-1}`, "monthly_cost"},
		{"PATCH", "/api/v1/credentials/" + f.cred.ID, `{"monthly_cost":-1}`, "monthly_cost"},
		{"POST", "/api/v1/credentials", `{"provider":"openai","secret":"sk-0123456789abcdef","monthly_cost":-2}`, "monthly_cost"},
		{"POST", "/api/v1/keys", `{"provider":"openai","credentials":["` + f.cred.ID + `"],"monthly_cost":NaN}`, ""},
	} {
		r := e.do(tc.method, tc.path, tok, tc.body)
		msg, field := r.errorBody(t)
		if r.status != 400 || field != tc.field || strings.Contains(msg, "\n") || (tc.field != "" && !strings.Contains(msg, tc.field)) {
			t.Errorf("%s %s %s: %d field %q %q", tc.method, tc.path, tc.body, r.status, field, msg)
		}
	}
	if after := e.snapshot(); after != before {
		t.Errorf("a refused request stored something:\nbefore %s\nafter  %s", before, after)
	}
	// And a good one is stored and shown.
	r := e.do("PATCH", "/api/v1/keys/"+f.key.ID, tok, `{"monthly_cost":50,"monthly_tokens":1000000,"total_cost":500,"unpriced":"deny"}`)
	if r.status != 200 || !strings.Contains(string(r.body), `"monthly_cost": 50`) || !strings.Contains(string(r.body), `"unpriced": "deny"`) {
		t.Errorf("good budgets: %d %s", r.status, r.body)
	}
}
