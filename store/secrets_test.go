package store

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestSecretsNeverStoredInPlaintext(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)
	k, keySecret, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID, f.c2.ID}})
	if err != nil {
		t.Fatal(err)
	}
	const rotated = "sk-ROTATEDsecret-99887766554433221100"
	if _, err := s.UpdateCredential(f.c1.ID, CredentialPatch{Secret: ptr(rotated)}); err != nil {
		t.Fatal(err)
	}
	const newAccess, newRefresh = "oauth-NEWaccess-1357913579135791", "rt-NEWrefresh-2468024680246802"
	if err := s.SetOAuthTokens(f.c2.ID, newAccess, newRefresh, nil); err != nil {
		t.Fatal(err)
	}
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	for _, secret := range []string{secret1, secret2, refresh2, secret3, rotated, newAccess, newRefresh, keySecret} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the database file contains the secret %q in plaintext", secret)
		}
		// Nor any long run of it beyond what a preview shows.
		if mid := secret[len(secret)/4 : len(secret)-len(secret)/4]; bytes.Contains(raw, []byte(mid)) {
			t.Errorf("the database file contains %q, a part of the secret %q", mid, secret)
		}
	}
	hash := HashKey([]byte(keySecret))
	if !bytes.Contains(raw, []byte(hex.EncodeToString(hash[:]))) {
		t.Error("the database file does not hold the key's SHA-256 (hex)")
	}
	if k.Hash != hash {
		t.Errorf("key hash = %x; want sha256 of the secret %x", k.Hash, hash)
	}
}

func TestCredentialJSONHasNoSecret(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)
	creds, err := s.credentialsOf("")
	if err != nil {
		t.Fatal(err)
	}
	// What CreateCredential returns carries the secret in memory; its JSON must not.
	for _, c := range append(creds, f.c1, f.c2, f.c3) {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{secret1, secret2, refresh2, secret3} {
			if strings.Contains(string(b), secret) {
				t.Errorf("JSON of credential %s contains a secret: %s", c.ID, b)
			}
		}
		var fields map[string]any
		if err := json.Unmarshal(b, &fields); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"secret", "Secret", "refresh_token", "RefreshToken", "sealed_secret"} {
			if _, ok := fields[name]; ok {
				t.Errorf("JSON of credential %s has a %q field: %s", c.ID, name, b)
			}
		}
	}
	for _, c := range creds {
		if c.Secret != "" || c.RefreshToken != "" {
			t.Errorf("Credentials() returned credential %s with its secrets; only Load() unseals", c.ID)
		}
	}
	one, err := s.Credential(f.c2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if one.Secret != "" || one.RefreshToken != "" {
		t.Errorf("Credential() returned secrets: %q %q", one.Secret, one.RefreshToken)
	}
}

