package store

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// A usage query that names no key is answered from the model roll-ups; it
// must give what summing the key roll-ups gives, for every grouping, filter
// and range — with many keys, costs that are not exact in binary, models
// past the per-key bound, several batches adding to records that exist.
func TestModelRollupsMatchTheKeyRollups(t *testing.T) {
	s := openTest(t)
	r := rand.New(rand.NewPCG(7, 8))
	models := []string{"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "", OtherModel}
	for i := range 40 { // past MaxRollupModels for key_0 on day 1
		models = append(models, fmt.Sprintf("m-%02d", i))
	}
	seq := uint16(0)
	for batch := range 12 {
		var ts []*Trace
		for range 150 {
			seq++
			ts = append(ts, ut{
				at:  day1.Add(time.Duration(r.IntN(4*24)) * time.Hour),
				key: fmt.Sprintf("key_%d", r.IntN(25)), provider: []string{"openai", "anthropic", "gemini"}[r.IntN(3)],
				model: models[r.IntN(len(models))], status: []int{200, 200, 200, 429, 500}[r.IntN(5)],
				prompt: r.Int64N(5000), completion: r.Int64N(900), cacheRead: r.Int64N(300), cacheWrite: r.Int64N(50),
				cost: r.Float64() / 100, known: r.IntN(6) != 0, source: "response",
			}.trace(seq))
		}
		if batch == 3 {
			ts = append(ts, ut{at: day1, provider: "openai", model: "gpt-4o", status: 200, prompt: 9}.trace(seq+1)) // no key: not rolled up
			seq++
		}
		write(t, s, ts...)
	}
	days := []string{"", UsageDay(day1), UsageDay(day2), UsageDay(day3), UsageDay(day3.AddDate(0, 0, 1))}
	checked := 0
	for _, by := range []string{GroupByDay, GroupByModel, GroupByProvider} {
		for _, f := range []UsageQuery{{}, {Provider: "openai"}, {Model: "gpt-4o"}, {Model: OtherModel, Provider: "gemini"}, {Model: "nobody"}} {
			for i, since := range days {
				for _, until := range days[i:] {
					q := f
					q.GroupBy, q.Since, q.Until = by, since, until
					got, err := s.Usage(q)
					if err != nil {
						t.Fatalf("Usage(%+v): %v", q, err)
					}
					want, err := s.rollupUsage(q, scanRollups)
					if err != nil {
						t.Fatal(err)
					}
					if !usageRowsClose(got, want) {
						t.Fatalf("Usage(%+v) from the model roll-ups = %+v; from the key roll-ups %+v", q, got, want)
					}
					checked += len(got)
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d rows compared: the data set is too small to show anything", checked)
	}
}

// usageRowsClose compares rows exactly but for costs, which the two
// roll-ups sum in another order (equal to 1e-12 relative).
func usageRowsClose(a, b []UsageRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if math.Abs(x.CostUSD-y.CostUSD) > 1e-12*math.Max(1, math.Abs(y.CostUSD)) {
			return false
		}
		x.CostUSD = y.CostUSD
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}
