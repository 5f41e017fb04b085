package proxy

import (
	"context"
	"errors"
	"time"

	"github.com/aigw/aigw/scheduler"
)

// renew is the attempt loop's step for OAuth credentials: the upstream
// refused cred's access token (401/403), most likely because it expired.
// Unless the snapshot already holds a newer token (another request's
// refresh replaced it), the credential is refreshed — Config.RefreshCredential
// makes one token request however many requests wait on it — and the same
// request is sent again on the same credential with the new token. That
// second try is part of the same attempt, not one of the key's retries.
//
// It returns the credential of the last try and that try's error. Only a
// refresh that fails leaves the refusal standing (the credential is then
// marked invalid, with the reason); the client never hears of a refresh.
func (x *exchange) renew(cred *credential, err error, began *time.Time) (*credential, error) {
	if x.p.cfg.RefreshCredential == nil || outcomeOf(err) != scheduler.Rejected {
		return cred, err
	}
	fresh := x.p.snap.Load().creds[cred.id]
	if fresh == nil || fresh.secretHash == cred.secretHash {
		ctx, cancel := context.WithTimeout(context.Background(), x.p.cfg.RefreshTimeout)
		rerr := x.p.cfg.RefreshCredential(ctx, cred.id, cred.secretHash)
		cancel()
		if errors.Is(rerr, context.DeadlineExceeded) {
			rerr = errors.New("no outcome within " + x.p.cfg.RefreshTimeout.String())
		}
		if rerr != nil {
			return cred, &refreshError{rejected: err, reason: rerr.Error()}
		}
		fresh = x.p.snap.Load().creds[cred.id]
	}
	// The request was prepared for x.prov's auth headers; a credential of a
	// provider whose headers changed meanwhile does not fit them.
	if fresh == nil || fresh.secretHash == cred.secretHash || len(fresh.authValues) != len(cred.authValues) {
		return cred, err
	}
	now := x.p.now()
	took := now.Sub(*began)
	x.upstreamTime += took
	x.addAttempt(cred, &renewedError{rejected: err}, took)
	*began = now
	return fresh, x.attempt(fresh, now)
}

// refreshError: the upstream refused an OAuth credential's access token
// and refreshing it failed. It counts as the refusal (errors.As finds the
// *upstreamStatusError); its text, kept by the trace and the credential's
// health, says why the refresh failed.
type refreshError struct {
	rejected error
	reason   string
}

func (e *refreshError) Error() string {
	return e.rejected.Error() + "; refreshing the access token failed: " + e.reason
}
func (e *refreshError) Unwrap() error { return e.rejected }

// renewedError marks, in the trace, the try refused before the access
// token was refreshed and the request sent again.
type renewedError struct{ rejected error }

func (e *renewedError) Error() string {
	return e.rejected.Error() + "; access token refreshed, request sent again"
}
func (e *renewedError) Unwrap() error { return e.rejected }