func TestPreviewShowsOnlyAFewCharacters(t *testing.T) {
	s := openTest(t)
	if _, err := s.CreateProvider(Provider{Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com"}); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"sk-proj-abcdefghijklmnopqrstuvwxyz0123456789", "AIzaSyD-0123456789abcdefghijklmnopqrstu", "short", "elevenchars"} {
		c, err := s.CreateCredential(CredentialInput{Provider: "openai", Secret: secret})
		if err != nil {
			t.Fatal(err)
		}
		shown := strings.ReplaceAll(c.Preview, "…", "")
		if len(shown) > 7 {
			t.Errorf("preview of %q = %q shows %d characters; want at most 7", secret, c.Preview, len(shown))
		}
		if len(secret) >= 12 && (!strings.HasPrefix(secret, c.Preview[:3]) || !strings.HasSuffix(secret, shown[3:])) {
			t.Errorf("preview of %q = %q; want its first 3 and last 4 characters", secret, c.Preview)
		}
		if len(shown) >= len(secret)/4 {
			t.Errorf("preview of %q = %q reveals a quarter of it or more", secret, c.Preview)
		}
	}
}

func TestSealedValueIsBoundToItsRecord(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)

	var origC1 []byte
	swap := func(id string, change func(rec *credentialRecord, other credentialRecord)) {
		t.Helper()
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketCredentials)
			var rec, other credentialRecord
			if err := getJSON(b, []byte(id), &rec); err != nil {
				return err
			}
			otherID := f.c2.ID
			if id == f.c2.ID {
				otherID = f.c1.ID
			}
			if err := getJSON(b, []byte(otherID), &other); err != nil {
				return err
			}
			change(&rec, other)
			return putJSON(b, []byte(id), &rec)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	unsealErr := func(id string) error {
		return s.db.View(func(tx *bolt.Tx) error {
			_, err := s.getCredential(tx, id, true)
			return err
		})
	}

	// c2's sealed secret copied onto c1.
	swap(f.c1.ID, func(rec *credentialRecord, other credentialRecord) {
		origC1 = rec.SealedSecret
		rec.SealedSecret = other.SealedSecret
	})
	if err := unsealErr(f.c1.ID); !errors.Is(err, errUnseal) {
		t.Errorf("a sealed secret moved to another record: %v; want errUnseal", err)
	}
	// Load leaves that one record out, with the reason, and loads the rest.
	d, err := s.Load()
	if err != nil {
		t.Fatalf("Load with a moved sealed secret: %v", err)
	}
	if why := d.BrokenCredentials[f.c1.ID]; !strings.Contains(why, "secret does not unseal") || strings.Contains(why, secret2) {
		t.Errorf("broken reason for %s = %q", f.c1.ID, why)
	}
	for _, c := range d.Credentials {
		if c.ID == f.c1.ID {
			t.Errorf("Load returned the credential whose secret did not unseal: %+v", c)
		}
	}
	if len(d.Credentials) != 2 {
		t.Errorf("Load = %d credentials; want the 2 others", len(d.Credentials))
	}

	// c2's own refresh token sealed value put in its secret slot.
	swap(f.c2.ID, func(rec *credentialRecord, _ credentialRecord) {
		rec.SealedSecret, rec.SealedRefresh = rec.SealedRefresh, rec.SealedSecret
	})
	if err := unsealErr(f.c2.ID); !errors.Is(err, errUnseal) {
		t.Errorf("refresh token and secret swapped within a record: %v; want errUnseal", err)
	}

	// Put everything back: the original values unseal again.
	swap(f.c1.ID, func(rec *credentialRecord, _ credentialRecord) { rec.SealedSecret = origC1 })
	swap(f.c2.ID, func(rec *credentialRecord, _ credentialRecord) {
		rec.SealedSecret, rec.SealedRefresh = rec.SealedRefresh, rec.SealedSecret
	})
	d, err = s.Load()
	if err != nil || len(d.BrokenCredentials) != 0 {
		t.Fatalf("Load after restoring the records: %v, broken %v", err, d.BrokenCredentials)
	}
	got := map[string]string{}
	for _, c := range d.Credentials {
		got[c.ID] = c.Secret + "|" + c.RefreshToken
	}
	if got[f.c1.ID] != secret1+"|" || got[f.c2.ID] != secret2+"|"+refresh2 {
		t.Errorf("restored secrets = %v", got)
	}
}

func TestSealerRoundTrip(t *testing.T) {
	sl, err := newSealer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	a := sl.seal("same secret", "cred_a")
	b := sl.seal("same secret", "cred_a")
	if bytes.Equal(a, b) {
		t.Error("sealing the same secret twice gave the same bytes; the nonce must be fresh")
	}
	if got, err := sl.open(a, "cred_a"); err != nil || got != "same secret" {
		t.Errorf("open = %q, %v; want the secret", got, err)
	}
	if _, err := sl.open(a, "cred_b"); !errors.Is(err, errUnseal) {
		t.Errorf("open under another id: %v; want errUnseal", err)
	}
	damaged := bytes.Clone(a)
	damaged[len(damaged)-1] ^= 1
	if _, err := sl.open(damaged, "cred_a"); !errors.Is(err, errUnseal) {
		t.Errorf("open of a damaged value: %v; want errUnseal", err)
	}
	if _, err := sl.open(a[:5], "cred_a"); !errors.Is(err, errUnseal) {
		t.Errorf("open of a truncated value: %v; want errUnseal", err)
	}
	other, _ := newSealer(bytes.Repeat([]byte{1}, MasterKeySize))
	if _, err := other.open(a, "cred_a"); !errors.Is(err, errUnseal) {
		t.Errorf("open under another master key: %v; want errUnseal", err)
	}
}

