package store

import (
	bolt "go.etcd.io/bbolt"
)

// Credential roll-ups: one record per UTC day × credential × provider, kept
// up to date by WriteTraces in the same transaction as the traces and the
// key roll-ups, never pruned. A request counts once, under the credential
// of its last attempt (the one whose answer, and usage, it got); requests
// of a key that reached no credential (refused by a limit, no credential in
// rotation) count under the credential id "". Traces without a key id are
// not rolled up, as in the key roll-ups, so both add up to the same totals.
// Credential ids come from the gateway's own snapshot, not from clients:
// there are as many records per day as the operator has credentials.
//
// The bucket came with schema v2: a database upgraded from v1 has no
// credential roll-ups for the days before the upgrade.
//
// Key:   YYYY-MM-DD \x00 credentialID \x00 provider
// Value: a usage record, as in the key roll-ups (usage.go).

var bucketUsageCredentials = []byte("usage_credentials")

func appendCredentialRollupKey(dst []byte, t *Trace) []byte {
	dst = appendDay(dst, t.Time)
	dst = append(dst, 0)
	dst = append(dst, rollupPart(t.CredentialID)...)
	dst = append(dst, 0)
	return append(dst, rollupPart(t.Provider)...)
}

// credentialRollupKey is a parsed credential roll-up key; its slices point
// into the key.
type credentialRollupKey struct{ day, credentialID, provider []byte }

func parseCredentialRollupKey(k []byte) (credentialRollupKey, bool) {
	var r credentialRollupKey
	ok := cutRollupKey(k, &r.day, &r.credentialID, &r.provider)
	return r, ok
}

// credentialRollups sums one batch per credential roll-up key.
type credentialRollups struct {
	recs    map[string]*UsageRow
	scratch []byte
}

func newCredentialRollups() *credentialRollups {
	return &credentialRollups{recs: make(map[string]*UsageRow, 8)}
}

// add counts t; traces without a key id are not rolled up.
func (r *credentialRollups) add(t *Trace) {
	if t.KeyID == "" {
		return
	}
	r.scratch = appendCredentialRollupKey(r.scratch[:0], t)
	rec := r.recs[string(r.scratch)]
	if rec == nil {
		rec = new(UsageRow)
		r.recs[string(r.scratch)] = rec
	}
	rec.addTrace(t)
}

func (r *credentialRollups) flush(b *bolt.Bucket) error { return addUsageRecs(b, r.recs) }

// credentialUsage is Usage grouped by credential. The credential roll-ups
// know no key and no model, so those filters are refused.
func (s *Store) credentialUsage(q UsageQuery) ([]UsageRow, error) {
	switch {
	case q.KeyID != "":
		return []UsageRow{}, invalid("key", "cannot be combined with by=credential (the credential roll-ups are per day, credential and provider)")
	case q.Model != "":
		return []UsageRow{}, invalid("model", "cannot be combined with by=credential (the credential roll-ups are per day, credential and provider)")
	}
	provider := rollupPart(q.Provider)
	groups := usageGroups{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return scanDays(tx, bucketUsageCredentials, q.Since, q.Until, func(k []byte) (credentialRollupKey, []byte, bool) {
			rk, ok := parseCredentialRollupKey(k)
			return rk, rk.day, ok
		}, func(rk credentialRollupKey, rec *UsageRow) {
			if provider == "" || string(rk.provider) == provider {
				groups.add(rk.credentialID, rec)
			}
		})
	})
	if err != nil {
		return []UsageRow{}, err
	}
	return sortedRows(groups, false), nil
}
