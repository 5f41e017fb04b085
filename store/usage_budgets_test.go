package store

import (
	"reflect"
	"testing"
)

// The budgets' start-up figures from the roll-ups: the period's per key,
// provider and credential, and every day's per key; failed requests add
// their tokens but are not requests the average counts, unknown costs are
// not priced ones.
func TestSpend(t *testing.T) {
	s := openTest(t)
	writeUsageSet(t, s)
	got, err := s.Spend("2030-06-02", "2030-06-03")
	if err != nil {
		t.Fatal(err)
	}
	want := SpendTotals{
		Keys: map[string]Spent{
			"key_a": {CostUSD: 0.0625, Tokens: 130, OK: 1, Priced: 1},
			"key_b": {CostUSD: 0, Tokens: 66, OK: 2, Priced: 0},
			"key_c": {CostUSD: 1, Tokens: 440, OK: 1, Priced: 1},
		},
		KeyTotals: map[string]Spent{
			"key_a": {CostUSD: 1.8125, Tokens: 4400 + 20 + 110, OK: 5, Priced: 5},
			"key_b": {CostUSD: 0.125, Tokens: 3300 + 55 + 11, OK: 3, Priced: 1},
			"key_c": {CostUSD: 1, Tokens: 440, OK: 1, Priced: 1},
		},
		Providers: map[string]Spent{
			"openai":    {CostUSD: 1.0625, Tokens: 636, OK: 4, Priced: 2},
			"anthropic": {},
		},
		Credentials: map[string]Spent{"": {CostUSD: 1.0625, Tokens: 636, OK: 4, Priced: 2}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Spend =\n%+v\nwant\n%+v", got, want)
	}
	// Spent.Add (what the proxy's observer adds per trace) counts as the
	// roll-ups do.
	var a Spent
	for _, u := range []ut{
		{status: 200, prompt: 100, completion: 10, cost: 0.0625, known: true, source: "response"},
		{status: 200, prompt: 10, completion: 1, source: "response"},
		{status: 404, prompt: 20, source: "response"},
		{status: 0, source: "none"},
	} {
		a.Add(u.trace(0))
	}
	if want := (Spent{CostUSD: 0.0625, Tokens: 141, OK: 2, Priced: 1}); a != want {
		t.Errorf("Spent.Add: %+v, want %+v", a, want)
	}
	for _, bad := range [][2]string{{"", "2030-06-03"}, {"2030-06-02", "June"}} {
		_, err := s.Spend(bad[0], bad[1])
		if err == nil {
			t.Errorf("Spend(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
