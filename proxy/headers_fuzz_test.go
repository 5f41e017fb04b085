package proxy

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Retry-After, whatever the upstream writes: a wait between 0 and
// maxRetryAfter, and for plain seconds exactly those seconds (capped).
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"30", "0", "-1", "+5", "9000000000", "99999999999999999999", "1.5", " 30",
		"Fri, 31 Dec 9999 23:59:59 GMT", "Wed, 21 Oct 2015 07:28:00 GMT", "", "\x00"} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v []byte) {
		d := retryAfter(v, now)
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("retryAfter(%q) = %v, out of [0, %v]", v, d, maxRetryAfter)
		}
		if n, err := strconv.ParseUint(string(v), 10, 63); err == nil {
			want := maxRetryAfter
			if n <= uint64(maxRetryAfter/time.Second) {
				want = time.Duration(n) * time.Second
			}
			if d != want {
				t.Fatalf("retryAfter(%q) = %v, want %v", v, d, want)
			}
		}
	})
}

// listsToken agrees with the plain reading of a Connection header: split
// at commas, trim spaces and tabs, compare without case.
func FuzzListsToken(f *testing.F) {
	f.Add([]byte("keep-alive, X-Secret-Hop"), []byte("X-Secret-Hop"))
	f.Add([]byte(" close ,,\tUpgrade\t"), []byte("upgrade"))
	f.Add([]byte(""), []byte(""))
	f.Add([]byte(","), []byte(""))
	f.Fuzz(func(t *testing.T, list, k []byte) {
		if len(k) == 0 {
			return // header names are never empty (validHeaderName)
		}
		want := false
		for _, item := range strings.Split(string(list), ",") {
			if strings.EqualFold(string(bytes.TrimSpace([]byte(item))), string(k)) {
				want = true
			}
		}
		if got := listsToken(list, k); got != want {
			t.Fatalf("listsToken(%q, %q) = %v, want %v", list, k, got, want)
		}
	})
}

// validHeaderName accepts exactly the RFC 9110 tokens: nothing that could
// end a header line or split a name ever goes upstream.
func FuzzValidHeaderName(f *testing.F) {
	for _, s := range []string{"X-Kept", "X Spaced Name", "", "a:b", "x\r\nInjected: 1", "!#$%&'*+-.^_`|~", "é"} {
		f.Add([]byte(s))
	}
	const tchar = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	f.Fuzz(func(t *testing.T, k []byte) {
		want := len(k) > 0
		for _, c := range k {
			if strings.IndexByte(tchar, c) < 0 {
				want = false
			}
		}
		if got := validHeaderName(k); got != want {
			t.Fatalf("validHeaderName(%q) = %v, want %v", k, got, want)
		}
	})
}
