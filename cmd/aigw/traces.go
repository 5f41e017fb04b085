package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newTracesCmd(a *app) *cobra.Command {
	var (
		q       admin.TraceQuery
		follow  bool
		noRetry bool
		status  string
	)
	cmd := &cobra.Command{
		Use:   "traces [--follow [--no-retry]] [--key ID] [--provider NAME] [--status CODE] [--limit N]",
		Short: "Show recent requests (newest first), or follow new ones live",
		Long: `Show recent requests with their key, provider, credential, model, status,
latency, tokens and cost, newest first; --follow streams new ones as they
happen (Ctrl-C to stop, exit 0). When the gateway restarts or the stream
drops, --follow says so on stderr and reconnects (every 0.5 s, doubling to
5 s), then prints the traces that ended while it was away, each trace once;
--no-retry exits 3 instead. With -o json: an array, or with --follow one JSON
object per line.`,
		Example: `  aigw traces --limit 20
  aigw traces --provider openai --status 5xx -o json
  aigw traces --follow --key key_9Xe…`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q.Status = status
			if noRetry && !follow {
				return &usageError{errors.New("traces: --no-retry goes with --follow")}
			}
			c, err := a.filterClient(cmd.Context(), &q.Key, q.Provider)
			if err != nil {
				return err
			}
			if follow {
				return a.followTraces(cmd.Context(), c, q, !noRetry)
			}
			page, err := c.Traces(cmd.Context(), q)
			if err != nil {
				return apiErr(cmd, err)
			}
			if a.output == "json" {
				return printJSON(a.io.Out, page.Traces)
			}
			t := traceTable()
			for _, tr := range page.Traces {
				addTraceRow(t, tr)
			}
			return t.print(a.io.Out, a.io.outWidth)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&follow, "follow", "f", false, "stream new traces as they happen")
	fl.BoolVar(&noRetry, "no-retry", false, "with --follow: exit 3 when the connection is lost instead of reconnecting")
	traceFilterFlags(fl, &q, &status)
	fl.Var(newRangeFlag(&q.Limit, 50, 1, 10000), "limit", "how many traces (1-10000)")
	_ = cmd.RegisterFlagCompletionFunc("provider", a.completeProviders)
	_ = cmd.RegisterFlagCompletionFunc("key", a.completeKeys)
	cmd.AddCommand(newTracesExportCmd(a))
	return cmd
}

func traceTable() *table {
	return newTable("TIME", "REQUEST", "KEY", "PROVIDER", "MODEL", "STATUS", "LATENCY", "TOKENS", "COST", "RETRIES", "ERROR")
}

func addTraceRow(t *table, tr admin.Trace) {
	t.add(clockTime(tr.Time, time.Now()), tr.RequestID, orDash(firstNonEmpty(tr.KeyName, tr.KeyID, tr.KeyPreview)), orDash(tr.Provider), orDash(tr.Model),
		strconv.Itoa(tr.Status), fmtMS(tr.LatencyMS), tokensText(tr), costText(tr.CostUSD, tr.CostKnown), strconv.Itoa(tr.Retries),
		orDash(oneLine(tr.Error)))
}

func fmtMS(ms float64) string {
	if ms >= 1000 {
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + "s"
	}
	return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
}

func tokensText(tr admin.Trace) string {
	if tr.UsageSource == "none" && tr.PromptTokens == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", tr.PromptTokens, tr.CompletionTokens)
}

// costText shows an unknown cost as "?" — never as $0.
func costText(usd float64, known bool) string {
	if !known {
		return "?"
	}
	return usdText(usd)
}

// usdText shows a cost with the digits that matter: a single small request
// costs millionths of a dollar, which a fixed 2 or 4 decimals would show as
// $0.
func usdText(usd float64) string {
	switch {
	case usd == 0:
		return "$0"
	case usd < 0.0000005:
		return "<$0.000001"
	case usd < 1:
		return "$" + strings.TrimRight(strconv.FormatFloat(usd, 'f', 6, 64), "0")
	case usd < 1000:
		return "$" + strconv.FormatFloat(usd, 'f', 4, 64)
	}
	return "$" + strconv.FormatFloat(usd, 'f', 2, 64)
}

