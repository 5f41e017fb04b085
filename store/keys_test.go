package store

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/units"
)

var keySecretRE = regexp.MustCompile(`^aigw_[0-9A-Za-z]{43}$`)

func TestNewKeySecretFormatAndUniqueness(t *testing.T) {
	seen := map[string]bool{}
	chars := map[rune]bool{}
	for range 10000 {
		s := NewKeySecret()
		if !keySecretRE.MatchString(s) {
			t.Fatalf("NewKeySecret() = %q; want aigw_ + 43 base62 characters", s)
		}
		if seen[s] {
			t.Fatalf("NewKeySecret() repeated %q", s)
		}
		seen[s] = true
		for _, c := range s[len(KeySecretPrefix):] {
			chars[c] = true
		}
	}
	if len(chars) != 62 {
		t.Errorf("10000 secrets used %d distinct characters; want all 62", len(chars))
	}
}

func TestCreateKey(t *testing.T) {
	s, clk := openTestClock(t)
	f := newFixture(t, s)

	exp := clk.Now().Add(48 * time.Hour)
	k, secret, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID, f.c2.ID}, Name: "web app",
		Limits:  Limits{RPM: 60, TPM: 100000, DailyTokens: 1000000, DailyCost: 12.5, MaxConcurrency: 4},
		Timeout: units.Duration(30 * time.Second), MaxRetries: ptr(2), ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if !keySecretRE.MatchString(secret) {
		t.Errorf("secret = %q; want aigw_ + 43 base62 characters", secret)
	}
	if k.Hash != HashKey([]byte(secret)) {
		t.Error("Hash is not HashKey(secret)")
	}
	shown := strings.TrimSuffix(k.Preview, "…")
	if !strings.HasPrefix(secret, shown) || len(shown) > len(KeySecretPrefix)+4 || strings.Contains(k.Preview, secret) {
		t.Errorf("preview = %q; want a short prefix of the secret", k.Preview)
	}
	if !strings.HasPrefix(k.ID, "key_") || k.Strategy != DefaultStrategy || k.Status != KeyActive ||
		k.Provider != "openai" || !slices.Equal(k.Credentials, []string{f.c1.ID, f.c2.ID}) || !k.CreatedAt.Equal(clk.Now()) {
		t.Errorf("key = %+v; want default strategy cache_affinity, active", k)
	}
	got, err := s.Key(k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, k) {
		t.Errorf("Key() = %+v\nwant %+v", got, k)
	}
	b, _ := json.Marshal(got)
	if strings.Contains(string(b), secret) || strings.Contains(string(b), secret[len(KeySecretPrefix)+4:]) {
		t.Errorf("key JSON reveals the secret: %s", b)
	}

	checkKeyListing(t, s)

	// Each strategy is accepted.
	for _, st := range Strategies {
		if k, _, err := s.CreateKey(KeyInput{Provider: "anthropic", Credentials: []string{f.c3.ID}, Strategy: st}); err != nil || k.Strategy != st {
			t.Errorf("strategy %s: %q, %v", st, k.Strategy, err)
		}
	}
}

func TestCreateKeySecretsAreUnique(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)
	secrets, ids, hashes := map[string]bool{}, map[string]bool{}, map[[32]byte]bool{}
	const n = 100
	for range n {
		k, secret, err := s.CreateKey(KeyInput{Provider: "anthropic", Credentials: []string{f.c3.ID}})
		if err != nil {
			t.Fatal(err)
		}
		secrets[secret], ids[k.ID], hashes[k.Hash] = true, true, true
	}
	if len(secrets) != n || len(ids) != n || len(hashes) != n {
		t.Errorf("%d keys gave %d secrets, %d ids, %d hashes; want all distinct", n, len(secrets), len(ids), len(hashes))
	}
	keys, err := s.allKeys()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != n {
		t.Errorf("Keys() lists %d; want %d", len(keys), n)
	}
	checkKeyListing(t, s)
}

