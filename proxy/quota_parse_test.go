package proxy

import (
	"bufio"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/scheduler"
	"github.com/valyala/fasthttp"
)

var quotaNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// responseHeader parses a raw header block as the proxy does with an
// upstream's answer (names normalised).
func responseHeader(t testing.TB, lines ...string) *fasthttp.ResponseHeader {
	t.Helper()
	var h fasthttp.ResponseHeader
	raw := "HTTP/1.1 200 OK\r\n" + strings.Join(lines, "\r\n")
	if len(lines) > 0 {
		raw += "\r\n"
	}
	if err := h.Read(bufio.NewReader(strings.NewReader(raw + "\r\n"))); err != nil {
		t.Fatalf("header block %q: %v", raw, err)
	}
	return &h
}

func readAt(h *fasthttp.ResponseHeader, now time.Time) scheduler.Quota {
	var q scheduler.Quota
	readQuota(h, &q, &lazyNow{now: func() time.Time { return now }})
	return q
}

// Real answers' headers, as the providers document and send them.
var (
	anthropicAPIHeaders = []string{
		"Content-Type: application/json",
		"Date: Tue, 10 Mar 2026 12:00:00 GMT",
		"Request-Id: req_011CSompHfim5z5GkMVCzq8P",
		"anthropic-organization-id: 4a5b6c7d-0000-0000-0000-000000000000",
		"anthropic-ratelimit-requests-limit: 50",
		"anthropic-ratelimit-requests-remaining: 49",
		"anthropic-ratelimit-requests-reset: 2026-03-10T12:00:01Z",
		"anthropic-ratelimit-tokens-limit: 30000",
		"anthropic-ratelimit-tokens-remaining: 29000",
		"anthropic-ratelimit-tokens-reset: 2026-03-10T12:00:02Z",
		"anthropic-ratelimit-input-tokens-limit: 20000",
		"anthropic-ratelimit-input-tokens-remaining: 19000",
		"anthropic-ratelimit-input-tokens-reset: 2026-03-10T12:00:02.5Z",
		"anthropic-ratelimit-output-tokens-limit: 8000",
		"anthropic-ratelimit-output-tokens-remaining: 8000",
		"anthropic-ratelimit-output-tokens-reset: 2026-03-10T13:00:00+01:00",
		"retry-after: 0",
		"via: 1.1 google",
		"cf-cache-status: DYNAMIC",
		"Server: cloudflare",
	}
	anthropicUnifiedHeaders = []string{
		"Content-Type: text/event-stream",
		"Request-Id: req_011CSompHfim5z5GkMVCzq8P",
		"anthropic-ratelimit-unified-status: allowed",
		"anthropic-ratelimit-unified-reset: 1773158400",
		"anthropic-ratelimit-unified-5h-status: allowed",
		"anthropic-ratelimit-unified-5h-reset: 1773158400",
		"anthropic-ratelimit-unified-5h-utilization: 0.42",
		"anthropic-ratelimit-unified-7d-status: allowed_warning",
		"anthropic-ratelimit-unified-7d-reset: 1773590400",
		"anthropic-ratelimit-unified-7d-utilization: 0.9",
		"anthropic-ratelimit-unified-representative-claim: five_hour",
		"anthropic-ratelimit-unified-fallback-percentage: 0.5",
		"anthropic-ratelimit-unified-overage-status: rejected",
		"anthropic-ratelimit-unified-overage-disabled-reason: org_level_disabled",
	}
	openAIHeaders = []string{
		"Content-Type: application/json",
		"openai-organization: user-abc",
		"openai-processing-ms: 312",
		"openai-version: 2020-10-01",
		"x-ratelimit-limit-requests: 10000",
		"x-ratelimit-limit-tokens: 30000000",
		"x-ratelimit-remaining-requests: 9999",
		"x-ratelimit-remaining-tokens: 29999990",
		"x-ratelimit-reset-requests: 6ms",
		"x-ratelimit-reset-tokens: 1h2m3.5s",
		"X-Request-Id: req_abc",
	}
	plainHeaders = []string{
		"Content-Type: application/json",
		"Date: Tue, 10 Mar 2026 12:00:00 GMT",
		"X-Request-Id: req_proxytest000001",
	}
)

