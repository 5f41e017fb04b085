package store

import (
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

// addModel adds rec, a key roll-up's, to the model roll-up of its day,
// model and provider.
func (gs usageGroups) addModel(rk rollupKey, rec *UsageRow) {
	k := append(append(append(append(append([]byte(nil), rk.day...), 0), rk.model...), 0), rk.provider...)
	gs.add(k, rec)
}

// parseModelRollupKey parses a model roll-up key as a key roll-up's
// without a key id; its slices point into k.
func parseModelRollupKey(k []byte) (rollupKey, bool) {
	var r rollupKey
	ok := cutRollupKey(k, &r.day, &r.model, &r.provider)
	return r, ok
}

// scanModelRollups calls fn for every model roll-up of the days in
// [since, until] ("" = open). rk's slices are valid only during the call.
func scanModelRollups(tx *bolt.Tx, since, until string, fn func(rk rollupKey, rec *UsageRow)) error {
	return scanDays(tx, bucketUsageModels, since, until, func(k []byte) (rollupKey, []byte, bool) {
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
	sums := usageGroups{}
	if err := scanRollups(tx, "", "", sums.addModel); err != nil {
		return err
	}
	return addUsageRecs(b, sums)
}