func TestCreateKeyRefusesBadInput(t *testing.T) {
	s, clk := openTestClock(t)
	f := newFixture(t, s)
	past := clk.Now().Add(-time.Minute)
	now := clk.Now()

	tests := []struct {
		name   string
		change func(in *KeyInput)
		field  string
	}{
		{"credential of another provider", func(in *KeyInput) { in.Credentials = []string{f.c1.ID, f.c3.ID} }, "credentials"},
		{"unknown credential", func(in *KeyInput) { in.Credentials = []string{"cred_missing"} }, "credentials"},
		{"duplicate credential", func(in *KeyInput) { in.Credentials = []string{f.c1.ID, f.c1.ID} }, "credentials"},
		{"empty pool", func(in *KeyInput) { in.Credentials = []string{} }, "credentials"},
		{"nil pool", func(in *KeyInput) { in.Credentials = nil }, "credentials"},
		{"unknown strategy", func(in *KeyInput) { in.Strategy = "random" }, "strategy"},
		{"no provider", func(in *KeyInput) { in.Provider = "" }, "provider"},
		{"name too long", func(in *KeyInput) { in.Name = strings.Repeat("k", 65) }, "name"},
		{"rpm -1", func(in *KeyInput) { in.RPM = -1 }, "rpm"},
		{"rpm absurd", func(in *KeyInput) { in.RPM = maxLimit + 1 }, "rpm"},
		{"tpm -1", func(in *KeyInput) { in.TPM = -1 }, "tpm"},
		{"daily_tokens -1", func(in *KeyInput) { in.DailyTokens = -1 }, "daily_tokens"},
		{"max_concurrency -1", func(in *KeyInput) { in.MaxConcurrency = -1 }, "max_concurrency"},
		{"daily_cost -1", func(in *KeyInput) { in.DailyCost = -1 }, "daily_cost"},
		{"daily_cost NaN", func(in *KeyInput) { in.DailyCost = math.NaN() }, "daily_cost"},
		{"daily_cost +Inf", func(in *KeyInput) { in.DailyCost = math.Inf(1) }, "daily_cost"},
		{"daily_cost 1e12", func(in *KeyInput) { in.DailyCost = 1e12 }, "daily_cost"},
		{"max_retries 11", func(in *KeyInput) { in.MaxRetries = ptr(11) }, "max_retries"},
		{"max_retries -1", func(in *KeyInput) { in.MaxRetries = ptr(-1) }, "max_retries"},
		{"negative timeout", func(in *KeyInput) { in.Timeout = units.Duration(-time.Second) }, "timeout"},
		{"timeout over a day", func(in *KeyInput) { in.Timeout = units.Duration(25 * time.Hour) }, "timeout"},
		{"expires_at in the past", func(in *KeyInput) { in.ExpiresAt = &past }, "expires_at"},
		{"expires_at now", func(in *KeyInput) { in.ExpiresAt = &now }, "expires_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}}
			tt.change(&in)
			_, secret, err := s.CreateKey(in)
			wantField(t, err, tt.field)
			if secret != "" {
				t.Errorf("a refused key returned a secret")
			}
			assertNoKeys(t, s)
		})
	}

	_, _, err := s.CreateKey(KeyInput{Provider: "nope", Credentials: []string{f.c1.ID}})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("CreateKey for an unknown provider: %v; want ErrNotFound", err)
	}
	assertNoKeys(t, s)

	// Limits at their bounds are accepted.
	if _, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID},
		Limits: Limits{RPM: maxLimit, DailyCost: 1e9}, MaxRetries: ptr(MaxRetriesLimit), Timeout: units.Duration(24 * time.Hour)}); err != nil {
		t.Errorf("limits at their maximum refused: %v", err)
	}
}

func assertNoKeys(t *testing.T, s *Store) {
	t.Helper()
	if keys, err := s.allKeys(); err != nil || len(keys) != 0 {
		t.Errorf("Keys() = %d, %v after a refused create; want none", len(keys), err)
	}
	checkKeyListing(t, s)
}