func ns(t time.Time) int64 { return t.UnixNano() }

func TestReadQuotaFromRealHeaders(t *testing.T) {
	at := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixNano()
	}
	full := scheduler.HasLimit | scheduler.HasRemaining | scheduler.HasReset
	cases := []struct {
		name    string
		headers []string
		want    map[scheduler.QuotaWindow]scheduler.QuotaReading
	}{
		{"anthropic API key", anthropicAPIHeaders, map[scheduler.QuotaWindow]scheduler.QuotaReading{
			scheduler.WindowRequests:     {Has: full, Limit: 50, Remaining: 49, Reset: at("2026-03-10T12:00:01Z")},
			scheduler.WindowTokens:       {Has: full, Limit: 30000, Remaining: 29000, Reset: at("2026-03-10T12:00:02Z")},
			scheduler.WindowInputTokens:  {Has: full, Limit: 20000, Remaining: 19000, Reset: at("2026-03-10T12:00:02.5Z")},
			scheduler.WindowOutputTokens: {Has: full, Limit: 8000, Remaining: 8000, Reset: at("2026-03-10T12:00:00Z")},
		}},
		{"anthropic subscription", anthropicUnifiedHeaders, map[scheduler.QuotaWindow]scheduler.QuotaReading{
			scheduler.WindowUnified: {Has: scheduler.HasStatus | scheduler.HasReset, Status: scheduler.StatusAllowed, Reset: 1773158400e9},
			scheduler.WindowUnified5h: {Has: scheduler.HasStatus | scheduler.HasReset | scheduler.HasUtilization,
				Status: scheduler.StatusAllowed, Utilization: 0.42, Reset: 1773158400e9},
			scheduler.WindowUnified7d: {Has: scheduler.HasStatus | scheduler.HasReset | scheduler.HasUtilization,
				Status: scheduler.StatusWarning, Utilization: 0.9, Reset: 1773590400e9},
		}},
		{"openai", openAIHeaders, map[scheduler.QuotaWindow]scheduler.QuotaReading{
			scheduler.WindowRequests: {Has: full, Limit: 10000, Remaining: 9999, Reset: ns(quotaNow.Add(6 * time.Millisecond))},
			scheduler.WindowTokens:   {Has: full, Limit: 30000000, Remaining: 29999990, Reset: ns(quotaNow.Add(time.Hour + 2*time.Minute + 3500*time.Millisecond))},
		}},
		{"no rate-limit headers", plainHeaders, nil},
		{"names in any case", []string{"ANTHROPIC-RATELIMIT-REQUESTS-REMAINING: 0", "X-RATELIMIT-RESET-TOKENS: 2s"},
			map[scheduler.QuotaWindow]scheduler.QuotaReading{
				scheduler.WindowRequests: {Has: scheduler.HasRemaining},
				scheduler.WindowTokens:   {Has: scheduler.HasReset, Reset: ns(quotaNow.Add(2 * time.Second))},
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := readAt(responseHeader(t, c.headers...), quotaNow)
			for w := range scheduler.NumQuotaWindows {
				want, named := c.want[w]
				if got := q.W[w]; got != want {
					t.Errorf("%s: got %+v, want %+v", w, got, want)
				}
				if seen := q.Seen&(1<<w) != 0; seen != named {
					t.Errorf("%s: seen %v, want %v", w, seen, named)
				}
			}
		})
	}
}