// A credential whose secret no longer unseals can still be disabled and
// be given a new secret, which repairs it.
func TestDamagedCredentialIsRepairedByANewSecret(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)
	damageSecret(t, s, f.c1.ID)
	if _, err := s.UpdateCredential(f.c1.ID, CredentialPatch{Enabled: ptr(false)}); err != nil {
		t.Fatalf("disable a damaged credential: %v", err)
	}
	if d, err := s.Load(); err != nil || d.BrokenCredentials[f.c1.ID] == "" {
		t.Fatalf("Load after disabling: %v, broken %v; want still broken", err, d.BrokenCredentials)
	}
	const fresh = "sk-REPLACEMENTsecret-000111222333"
	c, err := s.UpdateCredential(f.c1.ID, CredentialPatch{Secret: ptr(fresh), Enabled: ptr(true)})
	if err != nil {
		t.Fatalf("new secret for a damaged credential: %v", err)
	}
	if c.Secret != "" || c.Preview != preview(fresh) {
		t.Errorf("UpdateCredential returned secret %q, preview %q", c.Secret, c.Preview)
	}
	d, err := s.Load()
	if err != nil || len(d.BrokenCredentials) != 0 {
		t.Fatalf("Load after the new secret: %v, broken %v", err, d.BrokenCredentials)
	}
	got := map[string]Credential{}
	for _, c := range d.Credentials {
		got[c.ID] = c
	}
	if got[f.c1.ID].Secret != fresh || !got[f.c1.ID].Enabled {
		t.Errorf("repaired credential = %+v", got[f.c1.ID])
	}
	// Another credential's update keeps its refresh token.
	if _, err := s.UpdateCredential(f.c2.ID, CredentialPatch{Secret: ptr("oauth-NEWaccess-99887766")}); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Load(); d != nil {
		for _, c := range d.Credentials {
			if c.ID == f.c2.ID && (c.RefreshToken != refresh2 || c.Secret != "oauth-NEWaccess-99887766") {
				t.Errorf("OAuth credential after a new secret: %q / %q", c.Secret, c.RefreshToken)
			}
		}
	}
}

// A credential record that does not decode at all is listed by its id and
// reported broken by Load; the others load, and it can be removed.
func TestUndecodableCredentialRecordIsReportedNotFatal(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCredentials).Put([]byte(f.c3.ID), []byte(`{"id":"`+f.c3.ID+`","sealed_secret":"%%%`))
	}); err != nil {
		t.Fatal(err)
	}
	d, err := s.Load()
	if err != nil {
		t.Fatalf("Load with an undecodable credential record: %v", err)
	}
	if len(d.Credentials) != 2 || !strings.Contains(d.BrokenCredentials[f.c3.ID], "does not decode") {
		t.Errorf("Load = %d credentials, broken %v", len(d.Credentials), d.BrokenCredentials)
	}
	all, err := s.credentialsOf("")
	if err != nil || len(all) != 3 {
		t.Fatalf("Credentials = %d, %v; want 3 (the damaged one by its id)", len(all), err)
	}
	if c, err := s.Credential(f.c3.ID); err != nil || c.Kind != KindDamaged {
		t.Errorf("Credential(damaged) = %+v, %v", c, err)
	}
	if err := s.DeleteCredential(f.c3.ID); err != nil {
		t.Fatalf("remove the damaged credential: %v", err)
	}
	if d, err := s.Load(); err != nil || len(d.BrokenCredentials) != 0 {
		t.Errorf("Load after the removal: %v, broken %v", err, d.BrokenCredentials)
	}
}
