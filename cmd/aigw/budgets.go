package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
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