// Garbage values are dropped field by field; the rest of the window (and
// every other window) is still read.
func TestReadQuotaDropsGarbage(t *testing.T) {
	cases := []struct {
		header string
		window scheduler.QuotaWindow
	}{
		{"anthropic-ratelimit-requests-remaining: -1", scheduler.WindowRequests},
		{"anthropic-ratelimit-requests-remaining: lots", scheduler.WindowRequests},
		{"anthropic-ratelimit-requests-remaining: 1e3", scheduler.WindowRequests},
		{"anthropic-ratelimit-requests-limit: 99999999999999999999999", scheduler.WindowRequests},
		{"anthropic-ratelimit-requests-reset: tomorrow", scheduler.WindowRequests},
		{"anthropic-ratelimit-requests-reset: 2026-02-30T12:00:00Z", scheduler.WindowRequests},
		{"anthropic-ratelimit-requests-reset: 2026-03-10T25:00:00Z", scheduler.WindowRequests},
		{"anthropic-ratelimit-requests-reset: 2026-03-10T12:00:00", scheduler.WindowRequests},
		{"anthropic-ratelimit-requests-reset: 9999-12-31T23:59:59Z", scheduler.WindowRequests},
		{"anthropic-ratelimit-unified-5h-utilization: NaN", scheduler.WindowUnified5h},
		{"anthropic-ratelimit-unified-5h-utilization: -0.5", scheduler.WindowUnified5h},
		{"anthropic-ratelimit-unified-5h-utilization: 4e2", scheduler.WindowUnified5h},
		{"anthropic-ratelimit-unified-5h-utilization: .", scheduler.WindowUnified5h},
		{"anthropic-ratelimit-unified-5h-status: maybe", scheduler.WindowUnified5h},
		{"anthropic-ratelimit-unified-reset: soon", scheduler.WindowUnified},
		{"anthropic-ratelimit-unified-reset: 99999999999999999", scheduler.WindowUnified},
		{"anthropic-ratelimit-unified-reset: 9300000000", scheduler.WindowUnified},    // ns overflow as seconds
		{"anthropic-ratelimit-unified-reset: 9223372036855", scheduler.WindowUnified}, // ns overflow as milliseconds
		{"anthropic-ratelimit-unified-reset: 50000000000", scheduler.WindowUnified},   // neither seconds nor milliseconds
		{"x-ratelimit-reset-tokens: 9300000000000", scheduler.WindowTokens},           // ns overflow as milliseconds
		{"x-ratelimit-reset-requests: -1s", scheduler.WindowRequests},
		{"x-ratelimit-reset-requests: 1 fortnight", scheduler.WindowRequests},
		{"x-ratelimit-reset-requests: 99999999999h", scheduler.WindowRequests},
		{"x-ratelimit-reset-requests: s", scheduler.WindowRequests},
		{"x-ratelimit-remaining-tokens: 12.5", scheduler.WindowTokens},
	}
	for _, c := range cases {
		q := readAt(responseHeader(t, c.header, "anthropic-ratelimit-output-tokens-remaining: 7"), quotaNow)
		if r := q.W[c.window]; r.Has != 0 {
			t.Errorf("%q was read: %+v", c.header, r)
		}
		if r := q.W[scheduler.WindowOutputTokens]; r.Has != scheduler.HasRemaining || r.Remaining != 7 {
			t.Errorf("%q: the good header beside it was not read: %+v", c.header, r)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"1s": time.Second, "6m0s": 6 * time.Minute, "20ms": 20 * time.Millisecond, "1h2m3.5s": time.Hour + 2*time.Minute + 3500*time.Millisecond,
		"7.66s": 7660 * time.Millisecond, "0s": 0, "30": 30 * time.Second, " 2s ": 2 * time.Second, "1.5h": 90 * time.Minute,
		"250us": 250 * time.Microsecond, "250µs": 250 * time.Microsecond, "3ns": 3, ".5s": 500 * time.Millisecond, "5.s": 5 * time.Second,
	} {
		if got, ok := parseDuration([]byte(in)); !ok || time.Duration(got) != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, time.Duration(got), ok, want)
		}
	}
	for _, in := range []string{"", "s", "-1s", "+1s", "1", "1x", "1s2", "..5s", "1.2.3s", "9223372036854775807ns", "1e3s", "١s"} {
		if in == "1" {
			continue // a bare number is seconds
		}
		if got, ok := parseDuration([]byte(in)); ok {
			t.Errorf("parseDuration(%q) = %v, want refused", in, time.Duration(got))
		}
	}
}

