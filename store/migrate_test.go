package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/units"
	bolt "go.etcd.io/bbolt"
)

// writeV0 builds the file an aigw release before the first migration would
// have left: only the meta bucket, marked as aigw's, at schema version 0.
func writeV0(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "aigw.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(metaApp, metaAppName); err != nil {
			return err
		}
		return meta.Put(metaVersion, u64(0))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMigrateV0ToV1(t *testing.T) {
	path := writeV0(t)
	s, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatalf("Open of a v0 file: %v", err)
	}
	defer func() {
		s.Close()
		checkDatabase(t, path, testKey)
	}()
	if v, err := s.SchemaVersion(); err != nil || v != LatestSchema {
		t.Fatalf("SchemaVersion after migration = %d, %v; want %d", v, err, LatestSchema)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketProviders, bucketCredentials, bucketKeys,
			bucketTokens, bucketTraces, bucketUsage, bucketUsageCredentials, bucketUsageModels, bucketAlerts} {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %q missing after v0→v1", name)
			}
		}
		if app := tx.Bucket(bucketMeta).Get(metaApp); !bytes.Equal(app, metaAppName) {
			t.Errorf("meta app = %q; want %q", app, metaAppName)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProvider(Provider{Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com"}); err != nil {
		t.Errorf("CreateProvider after migration: %v", err)
	}
}

// migrationDB opens a v1 database holding one provider and returns its bbolt
// handle, for running migrate with custom steps after the first one
// (migrations[:1]).
func migrationDB(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(writeV1(t, nil), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		checkIntegrity(t, db)
		db.Close()
	})
	return db
}

// writeV1 builds the file the first release (schema v1) would have left,
// holding one provider; fill, when set, adds to it in the same transaction.
func writeV1(t *testing.T, fill func(tx *bolt.Tx) error) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "aigw.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(db, migrations[:1]); err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		p := Provider{Name: "openai", Type: TypeOpenAI, BaseURL: "https://api.openai.com", CreatedAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
		if err := putJSON(tx.Bucket(bucketProviders), []byte(p.Name), &p); err != nil {
			return err
		}
		if fill != nil {
			return fill(tx)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func dbVersion(t *testing.T, db *bolt.DB) int {
	t.Helper()
	var v int
	if err := db.View(func(tx *bolt.Tx) error { v = readVersion(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	return v
}

func dbProvider(t *testing.T, db *bolt.DB, name string) Provider {
	t.Helper()
	var p Provider
	if err := db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketProviders), []byte(name), &p) }); err != nil {
		t.Fatal(err)
	}
	return p
}

// rewriteProviders applies change to every stored provider.
func rewriteProviders(tx *bolt.Tx, change func(*Provider)) error {
	b := tx.Bucket(bucketProviders)
	var all []Provider
	if err := b.ForEach(func(_, v []byte) error {
		var p Provider
		if err := json.Unmarshal(v, &p); err != nil {
			return err
		}
		all = append(all, p)
		return nil
	}); err != nil {
		return err
	}
	for _, p := range all { // never modify a bucket while iterating it
		change(&p)
		if err := putJSON(b, []byte(p.Name), &p); err != nil {
			return err
		}
	}
	return nil
}

func TestMigrateAppliesStepsInOrderOnce(t *testing.T) {
	db := migrationDB(t)
	var ran []int
	v2Runs := 0
	steps := append(slices.Clone(migrations[:1]),
		migration{to: 2, name: "default provider timeout", up: func(tx *bolt.Tx) error {
			ran = append(ran, 2)
			v2Runs++
			return rewriteProviders(tx, func(p *Provider) {
				if p.Timeout == 0 {
					p.Timeout = units.Duration(90 * time.Second)
				}
			})
		}},
		migration{to: 3, name: "tag providers", up: func(tx *bolt.Tx) error {
			ran = append(ran, 3)
			// Relies on v2 having run first.
			return rewriteProviders(tx, func(p *Provider) {
				p.Headers = append(p.Headers, fmt.Sprintf("X-Migrated-Timeout: %s", p.Timeout))
			})
		}},
	)

	if err := migrate(db, steps); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !slices.Equal(ran, []int{2, 3}) {
		t.Errorf("steps ran %v; want [2 3] (v1 was already applied)", ran)
	}
	if v := dbVersion(t, db); v != 3 {
		t.Errorf("version = %d; want 3", v)
	}
	p := dbProvider(t, db, "openai")
	if p.Timeout != units.Duration(90*time.Second) || !slices.Equal(p.Headers, []string{"X-Migrated-Timeout: 1m30s"}) {
		t.Errorf("provider after migration = %+v; want timeout 1m30s and the header written from it", p)
	}

	// Running again is a no-op: no step runs and the file is not written.
	before := stateOf(t, db.Path())
	if err := migrate(db, steps); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if v2Runs != 1 || len(ran) != 2 {
		t.Errorf("second migrate ran steps again: %v", ran)
	}
	if after := stateOf(t, db.Path()); after != before {
		t.Error("a migrate with nothing to do wrote to the file")
	}
}