func TestKeyStatus(t *testing.T) {
	s, clk := openTestClock(t)
	f := newFixture(t, s)
	exp := clk.Now().Add(time.Hour)
	k, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	forever, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}})
	if err != nil {
		t.Fatal(err)
	}
	status := func(id string) (fromKey, fromKeys, fromLoad string) {
		t.Helper()
		one, err := s.Key(id)
		if err != nil {
			t.Fatal(err)
		}
		all, err := s.allKeys()
		if err != nil {
			t.Fatal(err)
		}
		d, err := s.Load()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range all {
			if k.ID == id {
				fromKeys = k.Status
			}
		}
		for _, k := range d.Keys {
			if k.ID == id {
				fromLoad = k.Status
			}
		}
		return one.Status, fromKeys, fromLoad
	}
	check := func(when, id, want string) {
		t.Helper()
		a, b, c := status(id)
		if a != want || b != want || c != want {
			t.Errorf("%s: status of %s = Key %q, Keys %q, Load %q; want %q", when, id, a, b, c, want)
		}
	}

	check("new", k.ID, KeyActive)
	clk.Advance(59 * time.Minute)
	check("a minute before expiry", k.ID, KeyActive)
	clk.Advance(time.Minute)
	check("at expiry", k.ID, KeyExpired)
	clk.Advance(24 * time.Hour)
	check("a day later", k.ID, KeyExpired)
	check("a day later", forever.ID, KeyActive)

	// An expired key can be given a new expiry.
	later := clk.Now().Add(time.Hour)
	if got, err := s.UpdateKey(k.ID, KeyPatch{ExpiresAt: &later}); err != nil || got.Status != KeyActive {
		t.Fatalf("extending an expired key: %q, %v; want active", got.Status, err)
	}
	check("extended", k.ID, KeyActive)

	if got, err := s.RevokeKey(k.ID); err != nil || got.Status != KeyRevoked {
		t.Fatalf("RevokeKey: %q, %v; want revoked", got.Status, err)
	}
	check("revoked", k.ID, KeyRevoked)
	clk.Advance(48 * time.Hour)
	check("revoked and past its expiry", k.ID, KeyRevoked)
}

func TestUpdateKey(t *testing.T) {
	s, clk := openTestClock(t)
	f := newFixture(t, s)
	exp := clk.Now().Add(time.Hour)
	orig, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}, Name: "app",
		Limits: Limits{RPM: 10, TPM: 1000}, MaxRetries: ptr(1), ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)

	k, err := s.UpdateKey(orig.ID, KeyPatch{RPM: ptr(int64(100)), DailyCost: ptr(5.0), Strategy: ptr(StrategyHealthBest),
		Credentials: &[]string{f.c2.ID, f.c1.ID}, MaxRetries: ptr(0), Timeout: ptr(units.Duration(time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	want := orig
	want.RPM, want.DailyCost, want.Strategy = 100, 5.0, StrategyHealthBest
	want.Credentials = []string{f.c2.ID, f.c1.ID}
	want.MaxRetries = ptr(0)
	want.Timeout = units.Duration(time.Minute)
	want.UpdatedAt = clk.Now()
	if !reflect.DeepEqual(k, want) {
		t.Errorf("UpdateKey =\n %+v\nwant %+v", k, want)
	}
	if got, _ := s.Key(orig.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("stored =\n %+v\nwant %+v", got, want)
	}

	// no_expiry clears the expiry.
	k, err = s.UpdateKey(orig.ID, KeyPatch{NoExpiry: true})
	if err != nil || k.ExpiresAt != nil {
		t.Fatalf("no_expiry: expires_at %v, %v; want none", k.ExpiresAt, err)
	}
	clk.Advance(2 * time.Hour)
	if got, _ := s.Key(orig.ID); got.ExpiresAt != nil || got.Status != KeyActive {
		t.Errorf("after no_expiry and past the old expiry: %v %s; want active without expiry", got.ExpiresAt, got.Status)
	}
	if k.Hash != orig.Hash {
		t.Error("an update changed the key's hash; the client's secret would stop working")
	}
}

func TestUpdateKeyRefusesBadPatch(t *testing.T) {
	s, clk := openTestClock(t)
	f := newFixture(t, s)
	orig, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}})
	if err != nil {
		t.Fatal(err)
	}
	past := clk.Now().Add(-time.Second)
	tests := []struct {
		name  string
		patch KeyPatch
		field string
	}{
		{"credential of another provider", KeyPatch{Credentials: &[]string{f.c3.ID}}, "credentials"},
		{"unknown credential", KeyPatch{Credentials: &[]string{f.c1.ID, "cred_missing"}}, "credentials"},
		{"duplicate credential", KeyPatch{Credentials: &[]string{f.c2.ID, f.c2.ID}}, "credentials"},
		{"empty pool", KeyPatch{Credentials: &[]string{}}, "credentials"},
		{"unknown strategy", KeyPatch{Strategy: ptr("fastest")}, "strategy"},
		{"rpm -1", KeyPatch{RPM: ptr(int64(-1))}, "rpm"},
		{"daily_cost NaN", KeyPatch{DailyCost: ptr(math.NaN())}, "daily_cost"},
		{"max_retries 11", KeyPatch{MaxRetries: ptr(11)}, "max_retries"},
		{"expires_at in the past", KeyPatch{ExpiresAt: &past}, "expires_at"},
		{"good limit with a bad one", KeyPatch{TPM: ptr(int64(5)), MaxConcurrency: ptr(int64(-5))}, "max_concurrency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.UpdateKey(orig.ID, tt.patch)
			wantField(t, err, tt.field)
			if got, _ := s.Key(orig.ID); !reflect.DeepEqual(got, orig) {
				t.Errorf("a refused patch changed the key: %+v", got)
			}
		})
	}
	if _, err := s.UpdateKey("key_missing", KeyPatch{RPM: ptr(int64(1))}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateKey of a missing id: %v; want ErrNotFound", err)
	}
}

