package store

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A refresh's outcome and its rotated refresh token are on disk: they are
// there after the database is closed and opened again, and the outcome
// shows in the public (JSON) view, never the tokens.
func TestOAuthRefreshOutcomeSurvivesAReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigw.db")
	s, err := Open(path, testKey, Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, s)
	at := time.Date(2030, 6, 1, 12, 30, 0, 0, time.FixedZone("CEST", 2*3600))
	exp := at.Add(time.Hour)
	if err := s.RecordOAuthRefresh(f.c2.ID, OAuthRefresh{At: at, State: RefreshOK, AccessToken: "oauth-new-access-0000000001",
		RefreshToken: "rt-rotated-refresh-0000000001", ExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	// A failure keeps the tokens and says why, on one bounded line.
	later := at.Add(2 * time.Hour)
	if err := s.RecordOAuthRefresh(f.c2.ID, OAuthRefresh{At: later, State: RefreshInvalidGrant,
		Error: "token endpoint answered 400\nBad Request " + strings.Repeat("x", 500)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, testKey, Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.OAuthCredential(f.c2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Secret != "oauth-new-access-0000000001" || c.RefreshToken != "rt-rotated-refresh-0000000001" {
		t.Errorf("after reopening: %q / %q", c.Secret, c.RefreshToken)
	}
	o := c.OAuth
	if !o.ExpiresAt.Equal(exp) || !o.LastRefreshAt.Equal(later) || o.LastRefreshAt.Location() != time.UTC || o.RefreshState != RefreshInvalidGrant ||
		!strings.HasPrefix(o.LastRefreshError, "token endpoint answered 400 Bad Request xxx") || len(o.LastRefreshError) > maxRefreshError+3 {
		t.Errorf("oauth after reopening: %+v", o)
	}
	pub, err := s.Credential(f.c2.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(pub)
	for _, want := range []string{`"last_refresh_at":"2030-06-01T12:30:00Z"`, `"refresh_state":"invalid_grant"`, `"last_refresh_error":"token endpoint`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("JSON %s lacks %s", raw, want)
		}
	}
	if strings.Contains(string(raw), "0000000001") {
		t.Errorf("JSON shows a token: %s", raw)
	}
	if RefreshFailed(RefreshOK) || RefreshFailed(RefreshNoExpiry) || RefreshFailed("") || !RefreshFailed(RefreshTimeout) {
		t.Error("RefreshFailed")
	}
}

// A record written before these fields existed reads as never refreshed.
func TestOAuthRecordWithoutRefreshFieldsReads(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCredentials)
		var m map[string]any
		if err := json.Unmarshal(b.Get([]byte(f.c2.ID)), &m); err != nil {
			return err
		}
		o := m["oauth"].(map[string]any)
		if _, ok := o["refresh_state"]; ok {
			t.Error("a credential never refreshed stores a refresh state")
		}
		delete(o, "last_refresh_at")
		raw, _ := json.Marshal(m)
		return b.Put([]byte(f.c2.ID), raw)
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.OAuthCredential(f.c2.ID)
	if err != nil || c.Secret != secret2 || c.RefreshToken != refresh2 || c.OAuth.LastRefreshAt != nil || c.OAuth.RefreshState != "" {
		t.Fatalf("old record: %+v %v", c.OAuth, err)
	}
}

func TestUpdateOAuthSettings(t *testing.T) {
	s, clk := openTestClock(t)
	f := newFixture(t, s)
	exp := clk.Now().Add(3 * time.Hour)
	c, err := s.UpdateCredential(f.c2.ID, CredentialPatch{OAuthTokenURL: ptr("https://auth2.example.com/oauth/token"),
		OAuthRefreshToken: ptr("rt-replaced-0000000000000"), OAuthClientID: ptr(""), ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if c.OAuth.TokenURL != "https://auth2.example.com/oauth/token" || c.OAuth.ClientID != "" || !c.OAuth.ExpiresAt.Equal(exp) || c.RefreshToken != "" {
		t.Errorf("returned %+v (refresh token %q)", c.OAuth, c.RefreshToken)
	}
	l := loadedCredential(t, s, f.c2.ID)
	if l.RefreshToken != "rt-replaced-0000000000000" || l.Secret != secret2 || l.OAuth.TokenURL != "https://auth2.example.com/oauth/token" {
		t.Errorf("stored %+v %q %q", l.OAuth, l.Secret, l.RefreshToken)
	}

	before := loadedCredential(t, s, f.c2.ID)
	beforeKey := loadedCredential(t, s, f.c1.ID)
	for _, tc := range []struct {
		id    string
		patch CredentialPatch
		field string
	}{
		{f.c2.ID, CredentialPatch{OAuthTokenURL: ptr("ftp://x")}, "oauth_token_url"},
		{f.c2.ID, CredentialPatch{Weight: ptr(3), OAuthRefreshToken: ptr("has space")}, "oauth_refresh_token"},
		{f.c2.ID, CredentialPatch{OAuthClientID: ptr(strings.Repeat("c", 2000))}, "oauth_client_id"},
		{f.c1.ID, CredentialPatch{Weight: ptr(3), OAuthRefreshToken: ptr("rt-for-an-api-key-000000")}, "oauth_refresh_token"},
		{f.c1.ID, CredentialPatch{ExpiresAt: &exp}, "expires_at"},
	} {
		_, err := s.UpdateCredential(tc.id, tc.patch)
		wantField(t, err, tc.field)
	}
	if after := loadedCredential(t, s, f.c2.ID); !reflect.DeepEqual(after, before) {
		t.Errorf("a refused patch changed the OAuth credential: %+v", after)
	}
	if after := loadedCredential(t, s, f.c1.ID); !reflect.DeepEqual(after, beforeKey) {
		t.Errorf("a refused patch changed the API key: %+v", after)
	}
	_, err = s.OAuthCredential(f.c1.ID)
	wantField(t, err, "kind")
}