func TestMigrateFromEmptyFileRunsEveryStep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigw.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ran []string
	steps := []migration{
		{to: 1, name: "create buckets", up: func(tx *bolt.Tx) error { ran = append(ran, "v1"); return migrateV1(tx) }},
		{to: 2, name: "seed", up: func(tx *bolt.Tx) error {
			ran = append(ran, "v2")
			return putJSON(tx.Bucket(bucketProviders), []byte("seed"), &Provider{Name: "seed"})
		}},
	}
	if err := migrate(db, steps); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !slices.Equal(ran, []string{"v1", "v2"}) {
		t.Errorf("steps ran %v; want [v1 v2]", ran)
	}
	if v := dbVersion(t, db); v != 2 {
		t.Errorf("version = %d; want 2", v)
	}
}

func TestMigrateFailingStepRollsBack(t *testing.T) {
	db := migrationDB(t)
	boom := errors.New("disk says no")
	v2Runs := 0
	v2 := migration{to: 2, name: "default provider timeout", up: func(tx *bolt.Tx) error {
		v2Runs++
		return rewriteProviders(tx, func(p *Provider) { p.Timeout = units.Duration(time.Minute) })
	}}
	failing := migration{to: 3, name: "move base urls", up: func(tx *bolt.Tx) error {
		if err := rewriteProviders(tx, func(p *Provider) { p.BaseURL = "https://half-done.example.com" }); err != nil {
			return err
		}
		if _, err := tx.CreateBucket([]byte("v3_only")); err != nil {
			return err
		}
		return boom
	}}

	err := migrate(db, append(slices.Clone(migrations[:1]), v2, failing))
	if !errors.Is(err, boom) {
		t.Fatalf("migrate: %v; want the step's error", err)
	}
	for _, want := range []string{"v2→v3", "move base urls"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name the failed step (%q)", err, want)
		}
	}
	if v := dbVersion(t, db); v != 2 {
		t.Errorf("version after a failed v3 = %d; want 2 (v2 done, v3 rolled back)", v)
	}
	p := dbProvider(t, db, "openai")
	if p.BaseURL != "https://api.openai.com" || p.Timeout != units.Duration(time.Minute) {
		t.Errorf("provider after a failed v3 = %+v; want v2's change only", p)
	}
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("v3_only")) != nil {
			t.Error("the failed step's bucket was kept")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Fixed and re-run: only v3 runs.
	fixed := failing
	fixed.up = func(tx *bolt.Tx) error {
		return rewriteProviders(tx, func(p *Provider) { p.BaseURL = "https://moved.example.com" })
	}
	if err := migrate(db, append(slices.Clone(migrations[:1]), v2, fixed)); err != nil {
		t.Fatalf("migrate after the fix: %v", err)
	}
	if v2Runs != 1 {
		t.Errorf("v2 ran %d times; want once", v2Runs)
	}
	if v := dbVersion(t, db); v != 3 {
		t.Errorf("version = %d; want 3", v)
	}
	if p := dbProvider(t, db, "openai"); p.BaseURL != "https://moved.example.com" {
		t.Errorf("base_url = %q; want the fixed step's value", p.BaseURL)
	}
}

func TestMigrateFirstStepFailingKeepsVersion(t *testing.T) {
	db := migrationDB(t)
	before := dbProvider(t, db, "openai")
	boom := errors.New("boom")
	err := migrate(db, append(slices.Clone(migrations[:1]), migration{to: 2, name: "broken", up: func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketProviders).Delete([]byte("openai")); err != nil {
			return err
		}
		return boom
	}}))
	if !errors.Is(err, boom) {
		t.Fatalf("migrate: %v; want the step's error", err)
	}
	if v := dbVersion(t, db); v != 1 {
		t.Errorf("version = %d; want 1", v)
	}
	if after := dbProvider(t, db, "openai"); !after.CreatedAt.Equal(before.CreatedAt) || after.BaseURL != before.BaseURL {
		t.Errorf("provider after a failed step = %+v; want %+v", after, before)
	}
}

func TestMigrateRefusesNewerVersion(t *testing.T) {
	db := migrationDB(t)
	err := migrate(db, migrations[:0])
	if !errors.Is(err, ErrNewerSchema) {
		t.Errorf("migrate with no known steps over a v1 file: %v; want ErrNewerSchema", err)
	}
}