func TestParseRFC3339(t *testing.T) {
	for _, in := range []string{"2026-03-10T12:00:01Z", "2026-03-10T12:00:01.123456789Z", "2026-03-10T12:00:01.5+05:30",
		"2024-02-29T00:00:00-08:00", "1970-01-01T00:00:00Z", "2200-12-31T23:59:59Z"} {
		want, err := time.Parse(time.RFC3339, in)
		if err != nil {
			t.Fatalf("time.Parse(%q): %v", in, err)
		}
		if got, ok := parseRFC3339([]byte(in)); !ok || got != want.UnixNano() {
			t.Errorf("parseRFC3339(%q) = %d, %v; want %d", in, got, ok, want.UnixNano())
		}
	}
	for _, in := range []string{"", "2026-03-10", "2026-03-10T12:00:01", "2026-03-10 12:00:01Z", "2026-13-10T12:00:01Z",
		"2025-02-29T12:00:01Z", "2026-03-10T12:60:01Z", "2026-03-10T12:00:60Z", "2026-03-10T12:00:01.Z",
		"2026-03-10T12:00:01.1234567890Z", "2026-03-10T12:00:01+0530", "2026-03-10T12:00:01+24:00", "1969-12-31T23:59:59Z",
		"2201-01-01T00:00:00Z", "2026-03-10T12:00:01ZZ", "2026-03-10t12:00:01z", "２026-03-10T12:00:01Z"} {
		if got, ok := parseRFC3339([]byte(in)); ok {
			t.Errorf("parseRFC3339(%q) = %d, want refused", in, got)
		}
	}
}

// Differential: whatever the hand-written parsers accept, the standard
// library reads the same way.
func FuzzQuotaValues(f *testing.F) {
	for _, s := range []string{"999999999999", "9223372036855", "1773158400", "1773158400000", "1s", "6m0s", "20ms", "1h2m3.5s", "7.66s", ".5s", "1.000000000000000000001s", "2562047h47m16.854775807s",
		"2026-03-10T12:00:01Z", "2026-03-10T12:00:01.123456789+05:30", "0.42", "1.0", "17", "", "-", "NaN"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := string(b)
		if d, ok := parseDuration(b); ok {
			if d < 0 || d > maxDuration {
				t.Fatalf("parseDuration(%q) = %d out of range", s, d)
			}
			if _, bare := parseCount(b); !bare {
				want, err := time.ParseDuration(strings.TrimSpace(s))
				if err != nil || int64(want) != d {
					t.Fatalf("parseDuration(%q) = %d; time.ParseDuration: %d, %v", s, d, want, err)
				}
			}
		}
		if v, ok := parseRFC3339(b); ok {
			want, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
			if err != nil || want.UnixNano() != v {
				t.Fatalf("parseRFC3339(%q) = %d; time.Parse: %v, %v", s, v, want, err)
			}
		}
		if v, ok := parseFraction(b); ok && (v < 0 || math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("parseFraction(%q) = %v", s, v)
		}
		if v, ok := parseCount(b); ok && v < 0 {
			t.Fatalf("parseCount(%q) = %v", s, v)
		}
		if v, ok := parseUnixTime(b); ok && (v < 0 || v > 9e18) {
			t.Fatalf("parseUnixTime(%q) = %v out of range", s, v)
		}
	})
}

