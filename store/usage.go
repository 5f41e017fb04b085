package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Usage roll-ups: one record per UTC day × key × model × provider, kept up
// to date by WriteTraces in the same transaction as the traces, and never
// pruned with them (usage history outlives traces). The client chooses the
// model, so a key has at most MaxRollupModels models of its own per day and
// provider; the figures of later models go to the OtherModel record.
//
// Key:   YYYY-MM-DD \x00 keyID \x00 model \x00 provider   (model may be "")
// Value: usageRecSize bytes, eight big-endian 64-bit fields in the order of
//        UsageRow's figures (the cost as float64 bits). Longer values are accepted so
//        that a later version can append fields.

const (
	dayLayout    = "2006-01-02"
	usageRecSize = 8 * 8
	// maxRollupPart bounds each part of a roll-up key; the model comes from
	// the client's request or the upstream's answer.
	maxRollupPart = 256
)

// MaxRollupModels bounds the distinct models of one key and provider on one
// day in the roll-ups; requests for further models are rolled up under
// OtherModel, so the totals stay exact.
const (
	MaxRollupModels = 64
	OtherModel      = "other"
)

// Usage groupings.
const (
	GroupByKey      = "key"
	GroupByModel    = "model"
	GroupByProvider = "provider"
	GroupByDay      = "day"
	// GroupByCredential reads the per-credential roll-ups (usage_credentials.go).
	GroupByCredential = "credential"
)

// UsageGroupings lists the accepted UsageQuery.GroupBy values.
var UsageGroupings = []string{GroupByKey, GroupByModel, GroupByProvider, GroupByDay, GroupByCredential}

// UsageSourceNone is a trace's usage_source when no usage could be read.
const UsageSourceNone = "none"

// UsageRow is one group of the usage roll-ups; JSON names are a public contract.
type UsageRow struct {
	Group               string  `json:"group"` // the key id, model, provider, day (YYYY-MM-DD) or credential id, per GroupBy
	Requests            int64   `json:"requests"`
	Errors              int64   `json:"errors"` // requests with status >= 400 or no status at all (0)
	PromptTokens        int64   `json:"prompt_tokens"`
	CompletionTokens    int64   `json:"completion_tokens"`
	CacheCreationTokens int64   `json:"cache_creation_tokens"`
	CacheReadTokens     int64   `json:"cache_read_tokens"`
	CostUSD             float64 `json:"cost_usd"`
	// CostUnknown counts successful requests whose usage was read but not
	// priced (no price for the model): CostUSD leaves them out.
	CostUnknown int64 `json:"cost_unknown"`
	// CacheReadShare is the share of the prompt read from the upstream's
	// prompt cache: CacheReadTokens / PromptTokens, 0 when PromptTokens is
	// 0, rounded to 4 decimal places. PromptTokens counts every prompt-side
	// token on every provider (Anthropic's input_tokens + cache writes +
	// cache reads; OpenAI's prompt_tokens / input_tokens and Gemini's
	// promptTokenCount already include their cached tokens), so the share
	// means the same whatever the API. Derived, not stored: Add keeps it.
	CacheReadShare float64 `json:"cache_read_share"`
}

// CacheReadShare is cacheRead / prompt in [0, 1], rounded to 4 decimal
// places; 0 when prompt is 0. An upstream that reports more cached tokens
// than prompt tokens gets 1.
func CacheReadShare(cacheRead, prompt int64) float64 {
	if prompt <= 0 || cacheRead <= 0 {
		return 0
	}
	if cacheRead >= prompt {
		return 1
	}
	return math.Round(float64(cacheRead)/float64(prompt)*1e4) / 1e4
}

// UsageQuery selects and groups the usage roll-ups.
type UsageQuery struct {
	GroupBy                string // key, model, provider, day (default) or credential
	Since, Until           string // YYYY-MM-DD, inclusive, UTC; "" = open
	KeyID, Provider, Model string // exact match when set
}

// DayTotals are one key's tokens (prompt + completion, which already
// include the cache tokens) and cost on one UTC day.
type DayTotals struct {
	Tokens  int64
	CostUSD float64
}

// A roll-up record holds a UsageRow's figures (its Group is the key's).

func (r *UsageRow) addTrace(t *Trace) {
	failed := t.Status >= 400 || t.Status == 0
	r.Requests++
	if failed {
		r.Errors++
	}
	r.PromptTokens += t.PromptTokens
	r.CompletionTokens += t.CompletionTokens
	r.CacheCreationTokens += t.CacheCreationTokens
	r.CacheReadTokens += t.CacheReadTokens
	r.CostUSD += t.CostUSD
	if !t.CostKnown && t.UsageSource != UsageSourceNone && !failed {
		r.CostUnknown++
	}
}

