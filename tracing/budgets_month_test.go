package tracing

import (
	"testing"
	"time"
)

// The month a trace is counted in is BudgetMonth's, in the budgets' time
// zone, including across a month's edge and back.
func TestSpendMonthOfMatchesBudgetMonth(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range []*time.Location{time.UTC, berlin} {
		s := &Spend{loc: loc}
		edge := time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC) // 2027-01 in Berlin
		for _, at := range []time.Time{edge.Add(-time.Hour), edge, edge.Add(59 * time.Minute), edge.Add(time.Hour),
			edge.Add(-2 * time.Hour), edge.AddDate(0, -1, 0), edge.Add(30 * time.Minute)} {
			want, _, _ := BudgetMonth(at, loc)
			if got := s.monthOf(at); got != want {
				t.Errorf("%s in %s: month %s, want %s", at, loc, got, want)
			}
		}
	}
}
