package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newCredentialCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "credential",
		Aliases: []string{"credentials", "cred"},
		Short:   "Manage the real upstream credentials (API keys, OAuth tokens)",
	}
	cmd.AddCommand(newCredentialAddCmd(a), newCredentialListCmd(a), newCredentialShowCmd(a),
		newCredentialToggleCmd(a, true), newCredentialToggleCmd(a, false),
		newCredentialUpdateCmd(a), newCredentialRemoveCmd(a), newCredentialRefreshCmd(a))
	return cmd
}

func errNothingToChange(cmd *cobra.Command) error {
	return fmt.Errorf("%s: nothing to change; give at least one flag (see --help)", cmdPath(cmd))
}

type credentialAddOptions struct {
	in          admin.CredentialInput
	weight      int
	secretStdin bool
	expiresAt   timeFlag
	monthlyCost budgetUSD
}

func newCredentialAddCmd(a *app) *cobra.Command {
	var o credentialAddOptions
	cmd := &cobra.Command{
		Use:   "add --provider NAME (--secret S | --secret-stdin)",
		Short: "Add a credential to a provider; its secret is sealed at rest and never shown again",
		Example: `  aigw credential add --provider openai --secret-stdin --name work < key.txt
  aigw credential add --provider claude --secret "$ANTHROPIC_API_KEY" --weight 3 --rpm 500
  aigw credential add --provider gemini --secret-stdin --oauth-token-url https://oauth2.googleapis.com/token \
      --oauth-refresh-token "$REFRESH" --oauth-client-id ID --expires-at 2026-12-01T10:00:00Z < access.txt`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.secretStdin {
				s, err := readSecret(a.io)
				if err != nil {
					return err
				}
				o.in.Secret = s
			} else if !changed(cmd, "secret") {
				return &usageError{errors.New("give the secret with --secret S or --secret-stdin")}
			}
			if changed(cmd, "weight") {
				o.in.Weight = &o.weight
			}
			o.in.ExpiresAt = o.expiresAt.t
			o.in.MonthlyCost = float64(o.monthlyCost)
			c, err := a.client()
			if err != nil {
				return err
			}
			cred, err := c.CreateCredential(cmd.Context(), o.in)
			if err != nil {
				return apiErr(cmd, err)
			}
			return a.printCredential(cred)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.in.Provider, "provider", "", "provider the credential belongs to")
	fl.StringVar(&o.in.Secret, "secret", "", "the API key or OAuth access token (prefer --secret-stdin: flags end up in shell history)")
	fl.BoolVar(&o.secretStdin, "secret-stdin", false, "read the secret from standard input")
	fl.StringVar(&o.in.Name, "name", "", "a label for the credential")
	fl.IntVar(&o.weight, "weight", 1, "share of traffic under the weighted strategy (1-1000)")
	fl.Int64Var(&o.in.RPM, "rpm", 0, "requests per minute this credential may take (0: no limit)")
	fl.Var(&o.monthlyCost, "monthly-cost", "USD this credential may cost per calendar month; spent, it leaves rotation until the month ends (0: no budget)")
	fl.StringVar(&o.in.OAuthTokenURL, "oauth-token-url", "", "OAuth token endpoint for refreshing the access token")
	fl.StringVar(&o.in.OAuthRefreshToken, "oauth-refresh-token", "", "OAuth refresh token")
	fl.StringVar(&o.in.OAuthClientID, "oauth-client-id", "", "OAuth client id")
	fl.Var(&o.expiresAt, "expires-at", "when the OAuth access token expires (RFC 3339)")
	exclusiveFlags(cmd, "secret", "secret-stdin")
	requireFlags(cmd, "provider")
	_ = cmd.RegisterFlagCompletionFunc("provider", a.completeProviders)
	return cmd
}

