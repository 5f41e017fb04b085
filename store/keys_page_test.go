package store

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// allKeys pages through every key, oldest first (what Keys() returned
// before keys were paged).
func (s *Store) allKeys() ([]Key, error) {
	out := []Key{}
	f := KeyFilter{Limit: MaxPageLimit}
	for range 1000 {
		page, next, err := s.Keys(f)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" {
			return out, nil
		}
		f.After = next
	}
	panic("allKeys: more than 1000 pages")
}

// credentialsOf pages through the credentials of provider ("": all).
func (s *Store) credentialsOf(provider string) ([]Credential, error) {
	out := []Credential{}
	f := CredentialFilter{Provider: provider, Limit: MaxPageLimit}
	for range 1000 {
		page, next, err := s.Credentials(f)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" {
			return out, nil
		}
		f.After = next
	}
	panic("credentialsOf: more than 1000 pages")
}

// pageKeys concatenates every page of f at its limit, checking that only
// the last page is short and that no key comes twice.
func pageKeys(t testing.TB, s *Store, f KeyFilter) []Key {
	t.Helper()
	var out []Key
	seen := map[string]bool{}
	refs := shuffledRefs(t, s)
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("more than 10000 pages")
		}
		page, next, err := s.Keys(f)
		if err != nil {
			t.Fatalf("Keys(%+v): %v", f, err)
		}
		// The gateway picks its pages from the keys in memory, offered in
		// the order of a map: the same page, the same cursor.
		mem, memNext, err := s.KeysFrom(f, refs)
		if err != nil || !slices.Equal(keyIDs(mem), keyIDs(page)) || memNext != next {
			t.Fatalf("KeysFrom(%+v, refs) = %v next %q, %v; Keys = %v next %q", f, keyIDs(mem), memNext, err, keyIDs(page), next)
		}
		for _, k := range page {
			if seen[k.ID] {
				t.Fatalf("Keys(%+v): %s listed twice", f, k.ID)
			}
			seen[k.ID] = true
		}
		out = append(out, page...)
		limit := f.Limit
		if limit == 0 {
			limit = DefaultPageLimit
		}
		if next == "" {
			return out
		}
		if len(page) != limit {
			t.Fatalf("Keys(%+v): a page of %d with a next cursor; want %d", f, len(page), limit)
		}
		f.After = next
	}
}

// memRefs is every stored key as a KeyRef, as the proxy holds them.
func memRefs(t testing.TB, s *Store) []KeyRef {
	t.Helper()
	d, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]KeyRef, len(d.Keys))
	for i, k := range d.Keys {
		refs[i] = KeyRef{ID: k.ID, Name: k.Name, Provider: k.Provider, Created: k.CreatedAt.UnixNano(), Revoked: k.RevokedAt != nil}
		if k.ExpiresAt != nil {
			refs[i].Expires = k.ExpiresAt.UnixNano()
		}
	}
	return refs
}

// shuffledRefs is every stored key as a KeyRef, in a random order.
func shuffledRefs(t testing.TB, s *Store) KeyRefs {
	refs := memRefs(t, s)
	rand.Shuffle(len(refs), func(i, j int) { refs[i], refs[j] = refs[j], refs[i] })
	return refsOf(refs)
}

func refsOf(refs []KeyRef) KeyRefs {
	return func(yield func(*KeyRef) bool) {
		for i := range refs {
			if !yield(&refs[i]) {
				return
			}
		}
	}
}

func keyIDs(ks []Key) []string {
	ids := make([]string, len(ks))
	for i, k := range ks {
		ids[i] = k.ID
	}
	return ids
}

// fillKeys creates n keys through CreateKey, over two providers, with names
// "web-…", "ci-…" and none, revoking every 7th and letting every 11th
// expire; the clock moves on between some (several keys share a creation
// time, then the id orders them).
func fillKeys(t testing.TB, s *Store, clk *clock, f fixture, n int) {
	t.Helper()
	for i := range n {
		in := KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}}
		if i%3 == 0 {
			in = KeyInput{Provider: "anthropic", Credentials: []string{f.c3.ID}}
		}
		switch i % 4 {
		case 0:
			in.Name = fmt.Sprintf("web-%03d", i)
		case 1, 2:
			in.Name = fmt.Sprintf("ci-%03d", n-i)
		}
		if i%11 == 5 {
			exp := clk.Now().Add(time.Hour)
			in.ExpiresAt = &exp
		}
		k, _, err := s.CreateKey(in)
		if err != nil {
			t.Fatal(err)
		}
		if i%7 == 3 {
			if _, err := s.RevokeKey(k.ID); err != nil {
				t.Fatal(err)
			}
		}
		if i%4 != 3 {
			clk.Advance(time.Millisecond)
		}
	}
	clk.Advance(2 * time.Hour) // the keys with an expiry have expired
}

