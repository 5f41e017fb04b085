package main

import (
	"fmt"
	"strings"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/internal/units"
	"github.com/spf13/cobra"
)

func newTokenCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "token",
		Aliases: []string{"tokens"},
		Short:   "Manage admin tokens (what the CLI, the TUI and scripts present to the admin API)",
	}
	cmd.AddCommand(newTokenCreateCmd(a), newTokenListCmd(a), newTokenRevokeCmd(a))
	return cmd
}

func newTokenCreateCmd(a *app) *cobra.Command {
	var (
		scopes []string
		ttl    units.Duration
		name   string
	)
	cmd := &cobra.Command{
		Use:   "create --scope SCOPE… [--ttl D]",
		Short: "Create an admin token with the given scopes; it is printed once",
		Long: "Create an admin token with the given scopes; it is printed once.\n\nScopes: " +
			strings.Join(admin.AllScopes, ", ") + ".\nA token can only grant scopes its creator holds.",
		Example: `  aigw token create --scope traces:read --scope usage:read --ttl 30d --name grafana
  aigw token create --scope keys:read,keys:write --ttl 12h -o json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			t, err := c.CreateToken(cmd.Context(), admin.TokenRequest{Name: name, Scopes: scopes, TTL: ttl})
			if err != nil {
				return apiErr(cmd, err)
			}
			if a.output == "json" {
				return printJSON(a.io.Out, t)
			}
			if err := printFields(a.io.Out, "id", t.ID, "name", orDash(t.Name), "scopes", strings.Join(t.Scopes, " "),
				"expires", fmtTime(t.ExpiresAt), "token", t.Token); err != nil {
				return err
			}
			fmt.Fprintln(a.io.Err, "Save the token now: it cannot be shown again.")
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&scopes, "scope", nil, "a scope to grant (repeatable or comma separated)")
	cmd.Flags().Var(&ttl, "ttl", "lifetime, e.g. 12h or 30d (default 30d)")
	cmd.Flags().StringVar(&name, "name", "", "a label for the token")
	requireFlags(cmd, "scope")
	_ = cmd.RegisterFlagCompletionFunc("scope", cobra.FixedCompletions(admin.AllScopes, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newTokenListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List admin tokens (never the tokens themselves)",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ts, err := c.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return printJSON(a.io.Out, ts)
			}
			t := newTable("ID", "NAME", "SCOPES", "STATUS", "EXPIRES", "CREATED")
			for _, tok := range ts {
				t.add(tok.ID, orDash(tok.Name), strings.Join(tok.Scopes, " "), tok.Status, fmtTime(tok.ExpiresAt), fmtTime(tok.CreatedAt))
			}
			return t.print(a.io.Out, a.io.outWidth)
		},
	}
}

func newTokenRevokeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an admin token",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			t, err := c.RevokeToken(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			return a.printToken(t)
		},
	}
}

func (a *app) printToken(t admin.AdminToken) error {
	if a.output == "json" {
		return printJSON(a.io.Out, t)
	}
	return printFields(a.io.Out, "id", t.ID, "name", orDash(t.Name), "scopes", strings.Join(t.Scopes, " "),
		"status", t.Status, "expires", fmtTime(t.ExpiresAt), "revoked", fmtTimePtr(t.RevokedAt))
}
