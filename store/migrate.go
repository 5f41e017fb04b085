package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// A migration moves the schema from to-1 to to. Each runs in its own
// transaction together with the version bump, so a failed step leaves the
// database at the previous version.
type migration struct {
	to   int
	name string
	up   func(tx *bolt.Tx) error
}

// migrations is the forward path from an empty file (version 0).
var migrations = []migration{
	{to: 1, name: "create buckets", up: migrateV1},
	{to: 2, name: "create the per-credential usage roll-ups", up: migrateV2},
	{to: 3, name: "create the alerts bucket", up: migrateV3},
	{to: 4, name: "index the keys by creation, name and provider (since v7: nothing)", up: migrateV4},
	{to: 5, name: "create the trace index (built by Open)", up: migrateV5},
	{to: 6, name: "drop the unread key hash index", up: migrateV6},
	{to: 7, name: "drop the key indexes (pages are picked in memory)", up: migrateV7},
	{to: 8, name: "sum the usage roll-ups over keys (by day, model and provider)", up: migrateV8},
}

// LatestSchema is the schema version this build writes.
var LatestSchema = migrations[len(migrations)-1].to

func migrateV1(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketProviders, bucketCredentials, bucketKeys,
		bucketKeyHashes, bucketTokens, bucketTraces, bucketUsage} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(metaApp, metaAppName)
}

// migrateV2 adds the credential roll-ups (usage_credentials.go); they
// start empty: the days before the upgrade have none.
func migrateV2(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketUsageCredentials)
	return err
}

// migrateV6 drops key_hashes: nothing read it (the proxy finds a key by
// its hash in memory), and keeping it in step cost every key change a
// write at a random place of a tree as large as the keys.
func migrateV6(tx *bolt.Tx) error {
	if tx.Bucket(bucketKeyHashes) == nil {
		return nil
	}
	return tx.DeleteBucket(bucketKeyHashes)
}

func readVersion(tx *bolt.Tx) int {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0
	}
	v := meta.Get(metaVersion)
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

// migrate applies every migration newer than the file's version, in order.
func migrate(db *bolt.DB, steps []migration) error {
	var current int
	if err := db.View(func(tx *bolt.Tx) error { current = readVersion(tx); return nil }); err != nil {
		return err
	}
	latest := 0
	if len(steps) > 0 {
		latest = steps[len(steps)-1].to
	}
	if current > latest {
		return fmt.Errorf("%w: file has schema v%d, this aigw knows up to v%d; upgrade aigw", ErrNewerSchema, current, latest)
	}
	for _, m := range steps {
		if m.to <= current {
			continue
		}
		err := db.Update(func(tx *bolt.Tx) error {
			if err := m.up(tx); err != nil {
				return err
			}
			meta, err := tx.CreateBucketIfNotExists(bucketMeta)
			if err != nil {
				return err
			}
			if err := meta.Put(metaApp, metaAppName); err != nil {
				return err
			}
			return meta.Put(metaVersion, u64(uint64(m.to)))
		})
		if err != nil {
			return fmt.Errorf("migrate schema v%d→v%d (%s): %w", m.to-1, m.to, m.name, err)
		}
		current = m.to
	}
	return nil
}