// wantKeys is what a filter must list, computed from every key the proxy
// loads (Load's order: oldest first), then by name when a prefix is given.
func wantKeys(t testing.TB, s *Store, f KeyFilter) []string {
	t.Helper()
	d, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	var out []Key
	for _, k := range d.Keys {
		if (f.Provider == "" || k.Provider == f.Provider) && strings.HasPrefix(k.Name, f.NamePrefix) && (f.Status == "" || k.Status == f.Status) {
			out = append(out, k)
		}
	}
	slices.SortStableFunc(out, func(a, b Key) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if f.NamePrefix != "" {
		slices.SortStableFunc(out, func(a, b Key) int { return strings.Compare(a.Name, b.Name) })
	}
	return keyIDs(out)
}

func TestKeysPagesConcatenateToEveryKeyOnce(t *testing.T) {
	s, clk := openTestClock(t)
	f := newFixture(t, s)
	fillKeys(t, s, clk, f, 260)

	for _, kf := range []KeyFilter{
		{}, {Limit: 7}, {Limit: 1}, {Limit: 260}, {Limit: MaxPageLimit},
		{Provider: "openai", Limit: 9}, {Provider: "anthropic"}, {Provider: "gemini"},
		{NamePrefix: "web-", Limit: 8}, {NamePrefix: "ci-", Limit: 50}, {NamePrefix: "ci-1"}, {NamePrefix: "nobody"},
		{Status: KeyActive, Limit: 13}, {Status: KeyRevoked, Limit: 5}, {Status: KeyExpired, Limit: 3},
		{Provider: "anthropic", Status: KeyRevoked, Limit: 2}, {NamePrefix: "web-", Provider: "openai", Limit: 4},
		{NamePrefix: "ci-", Provider: "anthropic", Status: KeyExpired, Limit: 1},
	} {
		got := keyIDs(pageKeys(t, s, kf))
		want := wantKeys(t, s, kf)
		if !slices.Equal(got, want) {
			t.Errorf("Keys(%+v) pages list %d keys %v…; want %d %v…", kf, len(got), got[:min(len(got), 3)], len(want), want[:min(len(want), 3)])
		}
	}
	if all := wantKeys(t, s, KeyFilter{}); len(all) != 260 {
		t.Fatalf("Load lists %d keys; want 260", len(all))
	}
	first, next, err := s.Keys(KeyFilter{})
	if err != nil || len(first) != DefaultPageLimit || next == "" {
		t.Errorf("the first page = %d keys, next %q, %v; want %d and a cursor", len(first), next, err, DefaultPageLimit)
	}
	for _, k := range first {
		if k.Hash == ([32]byte{}) || k.Status == "" || k.Models == nil {
			t.Fatalf("a listed key lacks its hash, status or models: %+v", k)
		}
	}
}

func TestKeysPagesWhileKeysChange(t *testing.T) {
	s, clk := openTestClock(t)
	f := newFixture(t, s)
	fillKeys(t, s, clk, f, 60)
	for _, kf := range []KeyFilter{{Limit: 10}, {Provider: "openai", Limit: 10}, {NamePrefix: "ci-", Limit: 5}} {
		before := wantKeys(t, s, kf)
		page, next, err := s.Keys(kf)
		if err != nil {
			t.Fatal(err)
		}
		got := keyIDs(page)
		// Between pages: one key of the page and one further on revoked,
		// one created (named to sort in the middle of the ci- keys).
		for _, id := range []string{got[2], before[len(before)-2]} {
			if _, err := s.RevokeKey(id); err != nil {
				t.Fatal(err)
			}
		}
		created, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID}, Name: "ci-030x"})
		if err != nil {
			t.Fatal(err)
		}
		kf.After = next
		got = append(got, keyIDs(pageKeys(t, s, kf))...)
		seen := map[string]int{}
		for _, id := range got {
			seen[id]++
		}
		for _, id := range before {
			if seen[id] != 1 {
				t.Errorf("Keys(%+v): key %s listed %d times across pages; want once", kf, id, seen[id])
			}
		}
		if seen[created.ID] > 1 {
			t.Errorf("Keys(%+v): the key created between pages is listed %d times", kf, seen[created.ID])
		}
		if kf.NamePrefix == "" && kf.Provider == "" && seen[created.ID] != 1 {
			t.Errorf("Keys(%+v): the key created between pages is missing from the last page", kf)
		}
		if _, err := s.RevokeKey(created.ID); err != nil {
			t.Fatal(err)
		}
	}
}

