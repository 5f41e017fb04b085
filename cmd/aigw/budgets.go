package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/aigw/aigw/admin"
)

// budgetUSD is a --monthly-cost / --total-cost value: judged by the CLI
// (exit 2) with the admin API's bounds, 0 (no budget) to 1e9 USD.
type budgetUSD float64

func (f *budgetUSD) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }

func (f *budgetUSD) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e9 {
		return fmt.Errorf("%q is not an amount of USD between 0 (no budget) and 1e9", s)
	}
	*f = budgetUSD(v)
	return nil
}

func (f *budgetUSD) Type() string { return "usd" }

// budgetTokens is a --monthly-tokens value: 0 (no budget) or more.
type budgetTokens int64

func (f *budgetTokens) String() string { return strconv.FormatInt(int64(*f), 10) }

func (f *budgetTokens) Set(s string) error {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v < 0 || v > 1e15 {
		return fmt.Errorf("%q is not a number of tokens between 0 (no budget) and 1e15", s)
	}
	*f = budgetTokens(v)
	return nil
}

func (f *budgetTokens) Type() string { return "tokens" }

// monthlyText shows a budget: "$200/month", "-" for none.
func monthlyText(v float64) string {
	if v <= 0 {
		return "-"
	}
	return "$" + strconv.FormatFloat(v, 'f', -1, 64) + "/month"
}

// budgetUseText says how much of each budget is used: "monthly_cost $12.30
// of $50 (24.6%, until 2027-01-01 00:00) · monthly_tokens 1200 of 20000000
// (0.0%)", or "" without budgets.
func budgetUseText(us []admin.BudgetUse) string {
	parts := make([]string, 0, len(us))
	for _, u := range us {
		used, limit := fmtInt(int64(u.Used)), fmtInt(int64(u.Limit))
		if u.Budget != "monthly_tokens" {
			used, limit = usdText(u.Used), usdText(u.Limit)
		}
		pct := 0.0
		if u.Limit > 0 {
			pct = 100 * u.Used / u.Limit
		}
		text := fmt.Sprintf("%s %s of %s (%.1f%%", u.Budget, used, limit, pct)
		if u.Reset != nil {
			text += ", until " + fmtTime(*u.Reset)
		}
		parts = append(parts, text+")")
	}
	return strings.Join(parts, " · ")
}

// budgetUsePairs is the "budget_use" line of a show command, when there
// are budgets.
func budgetUsePairs(us []admin.BudgetUse) []string {
	if len(us) == 0 {
		return nil
	}
	return []string{"budget_use", budgetUseText(us)}
}
