package tui

import (
	"errors"
	"net/url"
	"time"

	"github.com/aigw/aigw/admin"
)

// oauthFields are the OAuth part of the credential form. On the add form
// (c == nil) a token URL makes the new credential an OAuth one, whose
// secret is its access token; on an OAuth credential's edit form they
// change its settings. The refresh token is typed into a masked field and
// never shown back: empty keeps the current one.
func (p *credentialsPage) oauthFields(c *admin.Credential) []*field {
	expiry := func(v string) error { _, err := parseExpiry(v, p.c.now()); return err }
	if c == nil {
		return []*field{
			textInput("oauth_token_url", "OAuth token URL", "", "none: an API key", "OAuth only: the token endpoint the access token (the secret) is refreshed at; empty for an API key.", httpURL),
			secretInput("oauth_refresh_token", "Refresh token", "OAuth: the refresh token (masked, never shown again).", nil),
			textInput("oauth_client_id", "Client ID", "", "optional", "OAuth: the client id sent with each refresh, if the token endpoint wants one.", nil),
			textInput("expires_at", "Token expires", "", "unknown", "OAuth: when the access token expires (1h, 2026-01-31 or RFC 3339); empty: unknown, refreshed when the upstream refuses it.", expiry),
		}
	}
	if c.OAuth == nil {
		return nil
	}
	expires := ""
	if c.OAuth.ExpiresAt != nil {
		expires = c.OAuth.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return []*field{
		textInput("oauth_token_url", "OAuth token URL", c.OAuth.TokenURL, "", "The token endpoint the access token is refreshed at.", required),
		secretInput("oauth_refresh_token", "New refresh token", "Replace the refresh token: type the new one (masked); empty keeps the current one.", nil),
		textInput("oauth_client_id", "Client ID", c.OAuth.ClientID, "none", "The client id sent with each refresh; empty: none.", nil),
		textInput("expires_at", "Token expires", expires, "unknown", "When the current access token expires (1h, 2026-01-31 or RFC 3339); empty: unchanged.", expiry),
	}
}

// httpURL accepts "" or an http(s) URL.
func httpURL(v string) error {
	if v == "" {
		return nil
	}
	if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an http(s) URL")
	}
	return nil
}

// oauthInput adds the add form's OAuth fields to in; false (with the form
// showing why) when they do not make an OAuth credential.
func (p *credentialsPage) oauthInput(in *admin.CredentialInput) bool {
	f := p.form
	in.OAuthTokenURL, in.OAuthRefreshToken, in.OAuthClientID = f.value("oauth_token_url"), f.value("oauth_refresh_token"), f.value("oauth_client_id")
	in.ExpiresAt, _ = parseExpiry(f.value("expires_at"), p.c.now())
	switch {
	case in.OAuthTokenURL == "" && (in.OAuthRefreshToken != "" || in.OAuthClientID != "" || in.ExpiresAt != nil):
		f.fail("oauth_token_url", "required for an OAuth credential (or clear the OAuth fields for an API key)")
		return false
	case in.OAuthTokenURL != "" && in.OAuthRefreshToken == "":
		f.fail("oauth_refresh_token", "required for an OAuth credential")
		return false
	}
	return true
}

// oauthPatch adds the edit form's OAuth changes to patch.
func (p *credentialsPage) oauthPatch(c *admin.Credential, patch *admin.CredentialPatch) {
	f := p.form
	if c == nil || c.OAuth == nil || f.field("oauth_token_url") == nil {
		return
	}
	if v := f.value("oauth_token_url"); v != c.OAuth.TokenURL {
		patch.OAuthTokenURL = &v
	}
	if v := f.value("oauth_refresh_token"); v != "" {
		patch.OAuthRefreshToken = &v
	}
	if v := f.value("oauth_client_id"); v != c.OAuth.ClientID {
		patch.OAuthClientID = &v
	}
	if t, _ := parseExpiry(f.value("expires_at"), p.c.now()); t != nil && (c.OAuth.ExpiresAt == nil || !t.Equal(*c.OAuth.ExpiresAt)) {
		patch.ExpiresAt = t
	}
}

// oauthDetail is what the detail pane says of an OAuth credential's token:
// its expiry, its last refresh and, when that failed, why.
func oauthDetail(c *admin.Credential, cm *common) []detailLine {
	o := c.OAuth
	if o == nil {
		return nil
	}
	when := func(t *time.Time) string { return t.In(cm.loc).Format("2006-01-02 15:04") }
	expires, last := "at an unknown time", "never refreshed"
	if o.ExpiresAt != nil {
		expires = when(o.ExpiresAt)
	}
	if o.LastRefreshAt != nil {
		last = "refreshed " + when(o.LastRefreshAt) + " " + o.RefreshState
	}
	lines := []detailLine{{"token", "", "expires " + expires + " · " + last}}
	if o.LastRefreshError != "" {
		lines = append(lines, detailLine{"refresh", o.RefreshState + ": ", o.LastRefreshError})
	}
	return lines
}

// byID is the listed credential with this id (nil if it is gone).
func (p *credentialsPage) byID(id string) *admin.Credential {
	for i := range p.creds {
		if p.creds[i].ID == id {
			return &p.creds[i]
		}
	}
	return nil
}
