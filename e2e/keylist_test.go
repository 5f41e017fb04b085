package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/proxytest"
)

// `aigw key list` pages (picked from the keys the running gateway holds in
// memory, no index on disk) follow every change as it is made — created,
// renamed, revoked, expired — in each order and filter, page after page,
// and list the same after a restart, when the gateway reads the keys back
// from the file.
func TestKeyListFollowsChanges(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	dir := t.TempDir()
	s := serve(t, dir)
	credOf := map[string]string{}
	for _, p := range []string{"alpha", "beta"} {
		s.cli(t, "", "provider", "add", p, "--type", "openai", "--base-url", fake.URL)
		credOf[p] = strings.TrimSpace(s.cli(t, "sk-e2e-"+p+"-credential\n", "credential", "add", "--provider", p, "--secret-stdin", "-o", "id"))
	}
	type key struct{ id, name, provider string }
	var keys []key // oldest first
	var expires time.Time
	for i := range 9 {
		p := []string{"alpha", "beta"}[i%2]
		name := []string{"web-", "ci-", "svc-"}[i%3] + string(rune('a'+8-i))
		args := []string{"key", "create", "--provider", p, "--credentials", credOf[p], "--name", name}
		if i == 4 {
			expires = time.Now().Add(time.Second)
			args = append(args, "--expires-at", expires.UTC().Format(time.RFC3339Nano))
		}
		var created struct{ ID string }
		s.cliJSON(t, &created, args...)
		keys = append(keys, key{created.ID, name, p})
	}
	s.cli(t, "", "key", "update", keys[1].id, "--name", "web-renamed")
	keys[1].name = "web-renamed"
	s.cli(t, "", "key", "revoke", keys[6].id)
	time.Sleep(time.Until(expires) + 50*time.Millisecond) // keys[4] has expired

	// want lists the ids of the keys that pass keep, oldest first, or by
	// name then age when byName.
	want := func(byName bool, keep func(i int, k key) bool) []string {
		var sel []key
		for i, k := range keys {
			if keep(i, k) {
				sel = append(sel, k)
			}
		}
		if byName {
			slices.SortStableFunc(sel, func(a, b key) int { return strings.Compare(a.name, b.name) })
		}
		var ids []string
		for _, k := range sel {
			ids = append(ids, k.id)
		}
		return ids
	}
	cases := []struct {
		args []string
		want []string
	}{
		{nil, want(false, func(int, key) bool { return true })},
		{[]string{"--provider", "beta"}, want(false, func(_ int, k key) bool { return k.provider == "beta" })},
		{[]string{"--name", "web-"}, want(true, func(_ int, k key) bool { return strings.HasPrefix(k.name, "web-") })},
		{[]string{"--name", "s"}, want(true, func(_ int, k key) bool { return strings.HasPrefix(k.name, "s") })},
		{[]string{"--status", "revoked"}, want(false, func(i int, _ key) bool { return i == 6 })},
		{[]string{"--status", "expired"}, want(false, func(i int, _ key) bool { return i == 4 })},
		{[]string{"--status", "active", "--provider", "alpha"}, want(false, func(i int, k key) bool { return k.provider == "alpha" && i != 4 && i != 6 })},
	}
	check := func(s *server, when string) {
		t.Helper()
		for _, c := range cases {
			args := append([]string{"key", "list", "--all", "-o", "id"}, c.args...)
			if got := strings.Fields(s.cli(t, "", args...)); !slices.Equal(got, c.want) {
				t.Errorf("%s: aigw %s = %v; want %v", when, strings.Join(args, " "), got, c.want)
			}
			// Two at a time through the API, following next_cursor.
			if got := s.keyPages(t, 2, c.args...); !slices.Equal(got, c.want) {
				t.Errorf("%s: pages of 2 of %v = %v; want %v", when, c.args, got, c.want)
			}
		}
		// The first page alone.
		if got := strings.Fields(s.cli(t, "", "key", "list", "--limit", "3", "-o", "id")); !slices.Equal(got, cases[0].want[:3]) {
			t.Errorf("%s: the first page of 3 = %v; want %v", when, got, cases[0].want[:3])
		}
	}
	check(s, "while serving")
	s.stop(t)
	check(serve(t, dir), "after a restart")
}

// keyPages pages through GET /api/v1/keys (the admin client), limit at a
// time, with the filters of args (CLI flags: --provider, --name,
// --status), and returns the ids in the order listed.
func (s *server) keyPages(t *testing.T, limit int, args ...string) []string {
	t.Helper()
	c := admin.NewClient(s.adminURL, adminToken(t, s))
	q := admin.KeyQuery{Limit: limit}
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "--provider":
			q.Provider = args[i+1]
		case "--name":
			q.Name = args[i+1]
		case "--status":
			q.Status = args[i+1]
		}
	}
	var ids []string
	for range 100 {
		page, err := c.Keys(t.Context(), q)
		if err != nil || len(page.Keys) > limit {
			t.Fatalf("Keys(%+v): %d keys, %v", q, len(page.Keys), err)
		}
		for _, k := range page.Keys {
			ids = append(ids, k.ID)
		}
		if page.NextCursor == "" {
			return ids
		}
		q.Cursor = page.NextCursor
	}
	t.Fatal("more than 100 pages")
	return nil
}