// readSecret reads one secret from stdin: from a terminal without echo,
// otherwise the whole input with surrounding whitespace removed.
func readSecret(s *ioStreams) (string, error) {
	if f, ok := s.In.(*os.File); ok && s.inTTY {
		fmt.Fprint(s.Err, "Secret: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.Err)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	b, err := io.ReadAll(io.LimitReader(bufio.NewReader(s.In), 64<<10))
	if err != nil {
		return "", fmt.Errorf("read --secret-stdin: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return "", &usageError{errors.New("--secret-stdin: standard input is empty")}
	}
	return secret, nil
}

func newCredentialListCmd(a *app) *cobra.Command {
	var q admin.CredentialQuery
	var pages pageFlags
	cmd := &cobra.Command{
		Use:     "list [--provider NAME] [--name PREFIX] [--limit N] [--all]",
		Aliases: []string{"ls"},
		Short:   "List credentials (secrets are never shown, only a short preview)",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := pages.check(cmd); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			l := listing[admin.Credential]{a: a, plural: "credentials",
				header: []string{"ID", "PROVIDER", "NAME", "KIND", "SECRET", "WEIGHT", "RPM", "STATE", "REQUESTS", "FAILURES"},
				row: func(c admin.Credential) []string {
					state, reqs, fails := healthCells(c)
					return []string{c.ID, c.Provider, orDash(c.Name), kindCell(c), c.Preview, fmt.Sprint(c.Weight), fmtInt(c.RPM), state, reqs, fails}
				},
				id: func(c admin.Credential) string { return c.ID },
				fetch: func(cursor string, limit int) ([]admin.Credential, string, error) {
					q.Cursor, q.Limit = cursor, limit
					page, err := c.Credentials(cmd.Context(), q)
					return page.Credentials, page.NextCursor, err
				},
			}
			return l.run(pages)
		},
	}
	cmd.Flags().StringVar(&q.Provider, "provider", "", "only this provider's credentials")
	cmd.Flags().StringVar(&q.Name, "name", "", "only credentials whose name starts with PREFIX")
	pages.register(cmd, "credentials")
	_ = cmd.RegisterFlagCompletionFunc("provider", a.completeProviders)
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newCredentialShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:               "show ID",
		Short:             "Show one credential",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeCredentials,
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, id, err := a.credentialArg(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			cred, err := c.Credential(cmd.Context(), id)
			if err != nil {
				return err
			}
			return a.printCredential(cred)
		},
	}
}

func newCredentialToggleCmd(a *app, enable bool) *cobra.Command {
	use, short := "disable ID", "Take a credential out of rotation"
	if enable {
		use, short = "enable ID", "Put a credential back into rotation"
	}
	return &cobra.Command{
		Use:               use,
		Short:             short,
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeCredentials,
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, id, err := a.credentialArg(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			cred, err := c.UpdateCredential(cmd.Context(), id, admin.CredentialPatch{Enabled: &enable})
			if err != nil {
				return err
			}
			return a.printCredential(cred)
		},
	}
}

func newCredentialUpdateCmd(a *app) *cobra.Command {
	var (
		name        string
		weight      int
		rpm         int64
		secretStdin bool
		tokenURL    string
		refresh     string
		clientID    string
		expiresAt   timeFlag
		monthlyCost budgetUSD
	)
	cmd := &cobra.Command{
		Use:               "update ID [--name L] [--weight N] [--rpm N] [--monthly-cost USD] [--secret-stdin] [--oauth-… V]",
		Short:             "Change a credential's label, weight, rpm limit, monthly budget, secret or OAuth settings",
		Example:           "  aigw credential update cred_4fQ… --weight 5\n  aigw credential update cred_4fQ… --monthly-cost 200\n  aigw credential update cred_4fQ… --secret-stdin < new-key.txt",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeCredentials,
		RunE: func(cmd *cobra.Command, argv []string) error {
			var patch admin.CredentialPatch
			if changed(cmd, "name") {
				patch.Name = &name
			}
			if changed(cmd, "weight") {
				patch.Weight = &weight
			}
			if changed(cmd, "rpm") {
				patch.RPM = &rpm
			}
			if changed(cmd, "monthly-cost") {
				v := float64(monthlyCost)
				patch.MonthlyCost = &v
			}
			if secretStdin {
				s, err := readSecret(a.io)
				if err != nil {
					return err
				}
				patch.Secret = &s
			}
			if changed(cmd, "oauth-token-url") {
				patch.OAuthTokenURL = &tokenURL
			}
			if changed(cmd, "oauth-refresh-token") {
				patch.OAuthRefreshToken = &refresh
			}
			if changed(cmd, "oauth-client-id") {
				patch.OAuthClientID = &clientID
			}
			patch.ExpiresAt = expiresAt.t
			if patch == (admin.CredentialPatch{}) {
				return &usageError{errNothingToChange(cmd)}
			}
			c, id, err := a.credentialArg(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			cred, err := c.UpdateCredential(cmd.Context(), id, patch)
			if err != nil {
				return apiErr(cmd, err)
			}
			return a.printCredential(cred)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", "new label")
	fl.IntVar(&weight, "weight", 1, "new weight (1-1000)")
	fl.Int64Var(&rpm, "rpm", 0, "new requests-per-minute limit (0: none)")
	fl.Var(&monthlyCost, "monthly-cost", "USD this credential may cost per calendar month (0: no budget)")
	fl.BoolVar(&secretStdin, "secret-stdin", false, "replace the secret with one read from standard input")
	fl.StringVar(&tokenURL, "oauth-token-url", "", "OAuth credentials: new token endpoint")
	fl.StringVar(&refresh, "oauth-refresh-token", "", "OAuth credentials: new refresh token")
	fl.StringVar(&clientID, "oauth-client-id", "", "OAuth credentials: new client id")
	fl.Var(&expiresAt, "expires-at", "OAuth credentials: when the current access token expires (RFC 3339)")
	hideDefaults(cmd)
	return cmd
}

func newCredentialRemoveCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:               "remove ID",
		Aliases:           []string{"rm"},
		Short:             "Remove a credential (refused while an active key uses it)",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeCredentials,
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, id, err := a.credentialArg(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			if err := c.DeleteCredential(cmd.Context(), id); err != nil {
				return err
			}
			return a.printRemoved("credential", id)
		},
	}
}

// healthCells is the live state of a credential for a table: the JSON's
// state token, then its detail ("cooling_down until 14:03:10",
// "cooling_down · trial pending"; see admin.CredentialStateText).
func healthCells(c admin.Credential) (state, requests, failures string) {
	if c.Health == nil {
		return "-", "-", "-"
	}
	now := time.Now()
	state = admin.CredentialStateText(c.Health.State, c.Health.Until, now, func(t time.Time) string { return clockTime(t, now) })
	return state, fmt.Sprint(c.Health.Requests), fmt.Sprint(c.Health.Failures)
}

// quotaPairs are the upstream's rate-limit windows of a credential, one
// line each: "quota_requests: 0 of 50 left, resets 15:04:05 (used up)".
func quotaPairs(c admin.Credential) []string {
	if c.Health == nil {
		return nil
	}
	var pairs []string
	if c.Health.Reason != "" {
		pairs = append(pairs, "reason", c.Health.Reason)
	}
	for _, w := range c.Health.Quota {
		var v string
		switch {
		case w.Remaining != nil && w.Limit != nil:
			v = fmt.Sprintf("%d of %d left", *w.Remaining, *w.Limit)
		case w.Remaining != nil:
			v = fmt.Sprintf("%d left", *w.Remaining)
		case w.Utilization != nil:
			v = fmt.Sprintf("%.0f%% used", *w.Utilization*100)
		}
		if w.Status != "" {
			v = strings.TrimPrefix(v+", "+w.Status, ", ")
		}
		v += ", resets " + w.Reset.Local().Format("2006-01-02 15:04:05")
		if w.Exhausted {
			v += " (used up)"
		}
		pairs = append(pairs, "quota_"+w.Window, v)
	}
	return pairs
}

func (a *app) printCredential(c admin.Credential) error {
	if a.output == "id" {
		return printIDs(a.io.Out, c.ID)
	}
	if a.output == "json" {
		return printJSON(a.io.Out, c)
	}
	state, reqs, fails := healthCells(c)
	pairs := []string{"id", c.ID, "provider", c.Provider, "name", orDash(c.Name), "kind", c.Kind,
		"secret", c.Preview, "weight", fmt.Sprint(c.Weight), "rpm", fmtInt(c.RPM), "monthly_cost", monthlyText(c.MonthlyCost),
		"enabled", yesNo(c.Enabled), "state", state, "requests", reqs, "failures", fails}
	switch {
	case c.Broken != "":
		pairs = append(pairs, "broken", c.Broken)
	case c.Health != nil && c.Health.LastError != "":
		pairs = append(pairs, "last_error", c.Health.LastError)
	}
	pairs = append(pairs, quotaPairs(c)...)
	pairs = append(pairs, budgetUsePairs(c.BudgetUse)...)
	if c.OAuth != nil {
		pairs = append(pairs, oauthFields(c.OAuth)...)
	}
	pairs = append(pairs, "created", fmtTime(c.CreatedAt), "updated", fmtTime(c.UpdatedAt))
	return printFields(a.io.Out, pairs...)
}

func (a *app) completeCredentials(cmd *cobra.Command, argv []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(argv) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, err := a.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cs, err := c.AllCredentials(cmd.Context(), admin.CredentialQuery{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.ID+"\t"+c.Provider+" "+c.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
