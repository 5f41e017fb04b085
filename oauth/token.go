package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aigw/aigw/store"
)

// Error is why a refresh failed: State (store.RefreshTimeout, …) for
// scripts and views, and a one-line message that holds no secret: the
// token endpoint's own error description is cut, made one line, and any
// token of the credential in it is replaced by "[redacted]".
type Error struct {
	State string
	Msg   string
}

func (e *Error) Error() string { return e.Msg }

// maxTokenAnswer bounds the token endpoint's answer that is read: a token
// answer is a few KiB at most.
const maxTokenAnswer = 64 << 10

// maxLifetime is the longest access-token lifetime believed: an expires_in
// beyond it (or one that is not a positive number) counts as none, and the
// token is refreshed when the upstream refuses it.
const maxLifetime = 10 * 365 * 24 * time.Hour

// maxDescription bounds the part of the endpoint's error text kept.
const maxDescription = 160

// tokens is what a successful refresh brought.
type tokens struct {
	access, refresh string
	expiresAt       *time.Time // nil: unknown
	note            string     // why the expiry is unknown ("" when known)
}

// seconds is expires_in: a JSON number, or a number in a string (some
// endpoints send "3600"); anything else counts as missing.
type seconds struct {
	v   float64
	set bool
}

func (s *seconds) UnmarshalJSON(b []byte) error {
	t := strings.Trim(string(b), `"`)
	if v, err := strconv.ParseFloat(t, 64); err == nil {
		s.v, s.set = v, true
	}
	return nil
}

type tokenAnswer struct {
	AccessToken  string  `json:"access_token"`
	RefreshToken string  `json:"refresh_token"`
	ExpiresIn    seconds `json:"expires_in"`
	Error        string  `json:"error"`
	Description  string  `json:"error_description"`
}

// request runs the refresh-token grant for c (RFC 6749 §6) and reads the
// answer. It never returns a message with c's tokens in it.
func request(ctx context.Context, client *http.Client, c store.Credential, timeout time.Duration, now func() time.Time) (tokens, *Error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.RefreshToken}}
	if c.OAuth.ClientID != "" {
		form.Set("client_id", c.OAuth.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.OAuth.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return tokens{}, &Error{store.RefreshUnreachable, "token URL cannot be used: " + innerError(err)}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return tokens{}, transportError(ctx, err, timeout)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenAnswer+1))
	if err != nil {
		return tokens{}, transportError(ctx, err, timeout)
	}
	return parseAnswer(resp.StatusCode, body, now(), c.Secret, c.RefreshToken)
}

// transportError names a failure to reach the endpoint or to read its answer.
func transportError(ctx context.Context, err error, timeout time.Duration) *Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err) {
		return &Error{store.RefreshTimeout, "token endpoint did not answer within " + timeout.String() + " (oauth.refresh_timeout)"}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{store.RefreshTimeout, "refresh cancelled: aigw is stopping"}
	}
	return &Error{store.RefreshUnreachable, "token endpoint unreachable: " + innerError(err)}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// innerError is err without the *url.Error wrapper, whose text repeats the
// whole token URL (query string included).
func innerError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return store.OneLine(err.Error(), maxDescription)
}

// parseAnswer reads a token endpoint's answer: the status and at most
// maxTokenAnswer+1 bytes of its body (more means too large). secrets are
// the credential's tokens, kept out of every message.
func parseAnswer(status int, body []byte, now time.Time, secrets ...string) (tokens, *Error) {
	statusText := strconv.Itoa(status)
	if t := http.StatusText(status); t != "" {
		statusText += " " + t
	}
	if len(body) > maxTokenAnswer {
		return tokens{}, &Error{store.RefreshBadResponse, "token endpoint answered " + statusText + " with a body larger than 64 KiB"}
	}
	var a tokenAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		if status/100 == 2 {
			return tokens{}, &Error{store.RefreshBadResponse, "token endpoint answered " + statusText + " with a body that is not JSON"}
		}
		return tokens{}, &Error{store.RefreshRefused, "token endpoint answered " + statusText}
	}
	if status/100 != 2 || a.Error != "" {
		what := clean(a.Error, secrets)
		if d := clean(a.Description, secrets); d != "" {
			if what != "" {
				what += ": "
			}
			what += d
		}
		msg := "token endpoint answered " + statusText
		if what != "" {
			msg += " (" + what + ")"
		}
		if a.Error == "invalid_grant" {
			return tokens{}, &Error{store.RefreshInvalidGrant, msg + "; the refresh token is no longer valid: give the credential a new one"}
		}
		return tokens{}, &Error{store.RefreshRefused, msg}
	}
	if a.AccessToken == "" {
		return tokens{}, &Error{store.RefreshBadResponse, "token endpoint answered " + statusText + " without an access_token"}
	}
	t := tokens{access: a.AccessToken, refresh: a.RefreshToken}
	switch in := a.ExpiresIn; {
	case !in.set:
		t.note = "the token endpoint gave no expires_in: the access token is refreshed when the upstream refuses it"
	case !(in.v > 0) || in.v > maxLifetime.Seconds(): // NaN too
		t.note = "the token endpoint's expires_in " + clean(strconv.FormatFloat(in.v, 'g', 6, 64), nil) +
			" is not a lifetime between 0 and 10 years: the access token is refreshed when the upstream refuses it"
	default:
		e := now.Add(time.Duration(in.v * float64(time.Second)))
		t.expiresAt = &e
	}
	return t, nil
}

// clean makes an endpoint's text safe to keep: one line, bounded, and
// without any of the secrets.
func clean(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return store.OneLine(s, maxDescription)
}
