package store

import (
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// KeysLastUsed walks the newest traces, at most limit of them, and returns
// for each key id the time of its newest trace: what "last used" was before
// a restart. It reads only each trace's time and key id.
func (s *Store) KeysLastUsed(limit int) (map[string]time.Time, error) {
	out := make(map[string]time.Time)
	err := s.db.View(func(tx *bolt.Tx) error {
		defer s.unmapPagesIn(tx)
		c := tx.Bucket(bucketTraces).Cursor()
		scanned := 0
		for k, v := c.Last(); k != nil && scanned < limit; k, v = c.Prev() {
			if scanned++; scanned%unmapEvery == 0 {
				s.unmapPagesIn(tx)
			}
			t, key, err := traceTimeAndKey(v)
			if err != nil || len(key) == 0 {
				continue // damaged (best effort), or refused before a key was found
			}
			if _, seen := out[string(key)]; !seen { // newest first: the first one is the last use
				out[string(key)] = t
			}
		}
		return nil
	})
	return out, err
}

// traceTimeAndKey reads a stored trace's time and key id; the id is
// borrowed from raw (valid in the transaction only).
func traceTimeAndKey(raw []byte) (time.Time, []byte, error) {
	if len(raw) >= 9 && binaryTrace(raw[0]) {
		b := raw[9:]
		var key []byte
		for range 2 { // the request id, then the key id
			n, k := binary.Uvarint(b)
			if k <= 0 || n > uint64(len(b)-k) {
				return time.Time{}, nil, errBadTrace
			}
			key, b = b[k:k+int(n)], b[k+int(n):]
		}
		return time.Unix(0, int64(binary.BigEndian.Uint64(raw[1:9]))).UTC(), key, nil
	}
	var t Trace
	err := decodeTrace(raw, &t)
	return t.Time, []byte(t.KeyID), err
}
