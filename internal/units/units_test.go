package units_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/units"
)

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"90s", 90 * time.Second},
		{"1h30m", 90 * time.Minute},
		{"100ms", 100 * time.Millisecond},
		{"0", 0},
		{"-5s", -5 * time.Second},
		{"30d", 30 * 24 * time.Hour},
		{"1d", 24 * time.Hour},
		{"0d", 0},
		{" 7d ", 7 * 24 * time.Hour},
		{"106751d", 106751 * 24 * time.Hour}, // the most days a time.Duration holds
	}
	for _, tc := range cases {
		got, err := units.ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseDurationRefuses(t *testing.T) {
	for _, in := range []string{
		"", "10", "soon", "d", "1.5d", "-1d", "+1d", "30 d", "1d12h", "30D",
		"106752d",     // one day more than a time.Duration holds
		"300000d",     // would wrap around to about 86,000 days
		"4294967296d", // beyond uint32
		"9999999999999h",
	} {
		got, err := units.ParseDuration(in)
		if err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
			continue
		}
		if !strings.Contains(err.Error(), "invalid duration") || !strings.Contains(err.Error(), "30d") {
			t.Errorf("ParseDuration(%q) error %q should say it is invalid and show an example", in, err)
		}
	}
}

func TestDurationText(t *testing.T) {
	cases := []struct {
		in   string
		want units.Duration
		text string
	}{
		{"", 0, "0s"},
		{"0s", 0, "0s"},
		{"90s", units.Duration(90 * time.Second), "1m30s"},
		{"30d", units.Duration(720 * time.Hour), "720h0m0s"},
		{"250ms", units.Duration(250 * time.Millisecond), "250ms"},
	}
	for _, tc := range cases {
		var d units.Duration
		if err := d.UnmarshalText([]byte(tc.in)); err != nil || d != tc.want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", tc.in, d, err, tc.want)
			continue
		}
		text, err := d.MarshalText()
		if err != nil || string(text) != tc.text {
			t.Errorf("MarshalText(%v) = %q, %v; want %q", tc.want, text, err, tc.text)
		}
		var back units.Duration
		if err := back.UnmarshalText(text); err != nil || back != d {
			t.Errorf("round trip of %q: %v, %v", text, back, err)
		}
	}
	// A failed parse leaves the value alone.
	d := units.Duration(time.Minute)
	if err := d.UnmarshalText([]byte("soon")); err == nil || d != units.Duration(time.Minute) {
		t.Errorf("UnmarshalText(soon) = %v, %v; want an error and the old value", d, err)
	}
}

func TestDurationJSONAndFlag(t *testing.T) {
	var v struct {
		TTL units.Duration `json:"ttl"`
	}
	if err := json.Unmarshal([]byte(`{"ttl":"30d"}`), &v); err != nil || v.TTL.D() != 720*time.Hour {
		t.Fatalf("json 30d = %v, %v", v.TTL, err)
	}
	out, err := json.Marshal(v)
	if err != nil || string(out) != `{"ttl":"720h0m0s"}` {
		t.Errorf("json = %s, %v", out, err)
	}
	var f units.Duration
	if err := f.Set("2d"); err != nil || f.D() != 48*time.Hour {
		t.Errorf("Set(2d) = %v, %v", f, err)
	}
	if f.Type() != "duration" {
		t.Errorf("Type() = %q", f.Type())
	}
}

func TestByteSize(t *testing.T) {
	cases := []struct {
		in   string
		want units.ByteSize
	}{
		{"32MiB", 32 << 20},
		{"512KiB", 512 << 10},
		{"1GiB", 1 << 30},
		{"1GB", 1_000_000_000},
		{"2MB", 2_000_000},
		{"3KB", 3000},
		{"100", 100},
		{"100B", 100},
		{"0", 0},
		{" 32 MiB ", 32 << 20},
		{"4294967296GiB", 1 << 62}, // the largest accepted
	}
	for _, tc := range cases {
		var b units.ByteSize
		if err := b.UnmarshalText([]byte(tc.in)); err != nil || b != tc.want {
			t.Errorf("UnmarshalText(%q) = %d, %v; want %d", tc.in, b, err, tc.want)
		}
	}
}