func TestKeysPageRefusals(t *testing.T) {
	s, clk := openTestClock(t)
	f := newFixture(t, s)
	fillKeys(t, s, clk, f, 12)
	_, next, err := s.Keys(KeyFilter{Limit: 2})
	if err != nil || next == "" {
		t.Fatalf("Keys = next %q, %v", next, err)
	}
	_, nameNext, err := s.Keys(KeyFilter{NamePrefix: "ci-", Limit: 2})
	if err != nil || nameNext == "" {
		t.Fatalf("Keys = next %q, %v", nameNext, err)
	}
	for _, c := range []struct {
		f     KeyFilter
		field string
	}{
		{KeyFilter{Status: "paused"}, "status"},
		{KeyFilter{Limit: -1}, "limit"},
		{KeyFilter{Limit: MaxPageLimit + 1}, "limit"},
		{KeyFilter{After: "garbage!"}, "cursor"},
		{KeyFilter{After: "AAAA"}, "cursor"},
		{KeyFilter{After: next[:len(next)-1] + "\x00"}, "cursor"},
		{KeyFilter{After: nameNext}, "cursor"},                     // of another listing
		{KeyFilter{NamePrefix: "web-", After: nameNext}, "cursor"}, // another prefix
		{KeyFilter{Provider: "openai", After: next}, "cursor"},     // another index
		{KeyFilter{NamePrefix: "ci-", After: next}, "cursor"},      // another index
	} {
		page, n, err := s.Keys(c.f)
		wantField(t, err, c.field)
		if page != nil || n != "" {
			t.Errorf("Keys(%+v) refused but returned %d keys, next %q", c.f, len(page), n)
		}
	}
}

