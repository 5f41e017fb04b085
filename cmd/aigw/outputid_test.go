package main

import (
	"strings"
	"testing"
)

// -o id prints the id alone, so that id=$(aigw credential add … -o id)
// works; lists print one per line; commands that print a once-shown
// secret, or have no ids, refuse it before doing anything.
func TestOutputID(t *testing.T) {
	g := startGateway(t, t.TempDir())
	if got := g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", "https://api.openai.com", "-o", "id"); got != "openai\n" {
		t.Fatalf("provider add -o id: %q", got)
	}
	c1 := strings.TrimSpace(g.ok(t, "credential", "add", "--provider", "openai", "--secret", "sk-test-000000000001", "-o", "id"))
	c2 := strings.TrimSpace(g.ok(t, "credential", "add", "--provider", "openai", "--secret", "sk-test-000000000002", "-o", "id"))
	if !strings.HasPrefix(c1, "cred_") || strings.ContainsAny(c1, " \t\n") || c1 == c2 {
		t.Fatalf("credential add -o id: %q %q", c1, c2)
	}
	list := strings.Fields(g.ok(t, "credential", "list", "-o", "id"))
	if len(list) != 2 || !strings.Contains(c1+" "+c2, list[0]) || !strings.Contains(c1+" "+c2, list[1]) {
		t.Fatalf("credential list -o id: %q", list)
	}
	if got := g.ok(t, "credential", "disable", c1, "-o", "id"); got != c1+"\n" {
		t.Fatalf("credential disable -o id: %q", got)
	}
	var key struct{ ID string }
	g.okJSON(t, &key, "key", "create", "--provider", "openai", "--credentials", c2)
	if got := g.ok(t, "key", "list", "-o", "id"); got != key.ID+"\n" {
		t.Fatalf("key list -o id: %q", got)
	}
	for _, c := range [][]string{
		{"key", "create", "--provider", "openai", "--credentials", c2, "-o", "id"},
		{"token", "create", "--scope", "keys:read", "-o", "id"},
		{"usage", "-o", "id"},
	} {
		r := g.cli(t, "", nil, c...)
		if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, "-o id") {
			t.Errorf("%v: exit %d stdout %q stderr %q", c, r.code, r.stdout, r.stderr)
		}
	}
	if got := strings.Fields(g.ok(t, "key", "list", "-o", "id")); len(got) != 1 {
		t.Fatalf("a refused key create -o id still created a key: %v", got)
	}
}
