package store

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// defaultPruneBatch is PruneTraces' deletions per transaction when the
// caller gives none.
const defaultPruneBatch = 1000

// errNothingToPrune rolls back a prune transaction that found nothing to
// delete: no commit, no fsync.
var errNothingToPrune = errors.New("nothing to prune")

// PruneTraces deletes the traces older than olderThan (zero: no age limit)
// and then, oldest first, those beyond the newest maxCount (0: no count
// limit). Ids sort by time, so it walks from the oldest trace and stops at
// the first one it keeps. It deletes at most maxDelete traces per
// transaction (default 1000), so that a large prune holds the write lock
// only briefly between WriteTraces batches, and loops until done. It
// returns how many traces it deleted, also when it fails part way. The
// usage roll-ups are not touched: usage history outlives traces.
func (s *Store) PruneTraces(olderThan time.Time, maxCount uint64, maxDelete int) (int, error) {
	if maxDelete <= 0 {
		maxDelete = defaultPruneBatch
	}
	total := 0
	for {
		n, more, err := s.pruneOnce(olderThan, maxCount, maxDelete)
		s.unmapPages() // what the walk and the deletes read
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// pruneOnce deletes up to maxDelete traces in one transaction; more
// reports that the next trace is due for deletion too.
func (s *Store) pruneOnce(olderThan time.Time, maxCount uint64, maxDelete int) (deleted int, more bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTraces)
		count := traceCount(tx)
		var doomed [][]byte
		ixHit := map[ixRecKey]struct{}{} // the index records of the doomed traces (traces_index.go)
		epochs := tx.Bucket(bucketTraceEpochs)
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			left := count - min(count, uint64(len(doomed)))
			if maxCount == 0 || left <= maxCount {
				if olderThan.IsZero() {
					break
				}
				tm, err := storedTraceTime(v)
				if err != nil {
					return fmt.Errorf("trace %q: %w", k, err)
				}
				if !tm.Before(olderThan) {
					break
				}
			}
			if len(doomed) == maxDelete {
				more = true
				break
			}
			// Keys are cloned: deleting changes the pages the cursor reads.
			doomed = append(doomed, bytes.Clone(k))
			// A damaged trace is deleted all the same; its ids in the index
			// stay unless another doomed trace shares their record, and are
			// skipped by Traces (they point at no trace).
			hit := func(rk ixRecKey) { ixHit[rk] = struct{}{} }
			if e, ok := epochOf(epochs, k); ok {
				if key, provider, model, status, ok := indexedOf(v); ok {
					eachIndexedValue(key, provider, model, status, e, hit)
				} else if t := (Trace{}); decodeTrace(v, &t) == nil { // a legacy JSON trace
					eachIndexed(&t, e, hit)
				}
			}
		}
		if len(doomed) == 0 {
			return errNothingToPrune
		}
		for _, k := range doomed {
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("delete trace %q: %w", k, err)
			}
		}
		if err := removeIDs(tx.Bucket(bucketTraceIndex), ixHit, doomed[len(doomed)-1]); err != nil {
			return err
		}
		if err := pruneEpochs(tx); err != nil {
			return fmt.Errorf("delete index epochs: %w", err)
		}
		deleted = len(doomed)
		return putTraceCount(tx, count-min(count, uint64(deleted)))
	})
	if errors.Is(err, errNothingToPrune) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return deleted, more, nil
}
