package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Spent is what one key, provider or credential used over some days, from
// the roll-ups. Tokens are prompt + completion (which include the cache
// tokens), as the daily limits count them; a cost the price table did not
// know counts as 0 (it is not in the roll-ups' cost). OK counts the
// requests that succeeded, Priced those of them whose cost was known: the
// budgets' estimates per request are Tokens/OK and CostUSD/Priced.
type Spent struct {
	CostUSD    float64
	Tokens     int64
	OK, Priced int64
}

// Add counts t (a trace) as the roll-ups do.
func (s *Spent) Add(t *Trace) {
	s.CostUSD += t.CostUSD
	s.Tokens += t.PromptTokens + t.CompletionTokens
	if t.Status >= 400 || t.Status == 0 {
		return
	}
	s.OK++
	if t.CostKnown && t.UsageSource != UsageSourceNone {
		s.Priced++
	}
}

func (s *Spent) addRec(r *UsageRow) {
	s.CostUSD += r.CostUSD
	s.Tokens += r.PromptTokens + r.CompletionTokens
	s.OK += r.Requests - r.Errors
	s.Priced += r.Requests - r.Errors - r.CostUnknown
}

// SpendTotals are what the roll-ups say keys, providers and credentials
// used over the days of a period (a budget's month) and, for keys, over
// every day.
type SpendTotals struct {
	Keys        map[string]Spent // key id → the period
	KeyTotals   map[string]Spent // key id → every day
	Providers   map[string]Spent // provider → the period
	Credentials map[string]Spent // credential id → the period
}

// NewSpendTotals returns empty totals.
func NewSpendTotals() SpendTotals {
	return SpendTotals{Keys: map[string]Spent{}, KeyTotals: map[string]Spent{}, Providers: map[string]Spent{}, Credentials: map[string]Spent{}}
}

// Spend sums the roll-ups of the UTC days since..until (YYYY-MM-DD,
// inclusive) per key, provider and credential, and every day's per key,
// to rebuild the budgets' counters at start-up.
func (s *Store) Spend(since, until string) (SpendTotals, error) {
	out := NewSpendTotals()
	if err := parseDay("since", since); err != nil {
		return out, err
	}
	if err := parseDay("until", until); err != nil {
		return out, err
	}
	add := func(m map[string]Spent, id string, rec *UsageRow) {
		sp := m[id]
		sp.addRec(rec)
		m[id] = sp
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		err := scanRollups(tx, "", "", func(rk rollupKey, rec *UsageRow) {
			add(out.KeyTotals, string(rk.keyID), rec)
			if day := string(rk.day); day >= since && day <= until {
				add(out.Keys, string(rk.keyID), rec)
				add(out.Providers, string(rk.provider), rec)
			}
		})
		if err != nil {
			return err
		}
		c := tx.Bucket(bucketUsageCredentials).Cursor()
		for k, v := c.Seek([]byte(since)); k != nil; k, v = c.Next() {
			rk, ok := parseCredentialRollupKey(k)
			if !ok {
				return fmt.Errorf("credential usage %q: damaged key", k)
			}
			if string(rk.day) > until {
				break
			}
			rec, err := decodeUsageRec(v)
			if err != nil {
				return fmt.Errorf("credential usage %q: %w", k, err)
			}
			add(out.Credentials, string(rk.credentialID), &rec)
		}
		return nil
	})
	return out, err
}
