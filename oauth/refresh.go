// Package oauth keeps OAuth credentials usable: it refreshes their access
// token (refresh-token grant to the credential's token URL) shortly before
// it expires and as soon as the upstream rejects it, stores the new tokens
// and has the proxy reload them. It runs beside the proxy, never on a
// request's path: a rejected credential is reported with Kick, which does
// not wait.
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aigw/aigw/store"
)

// Refresher refreshes the OAuth credentials of a store.
type Refresher struct {
	Store  *store.Store
	Reload func() error // rebuild the proxy's snapshot after new tokens are stored
	Client *http.Client // default: 30 s timeout
	Logger *slog.Logger
	// Lead is how long before expiry a token is refreshed (default 5 min).
	Lead time.Duration
	// Every is how often expiries are checked (default 30 s).
	Every time.Duration

	kick    chan string
	now     func() time.Time
	failed  map[string]time.Time // credential → earliest next try after a failure
	backoff map[string]time.Duration
}

// Kick asks for credential id to be refreshed now (the upstream rejected
// it). It never blocks; ids of non-OAuth credentials are ignored.
func (r *Refresher) Kick(id string) {
	select {
	case r.kick <- id:
	default: // a refresh is already pending; the periodic check catches up
	}
}

func (r *Refresher) init() {
	if r.Client == nil {
		r.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.Lead <= 0 {
		r.Lead = 5 * time.Minute
	}
	if r.Every <= 0 {
		r.Every = 30 * time.Second
	}
	if r.kick == nil {
		r.kick = make(chan string, 64)
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.failed = map[string]time.Time{}
	r.backoff = map[string]time.Duration{}
}

// New returns a Refresher ready to Run.
func New(st *store.Store, reload func() error, logger *slog.Logger) *Refresher {
	r := &Refresher{Store: st, Reload: reload, Logger: logger}
	r.init()
	return r
}

// Run refreshes tokens until ctx ends.
func (r *Refresher) Run(ctx context.Context) {
	if r.failed == nil {
		r.init()
	}
	tick := time.NewTicker(r.Every)
	defer tick.Stop()
	r.check(ctx, "")
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			r.check(ctx, "")
		case id := <-r.kick:
			r.check(ctx, id)
		}
	}
}

// check refreshes every OAuth credential that expires within Lead, and
// the kicked one whatever its expiry.
func (r *Refresher) check(ctx context.Context, kicked string) {
	d, err := r.Store.Load()
	if err != nil {
		r.Logger.Error("oauth: reading credentials", "err", err)
		return
	}
	now := r.now()
	changed := false
	for _, c := range d.Credentials {
		if c.Kind != store.KindOAuth || c.OAuth == nil {
			continue
		}
		due := c.ID == kicked || (c.OAuth.ExpiresAt != nil && c.OAuth.ExpiresAt.Sub(now) < r.Lead)
		if !due || now.Before(r.failed[c.ID]) {
			continue
		}
		if err := r.refresh(ctx, c); err != nil {
			b := min(max(2*r.backoff[c.ID], 30*time.Second), 30*time.Minute)
			r.backoff[c.ID] = b
			r.failed[c.ID] = now.Add(b)
			r.Logger.Warn("oauth: refreshing the access token failed", "credential", c.ID, "retry_in", b.String(), "err", err)
			continue
		}
		delete(r.failed, c.ID)
		delete(r.backoff, c.ID)
		changed = true
		r.Logger.Info("oauth: access token refreshed", "credential", c.ID)
	}
	if changed && r.Reload != nil {
		if err := r.Reload(); err != nil {
			r.Logger.Error("oauth: reloading the proxy after a refresh", "err", err)
		}
	}
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// refresh runs the refresh-token grant and stores the new tokens.
func (r *Refresher) refresh(ctx context.Context, c store.Credential) error {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.RefreshToken}}
	if c.OAuth.ClientID != "" {
		form.Set("client_id", c.OAuth.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.OAuth.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := r.Client.Do(req)
	if err != nil {
		return fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("token endpoint: %w", err)
	}
	var tr tokenResponse
	if err := json.Unmarshal(raw, &tr); err != nil {
		return fmt.Errorf("token endpoint answered %s with a body that is not JSON", resp.Status)
	}
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		msg := tr.Error
		if tr.Description != "" {
			msg += ": " + tr.Description
		}
		if msg == "" {
			msg = "no access_token"
		}
		return fmt.Errorf("token endpoint answered %s (%s)", resp.Status, msg)
	}
	var expires *time.Time
	if tr.ExpiresIn > 0 {
		t := r.now().Add(time.Duration(tr.ExpiresIn) * time.Second)
		expires = &t
	}
	if err := r.Store.SetOAuthTokens(c.ID, tr.AccessToken, tr.RefreshToken, expires); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil // removed meanwhile
		}
		return err
	}
	return nil
}
