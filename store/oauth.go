package store

import (
	"net/url"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Refresh states of an OAuth credential (OAuthInfo.RefreshState): how its
// last refresh went. The first two brought a new access token.
const (
	RefreshOK           = "ok"
	RefreshNoExpiry     = "no_expiry"     // new token, but no usable expires_in: refreshed when the upstream refuses it
	RefreshTimeout      = "timeout"       // the token endpoint did not answer in time
	RefreshUnreachable  = "unreachable"   // no connection (DNS, refused, TLS)
	RefreshInvalidGrant = "invalid_grant" // the refresh token was refused: the credential needs a new one
	RefreshRefused      = "refused"       // any other error answer (invalid_client, 5xx, …)
	RefreshBadResponse  = "bad_response"  // an answer that is not a usable token (not JSON, no access_token, too large)
)

// RefreshFailed reports whether a refresh state is a failure.
func RefreshFailed(state string) bool {
	return state != "" && state != RefreshOK && state != RefreshNoExpiry
}

// maxRefreshError bounds the stored refresh message.
const maxRefreshError = 300

// OAuthRefresh is the outcome of one refresh of an OAuth credential.
type OAuthRefresh struct {
	At    time.Time
	State string // RefreshOK, RefreshTimeout, …
	Error string // one line without any secret; "" when all went well
	// The new tokens, when the refresh brought an access token;
	// RefreshToken "" keeps the current refresh token.
	AccessToken  string
	RefreshToken string
	ExpiresAt    *time.Time
}

// RecordOAuthRefresh stores how a refresh of credential id went and, when
// it brought an access token, the new tokens (a rotated refresh token
// replaces the old one).
func (s *Store) RecordOAuthRefresh(id string, r OAuthRefresh) error {
	if r.AccessToken != "" {
		if err := validSecret("access_token", r.AccessToken); err != nil {
			return err
		}
	}
	if r.RefreshToken != "" {
		if err := validSecret("refresh_token", r.RefreshToken); err != nil {
			return err
		}
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		c, err := s.getCredential(tx, id, true)
		if err != nil {
			return err
		}
		if c.Kind != KindOAuth || c.OAuth == nil {
			return invalid("kind", "credential %s is not an OAuth credential", id)
		}
		if r.AccessToken != "" {
			c.Secret = r.AccessToken
			c.Preview = preview(r.AccessToken)
			if r.RefreshToken != "" {
				c.RefreshToken = r.RefreshToken
			}
			c.OAuth.ExpiresAt = utcPtr(r.ExpiresAt)
			c.UpdatedAt = s.now().UTC()
		}
		at := r.At.UTC()
		if r.At.IsZero() {
			at = s.now().UTC()
		}
		c.OAuth.LastRefreshAt = &at
		c.OAuth.RefreshState = r.State
		c.OAuth.LastRefreshError = OneLine(r.Error, maxRefreshError)
		return s.putCredential(tx, &c)
	})
}

// OAuthCredential returns an OAuth credential with its secrets, for
// refreshing it.
func (s *Store) OAuthCredential(id string) (Credential, error) {
	var c Credential
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		c, err = s.getCredential(tx, id, true)
		return err
	})
	if err != nil {
		return Credential{}, err
	}
	if c.Kind != KindOAuth || c.OAuth == nil {
		return Credential{}, invalid("kind", "credential %s is not an OAuth credential: only OAuth credentials have a token to refresh", id)
	}
	return c, nil
}

// OneLine makes s a single line of at most n bytes, cut on a rune
// boundary: control characters become spaces and runs of space one.
func OneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xc0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

func validTokenURL(u string) error {
	if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return invalid("oauth_token_url", "%q must be an http(s) URL", u)
	}
	return nil
}

// validateOAuth checks a patch's OAuth fields.
func (p *CredentialPatch) validateOAuth() error {
	if p.OAuthTokenURL != nil {
		if err := validTokenURL(*p.OAuthTokenURL); err != nil {
			return err
		}
	}
	if p.OAuthRefreshToken != nil {
		if err := validSecret("oauth_refresh_token", *p.OAuthRefreshToken); err != nil {
			return err
		}
	}
	if p.OAuthClientID != nil && len(*p.OAuthClientID) > 1024 {
		return invalid("oauth_client_id", "is longer than 1024 bytes")
	}
	return nil
}

func (p *CredentialPatch) hasOAuth() bool {
	return p.OAuthTokenURL != nil || p.OAuthRefreshToken != nil || p.OAuthClientID != nil || p.ExpiresAt != nil
}

// applyOAuth applies a patch's OAuth fields to the record being updated.
func (s *Store) applyOAuth(rec *credentialRecord, c *Credential, p *CredentialPatch) error {
	if !p.hasOAuth() {
		return nil
	}
	if c.Kind != KindOAuth || c.OAuth == nil {
		field := "oauth_token_url"
		switch {
		case p.OAuthTokenURL != nil:
		case p.OAuthRefreshToken != nil:
			field = "oauth_refresh_token"
		case p.OAuthClientID != nil:
			field = "oauth_client_id"
		default:
			field = "expires_at"
		}
		return invalid(field, "credential %s is an API key; OAuth settings apply only to OAuth credentials (add it again with --oauth-token-url)", c.ID)
	}
	o := *c.OAuth
	if p.OAuthTokenURL != nil {
		o.TokenURL = *p.OAuthTokenURL
	}
	if p.OAuthClientID != nil {
		o.ClientID = *p.OAuthClientID
	}
	if p.ExpiresAt != nil {
		o.ExpiresAt = utcPtr(p.ExpiresAt)
	}
	c.OAuth = &o
	if p.OAuthRefreshToken != nil {
		rec.SealedRefresh = s.sealer.seal(*p.OAuthRefreshToken, c.ID+"/refresh")
	}
	return nil
}
