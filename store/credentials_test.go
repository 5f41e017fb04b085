package store

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// loadedCredential returns one credential as Load() gives it, secrets unsealed.
func loadedCredential(t *testing.T, s *Store, id string) Credential {
	t.Helper()
	d, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Credentials {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("credential %s not in Load()", id)
	return Credential{}
}

func TestCreateCredential(t *testing.T) {
	s, clk := openTestClock(t)
	f := newFixture(t, s)

	c := f.c1
	if !strings.HasPrefix(c.ID, "cred_") || c.Provider != "openai" || c.Name != "main" || c.Kind != KindAPIKey ||
		c.Weight != 1 || !c.Enabled || c.RPM != 0 || c.OAuth != nil || !c.CreatedAt.Equal(clk.Now()) {
		t.Errorf("api key credential = %+v; want weight 1, enabled, kind api_key, no OAuth", c)
	}
	if c.Preview != "sk-…cdef" {
		t.Errorf("preview = %q; want %q", c.Preview, "sk-…cdef")
	}
	got, err := s.Credential(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := c
	want.Secret = ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Credential() = %+v; want %+v", got, want)
	}
	if l := loadedCredential(t, s, c.ID); l.Secret != secret1 || l.RefreshToken != "" {
		t.Errorf("Load() secret = %q, refresh %q; want %q and none", l.Secret, l.RefreshToken, secret1)
	}

	o := f.c2
	wantExp := clk.Now().Add(time.Hour)
	if o.Kind != KindOAuth || o.OAuth == nil || o.OAuth.TokenURL != "https://auth.example.com/token" ||
		o.OAuth.ClientID != "client-1" || o.OAuth.ExpiresAt == nil || !o.OAuth.ExpiresAt.Equal(wantExp) {
		t.Errorf("OAuth credential = %+v (oauth %+v); want kind oauth with token URL, client id, expiry", o, o.OAuth)
	}
	if l := loadedCredential(t, s, o.ID); l.Secret != secret2 || l.RefreshToken != refresh2 {
		t.Errorf("Load() of the OAuth credential = %q / %q; want %q / %q", l.Secret, l.RefreshToken, secret2, refresh2)
	}

	w := 7
	c, err = s.CreateCredential(CredentialInput{Provider: "openai", Secret: "sk-weighted-000000000000", Weight: &w, RPM: 120})
	if err != nil {
		t.Fatal(err)
	}
	if c.Weight != 7 || c.RPM != 120 {
		t.Errorf("weight %d rpm %d; want 7 and 120", c.Weight, c.RPM)
	}

	mine, err := s.credentialsOf("anthropic")
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 1 || mine[0].ID != f.c3.ID {
		t.Errorf("Credentials(anthropic) = %+v; want only %s", mine, f.c3.ID)
	}
	all, err := s.credentialsOf("")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Errorf("Credentials(\"\") lists %d; want 4", len(all))
	}
	if none, err := s.credentialsOf("gemini"); err != nil || none == nil || len(none) != 0 {
		t.Errorf("Credentials of a provider without any = %#v, %v; want an empty list", none, err)
	}
}

func TestCreateCredentialUnknownProvider(t *testing.T) {
	s := openTest(t)
	_, err := s.CreateCredential(CredentialInput{Provider: "nope", Secret: "sk-0123456789abcdef"})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("CreateCredential for an unknown provider: %v; want ErrNotFound", err)
	}
	if list, _ := s.credentialsOf(""); len(list) != 0 {
		t.Errorf("a refused credential was stored: %+v", list)
	}
}

