package main

import (
	"fmt"

	"github.com/aigw/aigw/admin"
	"github.com/spf13/cobra"
)

func newCredentialRefreshCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "refresh ID",
		Short: "Refresh an OAuth credential's access token now and show its new expiry",
		Long: `Refresh an OAuth credential's access token now (refresh-token grant to its
token URL), wait for the outcome and print the new expiry. aigw also refreshes
on its own, shortly before a token expires and whenever the upstream refuses it.
A refresh that fails exits 1 with the token endpoint's reason; 'aigw credential
show ID' keeps it (refresh_result).`,
		Example:           "  aigw credential refresh cred_4fQ…\n  aigw credential refresh cred_4fQ… -o json",
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeCredentials,
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, id, err := a.credentialArg(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			cred, err := c.RefreshCredential(cmd.Context(), id)
			if err != nil {
				return err
			}
			if a.output == "json" {
				return printJSON(a.io.Out, cred)
			}
			if a.output == "id" {
				return printIDs(a.io.Out, cred.ID)
			}
			expires := "at an unknown time"
			if cred.OAuth != nil && cred.OAuth.ExpiresAt != nil {
				expires = fmtTime(*cred.OAuth.ExpiresAt)
			}
			_, err = fmt.Fprintf(a.io.Out, "%s: access token refreshed; it expires %s\n", cred.ID, expires)
			if err == nil && cred.OAuth != nil && cred.OAuth.LastRefreshError != "" {
				_, err = fmt.Fprintln(a.io.Err, "note: "+oneLine(cred.OAuth.LastRefreshError))
			}
			return err
		},
	}
}

// oauthFields are an OAuth credential's lines in `credential show`.
func oauthFields(o *admin.OAuthInfo) []string {
	return []string{"oauth_token_url", o.TokenURL, "oauth_client_id", orDash(o.ClientID),
		"token_expires", fmtTimePtr(o.ExpiresAt), "last_refresh", fmtTimePtr(o.LastRefreshAt), "refresh_result", refreshResult(o)}
}

// refreshResult is how the last refresh went: "ok", or its state and why.
func refreshResult(o *admin.OAuthInfo) string {
	switch {
	case o.RefreshState == "":
		return "-"
	case o.LastRefreshError == "":
		return o.RefreshState
	}
	return o.RefreshState + ": " + o.LastRefreshError
}

// kindCell is a credential's kind in a table: an OAuth credential whose
// last refresh failed says how ("oauth (invalid_grant)").
func kindCell(c admin.Credential) string {
	if c.OAuth != nil && admin.RefreshFailed(c.OAuth.RefreshState) {
		return c.Kind + " (" + c.OAuth.RefreshState + ")"
	}
	return c.Kind
}
