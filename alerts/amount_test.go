package alerts

import "testing"

// A budget's figures in an alert keep the digits that matter: a budget
// under a dollar is not "$0.00 of $0.00".
func TestAmountKeepsSmallDollars(t *testing.T) {
	for _, c := range []struct {
		budget string
		v      float64
		want   string
	}{
		{"monthly_cost", 50, "$50.00"},
		{"monthly_cost", 1234.567, "$1234.57"},
		{"monthly_cost", 0.00004, "$0.00004"},
		{"total_cost", 0.000018375, "$0.000018"},
		{"monthly_cost", 0, "$0.00"},
		{"monthly_tokens", 2e6, "2000000"},
	} {
		if got := amount(c.budget, c.v); got != c.want {
			t.Errorf("amount(%s, %g) = %q, want %q", c.budget, c.v, got, c.want)
		}
	}
}