// Add adds o's figures (not its Group) to r and recomputes r's
// CacheReadShare from the sums.
func (r *UsageRow) Add(o *UsageRow) {
	r.Requests += o.Requests
	r.Errors += o.Errors
	r.PromptTokens += o.PromptTokens
	r.CompletionTokens += o.CompletionTokens
	r.CacheCreationTokens += o.CacheCreationTokens
	r.CacheReadTokens += o.CacheReadTokens
	r.CostUSD += o.CostUSD
	r.CostUnknown += o.CostUnknown
	r.CacheReadShare = CacheReadShare(r.CacheReadTokens, r.PromptTokens)
}

func appendUsageRec(dst []byte, r *UsageRow) []byte {
	for _, v := range [...]uint64{uint64(r.Requests), uint64(r.Errors), uint64(r.PromptTokens), uint64(r.CompletionTokens),
		uint64(r.CacheCreationTokens), uint64(r.CacheReadTokens), math.Float64bits(r.CostUSD), uint64(r.CostUnknown)} {
		dst = binary.BigEndian.AppendUint64(dst, v)
	}
	return dst
}

func decodeUsageRec(v []byte) (UsageRow, error) {
	if len(v) < usageRecSize {
		return UsageRow{}, fmt.Errorf("damaged usage record (%d bytes)", len(v))
	}
	f := func(i int) uint64 { return binary.BigEndian.Uint64(v[8*i:]) }
	return UsageRow{
		Requests: int64(f(0)), Errors: int64(f(1)), PromptTokens: int64(f(2)), CompletionTokens: int64(f(3)),
		CacheCreationTokens: int64(f(4)), CacheReadTokens: int64(f(5)), CostUSD: math.Float64frombits(f(6)), CostUnknown: int64(f(7)),
	}, nil
}