func TestByteSizeRefuses(t *testing.T) {
	for _, in := range []string{
		"", "MiB", "big", "1.5MiB", "-1", "-1MiB", "32mib", "32 parsecs", "1TiB", "0x10",
		"4294967297GiB",        // overflow
		"9223372036854775807",  // above the 4 EiB cap
		"99999999999999999999", // beyond int64
	} {
		b := units.ByteSize(7)
		err := b.UnmarshalText([]byte(in))
		if err == nil {
			t.Errorf("UnmarshalText(%q) = %d, want an error", in, b)
			continue
		}
		if b != 7 {
			t.Errorf("UnmarshalText(%q) changed the value to %d on error", in, b)
		}
		if !strings.Contains(err.Error(), "invalid size") || !strings.Contains(err.Error(), "MiB") {
			t.Errorf("UnmarshalText(%q) error %q should say it is invalid and show an example", in, err)
		}
	}
}

func TestByteSizeText(t *testing.T) {
	cases := []struct {
		in   units.ByteSize
		text string
	}{
		{0, "0"},
		{100, "100"},
		{1000, "1000"},
		{1536, "1536"},
		{512 << 10, "512KiB"},
		{32 << 20, "32MiB"},
		{1 << 30, "1GiB"},
		{3 << 30, "3GiB"},
		{1 << 62, "4294967296GiB"},
		{1_000_000_000, "1000000000"},
	}
	for _, tc := range cases {
		text, err := tc.in.MarshalText()
		if err != nil || string(text) != tc.text {
			t.Errorf("MarshalText(%d) = %q, %v; want %q", int64(tc.in), text, err, tc.text)
			continue
		}
		var back units.ByteSize
		if err := back.UnmarshalText(text); err != nil || back != tc.in {
			t.Errorf("round trip of %q = %d, %v; want %d", text, back, err, int64(tc.in))
		}
	}
}

// FuzzByteSize: whatever is accepted is within range and survives a round trip.
func FuzzByteSize(f *testing.F) {
	for _, s := range []string{"32MiB", "512KiB", "1GB", "100", "4294967296GiB", "-1", "1.5MiB", " 7 B "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b units.ByteSize
		if err := b.UnmarshalText([]byte(s)); err != nil {
			return
		}
		if b < 0 || b > 1<<62 {
			t.Fatalf("%q accepted as %d", s, int64(b))
		}
		text, _ := b.MarshalText()
		var back units.ByteSize
		if err := back.UnmarshalText(text); err != nil || back != b {
			t.Fatalf("%q → %d → %q → %d, %v", s, int64(b), text, int64(back), err)
		}
	})
}

// FuzzDuration: whatever is accepted survives a round trip; days never wrap.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{"90s", "30d", "1h30m", "106751d", "300000d", "-5s", "1.5d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d units.Duration
		if err := d.UnmarshalText([]byte(s)); err != nil {
			return
		}
		if strings.HasSuffix(strings.TrimSpace(s), "d") && d < 0 {
			t.Fatalf("%q accepted as a negative %v", s, d)
		}
		text, _ := d.MarshalText()
		var back units.Duration
		if err := back.UnmarshalText(text); err != nil || back != d {
			t.Fatalf("%q → %v → %q → %v, %v", s, d, text, back, err)
		}
	})
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2026-12-31T23:59:00Z":      time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC),
		"2026-12-31T23:59:00+02:00": time.Date(2026, 12, 31, 21, 59, 0, 0, time.UTC),
		"2026-12-31":                time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
	} {
		got, err := units.ParseTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "2026-13-01", "31/12/2026", "2026-12-31 23:59"} {
		if _, err := units.ParseTime(in); err == nil {
			t.Errorf("ParseTime(%q) accepted", in)
		}
	}
}
