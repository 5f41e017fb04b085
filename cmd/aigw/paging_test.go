package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
)

// A gateway holding 260 keys (and 12 credentials): the list commands show
// one page by default and say how to see more; --all and --limit page
// through the admin API; filters and names are the server's.
func TestKeyListPages(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, dir)
	c := admin.NewClient(g.adminURL, readToken(t, dir))
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", "https://api.openai.com")
	g.ok(t, "provider", "add", "anthropic", "--type", "anthropic", "--base-url", "https://api.anthropic.com")
	var creds []string
	for i := range 12 {
		p := []string{"openai", "anthropic"}[i%2]
		cr, err := c.CreateCredential(t.Context(), admin.CredentialInput{Provider: p, Name: fmt.Sprintf("pool-%02d", i), Secret: fmt.Sprintf("sk-pool-%02d-0123456789abcdef", i)})
		if err != nil {
			t.Fatal(err)
		}
		creds = append(creds, cr.ID)
	}
	var created []string
	for i := range 260 {
		in := admin.KeyInput{Provider: "openai", Credentials: []string{creds[0]}, Name: fmt.Sprintf("svc-%03d", i)}
		if i%5 == 0 {
			in = admin.KeyInput{Provider: "anthropic", Credentials: []string{creds[1]}, Name: fmt.Sprintf("ci-%03d", i)}
		}
		k, err := c.CreateKey(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, k.ID)
		if i%13 == 1 {
			if _, err := c.RevokeKey(t.Context(), k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	ids := func(ks []admin.Key) []string {
		out := make([]string, len(ks))
		for i, k := range ks {
			out[i] = k.ID
		}
		return out
	}

	// Default: the first 100, oldest first, and a line on stderr.
	r := g.cli(t, "", nil, "key", "list", "-o", "json")
	var first []admin.Key
	mustJSON(t, r.stdout, &first)
	if r.code != 0 || !slices.Equal(ids(first), created[:100]) {
		t.Fatalf("key list -o json: exit %d, %d keys; want the oldest 100", r.code, len(first))
	}
	if !strings.Contains(r.stderr, "100 keys shown") || !strings.Contains(r.stderr, "--all") || !strings.Contains(r.stderr, "--limit") {
		t.Errorf("key list with more keys than a page: stderr %q; want how many were shown and how to see more", r.stderr)
	}

	// --all equals the union of the pages, whatever their size; no hint.
	for _, size := range []int{7, 1000} {
		listPageSize = size
		r = g.cli(t, "", nil, "key", "list", "--all", "-o", "json")
		var all []admin.Key
		mustJSON(t, r.stdout, &all)
		if r.code != 0 || !slices.Equal(ids(all), created) || r.stderr != "" {
			t.Errorf("key list --all (pages of %d): exit %d, %d keys, stderr %q; want the 260 in creation order", size, r.code, len(all), r.stderr)
		}
		table := strings.Split(strings.TrimSpace(g.ok(t, "key", "list", "--all")), "\n")
		if len(table) != 261 || !strings.HasPrefix(table[0], "ID ") || !strings.HasPrefix(table[260], created[259]) {
			t.Errorf("key list --all (pages of %d) prints %d lines; want a header and 260 rows", size, len(table))
		}
		if out := g.ok(t, "key", "list", "--all", "-o", "id"); out != strings.Join(created, "\n")+"\n" {
			t.Errorf("key list --all -o id (pages of %d) is not the 260 ids, one a line", size)
		}
		// --limit: N keys (over several pages when N is larger than one).
		r = g.cli(t, "", nil, "key", "list", "--limit", "150", "-o", "json")
		var some []admin.Key
		mustJSON(t, r.stdout, &some)
		if r.code != 0 || !slices.Equal(ids(some), created[:150]) || !strings.Contains(r.stderr, "150 keys shown") {
			t.Errorf("key list --limit 150 (pages of %d): %d keys, stderr %q; want the oldest 150 and the hint", size, len(some), r.stderr)
		}
		if r = g.cli(t, "", nil, "key", "list", "--limit", "260", "-o", "json"); r.stderr != "" {
			t.Errorf("key list --limit 260 of 260: stderr %q; want none (nothing more)", r.stderr)
		}
	}
	listPageSize = admin.MaxPageLimit

	// Filters.
	var got []admin.Key
	g.okJSON(t, &got, "key", "list", "--provider", "anthropic", "--all")
	if len(got) != 52 || slices.ContainsFunc(got, func(k admin.Key) bool { return k.Provider != "anthropic" }) {
		t.Errorf("key list --provider anthropic: %d keys; want the 52 of anthropic", len(got))
	}
	g.okJSON(t, &got, "key", "list", "--name", "svc-1")
	if len(got) != 80 || slices.ContainsFunc(got, func(k admin.Key) bool { return !strings.HasPrefix(k.Name, "svc-1") }) {
		t.Errorf("key list --name svc-1: %d keys; want the 80 named svc-1…", len(got))
	}
	g.okJSON(t, &got, "key", "list", "--status", "revoked", "--provider", "openai")
	if len(got) == 0 || slices.ContainsFunc(got, func(k admin.Key) bool { return k.Status != admin.KeyRevoked || k.Provider != "openai" }) {
		t.Errorf("key list --status revoked --provider openai: %+v", ids(got))
	}
	if out := strings.TrimSpace(g.ok(t, "key", "list", "--name", "nobody", "-o", "json")); out != "[]" {
		t.Errorf("key list --name nobody -o json = %q; want []", out)
	}

	// Names resolve through the server's name filter.
	if out := g.ok(t, "key", "show", "svc-123", "-o", "id"); strings.TrimSpace(out) != created[123] {
		t.Errorf("key show svc-123 -o id = %q; want %s", out, created[123])
	}
	if _, err := c.CreateKey(t.Context(), admin.KeyInput{Provider: "openai", Credentials: []string{creds[0]}, Name: "svc-123"}); err != nil {
		t.Fatal(err)
	}
	if r = g.cli(t, "", nil, "key", "revoke", "svc-123"); r.code != 1 || !strings.Contains(r.stderr, "2 keys are named") {
		t.Errorf("key revoke of a name two keys share: exit %d, %q; want 1 naming both", r.code, r.stderr)
	}
	if r = g.cli(t, "", nil, "key", "show", "svc-12"); r.code != 1 || !strings.Contains(r.stderr, `no key is named "svc-12"`) {
		t.Errorf("key show of a name that is only a prefix: exit %d, %q; want no such key", r.code, r.stderr)
	}

	// Bad flags: exit 2, one line naming the flag.
	for _, argv := range [][]string{
		{"key", "list", "--status", "paused"},
		{"key", "list", "--all", "--limit", "5"},
		{"key", "list", "--limit", "0"},
		{"credential", "list", "--limit", "-3"},
		{"credential", "list", "--all", "--limit", "2"},
	} {
		r = g.cli(t, "", nil, argv...)
		if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "--") {
			t.Errorf("aigw %s: exit %d, %q; want 2 and one line naming the flag", strings.Join(argv, " "), r.code, r.stderr)
		}
	}

	// Credentials page the same way.
	r = g.cli(t, "", nil, "credential", "list", "--limit", "5", "-o", "json")
	var cs []admin.Credential
	mustJSON(t, r.stdout, &cs)
	if len(cs) != 5 || !strings.Contains(r.stderr, "5 credentials shown") {
		t.Errorf("credential list --limit 5: %d, stderr %q", len(cs), r.stderr)
	}
	listPageSize = 5
	g.okJSON(t, &cs, "credential", "list", "--all")
	listPageSize = admin.MaxPageLimit
	if len(cs) != 12 {
		t.Errorf("credential list --all (pages of 5): %d credentials; want 12", len(cs))
	}
	g.okJSON(t, &cs, "credential", "list", "--name", "pool-1", "--provider", "openai")
	if len(cs) != 1 || cs[0].Name != "pool-10" {
		t.Errorf("credential list --name pool-1 --provider openai = %+v; want pool-10", cs)
	}
}

// The streamed array is byte for byte what printJSON prints for the whole
// list (scripts and diffs see no difference).
func TestStreamedJSONArrayIsPrintJSON(t *testing.T) {
	exp := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	keys := []admin.Key{{ID: "key_1", Name: "a<b>", Credentials: []string{"c1"}, ExpiresAt: &exp}, {ID: "key_2"}, {ID: "key_3", Models: []string{}}}
	for n := range len(keys) + 1 {
		var want, got bytes.Buffer
		if err := printJSON(&want, keys[:n]); err != nil {
			t.Fatal(err)
		}
		j := &jsonArray[admin.Key]{w: &got}
		for _, k := range keys[:n] {
			if err := j.page([]admin.Key{k}); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.end(); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%d keys streamed:\n%s\nprintJSON:\n%s", n, got.String(), want.String())
		}
	}
}