func TestCreateCredentialRefusesBadInput(t *testing.T) {
	s := openTest(t)
	newFixture(t, s)
	before, err := s.credentialsOf("")
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)

	tests := []struct {
		name   string
		change func(in *CredentialInput)
		field  string
	}{
		{"weight 0", func(in *CredentialInput) { in.Weight = ptr(0) }, "weight"},
		{"weight -1", func(in *CredentialInput) { in.Weight = ptr(-1) }, "weight"},
		{"weight 1001", func(in *CredentialInput) { in.Weight = ptr(1001) }, "weight"},
		{"empty secret", func(in *CredentialInput) { in.Secret = "" }, "secret"},
		{"secret with trailing newline", func(in *CredentialInput) { in.Secret = "sk-0123456789abcdef\n" }, "secret"},
		{"secret with a space", func(in *CredentialInput) { in.Secret = "sk-0123 456789abcdef" }, "secret"},
		{"secret with a tab", func(in *CredentialInput) { in.Secret = "\tsk-0123456789abcdef" }, "secret"},
		{"secret with DEL", func(in *CredentialInput) { in.Secret = "sk-0123456789abcdef\x7f" }, "secret"},
		{"secret over 16 KiB", func(in *CredentialInput) { in.Secret = strings.Repeat("a", 16<<10+1) }, "secret"},
		{"negative rpm", func(in *CredentialInput) { in.RPM = -1 }, "rpm"},
		{"absurd rpm", func(in *CredentialInput) { in.RPM = maxLimit + 1 }, "rpm"},
		{"name too long", func(in *CredentialInput) { in.Name = strings.Repeat("n", 65) }, "name"},
		{"no provider", func(in *CredentialInput) { in.Provider = "" }, "provider"},
		{"OAuth without token URL", func(in *CredentialInput) { in.OAuthRefreshToken = "rt-0123456789" }, "oauth_token_url"},
		{"OAuth client id only", func(in *CredentialInput) { in.OAuthClientID = "client" }, "oauth_token_url"},
		{"OAuth with ftp token URL", func(in *CredentialInput) {
			in.OAuthTokenURL, in.OAuthRefreshToken = "ftp://auth.example.com/token", "rt-0123456789"
		}, "oauth_token_url"},
		{"OAuth with a token URL without scheme", func(in *CredentialInput) {
			in.OAuthTokenURL, in.OAuthRefreshToken = "auth.example.com/token", "rt-0123456789"
		}, "oauth_token_url"},
		{"OAuth without refresh token", func(in *CredentialInput) { in.OAuthTokenURL = "https://auth.example.com/token" }, "oauth_refresh_token"},
		{"OAuth with a bad refresh token", func(in *CredentialInput) {
			in.OAuthTokenURL, in.OAuthRefreshToken = "https://auth.example.com/token", "rt 0123456789\n"
		}, "oauth_refresh_token"},
		{"expires_at on an API key", func(in *CredentialInput) { in.ExpiresAt = &past }, "expires_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := CredentialInput{Provider: "openai", Secret: "sk-0123456789abcdef"}
			tt.change(&in)
			_, err := s.CreateCredential(in)
			wantField(t, err, tt.field)
			after, err := s.credentialsOf("")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(after, before) {
				t.Errorf("a refused credential changed the list (%d → %d)", len(before), len(after))
			}
		})
	}
}

