package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxytest"
)

// Names are accepted wherever an id is, and a name that matches nothing
// is an error (exit 1), not an empty table.
func TestNamesWhereIDsAreTaken(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", fake.URL)
	work := strings.TrimSpace(g.ok(t, "credential", "add", "--provider", "openai", "--secret", "sk-test-000000000001", "--name", "work", "-o", "id"))
	spare := strings.TrimSpace(g.ok(t, "credential", "add", "--provider", "openai", "--secret", "sk-test-000000000002", "--name", "spare", "-o", "id"))
	var key struct {
		ID, Secret  string
		Credentials []string
	}
	g.okJSON(t, &key, "key", "create", "--provider", "openai", "--credentials", "work,spare", "--name", "app")
	if !slices.Equal(key.Credentials, []string{work, spare}) {
		t.Fatalf("key create --credentials work,spare: pool %v, want %s,%s", key.Credentials, work, spare)
	}
	if got := strings.TrimSpace(g.ok(t, "key", "show", "app", "-o", "id")); got != key.ID {
		t.Fatalf("key show app: %q, want %s", got, key.ID)
	}
	if got := strings.TrimSpace(g.ok(t, "credential", "disable", "spare", "-o", "id")); got != spare {
		t.Fatalf("credential disable spare: %q, want %s", got, spare)
	}
	if r := post(t, "http://"+g.proxyAddr+"/openai/v1/chat/completions", "Bearer "+key.Secret, `{"model":"gpt-4o-mini","messages":[]}`); r.status != 200 {
		t.Fatal(r.status, r.body)
	}
	if got := waitTraces(t, g, 1, "--key", "app"); len(got) != 1 || got[0]["key_id"] != key.ID {
		t.Fatalf("traces --key app: %v", got)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"traces", "--key", "nope"}, `no key is named "nope"`},
		{[]string{"usage", "--key", "nope"}, `no key is named "nope"`},
		{[]string{"traces", "--provider", "nope"}, `nope`},
		{[]string{"credential", "show", "nope"}, `no credential is named "nope"`},
		{[]string{"key", "create", "--provider", "openai", "--credentials", "work,nope"}, `no credential is named "nope"`},
	} {
		r := g.cli(t, "", nil, c.args...)
		if r.code != exitError || r.stdout != "" || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d stdout %q stderr %q, want exit %d and %q", c.args, r.code, r.stdout, r.stderr, exitError, c.want)
		}
	}
	// A name two credentials share must be given as an id.
	twin := strings.TrimSpace(g.ok(t, "credential", "add", "--provider", "openai", "--secret", "sk-test-000000000003", "--name", "work", "-o", "id"))
	r := g.cli(t, "", nil, "credential", "show", "work")
	if r.code != exitError || !strings.Contains(r.stderr, work) || !strings.Contains(r.stderr, twin) {
		t.Fatalf("ambiguous name: exit %d %q", r.code, r.stderr)
	}
}
