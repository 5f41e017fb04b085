package proxy

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// The preview of a presented key never shows more than an aigw key's
// prefix and 4 characters, or another key's first 3 characters, and never
// a byte a terminal would act on.
func TestPresentedPreview(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{"Bearer aigw_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg", "aigw_AbCd…"},
		{"Bearer sk-ant-api03-secretsecretsecret", "sk-… (31 chars)"},
		{"Bearer \x1b[31mredredred-secret", "?[3… (21 chars)"},
		{"Bearer aigw_\x1b]52;c;AAAA\x07-rest-of-it", "aigw_?]52…"},
		{"Bearer short", "… (5 chars)"},
		{"Bearer aigw_ab", "… (7 chars)"},
		{"", ""},
	} {
		var ctx fasthttp.RequestCtx
		if c.header != "" {
			ctx.Request.Header.Set("Authorization", c.header)
		}
		got := presentedPreview(&ctx)
		if got != c.want {
			t.Errorf("%q: preview %q, want %q", c.header, got, c.want)
		}
		if secret := strings.TrimPrefix(c.header, "Bearer "); len(secret) > 10 && strings.Contains(got, secret[len(secret)-6:]) {
			t.Errorf("%q: preview %q shows the end of the key", c.header, got)
		}
	}
}