// rollupPart makes s safe as a part of a roll-up key: a NUL (the separator)
// becomes U+FFFD and the length is bounded. Filters go through it too, so
// they still find what was stored.
func rollupPart(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	if len(s) > maxRollupPart {
		n := maxRollupPart
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return s
}

func appendRollupKey(dst []byte, t *Trace) []byte {
	dst = appendDay(dst, t.Time)
	dst = append(dst, 0)
	dst = append(dst, rollupPart(t.KeyID)...)
	dst = append(dst, 0)
	dst = append(dst, rollupPart(t.Model)...)
	dst = append(dst, 0)
	return append(dst, rollupPart(t.Provider)...)
}

// rollupKey is a parsed roll-up key; its slices point into the key.
type rollupKey struct{ day, keyID, model, provider []byte }

func parseRollupKey(k []byte) (rollupKey, bool) {
	var r rollupKey
	ok := cutRollupKey(k, &r.day, &r.keyID, &r.model, &r.provider)
	return r, ok
}

// cutRollupKey splits k, a roll-up key (its day, then parts, 0x00 between
// them), into parts, which point into k; false when k does not have as
// many or its first part is not a day.
func cutRollupKey(k []byte, parts ...*[]byte) bool {
	last := len(parts) - 1
	for _, p := range parts[:last] {
		var ok bool
		if *p, k, ok = bytes.Cut(k, []byte{0}); !ok {
			return false
		}
	}
	*parts[last] = k
	return len(*parts[0]) == len(dayLayout)
}

// rollups sums one batch per roll-up key before touching the bucket, so a
// batch costs one read-modify-write per distinct key, not per trace.
type rollups struct {
	recs    map[string]*UsageRow
	scratch []byte
}

func newRollups(n int) *rollups {
	return &rollups{recs: make(map[string]*UsageRow, min(n, 64))}
}

// add counts t; traces without a key id are not rolled up.
func (r *rollups) add(t *Trace) {
	if t.KeyID == "" {
		return
	}
	r.scratch = appendRollupKey(r.scratch[:0], t)
	rec := r.recs[string(r.scratch)]
	if rec == nil {
		rec = new(UsageRow)
		r.recs[string(r.scratch)] = rec
	}
	rec.addTrace(t)
}

// flush adds the sums to the stored records of the key roll-ups (keys)
// and, summed over keys once their models are bounded, of the model
// roll-ups (models).
func (r *rollups) flush(keys, models *bolt.Bucket) error {
	r.boundModels(keys)
	if err := addUsageRecs(keys, r.recs); err != nil {
		return err
	}
	sums := usageGroups{}
	for k, rec := range r.recs {
		rk, _ := parseRollupKey([]byte(k)) // built by appendRollupKey
		sums.addModel(rk, rec)
	}
	return addUsageRecs(models, sums)
}

// addUsageRecs adds each sum to the stored record of its key (the key
// roll-ups' and the credential roll-ups').
func addUsageRecs(b *bolt.Bucket, recs map[string]*UsageRow) error {
	// One buffer for every new value; its capacity is exact, so appending
	// never moves the values already handed to Put (bbolt keeps them until
	// the commit).
	vals := make([]byte, 0, len(recs)*usageRecSize)
	for k, rec := range recs {
		key := []byte(k)
		if old := b.Get(key); old != nil {
			prev, err := decodeUsageRec(old) // copies out of the page
			if err != nil {
				return fmt.Errorf("usage %q: %w", k, err)
			}
			prev.Add(rec)
			rec = &prev
		}
		start := len(vals)
		vals = appendUsageRec(vals, rec)
		if err := b.Put(key, vals[start:len(vals):len(vals)]); err != nil {
			return fmt.Errorf("usage %q: %w", k, err)
		}
	}
	return nil
}

// boundModels moves the sums of models that would be new records beyond
// MaxRollupModels for their day, key and provider to that group's OtherModel
// record. Keys are taken in order, so which models of a batch still get a
// record does not depend on map order.
func (r *rollups) boundModels(b *bolt.Bucket) {
	var fresh []string
	for k := range r.recs {
		r.scratch = append(r.scratch[:0], k...)
		if b.Get(r.scratch) == nil {
			fresh = append(fresh, k)
		}
	}
	if len(fresh) == 0 {
		return
	}
	slices.Sort(fresh)
	type group struct{ prefix, provider string } // the day and key; the provider (parts of a key)
	counts := map[group]int{}                    // models with a record
	var other []byte
	for _, k := range fresh {
		r.scratch = append(r.scratch[:0], k...)
		rk, _ := parseRollupKey(r.scratch) // built by appendRollupKey
		if string(rk.model) == OtherModel {
			continue
		}
		g := group{k[:len(rk.day)+1+len(rk.keyID)+1], k[len(k)-len(rk.provider):]}
		n, seen := counts[g]
		if !seen {
			n = countModels(b, []byte(g.prefix), rk.provider)
		}
		if n < MaxRollupModels {
			counts[g] = n + 1
			continue
		}
		counts[g] = n
		other = append(append(append(append(other[:0], g.prefix...), OtherModel...), 0), g.provider...)
		rec := r.recs[k]
		delete(r.recs, k)
		if o := r.recs[string(other)]; o != nil {
			o.Add(rec)
		} else {
			r.recs[string(other)] = rec
		}
	}
}

// countModels counts the stored records under prefix (a day and a key) of
// provider, OtherModel's aside; it stops at MaxRollupModels.
func countModels(b *bolt.Bucket, prefix, provider []byte) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && n < MaxRollupModels; k, _ = c.Next() {
		rk, ok := parseRollupKey(k)
		if ok && bytes.Equal(rk.provider, provider) && string(rk.model) != OtherModel {
			n++
		}
	}
	return n
}

// UsageDay is the UTC day of t (YYYY-MM-DD), as the roll-ups name it.
func UsageDay(t time.Time) string { return string(appendDay(nil, t)) }

// appendDay appends t's UTC day as t.UTC().AppendFormat(dst, dayLayout)
// does, for a fraction of its cost (every trace's roll-up key has one).
func appendDay(dst []byte, t time.Time) []byte {
	y, m, d := t.UTC().Date()
	if y < 0 || y > 9999 {
		return t.UTC().AppendFormat(dst, dayLayout)
	}
	return append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10),
		'-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// parseDay checks a YYYY-MM-DD date.
func parseDay(field, s string) error {
	if _, err := time.Parse(dayLayout, s); err != nil || len(s) != len(dayLayout) {
		return invalid(field, "%q is not a date like 2025-01-31", s)
	}
	return nil
}

func (q *UsageQuery) validate() error {
	if q.GroupBy == "" {
		q.GroupBy = GroupByDay
	}
	if !oneOf(q.GroupBy, UsageGroupings) {
		return invalid("by", "%q is not one of %s", q.GroupBy, strings.Join(UsageGroupings, ", "))
	}
	if q.Since != "" {
		if err := parseDay("since", q.Since); err != nil {
			return err
		}
	}
	if q.Until != "" {
		if err := parseDay("until", q.Until); err != nil {
			return err
		}
	}
	if q.Since != "" && q.Until != "" && q.Since > q.Until {
		return invalid("since", "%s is after until (%s)", q.Since, q.Until)
	}
	return nil
}

