package store

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTokens(t *testing.T) {
	s, clk := openTestClock(t)
	exp := clk.Now().Add(90*time.Minute + 500*time.Millisecond)
	ci, err := s.CreateToken("ci", []string{"keys:read", "traces:read"}, exp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ci.ID, "tok_") || ci.Name != "ci" || !slices.Equal(ci.Scopes, []string{"keys:read", "traces:read"}) ||
		ci.Status != KeyActive || ci.RevokedAt != nil || !ci.CreatedAt.Equal(clk.Now()) {
		t.Errorf("CreateToken = %+v", ci)
	}
	// JWT exp has whole seconds; the record matches what the token says.
	if !ci.ExpiresAt.Equal(exp.Truncate(time.Second)) {
		t.Errorf("expires_at = %v; want %v", ci.ExpiresAt, exp.Truncate(time.Second))
	}
	clk.Advance(time.Second)
	admin, err := s.CreateToken("", []string{"admin"}, clk.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	got, err := s.Token(ci.ID)
	if err != nil || !reflect.DeepEqual(got, ci) {
		t.Errorf("Token() = %+v, %v; want %+v", got, err, ci)
	}
	list, err := s.Tokens()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != ci.ID || list[1].ID != admin.ID {
		t.Errorf("Tokens() = %+v; want ci then admin (oldest first)", list)
	}

	// Expiry is derived from the clock.
	clk.Advance(2 * time.Hour)
	if got, _ := s.Token(ci.ID); got.Status != KeyExpired {
		t.Errorf("status after expiry = %q; want expired", got.Status)
	}
	if got, _ := s.Token(admin.ID); got.Status != KeyActive {
		t.Errorf("status of the unexpired token = %q; want active", got.Status)
	}

	// Revocation, twice.
	r1, err := s.RevokeToken(admin.ID)
	if err != nil || r1.Status != KeyRevoked || r1.RevokedAt == nil || !r1.RevokedAt.Equal(clk.Now()) {
		t.Fatalf("RevokeToken = %+v, %v; want revoked now", r1, err)
	}
	clk.Advance(time.Minute)
	r2, err := s.RevokeToken(admin.ID)
	if err != nil || !reflect.DeepEqual(r2, r1) {
		t.Errorf("second RevokeToken = %+v, %v; want unchanged %+v", r2, err, r1)
	}
	list, _ = s.Tokens()
	if len(list) != 2 || list[0].Status != KeyExpired || list[1].Status != KeyRevoked {
		t.Errorf("Tokens() statuses = %+v; want expired, revoked", list)
	}

	if _, err := s.Token("tok_missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Token of a missing id: %v; want ErrNotFound", err)
	}
	if _, err := s.RevokeToken("tok_missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevokeToken of a missing id: %v; want ErrNotFound", err)
	}
}

func TestCreateTokenRefusesBadInput(t *testing.T) {
	s, clk := openTestClock(t)
	tests := []struct {
		name    string
		tokName string
		scopes  []string
		exp     time.Time
		field   string
	}{
		{"no scopes", "ci", nil, clk.Now().Add(time.Hour), "scopes"},
		{"empty scopes", "ci", []string{}, clk.Now().Add(time.Hour), "scopes"},
		{"expiry in the past", "ci", []string{"admin"}, clk.Now().Add(-time.Hour), "ttl"},
		{"expiry now", "ci", []string{"admin"}, clk.Now(), "ttl"},
		{"zero expiry", "ci", []string{"admin"}, time.Time{}, "ttl"},
		// The record keeps whole seconds (like a JWT's exp), which would be now.
		{"expiry under a second away", "ci", []string{"admin"}, clk.Now().Add(500 * time.Millisecond), "ttl"},
		{"name too long", strings.Repeat("t", 65), []string{"admin"}, clk.Now().Add(time.Hour), "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateToken(tt.tokName, tt.scopes, tt.exp)
			wantField(t, err, tt.field)
			if list, _ := s.Tokens(); len(list) != 0 {
				t.Errorf("a refused token was stored: %+v", list)
			}
		})
	}
}

// A token cannot be created by a revoked or expired token (the request may
// have been authenticated just before), and a child of a non-root token
// keeps at most its parent's expiry; a root's child keeps its own.
func TestCreateChildToken(t *testing.T) {
	s, clk := openTestClock(t)
	root, err := s.CreateToken("root", []string{"admin"}, clk.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	parent, err := s.CreateChildToken(root.ID, "parent", []string{"tokens:write"}, clk.Now().Add(48*time.Hour))
	if err != nil || parent.ParentID != root.ID || !parent.ExpiresAt.After(root.ExpiresAt) {
		t.Fatalf("child of a root = %+v, %v; want parent_id %s and its own expiry", parent, err, root.ID)
	}
	child, err := s.CreateChildToken(parent.ID, "child", []string{"tokens:write"}, clk.Now().Add(3650*24*time.Hour))
	if err != nil || !child.ExpiresAt.Equal(parent.ExpiresAt) {
		t.Fatalf("child = %+v, %v; want the parent's expiry %s", child, err, parent.ExpiresAt)
	}
	if _, err := s.RevokeToken(parent.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Token(child.ID); got.Status != KeyRevoked {
		t.Errorf("child of a revoked token is %q", got.Status)
	}
	before, _ := s.Tokens()
	for _, id := range []string{parent.ID, child.ID} {
		if _, err := s.CreateChildToken(id, "late", []string{"tokens:write"}, clk.Now().Add(time.Minute)); !errors.Is(err, ErrTokenInactive) {
			t.Errorf("created by revoked %s: err = %v, want ErrTokenInactive", id, err)
		}
	}
	clk.Advance(2 * time.Hour)
	if _, err := s.CreateChildToken(root.ID, "late", []string{"keys:read"}, clk.Now().Add(time.Minute)); !errors.Is(err, ErrTokenInactive) {
		t.Errorf("created by an expired token: err = %v, want ErrTokenInactive", err)
	}
	if after, _ := s.Tokens(); len(after) != len(before) {
		t.Errorf("refused tokens were stored: %d records, want %d", len(after), len(before))
	}
}
