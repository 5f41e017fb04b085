package main

import (
	"strings"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/internal/units"
	"github.com/spf13/cobra"
)

func newProviderCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "provider",
		Aliases: []string{"providers"},
		Short:   "Manage upstream providers (OpenAI, Anthropic, Gemini, OpenAI-compatible)",
	}
	cmd.AddCommand(newProviderAddCmd(a), newProviderListCmd(a), newProviderShowCmd(a),
		newProviderUpdateCmd(a), newProviderRemoveCmd(a))
	return cmd
}

type providerFlags struct {
	typ         string
	baseURL     string
	authHeaders []string
	headers     []string
	timeout     units.Duration
	caFile      string
	session     string
	noHeaders   bool
	monthlyCost budgetUSD
}

func (f *providerFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.Var(newChoiceFlag(&f.typ, "", admin.ProviderTypes), "type", "provider type: "+strings.Join(admin.ProviderTypes, ", "))
	fl.StringVar(&f.baseURL, "base-url", "", "upstream base URL, e.g. https://api.openai.com")
	fl.StringArrayVar(&f.authHeaders, "auth-header", nil, "how the credential is sent, e.g. 'Authorization: Bearer {key}' (repeatable; default per type)")
	fl.StringArrayVar(&f.headers, "header", nil, "extra header added upstream when absent, e.g. 'anthropic-version: 2023-06-01' (repeatable)")
	fl.Var(&f.timeout, "timeout", "upstream timeout for this provider, e.g. 60s (default from config)")
	fl.StringVar(&f.caFile, "ca-file", "", "extra CA certificate (PEM) trusted for this provider's TLS")
	fl.Var(&f.monthlyCost, "monthly-cost", "USD all keys of the provider together may spend per calendar month; over it, 429 (0: no budget)")
	fl.StringVar(&f.session, "session-header", "", "request header naming a client's conversation, for cache_affinity keys (default "+admin.DefaultSessionHeader+")")
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(admin.ProviderTypes, cobra.ShellCompDirectiveNoFileComp))
}

func newProviderAddCmd(a *app) *cobra.Command {
	var f providerFlags
	cmd := &cobra.Command{
		Use:   "add NAME --type TYPE --base-url URL",
		Short: "Add a provider; NAME is the first path segment clients use",
		Example: `  aigw provider add openai --type openai --base-url https://api.openai.com
  aigw provider add claude --type anthropic --base-url https://api.anthropic.com
  aigw provider add gemini --type gemini --base-url https://generativelanguage.googleapis.com
  aigw provider add local --type openai-compatible --base-url http://127.0.0.1:11434/v1 --timeout 300s`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.CreateProvider(cmd.Context(), admin.Provider{
				Name: argv[0], Type: f.typ, BaseURL: f.baseURL, AuthHeaders: f.authHeaders,
				Headers: f.headers, Timeout: f.timeout, CAFile: f.caFile, SessionHeader: f.session,
				MonthlyCost: float64(f.monthlyCost),
			})
			if err != nil {
				return apiErr(cmd, err)
			}
			return a.printProvider(p)
		},
	}
	f.register(cmd)
	requireFlags(cmd, "type")
	requireFlags(cmd, "base-url")
	return cmd
}

func newProviderListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List providers",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ps, err := c.Providers(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return printJSON(a.io.Out, ps)
			}
			if a.output == "id" {
				names := make([]string, len(ps))
				for i, p := range ps {
					names[i] = p.Name
				}
				return printIDs(a.io.Out, names...)
			}
			t := newTable("NAME", "TYPE", "BASE URL", "TIMEOUT", "AUTH", "STATE")
			for _, p := range ps {
				t.add(p.Name, p.Type, p.BaseURL, timeoutText(p.Timeout), strings.Join(p.AuthHeaders, "; "), providerState(p))
			}
			return t.print(a.io.Out, a.io.outWidth)
		},
	}
}

func timeoutText(d units.Duration) string {
	if d == 0 {
		return "default"
	}
	return d.String()
}

func newProviderShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:               "show NAME",
		Short:             "Show one provider",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeProviders,
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.Provider(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			return a.printProvider(p)
		},
	}
}

func newProviderUpdateCmd(a *app) *cobra.Command {
	var f providerFlags
	cmd := &cobra.Command{
		Use:   "update NAME [flags]",
		Short: "Change a provider (only the flags given change)",
		Example: `  aigw provider update openai --timeout 90s
  aigw provider update openai --monthly-cost 500
  aigw provider update local --base-url http://10.0.0.5:8000/v1`,
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeProviders,
		RunE: func(cmd *cobra.Command, argv []string) error {
			var patch admin.ProviderPatch
			if changed(cmd, "type") {
				patch.Type = &f.typ
			}
			if changed(cmd, "base-url") {
				patch.BaseURL = &f.baseURL
			}
			if changed(cmd, "auth-header") {
				patch.AuthHeaders = &f.authHeaders
			}
			if changed(cmd, "header") {
				patch.Headers = &f.headers
			}
			if f.noHeaders {
				empty := []string{}
				patch.Headers = &empty
			}
			if changed(cmd, "timeout") {
				patch.Timeout = &f.timeout
			}
			if changed(cmd, "ca-file") {
				patch.CAFile = &f.caFile
			}
			if changed(cmd, "session-header") {
				patch.SessionHeader = &f.session
			}
			if changed(cmd, "monthly-cost") {
				v := float64(f.monthlyCost)
				patch.MonthlyCost = &v
			}
			if patch == (admin.ProviderPatch{}) {
				return &usageError{errNothingToChange(cmd)}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.UpdateProvider(cmd.Context(), argv[0], patch)
			if err != nil {
				return apiErr(cmd, err)
			}
			return a.printProvider(p)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&f.noHeaders, "no-headers", false, "remove every extra header")
	exclusiveFlags(cmd, "header", "no-headers")
	hideDefaults(cmd)
	return cmd
}

func newProviderRemoveCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:               "remove NAME",
		Aliases:           []string{"rm"},
		Short:             "Remove a provider (refused while keys or credentials use it)",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeProviders,
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.DeleteProvider(cmd.Context(), argv[0]); err != nil {
				return err
			}
			return a.printRemoved("provider", argv[0])
		},
	}
}

func (a *app) printProvider(p admin.Provider) error {
	if a.output == "id" {
		return printIDs(a.io.Out, p.Name)
	}
	if a.output == "json" {
		return printJSON(a.io.Out, p)
	}
	pairs := []string{"name", p.Name, "type", p.Type, "base_url", p.BaseURL,
		"auth_headers", strings.Join(p.AuthHeaders, "; "), "headers", orDash(strings.Join(p.Headers, "; ")),
		"timeout", timeoutText(p.Timeout), "ca_file", orDash(p.CAFile),
		"session_header", sessionHeaderText(p.SessionHeader), "monthly_cost", monthlyText(p.MonthlyCost), "state", providerState(p),
		"created", fmtTime(p.CreatedAt), "updated", fmtTime(p.UpdatedAt)}
	return printFields(a.io.Out, append(pairs, budgetUsePairs(p.BudgetUse)...)...)
}

func sessionHeaderText(h string) string {
	if h == "" {
		return admin.DefaultSessionHeader + " (default)"
	}
	return h
}

// providerState is "ok", or "broken: why" for a provider out of service
// because its configuration could not be loaded.
func providerState(p admin.Provider) string {
	if p.Broken != "" {
		return "broken: " + p.Broken
	}
	return "ok"
}

// printRemoved reports a deletion: {"removed": …} in JSON.
func (a *app) printRemoved(kind, id string) error {
	if a.output == "json" {
		return printJSON(a.io.Out, map[string]string{"removed": id, "kind": kind})
	}
	_, err := a.io.Out.Write([]byte("removed " + kind + " " + id + "\n"))
	return err
}

func (a *app) completeProviders(cmd *cobra.Command, argv []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(argv) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, err := a.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ps, err := c.Providers(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		names = append(names, p.Name+"\t"+p.Type)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