func newUsageCmd(a *app) *cobra.Command {
	var (
		q        admin.UsageQuery
		unpriced bool
	)
	cmd := &cobra.Command{
		Use:   "usage [--by key|model|provider|day|credential | --unpriced] [--since YYYY-MM-DD] [--until YYYY-MM-DD]",
		Short: "Sum requests, tokens and cost per key, model, provider, day or credential",
		Long: `Sum requests, errors, tokens and cost from the usage roll-ups (UTC days),
grouped by key, model, provider, day or credential. A cost column ending in
"+?" means some requests of the group have no known price. CACHE% is the
cache-read share: the part of the prompt tokens read from the upstream's
prompt cache (cache_read_tokens / prompt_tokens; JSON: cache_read_share, 0..1).
By credential, a request counts under the credential that answered it last;
requests that reached none (refused by a limit) under "-". Credential roll-ups
start with the version that added them: older days have none. They can be
filtered by --provider, not by --key or --model. --unpriced lists the models
whose requests had usage but no price (cost unknown), with how many, so you
know what to add to [pricing] or import ('aigw prices import').`,
		Example: `  aigw usage --by model --since 2026-11-01
  aigw usage --by key -o json
  aigw usage --by credential --provider anthropic
  aigw usage --unpriced --since 2026-11-01`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if unpriced && changed(cmd, "by") && q.By != admin.GroupByModel {
				return &usageError{errUnpricedBy}
			}
			if q.By == admin.GroupByCredential && (q.Key != "" || q.Model != "") {
				return &usageError{errors.New("--key and --model cannot be combined with --by credential (the credential roll-ups are per day, credential and provider)")}
			}
			c, err := a.filterClient(cmd.Context(), &q.Key, q.Provider)
			if err != nil {
				return err
			}
			if unpriced {
				return apiErr(cmd, a.runUnpriced(cmd.Context(), c, q))
			}
			rows, err := c.Usage(cmd.Context(), q)
			if err != nil {
				var ae *admin.APIError
				if errors.As(err, &ae) && ae.Field == "by" {
					return &usageError{fmt.Errorf("invalid --by %q: use key, model, provider, day or credential", q.By)}
				}
				return apiErr(cmd, err)
			}
			if a.output == "json" {
				return printJSON(a.io.Out, rows)
			}
			t := newTable(strings.ToUpper(firstNonEmpty(q.By, "day")), "REQUESTS", "ERRORS", "PROMPT", "COMPLETION", "CACHE WRITE", "CACHE READ", "CACHE%", "COST")
			for _, r := range rows {
				cost := usdText(r.CostUSD)
				if r.CostUnknown > 0 {
					cost += "+?"
				}
				t.add(orDash(r.Group), fmt.Sprint(r.Requests), fmt.Sprint(r.Errors), fmt.Sprint(r.PromptTokens),
					fmt.Sprint(r.CompletionTokens), fmt.Sprint(r.CacheCreationTokens), fmt.Sprint(r.CacheReadTokens), shareText(r), cost)
			}
			return t.print(a.io.Out, a.io.outWidth)
		},
	}
	fl := cmd.Flags()
	usageFilterFlags(fl, &q)
	fl.BoolVar(&unpriced, "unpriced", false, "list the models used without a price, with their request counts")
	_ = cmd.RegisterFlagCompletionFunc("by", cobra.FixedCompletions(admin.UsageGroupings, cobra.ShellCompDirectiveNoFileComp))
	cmd.AddCommand(newUsageExportCmd(a))
	return cmd
}

// shareText is a row's cache-read share as a percentage ("83.3%"), "-"
// when it has no prompt tokens.
func shareText(r admin.UsageRow) string {
	if r.PromptTokens == 0 {
		return "-"
	}
	return strconv.FormatFloat(r.CacheReadShare*100, 'f', 1, 64) + "%"
}

// traceFilterFlags are the filters of `aigw traces` and `aigw traces export`.
func traceFilterFlags(fl *pflag.FlagSet, q *admin.TraceQuery, status *string) {
	fl.StringVar(&q.Key, "key", "", "only this gateway key's requests (its id or name)")
	fl.StringVar(&q.Provider, "provider", "", "only this provider's requests")
	fl.StringVar(&q.Model, "model", "", "only this model's requests")
	fl.Var(statusFlag{status}, "status", "only this status (e.g. 429) or class (2xx, 4xx, 5xx)")
	fl.Var(timeTextFlag{val: &q.Since}, "since", "only requests since this time (RFC 3339, YYYY-MM-DD, or a duration ago: 1h, 30m)")
	fl.Var(timeTextFlag{val: &q.Until}, "until", "only requests before this time (same forms as --since)")
}

// usageFilterFlags are the grouping and filters of `aigw usage` and
// `aigw usage export`.
func usageFilterFlags(fl *pflag.FlagSet, q *admin.UsageQuery) {
	fl.Var(newChoiceFlag(&q.By, admin.GroupByDay, admin.UsageGroupings), "by", "group by key, model, provider, day or credential")
	fl.Var(timeTextFlag{val: &q.Since, day: true}, "since", "first UTC day (YYYY-MM-DD)")
	fl.Var(timeTextFlag{val: &q.Until, day: true}, "until", "last UTC day (YYYY-MM-DD)")
	fl.StringVar(&q.Key, "key", "", "only this key (its id or name)")
	fl.StringVar(&q.Provider, "provider", "", "only this provider")
	fl.StringVar(&q.Model, "model", "", "only this model")
}