func TestUpdateCredential(t *testing.T) {
	s, clk := openTestClock(t)
	f := newFixture(t, s)
	clk.Advance(time.Minute)

	c, err := s.UpdateCredential(f.c1.ID, CredentialPatch{Weight: ptr(5), Enabled: ptr(false), RPM: ptr(int64(60)), Name: ptr("backup")})
	if err != nil {
		t.Fatal(err)
	}
	want := f.c1
	want.Secret = ""
	want.Weight, want.Enabled, want.RPM, want.Name = 5, false, 60, "backup"
	want.UpdatedAt = clk.Now()
	if !reflect.DeepEqual(c, want) {
		t.Errorf("UpdateCredential = %+v; want %+v", c, want)
	}
	if got, _ := s.Credential(f.c1.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("stored = %+v; want %+v", got, want)
	}
	if l := loadedCredential(t, s, f.c1.ID); l.Secret != secret1 {
		t.Errorf("secret after a patch without one = %q; want it kept", l.Secret)
	}

	// Rotation.
	const rotated = "sk-rotated-ZYXWVUTSRQPONMLK"
	c, err = s.UpdateCredential(f.c1.ID, CredentialPatch{Secret: ptr(rotated)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Preview != "sk-…NMLK" || c.Secret != "" {
		t.Errorf("after rotation preview %q secret %q; want the new preview and no secret returned", c.Preview, c.Secret)
	}
	if l := loadedCredential(t, s, f.c1.ID); l.Secret != rotated || l.Weight != 5 || l.Enabled {
		t.Errorf("Load() after rotation = %+v; want the new secret and the earlier changes kept", l)
	}

	// Rotating the access token of an OAuth credential keeps its refresh token.
	if _, err := s.UpdateCredential(f.c2.ID, CredentialPatch{Secret: ptr("oauth-manual-0000000000")}); err != nil {
		t.Fatal(err)
	}
	if l := loadedCredential(t, s, f.c2.ID); l.Secret != "oauth-manual-0000000000" || l.RefreshToken != refresh2 {
		t.Errorf("OAuth after rotation = %q / %q; want the refresh token kept", l.Secret, l.RefreshToken)
	}

	// Re-enable.
	if c, err = s.UpdateCredential(f.c1.ID, CredentialPatch{Enabled: ptr(true)}); err != nil || !c.Enabled {
		t.Errorf("enable = %v, %v", c.Enabled, err)
	}
}

func TestUpdateCredentialRefusesBadPatch(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)
	before := loadedCredential(t, s, f.c1.ID)
	tests := []struct {
		name  string
		patch CredentialPatch
		field string
	}{
		{"weight 0", CredentialPatch{Weight: ptr(0)}, "weight"},
		{"weight 1001", CredentialPatch{Weight: ptr(1001)}, "weight"},
		{"negative rpm", CredentialPatch{RPM: ptr(int64(-1))}, "rpm"},
		{"empty secret", CredentialPatch{Secret: ptr("")}, "secret"},
		{"secret with newline", CredentialPatch{Secret: ptr("sk-new-000000000000\n")}, "secret"},
		{"name too long", CredentialPatch{Name: ptr(strings.Repeat("x", 65))}, "name"},
		{"good weight with a bad secret", CredentialPatch{Weight: ptr(3), Secret: ptr("a b")}, "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.UpdateCredential(f.c1.ID, tt.patch)
			wantField(t, err, tt.field)
			if after := loadedCredential(t, s, f.c1.ID); !reflect.DeepEqual(after, before) {
				t.Errorf("a refused patch changed the credential: %+v", after)
			}
		})
	}
	if _, err := s.UpdateCredential("cred_missing", CredentialPatch{Weight: ptr(2)}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateCredential of a missing id: %v; want ErrNotFound", err)
	}
}

func TestSetOAuthTokens(t *testing.T) {
	s, clk := openTestClock(t)
	f := newFixture(t, s)
	clk.Advance(30 * time.Minute)

	exp := clk.Now().Add(time.Hour).In(time.FixedZone("CEST", 2*3600))
	if err := s.SetOAuthTokens(f.c2.ID, "oauth-fresh-access-00000001", "rt-fresh-refresh-00000001", &exp); err != nil {
		t.Fatal(err)
	}
	l := loadedCredential(t, s, f.c2.ID)
	if l.Secret != "oauth-fresh-access-00000001" || l.RefreshToken != "rt-fresh-refresh-00000001" {
		t.Errorf("after refresh = %q / %q", l.Secret, l.RefreshToken)
	}
	if l.OAuth.ExpiresAt == nil || !l.OAuth.ExpiresAt.Equal(exp) || l.OAuth.ExpiresAt.Location() != time.UTC {
		t.Errorf("expires_at = %v; want %v in UTC", l.OAuth.ExpiresAt, exp)
	}
	if l.Preview != "oau…0001" || !l.UpdatedAt.Equal(clk.Now()) || l.OAuth.TokenURL != "https://auth.example.com/token" {
		t.Errorf("after refresh = %+v (oauth %+v)", l, l.OAuth)
	}

	// An empty refresh token keeps the current one.
	if err := s.SetOAuthTokens(f.c2.ID, "oauth-fresh-access-00000002", "", nil); err != nil {
		t.Fatal(err)
	}
	l = loadedCredential(t, s, f.c2.ID)
	if l.Secret != "oauth-fresh-access-00000002" || l.RefreshToken != "rt-fresh-refresh-00000001" || l.OAuth.ExpiresAt != nil {
		t.Errorf("after a refresh without a new refresh token = %q / %q, expires %v", l.Secret, l.RefreshToken, l.OAuth.ExpiresAt)
	}

	// Not for API keys, not with a bad token, not for a missing id.
	wantField(t, s.SetOAuthTokens(f.c1.ID, "oauth-access-000000000", "", nil), "kind")
	if l := loadedCredential(t, s, f.c1.ID); l.Secret != secret1 || l.Kind != KindAPIKey {
		t.Errorf("a refused SetOAuthTokens changed the API key: %+v", l)
	}
	wantField(t, s.SetOAuthTokens(f.c2.ID, "bad token", "", nil), "access_token")
	if err := s.SetOAuthTokens("cred_missing", "oauth-access-000000000", "", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetOAuthTokens of a missing id: %v; want ErrNotFound", err)
	}
}