func TestCredentialsPages(t *testing.T) {
	s := openTest(t)
	f := newFixture(t, s)
	for i := range 30 {
		p := []string{"openai", "anthropic"}[i%2]
		if _, err := s.CreateCredential(CredentialInput{Provider: p, Name: fmt.Sprintf("team-%02d", i), Secret: fmt.Sprintf("sk-pagesecret-%04d-abcdefgh", i)}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.AllCredentials()
	if err != nil || len(all) != 33 {
		t.Fatalf("AllCredentials = %d, %v; want 33", len(all), err)
	}
	for _, cf := range []CredentialFilter{{Limit: 4}, {Limit: 1}, {}, {Provider: "openai", Limit: 5}, {NamePrefix: "team-1", Limit: 3}, {Provider: "anthropic", NamePrefix: "team-"}, {Provider: "gemini"}} {
		var want []string
		for _, c := range all {
			if (cf.Provider == "" || c.Provider == cf.Provider) && strings.HasPrefix(c.Name, cf.NamePrefix) {
				want = append(want, c.ID)
			}
		}
		var got []string
		g := cf
		for range 100 {
			page, next, err := s.Credentials(g)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				got = append(got, c.ID)
			}
			if next == "" {
				break
			}
			g.After = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("Credentials(%+v) pages = %d %v; want %d %v", cf, len(got), got, len(want), want)
		}
	}
	// A credential removed between pages does not shift the next page.
	page, next, err := s.Credentials(CredentialFilter{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCredential(page[2].ID); err != nil {
		t.Fatal(err)
	}
	rest, _, err := s.Credentials(CredentialFilter{After: next, Limit: 3})
	if err != nil || len(rest) == 0 || rest[0].ID != all[3].ID {
		t.Errorf("the page after a removed credential starts with %v, %v; want %s", keyIDsOf(rest), err, all[3].ID)
	}
	for _, bad := range []CredentialFilter{{After: "%%"}, {After: "Yw"}, {Limit: 1001}} {
		_, _, err := s.Credentials(bad)
		if err == nil {
			t.Errorf("Credentials(%+v) = nil error; want a refusal", bad)
		}
	}
	_ = f
}

func keyIDsOf(cs []Credential) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// checkKeyListing asserts that the pages list every stored key once, in
// each order, as the stored records say, and that no key index of
// schemas 4–6 is left in the file.
func checkKeyListing(t testing.TB, s *Store) {
	t.Helper()
	d, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	n := min(MaxPageLimit-1, max(2, len(d.Keys)/8)) // a few pages
	for _, f := range []KeyFilter{{Limit: n + 1}, {Provider: "openai", Limit: n}, {NamePrefix: "c", Limit: n}} {
		want := wantKeys(t, s, f)
		if len(d.Keys) > 10*MaxPageLimit { // a benchmark's: the first page
			if page, _, err := s.Keys(f); err != nil || !slices.Equal(keyIDs(page), want[:min(len(want), f.Limit)]) {
				t.Errorf("Keys(%+v) = %v, %v; want the first %d of %d", f, keyIDs(page), err, f.Limit, len(want))
			}
			continue
		}
		if got := keyIDs(pageKeys(t, s, f)); !slices.Equal(got, want) {
			t.Errorf("Keys(%+v) pages list %v; want %v", f, got, want)
		}
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketKeysByCreated, bucketKeysByName, bucketKeysByProvider} {
			if tx.Bucket(b) != nil {
				t.Errorf("the file still holds the key index %s", b)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// openOldFile writes a file as an aigw of schema v (fill adds its
// records) and opens it with this build's Store, which migrates it; the
// store is closed and the file checked when the test ends.
func openOldFile(t *testing.T, v int, fill func(*bolt.Tx) error) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "aigw.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(db, migrations[:v]); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fill); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatalf("Open of a v%d file: %v", v, err)
	}
	t.Cleanup(func() {
		s.Close()
		checkDatabase(t, path, testKey)
	})
	return s
}

// TestMigrateV3KeysList opens a file a v3 aigw wrote, holding keys but
// no key indexes: the keys list as before (v4 no longer builds indexes:
// v7 would drop them); v6 drops the hash index they had, and they load
// as before.
func TestMigrateV3KeysList(t *testing.T) {
	created := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var ids []string
	s := openOldFile(t, 3, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketKeysByCreated) != nil {
			t.Fatal("a v3 file already has the key index")
		}
		p := Provider{Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com", CreatedAt: created}
		if err := putJSON(tx.Bucket(bucketProviders), []byte(p.Name), &p); err != nil {
			return err
		}
		for i := range 25 {
			k := Key{ID: fmt.Sprintf("key_v3%02dABCDEFG", (i*7)%25), Name: fmt.Sprintf("old-%d", i%5), Provider: "openai",
				Credentials: []string{}, Strategy: StrategyRoundRobin, CreatedAt: created.Add(time.Duration(i/2) * time.Second), UpdatedAt: created}
			if i%4 == 0 {
				k.RevokedAt = &created
			}
			h := HashKey([]byte(k.ID))
			if err := putJSON(tx.Bucket(bucketKeys), []byte(k.ID), &keyRecord{Key: k, HashHex: fmt.Sprintf("%x", h)}); err != nil {
				return err
			}
			if err := tx.Bucket(bucketKeyHashes).Put(h[:], []byte(k.ID)); err != nil {
				return err
			}
			ids = append(ids, k.ID)
		}
		return nil
	})
	if v, _ := s.SchemaVersion(); v != LatestSchema || LatestSchema < 7 {
		t.Errorf("schema after Open = v%d; want v%d (≥ 7)", v, LatestSchema)
	}
	got := pageKeys(t, s, KeyFilter{Limit: 4})
	if len(got) != 25 || !slices.Equal(keyIDs(got), wantKeys(t, s, KeyFilter{})) {
		t.Errorf("the v3 keys list as %v; want the 25, oldest first", keyIDs(got))
	}
	if revoked := pageKeys(t, s, KeyFilter{Status: KeyRevoked, NamePrefix: "old-"}); len(revoked) != 7 {
		t.Errorf("revoked v3 keys by name = %d; want 7", len(revoked))
	}
	checkKeyListing(t, s)
	if err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketKeyHashes) != nil {
			t.Error("key_hashes is still there after v6")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	d, err := s.Load()
	if err != nil || len(d.Keys) != 25 {
		t.Fatalf("the v3 keys load as %d keys, %v; want 25", len(d.Keys), err)
	}
	for _, k := range d.Keys {
		if k.Hash != HashKey([]byte(k.ID)) {
			t.Errorf("key %s loads with hash %x; want the one it was stored with", k.ID, k.Hash)
		}
	}
}

// TestMigrateV6DropsKeyIndexes opens a file a v6 aigw wrote, with its
// three key indexes: v7 drops them, the keys list as before, and a cursor
// such an aigw handed out (an index entry) still names the same place.
func TestMigrateV6DropsKeyIndexes(t *testing.T) {
	t0 := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	var keys []Key
	s := openOldFile(t, 6, func(tx *bolt.Tx) error {
		p := Provider{Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com", CreatedAt: t0}
		if err := putJSON(tx.Bucket(bucketProviders), []byte(p.Name), &p); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketKeysByCreated, bucketKeysByName, bucketKeysByProvider} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		for i := range 12 {
			k := Key{ID: fmt.Sprintf("key_v6%02dABCDEFG", (i*5)%12), Name: fmt.Sprintf("svc-%d", i%4), Provider: "openai",
				Credentials: []string{}, Strategy: StrategyRoundRobin, CreatedAt: t0.Add(time.Duration(i/3) * time.Second), UpdatedAt: t0}
			k.Hash = HashKey([]byte(k.ID))
			if err := putJSON(tx.Bucket(bucketKeys), []byte(k.ID), &keyRecord{Key: k, HashHex: fmt.Sprintf("%x", k.Hash)}); err != nil {
				return err
			}
			tail := append(orderedNs(k.CreatedAt), k.ID...)
			if err := tx.Bucket(bucketKeysByCreated).Put(tail, []byte("summary")); err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return nil
	})
	checkKeyListing(t, s) // the indexes are gone
	all := wantKeys(t, s, KeyFilter{})
	byName := wantKeys(t, s, KeyFilter{NamePrefix: "svc-"})
	find := func(id string) *Key {
		for i := range keys {
			if keys[i].ID == id {
				return &keys[i]
			}
		}
		t.Fatalf("no key %s", id)
		return nil
	}
	// The cursors a v6 aigw made: the kind, then the index entry of the
	// page's last key.
	k := find(all[4])
	created := base64.RawURLEncoding.EncodeToString(slices.Concat([]byte{'c'}, orderedNs(k.CreatedAt), []byte(k.ID)))
	k = find(byName[6])
	named := base64.RawURLEncoding.EncodeToString(slices.Concat([]byte{'n'}, []byte(k.Name), []byte{0}, orderedNs(k.CreatedAt), []byte(k.ID)))
	for _, c := range []struct {
		f    KeyFilter
		want []string
	}{
		{KeyFilter{After: created, Limit: 3}, all[5:8]},
		{KeyFilter{NamePrefix: "svc-", After: named, Limit: 3}, byName[7:10]},
	} {
		page, _, err := s.Keys(c.f)
		if err != nil || !slices.Equal(keyIDs(page), c.want) {
			t.Errorf("Keys(%+v) after a v6 cursor = %v, %v; want %v", c.f, keyIDs(page), err, c.want)
		}
	}
}

// BenchmarkKeysPage100k reads one page (default size) of 100,000 stored
// keys, with each filter, from the middle of the listing, picked from the
// keys in memory as the gateway does (KeysFrom with the proxy's refs):
// one pass over every key, then the page's records.
func BenchmarkKeysPage100k(b *testing.B) {
	s := openTest(b)
	const n = 100_000
	fillKeysFast(b, s, n)
	refs := refsOf(memRefs(b, s))
	for _, c := range []struct {
		name string
		f    KeyFilter
	}{
		{"all", KeyFilter{}},
		{"all_limit1000", KeyFilter{Limit: MaxPageLimit}},
		{"provider", KeyFilter{Provider: "anthropic"}},
		{"name_prefix", KeyFilter{NamePrefix: "svc-1"}},
		{"name_exact", KeyFilter{NamePrefix: "svc-54321"}},
		{"status_revoked_rare", KeyFilter{Status: KeyRevoked}},
		{"status_active", KeyFilter{Status: KeyActive}},
		{"provider_revoked", KeyFilter{Provider: "anthropic", Status: KeyRevoked}},
	} {
		// Start from the middle (the cursor after the first half) except
		// for filters whose matches are too few to have one.
		first, next, err := s.KeysFrom(c.f, refs)
		if err != nil || len(first) == 0 {
			b.Fatalf("%s: %d keys, %v", c.name, len(first), err)
		}
		f := c.f
		f.After = next
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.KeysFrom(f, refs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fillKeysFast stores n keys as CreateKey would, 10,000 a transaction
// (CreateKey's one commit per key would take minutes): names svc-<i>,
// two providers, one key in 1,000 revoked.
func fillKeysFast(b testing.TB, s *Store, n int) {
	s.db.NoSync = true
	defer func() { s.db.NoSync = false }()
	if _, err := s.CreateProvider(Provider{Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com"}); err != nil {
		b.Fatal(err)
	}
	if _, err := s.CreateProvider(Provider{Name: "anthropic", Type: TypeAnthropic, BaseURL: "https://api.anthropic.com"}); err != nil {
		b.Fatal(err)
	}
	t0 := s.now().UTC()
	for start := 0; start < n; start += 10_000 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i := start; i < min(n, start+10_000); i++ {
				k := Key{ID: newID("key_"), Name: fmt.Sprintf("svc-%d", i), Provider: []string{"openai", "anthropic"}[i%2],
					Credentials: []string{"cred_AAAAAAAAAAAA", "cred_BBBBBBBBBBBB"}, Strategy: DefaultStrategy,
					Limits: Limits{RPM: 60}, CreatedAt: t0.Add(time.Duration(i) * time.Microsecond), UpdatedAt: t0}
				if i%1000 == 999 {
					k.RevokedAt = &t0
				}
				k.Hash = HashKey([]byte(k.ID))
				if err := putJSON(tx.Bucket(bucketKeys), []byte(k.ID), &keyRecord{Key: k, HashHex: fmt.Sprintf("%x", k.Hash)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzKeysCursor feeds the cursor parameter (what a client sends) to every
// kind of listing: it is refused as a bad cursor or answers a page that
// only holds keys of the filter, never a panic or another error.
func FuzzKeysCursor(f *testing.F) {
	s, clk := openTestClock(f)
	fx := newFixture(f, s)
	fillKeys(f, s, clk, fx, 30)
	filters := []KeyFilter{{Limit: 3}, {Provider: "openai", Limit: 3}, {NamePrefix: "ci-", Limit: 3}, {NamePrefix: "web-", Status: KeyRevoked, Limit: 2}}
	for _, kf := range filters {
		_, next, err := s.Keys(kf)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(next)
	}
	f.Add("")
	f.Add("Yw")
	f.Add("bgA")
	f.Add("cGI=")
	f.Fuzz(func(t *testing.T, cursor string) {
		for _, kf := range filters {
			kf.After = cursor
			page, next, err := s.Keys(kf)
			if err != nil {
				wantField(t, err, "cursor")
				continue
			}
			if len(page) > kf.Limit || (next != "" && len(page) != kf.Limit) {
				t.Fatalf("Keys(%+v) = %d keys, next %q", kf, len(page), next)
			}
			for _, k := range page {
				if kf.Provider != "" && k.Provider != kf.Provider || !strings.HasPrefix(k.Name, kf.NamePrefix) || kf.Status != "" && k.Status != kf.Status {
					t.Fatalf("Keys(%+v) lists %s (%s, %q, %s)", kf, k.ID, k.Provider, k.Name, k.Status)
				}
			}
		}
		cf := CredentialFilter{After: cursor, Limit: 2}
		if _, _, err := s.Credentials(cf); err != nil {
			wantField(t, err, "cursor")
		}
	})
}
