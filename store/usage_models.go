package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Model roll-ups: the key roll-ups summed over keys, one record per UTC day
// × model × provider, written by WriteTraces in the same transaction from
// the key roll-ups' sums for the batch (after their models are bounded, so
// both name the same models) and never pruned. A usage query without a key
// (by model, provider or day, the question an operator asks most) reads
// these: a month is a few hundred records instead of one per key and model,
// ~60,000 for a month of 2,000 keys.
//
// The bucket came with schema v8, which built it from the key roll-ups.
//
// Key:   YYYY-MM-DD \x00 model \x00 provider
// Value: a usage record, as in the key roll-ups (usage.go).

var bucketUsageModels = []byte("usage_models")

// modelRollups sums the key roll-ups' records of one batch per day, model
// and provider.
func modelRollups(keyRecs map[string]*UsageRow) (map[string]*UsageRow, error) {
	out := make(map[string]*UsageRow, 8)
	var k []byte
	for key, rec := range keyRecs {
		rk, ok := parseRollupKey([]byte(key))
		if !ok {
			return nil, fmt.Errorf("usage %q: damaged key", key)
		}
		k = appendModelRollupKey(k[:0], rk.day, rk.model, rk.provider)
		sum := out[string(k)]
		if sum == nil {
			sum = new(UsageRow)
			out[string(k)] = sum
		}
		sum.Add(rec)
	}
	return out, nil
}

func appendModelRollupKey(dst, day, model, provider []byte) []byte {
	dst = append(append(dst, day...), 0)
	dst = append(append(dst, model...), 0)
	return append(dst, provider...)
}

// modelRollupKey is a parsed model roll-up key; its slices point into the
// key.
type modelRollupKey struct{ day, model, provider []byte }

func parseModelRollupKey(k []byte) (modelRollupKey, bool) {
	var r modelRollupKey
	var ok1, ok2 bool
	r.day, k, ok1 = bytes.Cut(k, []byte{0})
	r.model, r.provider, ok2 = bytes.Cut(k, []byte{0})
	return r, ok1 && ok2 && len(r.day) == len(dayLayout)
}

// scanModelRollups calls fn for every model roll-up of the days in
// [since, until] ("" = open). rk's slices are valid only during the call.
func scanModelRollups(tx *bolt.Tx, since, until string, fn func(rk modelRollupKey, rec *UsageRow)) error {
	return scanDays(tx, bucketUsageModels, since, until, func(k []byte) (modelRollupKey, []byte, bool) {
		rk, ok := parseModelRollupKey(k)
		return rk, rk.day, ok
	}, fn)
}

// migrateV8 builds the model roll-ups from the key roll-ups.
func migrateV8(tx *bolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists(bucketUsageModels)
	if err != nil {
		return err
	}
	sums := map[string]*UsageRow{}
	var k []byte
	err = scanRollups(tx, "", "", func(rk rollupKey, rec *UsageRow) {
		k = appendModelRollupKey(k[:0], rk.day, rk.model, rk.provider)
		sum := sums[string(k)]
		if sum == nil {
			sum = new(UsageRow)
			sums[string(k)] = sum
		}
		sum.Add(rec)
	})
	if err != nil {
		return err
	}
	return addUsageRecs(b, sums)
}
