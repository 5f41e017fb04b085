package admin_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
)

// readLocalToken reads dir/admin.token, checks its mode and that it is an
// admin token the server accepts, and returns it.
func (e *env) readLocalToken(t *testing.T) string {
	t.Helper()
	path := filepath.Join(e.dir, admin.LocalTokenFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s mode = %v, want 0600", path, mode)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(raw))
	rec, err := e.tokens.Verify(tok)
	if err != nil {
		t.Fatalf("the token in %s does not verify: %v", path, err)
	}
	if !slices.Contains(rec.Scopes, admin.ScopeAdmin) {
		t.Errorf("the local token has scopes %v, want admin", rec.Scopes)
	}
	if _, err := e.clientWith(tok).Tokens(t.Context()); err != nil {
		t.Errorf("the local token does not work against the API: %v", err)
	}
	return tok
}

func TestEnsureLocalTokenCreatesAndKeeps(t *testing.T) {
	e := newEnv(t)
	if err := admin.EnsureLocalToken(e.tokens, e.dir); err != nil {
		t.Fatalf("first call: %v", err)
	}
	first := e.readLocalToken(t)

	if err := admin.EnsureLocalToken(e.tokens, e.dir); err != nil {
		t.Fatalf("second call: %v", err)
	}
	if second := e.readLocalToken(t); second != first {
		t.Errorf("a valid local token was replaced")
	}
	toks, err := e.st.Tokens()
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 2 { // the env's own admin token and the local one
		t.Errorf("%d token records after two calls, want 2 (no new token while the old one works)", len(toks))
	}
	// No temporary files are left beside it.
	entries, err := os.ReadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if strings.Contains(en.Name(), ".tmp") {
			t.Errorf("temporary file %s left in the data directory", en.Name())
		}
	}
}

func TestEnsureLocalTokenReplacesBadTokens(t *testing.T) {
	cases := []struct {
		name  string
		spoil func(t *testing.T, e *env, path, current string)
	}{
		{"revoked", func(t *testing.T, e *env, path, current string) {
			rec, err := e.tokens.Verify(current)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.client.RevokeToken(t.Context(), rec.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage", func(t *testing.T, e *env, path, current string) {
			writeFile(t, path, "this is not a token\n")
		}},
		{"empty file", func(t *testing.T, e *env, path, current string) {
			writeFile(t, path, "")
		}},
		{"signed with another master key", func(t *testing.T, e *env, path, current string) {
			_, tok, err := admin.NewTokens(e.st, newMasterKey(t)).Issue("old", []string{admin.ScopeAdmin}, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, path, tok+"\n")
		}},
		{"valid but without admin scope", func(t *testing.T, e *env, path, current string) {
			writeFile(t, path, e.token(admin.ScopeKeysRead)+"\n")
		}},
		{"expired", func(t *testing.T, e *env, path, current string) {
			e.clock.Advance(11 * 365 * 24 * time.Hour)
			if _, err := e.tokens.Verify(current); err == nil {
				t.Fatal("the local token should have expired")
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			path := filepath.Join(e.dir, admin.LocalTokenFile)
			if err := admin.EnsureLocalToken(e.tokens, e.dir); err != nil {
				t.Fatal(err)
			}
			old := e.readLocalToken(t)
			tc.spoil(t, e, path, old)
			spoiled, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			if err := admin.EnsureLocalToken(e.tokens, e.dir); err != nil {
				t.Fatalf("EnsureLocalToken after the token went bad: %v", err)
			}
			got := e.readLocalToken(t)
			if got == old || got == strings.TrimSpace(string(spoiled)) {
				t.Errorf("the bad token was kept")
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureLocalTokenFailsOnMissingDir(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(e.dir, "does", "not", "exist")
	if err := admin.EnsureLocalToken(e.tokens, dir); err == nil {
		t.Fatal("EnsureLocalToken into a missing directory succeeded")
	}
}
