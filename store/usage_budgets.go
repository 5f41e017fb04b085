package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// SpendTotals are what the roll-ups say keys, providers and credentials
// used: over the days of a period (a budget's month) and, for keys, over
// all days. Tokens are prompt + completion (which include the cache
// tokens), as the daily limits count them; a cost the price table did not
// know counts as 0 (it is not in the roll-ups' cost).
type SpendTotals struct {
	KeyCost        map[string]float64 // key id → USD in the period
	KeyTokens      map[string]int64   // key id → tokens in the period
	KeyTotalCost   map[string]float64 // key id → USD over every day
	ProviderCost   map[string]float64 // provider → USD in the period
	CredentialCost map[string]float64 // credential id → USD in the period
}

// NewSpendTotals returns empty totals.
func NewSpendTotals() SpendTotals {
	return SpendTotals{KeyCost: map[string]float64{}, KeyTokens: map[string]int64{}, KeyTotalCost: map[string]float64{},
		ProviderCost: map[string]float64{}, CredentialCost: map[string]float64{}}
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
	err := s.db.View(func(tx *bolt.Tx) error {
		err := scanRollups(tx, "", "", func(rk rollupKey, rec *UsageRow) {
			out.KeyTotalCost[string(rk.keyID)] += rec.CostUSD
			if day := string(rk.day); day < since || day > until {
				return
			}
			out.KeyCost[string(rk.keyID)] += rec.CostUSD
			out.KeyTokens[string(rk.keyID)] += rec.PromptTokens + rec.CompletionTokens
			out.ProviderCost[string(rk.provider)] += rec.CostUSD
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
			out.CredentialCost[string(rk.credentialID)] += rec.CostUSD
		}
		return nil
	})
	return out, err
}