// Usage sums the roll-ups of the days in [Since, Until], grouped by
// GroupBy. Rows are sorted by cost (highest first), then group; by day they
// are in date order. Never returns nil.
func (s *Store) Usage(q UsageQuery) ([]UsageRow, error) {
	if err := q.validate(); err != nil {
		return []UsageRow{}, err
	}
	if q.GroupBy == GroupByCredential {
		return s.credentialUsage(q)
	}
	scan := scanRollups
	if q.KeyID == "" && q.GroupBy != GroupByKey { // the sums over keys answer it
		scan = scanModelRollups
	}
	rows, err := s.rollupUsage(q, scan)
	if err != nil {
		return []UsageRow{}, err
	}
	return rows, nil
}

// usageGroups sums rows by group.
type usageGroups map[string]*UsageRow

func (gs usageGroups) add(g []byte, rec *UsageRow) {
	row := gs[string(g)]
	if row == nil {
		row = &UsageRow{Group: string(g)}
		gs[row.Group] = row
	}
	row.Add(rec)
}

// rollupUsage answers q from the roll-ups scan walks: the key roll-ups
// (scanRollups), or, for a query that names no key, the model roll-ups
// (scanModelRollups, whose keys have no key id).
func (s *Store) rollupUsage(q UsageQuery, scan func(*bolt.Tx, string, string, func(rollupKey, *UsageRow)) error) ([]UsageRow, error) {
	keyID, provider, model := rollupPart(q.KeyID), rollupPart(q.Provider), rollupPart(q.Model)
	groups := usageGroups{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return scan(tx, q.Since, q.Until, func(rk rollupKey, rec *UsageRow) {
			if keyID != "" && string(rk.keyID) != keyID ||
				provider != "" && string(rk.provider) != provider ||
				model != "" && string(rk.model) != model {
				return
			}
			switch q.GroupBy {
			case GroupByKey:
				groups.add(rk.keyID, rec)
			case GroupByModel:
				groups.add(rk.model, rec)
			case GroupByProvider:
				groups.add(rk.provider, rec)
			default:
				groups.add(rk.day, rec)
			}
		})
	})
	return sortedRows(groups, q.GroupBy == GroupByDay), err
}

// sortedRows lists groups by cost (highest first), then group; byDay: in
// group (date) order.
func sortedRows(groups usageGroups, byDay bool) []UsageRow {
	rows := make([]UsageRow, 0, len(groups))
	for _, r := range groups {
		rows = append(rows, *r)
	}
	slices.SortFunc(rows, func(a, b UsageRow) int {
		if byDay {
			return strings.Compare(a.Group, b.Group)
		}
		if c := cmp.Compare(b.CostUSD, a.CostUSD); c != 0 {
			return c
		}
		return strings.Compare(a.Group, b.Group)
	})
	return rows
}

// KeyTotalsForDay sums the roll-ups of one UTC day (YYYY-MM-DD) per key id,
// to seed the daily token and cost limits at start-up. Never returns nil.
func (s *Store) KeyTotalsForDay(day string) (map[string]DayTotals, error) {
	out := map[string]DayTotals{}
	if err := parseDay("day", day); err != nil {
		return out, err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		return scanRollups(tx, day, day, func(rk rollupKey, rec *UsageRow) {
			d := out[string(rk.keyID)]
			d.Tokens += rec.PromptTokens + rec.CompletionTokens
			d.CostUSD += rec.CostUSD
			out[string(rk.keyID)] = d
		})
	})
	return out, err
}

// scanRollups calls fn for every key roll-up of the days in [since,
// until] ("" = open), in key order. rk's slices are valid only during the
// call.
func scanRollups(tx *bolt.Tx, since, until string, fn func(rk rollupKey, rec *UsageRow)) error {
	return scanDays(tx, bucketUsage, since, until, func(k []byte) (rollupKey, []byte, bool) {
		rk, ok := parseRollupKey(k)
		return rk, rk.day, ok
	}, fn)
}

// scanDays walks a roll-up bucket (keys starting with the day) over the
// days in [since, until] ("" = open), parsing each key with parse (which
// also returns its day) and calling fn with the decoded record.
func scanDays[K any](tx *bolt.Tx, bucket []byte, since, until string, parse func([]byte) (K, []byte, bool), fn func(K, *UsageRow)) error {
	c := tx.Bucket(bucket).Cursor()
	var k, v []byte
	if since != "" {
		k, v = c.Seek([]byte(since))
	} else {
		k, v = c.First()
	}
	for ; k != nil; k, v = c.Next() {
		rk, day, ok := parse(k)
		if !ok {
			return fmt.Errorf("%s %q: damaged key", bucket, k)
		}
		if until != "" && string(day) > until {
			return nil
		}
		rec, err := decodeUsageRec(v)
		if err != nil {
			return fmt.Errorf("%s %q: %w", bucket, k, err)
		}
		fn(rk, &rec)
	}
	return nil
}