func TestRevokeKey(t *testing.T) {
	s, clk := openTestClock(t)
	f := newFixture(t, s)
	k, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	first, err := s.RevokeKey(k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != KeyRevoked || first.RevokedAt == nil || !first.RevokedAt.Equal(clk.Now()) {
		t.Errorf("RevokeKey = %+v; want revoked now", first)
	}
	clk.Advance(time.Hour)
	second, err := s.RevokeKey(k.ID)
	if err != nil {
		t.Fatalf("second RevokeKey: %v", err)
	}
	if !reflect.DeepEqual(second, first) {
		t.Errorf("second RevokeKey changed the key:\n %+v\nwant %+v", second, first)
	}

	_, err = s.UpdateKey(k.ID, KeyPatch{RPM: ptr(int64(5))})
	wantField(t, err, "id")
	if got, _ := s.Key(k.ID); !reflect.DeepEqual(got, first) {
		t.Errorf("a revoked key was changed: %+v", got)
	}

	if _, err := s.RevokeKey("key_missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevokeKey of a missing id: %v; want ErrNotFound", err)
	}
	if _, err := s.Key("key_missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Key of a missing id: %v; want ErrNotFound", err)
	}
}

func TestDeleteKey(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)
	k, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Key(k.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Key after DeleteKey: %v; want ErrNotFound", err)
	}
	if got, err := s.Key(other.ID); err != nil || got.Hash != other.Hash {
		t.Errorf("deleting one key touched another: %+v, %v", got, err)
	}
	checkKeyListing(t, s)
	if err := s.DeleteKey(k.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteKey: %v; want ErrNotFound", err)
	}
}

// A rotated key keeps its id and settings; only the new secret is known to
// the store (the gateway's snapshot is built from Load, so the old secret
// stops working at the next reload), and a revoked key is not revived.
func TestRotateKeySecret(t *testing.T) {
	s, _ := openTestClock(t)
	f := newFixture(t, s)
	k, oldSecret, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}, Name: "demo", Limits: Limits{RPM: 7}})
	if err != nil {
		t.Fatal(err)
	}
	r, newSecret, err := s.RotateKeySecret(k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != k.ID || r.Name != "demo" || r.RPM != 7 || newSecret == oldSecret || r.Hash != HashKey([]byte(newSecret)) ||
		!strings.HasPrefix(newSecret, strings.TrimSuffix(r.Preview, "…")) {
		t.Fatalf("rotated key %+v", r)
	}
	d, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Keys) != 1 || d.Keys[0].Hash != HashKey([]byte(newSecret)) {
		t.Fatalf("loaded keys after rotation: %+v", d.Keys)
	}
	if _, err := s.RevokeKey(k.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RotateKeySecret(k.ID); err == nil {
		t.Fatal("a revoked key got a new secret")
	}
	if _, _, err := s.RotateKeySecret("key_nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
}
