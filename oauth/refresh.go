// Package oauth keeps OAuth credentials usable: it refreshes their access
// token (refresh-token grant to the credential's token URL) shortly before
// it expires, as soon as the upstream refuses it (the proxy waits for that
// refresh and sends its request again) and when the operator asks. It
// stores the new tokens (a rotated refresh token replaces the old one) and
// the outcome of every refresh, and has the proxy reload its snapshot.
//
// However many callers want one credential refreshed at once, at most one
// token request for it is under way: the others wait for its outcome.
package oauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aigw/aigw/store"
)

// Refresher refreshes the OAuth credentials of a store. Set its fields,
// then use it; the zero values of the optional ones are defaults.
type Refresher struct {
	Store  *store.Store
	Reload func(id string) error // load credential id into the proxy after its new tokens are stored
	Client *http.Client          // default: a client whose requests Timeout bounds
	Logger *slog.Logger
	// Lead is how long before expiry a token is refreshed (default 5 min).
	Lead time.Duration
	// Every is how often expiries are checked (default 30 s).
	Every time.Duration
	// Timeout bounds one token request, answer included (default 10 s).
	Timeout time.Duration

	once sync.Once
	now  func() time.Time
	stop context.Context // token requests run under it; Close cancels it
	halt context.CancelFunc

	mu     sync.Mutex
	closed bool
	creds  map[string]*credState
	wg     sync.WaitGroup // flights under way
}

// credState is what the Refresher remembers of one credential.
type credState struct {
	flight *flight // the refresh under way; nil when none
	// The last failure: for which access token, when, and why. Callers
	// refused with that same token within recentFailure get its error
	// without another token request; the periodic check waits backoff.
	failedToken [sha256.Size]byte
	failedAt    time.Time
	err         error
	backoff     time.Duration
}

// flight is one refresh; done is closed once err is set.
type flight struct {
	done chan struct{}
	err  error
}

// recentFailure is how long the error of a failed refresh answers the
// requests refused with the same access token, without a token request:
// the stragglers of a burst that all hit the same expiry.
const recentFailure = 5 * time.Second

func (r *Refresher) init() {
	if r.Timeout <= 0 {
		r.Timeout = 10 * time.Second
	}
	if r.Client == nil {
		r.Client = &http.Client{Timeout: r.Timeout}
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
	if r.now == nil {
		r.now = time.Now
	}
	r.stop, r.halt = context.WithCancel(context.Background())
	r.creds = map[string]*credState{}
}

// Run refreshes the tokens that expire within Lead, every Every, until ctx
// ends. Refreshes asked for by the proxy or the operator run whether Run
// runs or not.
func (r *Refresher) Run(ctx context.Context) {
	r.once.Do(r.init)
	tick := time.NewTicker(r.Every)
	defer tick.Stop()
	r.check(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			r.check(ctx)
		}
	}
}

// Close cancels the refreshes under way, waits for them, and refuses new
// ones. Call it once the proxy has stopped.
func (r *Refresher) Close() {
	r.once.Do(r.init)
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.halt()
	r.wg.Wait()
}

// Refresh refreshes credential id now, whatever its expiry and recent
// failures, and waits for the outcome or for ctx. A refresh already under
// way is joined rather than repeated.
func (r *Refresher) Refresh(ctx context.Context, id string) error {
	return r.await(ctx, id, nil, true)
}

// Rejected is the proxy's hook for an upstream that refused credential
// id's access token; refused is that token's SHA-256. It returns nil once
// the credential has another access token and the proxy's snapshot holds
// it: refreshed now, by a refresh under way that it waited for, or before
// (then no token request is made). Otherwise it says why the refresh
// failed, in one line without any secret.
func (r *Refresher) Rejected(ctx context.Context, id string, refused [sha256.Size]byte) error {
	return r.await(ctx, id, &refused, false)
}

func (r *Refresher) await(ctx context.Context, id string, refused *[sha256.Size]byte, force bool) error {
	r.once.Do(r.init)
	f, err := r.start(id, refused, force)
	if err != nil {
		return err
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err() // the flight goes on, bounded by Timeout
	}
}

var errClosed = errors.New("aigw is stopping")

// start joins the refresh of id under way, or starts one.
func (r *Refresher) start(id string, refused *[sha256.Size]byte, force bool) (*flight, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errClosed
	}
	st := r.creds[id]
	if st == nil {
		st = &credState{}
		r.creds[id] = st
	}
	if st.flight != nil {
		return st.flight, nil
	}
	if !force && refused != nil && st.err != nil && st.failedToken == *refused && r.now().Sub(st.failedAt) < recentFailure {
		return nil, st.err
	}
	f := &flight{done: make(chan struct{})}
	st.flight = f
	r.wg.Add(1)
	go r.fly(id, st, f, refused)
	return f, nil
}