func TestDeleteCredential(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)
	k1, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID, f.c2.ID}})
	if err != nil {
		t.Fatal(err)
	}
	k2, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}})
	if err != nil {
		t.Fatal(err)
	}

	err = s.DeleteCredential(f.c1.ID)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("DeleteCredential used by active keys: %v; want ErrInUse", err)
	}
	for _, id := range []string{k1.ID, k2.ID} {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("error %q does not name key %s", err, id)
		}
	}
	if _, err := s.Credential(f.c1.ID); err != nil {
		t.Errorf("a refused delete removed the credential: %v", err)
	}

	// Once the keys are revoked it goes, and leaves their pools.
	for _, id := range []string{k1.ID, k2.ID} {
		if _, err := s.RevokeKey(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteCredential(f.c1.ID); err != nil {
		t.Fatalf("DeleteCredential used only by revoked keys: %v", err)
	}
	if _, err := s.Credential(f.c1.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Credential after delete: %v; want ErrNotFound", err)
	}
	got, err := s.Key(k1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Credentials, []string{f.c2.ID}) || got.Status != KeyRevoked {
		t.Errorf("revoked key pool = %q (status %s); want only %s", got.Credentials, got.Status, f.c2.ID)
	}
	if got, _ := s.Key(k2.ID); len(got.Credentials) != 0 {
		t.Errorf("revoked key pool = %q; want empty", got.Credentials)
	}
	if d, err := s.Load(); err != nil || len(d.Credentials) != 2 {
		t.Errorf("Load after delete: %d credentials, %v; want 2", len(d.Credentials), err)
	}

	if err := s.DeleteCredential(f.c1.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteCredential: %v; want ErrNotFound", err)
	}
}

// Adding the same API key again (provider, name and secret) returns the
// credential already there: a set-up script that runs twice makes no
// duplicate. Another name or another secret is another credential.
func TestCreateCredentialTwiceIsIdempotent(t *testing.T) {
	s, _ := openTestClock(t)
	newFixture(t, s)
	in := CredentialInput{Provider: "openai", Name: "work", Secret: "sk-twice-0000000000001"}
	a, err := s.CreateCredential(in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateCredential(in)
	if err != nil || b.ID != a.ID {
		t.Fatalf("the same credential added twice: %s then %s (%v)", a.ID, b.ID, err)
	}
	other := in
	other.Secret = "sk-twice-0000000000002"
	c, _ := s.CreateCredential(other)
	renamed := in
	renamed.Name = "spare"
	d, _ := s.CreateCredential(renamed)
	if c.ID == a.ID || d.ID == a.ID || c.ID == "" || d.ID == "" {
		t.Fatalf("another secret (%s) or name (%s) returned the existing %s", c.ID, d.ID, a.ID)
	}
	all, err := s.credentialsOf("openai")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, cr := range all {
		if cr.Name == "work" || cr.Name == "spare" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d credentials named work or spare, want 3", n)
	}
}
