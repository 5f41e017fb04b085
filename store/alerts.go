package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Alerts: the last MaxAlerts alerts the gateway raised (budget thresholds,
// credentials found invalid, pools without a healthy credential, …), oldest
// first. The bucket came with schema v3; older files get it, empty, by the
// migration. Records are JSON, so fields added later stay readable.
//
// Key:   big-endian uint64 sequence (the bucket's own, never reused)
// Value: Alert as JSON.

var bucketAlerts = []byte("alerts")

// MaxAlerts is how many alerts are kept; adding one more drops the oldest.
const MaxAlerts = 1000

// Alert is one alert as stored. The alerts package raises them; the admin
// API turns them into its own wire type.
type Alert struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Subject string    `json:"subject"`
	// Period is what the alert fires once per: a budget's period
	// ("2026-12", "total") or, for events, the UTC day.
	Period    string  `json:"period"`
	Message   string  `json:"message"`
	Name      string  `json:"name,omitempty"`
	Budget    string  `json:"budget,omitempty"`
	Threshold float64 `json:"threshold,omitempty"` // percent
	Used      float64 `json:"used,omitempty"`
	Limit     float64 `json:"limit,omitempty"`
}

// migrateV3 adds the alerts bucket.
func migrateV3(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketAlerts)
	return err
}

// AddAlert stores a (its ID is set from the bucket's sequence when empty)
// and drops the oldest alerts beyond MaxAlerts, in one transaction.
func (s *Store) AddAlert(a *Alert) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAlerts)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if a.ID == "" {
			a.ID = fmt.Sprintf("alert_%d", seq)
		}
		v, err := json.Marshal(a)
		if err != nil {
			return err
		}
		if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), v); err != nil {
			return err
		}
		c := b.Cursor()
		for n := b.Stats().KeyN + 1 - MaxAlerts; n > 0; n-- {
			k, _ := c.First()
			if k == nil {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Alerts returns the stored alerts at or after since (zero: all), oldest
// first; limit > 0 keeps the newest limit of them. A damaged record is
// skipped.
func (s *Store) Alerts(since time.Time, limit int) ([]Alert, error) {
	out := []Alert{}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAlerts).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if limit > 0 && len(out) >= limit {
				break
			}
			var a Alert
			if json.Unmarshal(v, &a) != nil {
				continue
			}
			if !since.IsZero() && a.Time.Before(since) {
				break // older ones follow
			}
			out = append(out, a)
		}
		return nil
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}