// fly runs one refresh and hands its outcome to everyone waiting.
func (r *Refresher) fly(id string, st *credState, f *flight, refused *[sha256.Size]byte) {
	defer r.wg.Done()
	token, err := r.refresh(id, refused)
	r.mu.Lock()
	st.flight = nil
	if err == nil {
		st.err, st.backoff = nil, 0
	} else {
		st.err, st.failedToken, st.failedAt = err, token, r.now()
		st.backoff = min(max(2*st.backoff, 30*time.Second), 30*time.Minute)
	}
	f.err = err
	r.mu.Unlock()
	close(f.done)
}

// refresh runs the refresh-token grant for credential id, unless its
// access token is no longer the refused one, and records the outcome. It
// returns the SHA-256 of the access token it was for.
func (r *Refresher) refresh(id string, refused *[sha256.Size]byte) ([sha256.Size]byte, error) {
	c, err := r.Store.OAuthCredential(id)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	token := sha256.Sum256([]byte(c.Secret))
	if refused != nil && token != *refused {
		// Replaced already (by a refresh that ended a moment ago, or by
		// the operator): make sure the proxy has it.
		return token, r.reload(id)
	}
	ctx, cancel := context.WithTimeout(r.stop, r.Timeout)
	got, ferr := request(ctx, r.Client, c, r.Timeout, r.now)
	cancel()
	rec := store.OAuthRefresh{At: r.now(), State: store.RefreshOK}
	if ferr == nil {
		rec.AccessToken, rec.RefreshToken, rec.ExpiresAt = got.access, got.refresh, got.expiresAt
		if got.note != "" {
			rec.State, rec.Error = store.RefreshNoExpiry, got.note
		}
		err := r.Store.RecordOAuthRefresh(id, rec)
		var ve *store.ValidationError
		switch {
		case errors.As(err, &ve) && ve.Field != "kind":
			ferr = &Error{store.RefreshBadResponse, "token endpoint answered with an unusable token: " + ve.Error()}
		case err != nil:
			return token, err // removed meanwhile, or the database failed
		}
	}
	if ferr != nil {
		if err := r.Store.RecordOAuthRefresh(id, store.OAuthRefresh{At: rec.At, State: ferr.State, Error: ferr.Msg}); err != nil && !errors.Is(err, store.ErrNotFound) {
			r.Logger.Error("oauth: recording a failed refresh", "credential", id, "err", err)
		}
		r.Logger.Warn("oauth: refreshing the access token failed", "credential", id, "state", ferr.State, "err", ferr.Msg)
		return token, ferr
	}
	attrs := []any{"credential", id}
	if rec.ExpiresAt != nil {
		attrs = append(attrs, "expires", rec.ExpiresAt.UTC().Format(time.RFC3339))
	} else {
		attrs = append(attrs, "note", rec.Error)
	}
	r.Logger.Info("oauth: access token refreshed", attrs...)
	return token, r.reload(id)
}

func (r *Refresher) reload(id string) error {
	if r.Reload == nil {
		return nil
	}
	if err := r.Reload(id); err != nil {
		r.Logger.Error("oauth: reloading the proxy after a refresh", "err", err)
		return errors.New("the new token is stored but the proxy could not reload it")
	}
	return nil
}

// check refreshes every OAuth credential whose access token expires within
// Lead, one at a time; one whose last refresh failed waits its back-off.
func (r *Refresher) check(ctx context.Context) {
	// The credentials without their secrets (not the keys: this runs every
	// Every, however many keys there are); a secret is read when due.
	creds, err := r.Store.AllCredentials()
	if err != nil {
		r.Logger.Error("oauth: reading credentials", "err", err)
		return
	}
	now := r.now()
	for _, c := range creds {
		if c.Kind != store.KindOAuth || c.OAuth == nil || c.OAuth.ExpiresAt == nil || c.OAuth.ExpiresAt.Sub(now) >= r.Lead {
			continue
		}
		r.mu.Lock()
		st := r.creds[c.ID]
		waiting := st != nil && st.err != nil && now.Before(st.failedAt.Add(st.backoff))
		r.mu.Unlock()
		if waiting {
			continue
		}
		full, err := r.Store.OAuthCredential(c.ID)
		if err != nil {
			continue // removed meanwhile, or damaged: the proxy reports it
		}
		token := sha256.Sum256([]byte(full.Secret))
		if err := r.await(ctx, c.ID, &token, false); errors.Is(err, errClosed) || ctx.Err() != nil {
			return
		}
	}
}
