package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/proxy/usage"
)

// runUnpriced is `aigw usage --unpriced`: the models whose requests were
// answered with usage but had no price (the model roll-ups' cost_unknown),
// most such requests first, so the operator knows what to add to [pricing]
// or import. -o json prints those usage rows (group: the model).
func (a *app) runUnpriced(ctx context.Context, c *admin.Client, q admin.UsageQuery) error {
	q.By = admin.GroupByModel
	rows, err := c.Usage(ctx, q)
	if err != nil {
		return err
	}
	out := make([]admin.UsageRow, 0, len(rows))
	for _, r := range rows {
		if r.CostUnknown > 0 {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(x, y admin.UsageRow) int { return cmp.Compare(y.CostUnknown, x.CostUnknown) })
	if a.output == "json" {
		return printJSON(a.io.Out, out)
	}
	// Whether each model has a price now (added since, by config or an import).
	listed, err := c.Prices(ctx, "")
	if err != nil {
		return err
	}
	m := make(map[string]usage.Price, len(listed))
	for _, p := range listed {
		m[p.Model] = usage.Price{Input: p.Input, Output: p.Output}
	}
	table := new(usage.Prices).With(m)
	t := newTable("MODEL", "UNPRICED", "REQUESTS", "PROMPT", "COMPLETION", "PRICE NOW")
	for _, r := range out {
		now := "none"
		if _, ok := table.Lookup(r.Group); ok {
			now = "added since"
		}
		t.add(orDash(r.Group), fmt.Sprint(r.CostUnknown), fmt.Sprint(r.Requests), fmt.Sprint(r.PromptTokens),
			fmt.Sprint(r.CompletionTokens), now)
	}
	if len(out) == 0 {
		_, err := fmt.Fprintln(a.io.Err, "aigw: every request of the period with usage had a price")
		return err
	}
	return t.print(a.io.Out, a.io.outWidth)
}

var errUnpricedBy = errors.New("--unpriced lists models: it cannot be combined with --by other than model")
