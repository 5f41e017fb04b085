package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
)

// keysThrough pages through q's keys over the API, failing on a key seen twice.
func keysThrough(t *testing.T, c *admin.Client, q admin.KeyQuery) []admin.Key {
	t.Helper()
	var out []admin.Key
	seen := map[string]bool{}
	err := c.EachKeyPage(t.Context(), q, func(page []admin.Key) error {
		for _, k := range page {
			if seen[k.ID] {
				return fmt.Errorf("key %s on two pages", k.ID)
			}
			seen[k.ID] = true
		}
		out = append(out, page...)
		return nil
	})
	if err != nil {
		t.Fatalf("pages of %+v: %v", q, err)
	}
	return out
}

func TestKeyPagesOverTheAPI(t *testing.T) {
	e := newEnv(t)
	f := e.fixture() // one key, "app"
	c := e.client
	if _, err := c.CreateProvider(t.Context(), admin.Provider{Name: "anthropic", Type: admin.TypeAnthropic, BaseURL: "https://api.anthropic.com"}); err != nil {
		t.Fatal(err)
	}
	ant, err := c.CreateCredential(t.Context(), admin.CredentialInput{Provider: "anthropic", Name: "ant", Secret: "sk-ant-pagestest-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	created := []string{f.key.ID}
	revoked := map[string]bool{}
	for i := range 260 {
		in := admin.KeyInput{Provider: "openai", Credentials: []string{f.cred.ID}, Name: fmt.Sprintf("svc-%03d", i)}
		if i%4 == 0 {
			in = admin.KeyInput{Provider: "anthropic", Credentials: []string{ant.ID}, Name: fmt.Sprintf("ci-%03d", i)}
		}
		k, err := c.CreateKey(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, k.ID)
		if i%10 == 3 {
			if _, err := c.RevokeKey(t.Context(), k.ID); err != nil {
				t.Fatal(err)
			}
			revoked[k.ID] = true
		}
	}

	// The default answer is one page of 100, oldest first.
	first, err := c.Keys(t.Context(), admin.KeyQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Keys) != admin.DefaultPageLimit || first.NextCursor == "" || first.Keys[0].ID != f.key.ID {
		t.Fatalf("the first page holds %d keys (first %s), next %q; want %d from %s and a cursor",
			len(first.Keys), first.Keys[0].ID, first.NextCursor, admin.DefaultPageLimit, f.key.ID)
	}
	// Pages of any size concatenate to every key once, oldest first.
	for _, limit := range []int{1, 7, 100, 261, 1000} {
		got := keysThrough(t, c, admin.KeyQuery{Limit: limit})
		ids := make([]string, len(got))
		for i, k := range got {
			ids[i] = k.ID
		}
		if !slices.Equal(ids, created) {
			t.Errorf("pages of %d list %d keys; want the %d created, in creation order", limit, len(ids), len(created))
		}
	}
	// Filters.
	check := func(q admin.KeyQuery, want func(admin.Key) bool, n int) {
		t.Helper()
		got := keysThrough(t, c, q)
		for _, k := range got {
			if !want(k) {
				t.Errorf("%+v lists %s (%s, %s, %s)", q, k.ID, k.Provider, k.Name, k.Status)
			}
		}
		if len(got) != n {
			t.Errorf("%+v lists %d keys; want %d", q, len(got), n)
		}
	}
	check(admin.KeyQuery{Provider: "anthropic", Limit: 9}, func(k admin.Key) bool { return k.Provider == "anthropic" }, 65)
	check(admin.KeyQuery{Name: "svc-1", Limit: 9}, func(k admin.Key) bool { return strings.HasPrefix(k.Name, "svc-1") }, 75)
	check(admin.KeyQuery{Name: "svc-123"}, func(k admin.Key) bool { return k.Name == "svc-123" }, 1)
	check(admin.KeyQuery{Name: "0"}, func(admin.Key) bool { return false }, 0) // "0" is a name, not "no filter"
	check(admin.KeyQuery{Status: admin.KeyRevoked, Limit: 4}, func(k admin.Key) bool { return revoked[k.ID] && k.Status == admin.KeyRevoked }, 26)
	check(admin.KeyQuery{Status: admin.KeyActive}, func(k admin.Key) bool { return !revoked[k.ID] }, 261-26)
	check(admin.KeyQuery{Provider: "openai", Name: "ci-"}, func(admin.Key) bool { return false }, 0)
	check(admin.KeyQuery{Provider: "anthropic", Status: admin.KeyRevoked}, func(k admin.Key) bool { return k.Provider == "anthropic" && revoked[k.ID] }, 0)
	byName := keysThrough(t, c, admin.KeyQuery{Name: "ci-", Limit: 10})
	if !slices.IsSortedFunc(byName, func(a, b admin.Key) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("keys filtered by a name prefix are not in name order")
	}

	// A key created and one revoked between two pages: no other key repeats or goes missing.
	page, err := c.Keys(t.Context(), admin.KeyQuery{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RevokeKey(t.Context(), page.Keys[10].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RevokeKey(t.Context(), created[200]); err != nil {
		t.Fatal(err)
	}
	late, err := c.CreateKey(t.Context(), admin.KeyInput{Provider: "openai", Credentials: []string{f.cred.ID}, Name: "late"})
	if err != nil {
		t.Fatal(err)
	}
	rest := keysThrough(t, c, admin.KeyQuery{Limit: 50, Cursor: page.NextCursor})
	all := append(page.Keys, rest...)
	if len(all) != len(created)+1 || all[len(all)-1].ID != late.ID {
		t.Errorf("pages around a change list %d keys (last %s); want %d, the new one last", len(all), all[len(all)-1].ID, len(created)+1)
	}
	for i, id := range created {
		if all[i].ID != id {
			t.Fatalf("key %d is %s; want %s", i, all[i].ID, id)
		}
	}
}

func TestKeyAndCredentialPagesRefuseBadParameters(t *testing.T) {
	e := newEnv(t)
	e.fixture()
	for _, c := range []struct {
		path   string
		status int
		field  string
	}{
		{"/api/v1/keys?cursor=garbage!", 400, "cursor"},
		{"/api/v1/keys?cursor=bm90IGEgY3Vyc29y", 400, "cursor"},
		{"/api/v1/keys?limit=0", 400, "limit"},
		{"/api/v1/keys?limit=1001", 400, "limit"},
		{"/api/v1/keys?limit=ten", 400, "limit"},
		{"/api/v1/keys?status=paused", 400, "status"},
		{"/api/v1/keys?provider=nope", 404, ""},
		{"/api/v1/credentials?cursor=garbage!", 400, "cursor"},
		{"/api/v1/credentials?limit=-1", 400, "limit"},
		{"/api/v1/credentials?provider=nope", 404, ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+e.adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Message, Field string }
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET %s: %v", c.path, err)
		}
		if resp.StatusCode != c.status || body.Error.Field != c.field || body.Error.Message == "" {
			t.Errorf("GET %s = %d %+v; want %d naming %q", c.path, resp.StatusCode, body.Error, c.status, c.field)
		}
		if c.field != "" && !strings.Contains(body.Error.Message, c.field) {
			t.Errorf("GET %s: the message %q does not name %s", c.path, body.Error.Message, c.field)
		}
	}
}

func TestCredentialPagesOverTheAPI(t *testing.T) {
	e := newEnv(t)
	e.fixture() // main, spare
	c := e.client
	for i := range 25 {
		if _, err := c.CreateCredential(t.Context(), admin.CredentialInput{Provider: "openai", Name: fmt.Sprintf("pool-%02d", i), Secret: fmt.Sprintf("sk-pool-%02d-0123456789abcdef", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	q := admin.CredentialQuery{Limit: 4}
	for range 20 {
		page, err := c.Credentials(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, cr := range page.Credentials {
			ids = append(ids, cr.ID)
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	all, err := c.AllCredentials(t.Context(), admin.CredentialQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]string, len(all))
	for i, cr := range all {
		want[i] = cr.ID
	}
	if len(ids) != 27 || !slices.Equal(ids, want) {
		t.Errorf("pages of 4 list %d credentials; want the 27 AllCredentials lists, in its order", len(ids))
	}
	page, err := c.Credentials(t.Context(), admin.CredentialQuery{Name: "pool-1"})
	if err != nil || len(page.Credentials) != 10 || page.NextCursor != "" {
		t.Errorf("name prefix pool-1 = %d credentials, next %q, %v; want 10, no next", len(page.Credentials), page.NextCursor, err)
	}
	for _, cr := range page.Credentials {
		if !strings.HasPrefix(cr.Name, "pool-1") {
			t.Errorf("name prefix pool-1 lists %q", cr.Name)
		}
	}
}