// Any header block: no panic, and every reading within bounds.
func FuzzReadQuota(f *testing.F) {
	f.Add("anthropic-ratelimit-requests-remaining", "0", "anthropic-ratelimit-requests-reset", "2026-03-10T12:00:01Z")
	f.Add("x-ratelimit-remaining-tokens", "12", "x-ratelimit-reset-tokens", "6m0s")
	f.Add("anthropic-ratelimit-unified-5h-utilization", "1.02", "anthropic-ratelimit-unified-5h-reset", "1773158400")
	f.Add("anthropic-ratelimit-unified-status", "rejected", "x-ratelimit-reset-requests", "1773158400000")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		var h fasthttp.ResponseHeader
		h.Set(k1, v1)
		h.Set(k2, v2)
		q := readAt(&h, quotaNow)
		for w := range scheduler.NumQuotaWindows {
			r := q.W[w]
			if r.Limit < 0 || r.Remaining < 0 || r.Utilization < 0 || math.IsNaN(r.Utilization) || math.IsInf(r.Utilization, 0) {
				t.Fatalf("%s: %+v", w, r)
			}
			if r.Has&scheduler.HasReset != 0 && (r.Reset < 0 || r.Reset > maxResetNS) { // no overflow
				t.Fatalf("%s reset %d out of range", w, r.Reset)
			}
		}
	})
}

// maxResetNS is the latest reset a header can give: 2200-12-31 (RFC 3339),
// 9e12 unix milliseconds, or now plus maxDuration.
var maxResetNS = max(time.Date(2201, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), 9e12*int64(time.Millisecond), ns(quotaNow)+maxDuration)

// readQuotaPeek is the other way to read the same headers: one Peek per
// name. BenchmarkReadQuota shows why readQuota makes one pass instead.
func readQuotaPeek(h *fasthttp.ResponseHeader, q *scheduler.Quota, clock *lazyNow, names []string) {
	for _, name := range names {
		if v := h.Peek(name); len(v) > 0 {
			w, f := quotaHeader([]byte(name))
			readQuotaValue(q.Reading(w), f, v, clock)
		}
	}
}

var (
	openAINames    = []string{"X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests", "X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens"}
	anthropicNames = func() []string {
		var out []string
		for _, w := range []string{"Requests", "Tokens", "Input-Tokens", "Output-Tokens"} {
			for _, f := range []string{"Limit", "Remaining", "Reset"} {
				out = append(out, "Anthropic-Ratelimit-"+w+"-"+f)
			}
		}
		out = append(out, "Anthropic-Ratelimit-Unified-Status", "Anthropic-Ratelimit-Unified-Reset")
		for _, w := range []string{"5h", "7d"} {
			for _, f := range []string{"Utilization", "Status", "Reset"} {
				out = append(out, "Anthropic-Ratelimit-Unified-"+w+"-"+f)
			}
		}
		return out
	}()
)

// BenchmarkReadQuota: one pass over the headers (what the proxy does)
// against a Peek per header name (all names, or only the provider's own),
// on answers with and without rate-limit headers.
func BenchmarkReadQuota(b *testing.B) {
	clock := &lazyNow{now: func() time.Time { return quotaNow }}
	for _, hs := range []struct {
		name    string
		headers []string
		names   []string // the provider's own, for the targeted Peek
	}{
		{"plain", plainHeaders, openAINames},
		{"openai", openAIHeaders, openAINames},
		{"anthropic", anthropicAPIHeaders, anthropicNames},
		{"anthropic_unified", anthropicUnifiedHeaders, anthropicNames},
	} {
		h := responseHeader(b, hs.headers...)
		b.Run(hs.name+"/one_pass", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var q scheduler.Quota
				readQuota(h, &q, clock)
			}
		})
		b.Run(hs.name+"/peek_provider_names", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var q scheduler.Quota
				readQuotaPeek(h, &q, clock, hs.names)
			}
		})
		b.Run(hs.name+"/peek_all_names", func(b *testing.B) {
			all := append(append([]string(nil), openAINames...), anthropicNames...)
			b.ReportAllocs()
			for b.Loop() {
				var q scheduler.Quota
				readQuotaPeek(h, &q, clock, all)
			}
		})
	}
}
