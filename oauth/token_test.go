package oauth

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aigw/aigw/store"
)

const (
	fuzzAccess  = "SECRET-ACCESS-0123456789"
	fuzzRefresh = "SECRET-REFRESH-0123456789"
)

var now0 = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func TestParseAnswer(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		state   string        // "" when a token is taken
		msg     string        // in the message (or the note)
		expires time.Duration // 0: unknown
	}{
		{"plain", 200, `{"access_token":"a1","refresh_token":"r1","expires_in":3600,"token_type":"Bearer"}`, "", "", time.Hour},
		{"fractional seconds", 200, `{"access_token":"a1","expires_in":1.5}`, "", "", 1500 * time.Millisecond},
		{"string seconds", 200, `{"access_token":"a1","expires_in":"120"}`, "", "", 2 * time.Minute},
		{"no expires_in", 200, `{"access_token":"a1"}`, "", "gave no expires_in", 0},
		{"null expires_in", 200, `{"access_token":"a1","expires_in":null}`, "", "gave no expires_in", 0},
		{"zero expires_in", 200, `{"access_token":"a1","expires_in":0}`, "", "expires_in 0 is not a lifetime", 0},
		{"negative expires_in", 200, `{"access_token":"a1","expires_in":-5}`, "", "expires_in -5 is not a lifetime", 0},
		{"overflowing expires_in", 200, `{"access_token":"a1","expires_in":9300000000}`, "", "expires_in 9.3e+09 is not a lifetime", 0},
		{"huge expires_in", 200, `{"access_token":"a1","expires_in":1e308}`, "", "not a lifetime", 0},
		{"garbage expires_in", 200, `{"access_token":"a1","expires_in":"soon"}`, "", "gave no expires_in", 0},
		{"ten years", 200, `{"access_token":"a1","expires_in":315360000}`, "", "", 315360000 * time.Second},
		{"201 is fine", 201, `{"access_token":"a1","expires_in":60}`, "", "", time.Minute},
		{"invalid_grant", 400, `{"error":"invalid_grant","error_description":"expired"}`, store.RefreshInvalidGrant, "400 Bad Request (invalid_grant: expired); the refresh token is no longer valid", 0},
		{"error in a 200", 200, `{"error":"temporarily_unavailable"}`, store.RefreshRefused, "200 OK (temporarily_unavailable)", 0},
		{"error without a body", 503, ``, store.RefreshRefused, "503 Service Unavailable", 0},
		{"error with HTML", 500, `<h1>oops</h1>`, store.RefreshRefused, "500 Internal Server Error", 0},
		{"200 with HTML", 200, `<h1>login</h1>`, store.RefreshBadResponse, "not JSON", 0},
		{"no access_token", 200, `{"refresh_token":"r1"}`, store.RefreshBadResponse, "without an access_token", 0},
		{"JSON array", 200, `[1,2]`, store.RefreshBadResponse, "not JSON", 0},
		{"secret echoed", 400, `{"error":"invalid_request","error_description":"bad ` + fuzzRefresh + ` for ` + fuzzAccess + `"}`, store.RefreshRefused, "bad [redacted] for [redacted]", 0},
		{"long description", 400, `{"error":"invalid_grant","error_description":"` + strings.Repeat("é", 500) + `"}`, store.RefreshInvalidGrant, "é…)", 0},
		{"odd status", 299, `{"access_token":"a1","expires_in":60}`, "", "", time.Minute},
		{"too large", 200, `{"access_token":"a1","x":"` + strings.Repeat("x", maxTokenAnswer) + `"}`, store.RefreshBadResponse, "larger than 64 KiB", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tk, err := parseAnswer(tc.status, []byte(tc.body), now0, fuzzAccess, fuzzRefresh)
			if tc.state != "" {
				if err == nil || err.State != tc.state || !strings.Contains(err.Msg, tc.msg) {
					t.Fatalf("got %+v %+v; want %s with %q", tk, err, tc.state, tc.msg)
				}
				return
			}
			if err != nil || tk.access != "a1" || !strings.Contains(tk.note, tc.msg) {
				t.Fatalf("got %+v %v", tk, err)
			}
			switch {
			case tc.expires == 0 && tk.expiresAt != nil:
				t.Errorf("expires %v, want unknown", tk.expiresAt)
			case tc.expires != 0 && (tk.expiresAt == nil || tk.expiresAt.Sub(now0) != tc.expires):
				t.Errorf("expires %v, want in %v", tk.expiresAt, tc.expires)
			}
		})
	}
}

// FuzzParseAnswer: whatever a token endpoint answers, the outcome is a
// token with a sane expiry, or a known state with one bounded line that
// holds neither of the credential's tokens.
func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{`{"access_token":"a","expires_in":3600}`, `{"error":"invalid_grant","error_description":"x"}`,
		`{"access_token":"a","expires_in":"1e400"}`, `{"error":"` + fuzzAccess + `"}`, `<html>`, ``, `{"expires_in":-1}`} {
		f.Add(200, []byte(s))
		f.Add(400, []byte(s))
	}
	states := map[string]bool{store.RefreshInvalidGrant: true, store.RefreshRefused: true, store.RefreshBadResponse: true}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		tk, err := parseAnswer(status, body, now0, fuzzAccess, fuzzRefresh)
		if err != nil {
			if !states[err.State] || strings.ContainsAny(err.Msg, "\r\n") || len(err.Msg) > 2*maxDescription+200 ||
				strings.Contains(err.Msg, fuzzAccess) || strings.Contains(err.Msg, fuzzRefresh) || !utf8.ValidString(err.Msg) {
				t.Fatalf("error %+v", err)
			}
			return
		}
		if tk.access == "" {
			t.Fatal("a token answer without an access token was taken")
		}
		if e := tk.expiresAt; e != nil && (!e.After(now0) || e.Sub(now0) > maxLifetime) {
			t.Fatalf("expiry %v", e)
		}
		if (tk.expiresAt == nil) == (tk.note == "") {
			t.Fatalf("expiry %v with note %q", tk.expiresAt, tk.note)
		}
	})
}
