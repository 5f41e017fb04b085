package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/internal/units"
	"github.com/spf13/cobra"
)

func newKeyCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "key",
		Aliases: []string{"keys"},
		Short:   "Manage gateway keys (what applications present instead of a provider key)",
	}
	cmd.AddCommand(newKeyCreateCmd(a), newKeyListCmd(a), newKeyShowCmd(a), newKeyUpdateCmd(a), newKeyRevokeCmd(a))
	return cmd
}

// keyFlags are shared by key create and key update.
type keyFlags struct {
	provider       string
	credentials    []string
	name           string
	strategy       string
	models         modelsFlag
	rpm, tpm       int64
	dailyTokens    int64
	dailyCost      usdFlag
	maxConcurrency int64
	monthlyCost    budgetUSD
	monthlyTokens  budgetTokens
	totalCost      budgetUSD
	unpriced       string
	timeout        units.Duration
	maxRetries     int
	expiresAt      timeFlag
}

func (f *keyFlags) register(a *app, cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringSliceVar(&f.credentials, "credentials", nil, "credentials of the key's pool (ids or names), comma separated")
	fl.StringVar(&f.name, "name", "", "a label for the key")
	fl.Var(newChoiceFlag(&f.strategy, admin.DefaultStrategy, admin.Strategies), "strategy", "how a credential is chosen: "+strings.Join(admin.Strategies, ", "))
	fl.Var(&f.models, "models", `models the key may use, comma separated: exact names and * globs, e.g. gpt-5,claude-* ("": every model)`)
	fl.Int64Var(&f.rpm, "rpm", 0, "requests per minute (0: no limit)")
	fl.Int64Var(&f.tpm, "tpm", 0, "tokens per minute (0: no limit)")
	fl.Int64Var(&f.dailyTokens, "daily-tokens", 0, "tokens per UTC day (0: no limit)")
	fl.Var(&f.dailyCost, "daily-cost", "USD per UTC day (0: no limit)")
	fl.Int64Var(&f.maxConcurrency, "max-concurrency", 0, "requests in flight at once (0: no limit)")
	fl.Var(&f.monthlyCost, "monthly-cost", "USD per calendar month (budgets.timezone, default UTC; 0: no budget)")
	fl.Var(&f.monthlyTokens, "monthly-tokens", "tokens per calendar month (0: no budget)")
	fl.Var(&f.totalCost, "total-cost", "USD over the key's life; never resets (0: no budget)")
	fl.Var(newChoiceFlag(&f.unpriced, "", unpricedChoices), "unpriced", "with a cost budget, whether models without a price may be used: allow (default) or deny (403)")
	fl.Var(&f.timeout, "timeout", "upstream timeout for this key's requests, e.g. 90s (default: provider's, then config)")
	fl.IntVar(&f.maxRetries, "max-retries", 2, "retries on another credential when the upstream fails (0-10)")
	fl.Var(&f.expiresAt, "expires-at", "when the key stops working (RFC 3339 or YYYY-MM-DD)")
	_ = cmd.RegisterFlagCompletionFunc("strategy", cobra.FixedCompletions(admin.Strategies, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("unpriced", cobra.FixedCompletions(unpricedChoices, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("credentials", a.completeCredentials)
}

var unpricedChoices = []string{admin.UnpricedAllow, admin.UnpricedDeny}

func newKeyCreateCmd(a *app) *cobra.Command {
	var f keyFlags
	cmd := &cobra.Command{
		Use:   "create --provider NAME --credentials ID[,ID…]",
		Short: "Create a gateway key; its secret is printed once and cannot be shown again",
		Example: `  aigw key create --provider openai --credentials cred_a,cred_b --strategy weighted --rpm 60
  aigw key create --provider claude --credentials cred_c --name ci --daily-cost 5 --expires-at 2026-12-31 -o json
  aigw key create --provider openai --credentials cred_a --models 'gpt-5,gpt-5-mini,o4-*'
  aigw key create --provider openai --credentials cred_a --monthly-cost 50 --unpriced deny`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := admin.KeyInput{
				Provider: f.provider, Credentials: f.credentials, Name: f.name, Strategy: f.strategy, Models: f.models.list,
				Limits: admin.Limits{RPM: f.rpm, TPM: f.tpm, DailyTokens: f.dailyTokens, DailyCost: float64(f.dailyCost),
					MaxConcurrency: f.maxConcurrency, MonthlyCost: float64(f.monthlyCost), MonthlyTokens: int64(f.monthlyTokens),
					TotalCost: float64(f.totalCost), Unpriced: f.unpriced},
				Timeout: f.timeout, ExpiresAt: f.expiresAt.t,
			}
			if changed(cmd, "max-retries") {
				in.MaxRetries = &f.maxRetries
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if in.Credentials, err = resolveCredentials(cmd.Context(), c, in.Credentials); err != nil {
				return err
			}
			k, err := c.CreateKey(cmd.Context(), in)
			if err != nil {
				return apiErr(cmd, err)
			}
			if a.output == "json" {
				return printJSON(a.io.Out, k)
			}
			if err := a.printKeyFields(k.Key, "secret", k.Secret); err != nil {
				return err
			}
			fmt.Fprintln(a.io.Err, "Save the secret now: aigw keeps only its hash and cannot show it again.")
			return nil
		},
	}
	cmd.Flags().StringVar(&f.provider, "provider", "", "provider the key is bound to")
	f.register(a, cmd)
	requireFlags(cmd, "provider")
	requireFlags(cmd, "credentials")
	_ = cmd.RegisterFlagCompletionFunc("provider", a.completeProviders)
	return cmd
}

func newKeyListCmd(a *app) *cobra.Command {
	var q admin.KeyQuery
	var pages pageFlags
	cmd := &cobra.Command{
		Use:     "list [--provider NAME] [--name PREFIX] [--status active|revoked|expired] [--limit N] [--all]",
		Aliases: []string{"ls"},
		Short:   "List gateway keys (never their secrets), oldest first",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := pages.check(cmd); err != nil {
				return err
			}
			if q.Status != "" && !slices.Contains(admin.KeyStatuses, q.Status) {
				return &usageError{fmt.Errorf("--status %q: must be one of %s", q.Status, strings.Join(admin.KeyStatuses, ", "))}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			now := time.Now()
			l := listing[admin.Key]{a: a, plural: "keys",
				header: []string{"ID", "NAME", "PROVIDER", "STRATEGY", "CREDENTIALS", "MODELS", "LIMITS", "STATUS", "EXPIRES", "LAST USED"},
				row: func(k admin.Key) []string {
					return []string{k.ID, orDash(k.Name), k.Provider, k.Strategy, strings.Join(k.Credentials, ","), modelsText(k.Models),
						limitsText(k.Limits), k.Status, fmtTimePtr(k.ExpiresAt), lastUsedText(k.LastUsedAt, now)}
				},
				id: func(k admin.Key) string { return k.ID },
				fetch: func(cursor string, limit int) ([]admin.Key, string, error) {
					q.Cursor, q.Limit = cursor, limit
					page, err := c.Keys(cmd.Context(), q)
					return page.Keys, page.NextCursor, err
				},
			}
			return l.run(pages)
		},
	}
	cmd.Flags().StringVar(&q.Provider, "provider", "", "only this provider's keys")
	cmd.Flags().StringVar(&q.Name, "name", "", "only keys whose name starts with PREFIX (listed by name)")
	cmd.Flags().StringVar(&q.Status, "status", "", "only active, revoked or expired keys")
	pages.register(cmd, "keys")
	_ = cmd.RegisterFlagCompletionFunc("provider", a.completeProviders)
	return cmd
}

// limitsText summarises a key's limits: "rpm 60, tpm 10000".
func limitsText(l admin.Limits) string {
	var parts []string
	add := func(name string, v int64) {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", name, v))
		}
	}
	add("rpm", l.RPM)
	add("tpm", l.TPM)
	add("tokens/day", l.DailyTokens)
	if l.DailyCost > 0 {
		parts = append(parts, fmt.Sprintf("$%g/day", l.DailyCost))
	}
	add("concurrency", l.MaxConcurrency)
	if l.MonthlyCost > 0 {
		parts = append(parts, fmt.Sprintf("$%g/month", l.MonthlyCost))
	}
	add("tokens/month", l.MonthlyTokens)
	if l.TotalCost > 0 {
		parts = append(parts, fmt.Sprintf("$%g total", l.TotalCost))
	}
	if l.Unpriced == admin.UnpricedDeny {
		parts = append(parts, "unpriced deny")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func newKeyShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:               "show ID",
		Short:             "Show one gateway key",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeKeys,
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, id, err := a.keyArg(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			k, err := c.Key(cmd.Context(), id)
			if err != nil {
				return err
			}
			return a.printKey(k)
		},
	}
}

func newKeyUpdateCmd(a *app) *cobra.Command {
	var (
		f        keyFlags
		noExpiry bool
	)
	cmd := &cobra.Command{
		Use:               "update ID [flags]",
		Short:             "Change a key's pool, strategy, models, limits, timeout or expiry (only the flags given change)",
		Example:           "  aigw key update key_9Xe… --rpm 120 --strategy health_best\n  aigw key update key_9Xe… --credentials cred_a,cred_c --no-expiry\n  aigw key update key_9Xe… --models 'gpt-5,gpt-5-mini,claude-*'\n  aigw key update key_9Xe… --models ''   # every model again",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeKeys,
		RunE: func(cmd *cobra.Command, argv []string) error {
			var p admin.KeyPatch
			if changed(cmd, "name") {
				p.Name = &f.name
			}
			if changed(cmd, "credentials") {
				p.Credentials = &f.credentials
			}
			if changed(cmd, "strategy") {
				p.Strategy = &f.strategy
			}
			if changed(cmd, "models") {
				p.Models = &f.models.list
			}
			for flag, dst := range map[string]**int64{"rpm": &p.RPM, "tpm": &p.TPM, "daily-tokens": &p.DailyTokens, "max-concurrency": &p.MaxConcurrency} {
				if changed(cmd, flag) {
					v, _ := cmd.Flags().GetInt64(flag)
					*dst = &v
				}
			}
			for flag, src := range map[string]struct {
				v   float64
				dst **float64
			}{"daily-cost": {float64(f.dailyCost), &p.DailyCost}, "monthly-cost": {float64(f.monthlyCost), &p.MonthlyCost},
				"total-cost": {float64(f.totalCost), &p.TotalCost}} {
				if changed(cmd, flag) {
					v := src.v
					*src.dst = &v
				}
			}
			if changed(cmd, "monthly-tokens") {
				v := int64(f.monthlyTokens)
				p.MonthlyTokens = &v
			}
			if changed(cmd, "unpriced") {
				p.Unpriced = &f.unpriced
			}
			if changed(cmd, "timeout") {
				p.Timeout = &f.timeout
			}
			if changed(cmd, "max-retries") {
				p.MaxRetries = &f.maxRetries
			}
			p.ExpiresAt = f.expiresAt.t
			p.NoExpiry = noExpiry
			if p == (admin.KeyPatch{}) {
				return &usageError{errNothingToChange(cmd)}
			}
			c, id, err := a.keyArg(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			if p.Credentials != nil {
				ids, err := resolveCredentials(cmd.Context(), c, *p.Credentials)
				if err != nil {
					return err
				}
				p.Credentials = &ids
			}
			k, err := c.UpdateKey(cmd.Context(), id, p)
			if err != nil {
				return apiErr(cmd, err)
			}
			return a.printKey(k)
		},
	}
	f.register(a, cmd)
	cmd.Flags().BoolVar(&noExpiry, "no-expiry", false, "remove the key's expiry")
	exclusiveFlags(cmd, "expires-at", "no-expiry")
	hideDefaults(cmd)
	return cmd
}

func newKeyRevokeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:               "revoke ID",
		Short:             "Revoke a gateway key for good",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeKeys,
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, id, err := a.keyArg(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			k, err := c.RevokeKey(cmd.Context(), id)
			if err != nil {
				return err
			}
			return a.printKey(k)
		},
	}
}

func (a *app) printKey(k admin.Key) error {
	if a.output == "id" {
		return printIDs(a.io.Out, k.ID)
	}
	if a.output == "json" {
		return printJSON(a.io.Out, k)
	}
	return a.printKeyFields(k)
}

func (a *app) printKeyFields(k admin.Key, extra ...string) error {
	retries := "default"
	if k.MaxRetries != nil {
		retries = fmt.Sprint(*k.MaxRetries)
	}
	pairs := []string{"id", k.ID, "name", orDash(k.Name), "provider", k.Provider, "preview", k.Preview,
		"credentials", strings.Join(k.Credentials, ", "), "strategy", k.Strategy, "models", modelsText(k.Models), "limits", limitsText(k.Limits),
		"timeout", timeoutText(k.Timeout), "max_retries", retries, "status", k.Status,
		"expires", fmtTimePtr(k.ExpiresAt), "created", fmtTime(k.CreatedAt), "last_used", lastUsedText(k.LastUsedAt, time.Now())}
	if k.RevokedAt != nil {
		pairs = append(pairs, "revoked", fmtTimePtr(k.RevokedAt))
	}
	pairs = append(pairs, budgetUsePairs(k.BudgetUse)...)
	return printFields(a.io.Out, append(pairs, extra...)...)
}

func (a *app) completeKeys(cmd *cobra.Command, argv []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(argv) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, err := a.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	// One page: the keys whose name starts with what is typed (their
	// names), or the oldest ones (their ids).
	q := admin.KeyQuery{}
	if !strings.HasPrefix(toComplete, "key_") {
		q.Name = toComplete
	}
	page, err := c.Keys(cmd.Context(), q)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	out := make([]string, 0, len(page.Keys))
	for _, k := range page.Keys {
		if q.Name != "" {
			out = append(out, k.Name+"\t"+k.ID+" "+k.Provider+" ("+k.Status+")")
			continue
		}
		out = append(out, k.ID+"\t"+k.Provider+" "+k.Name+" ("+k.Status+")")
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
