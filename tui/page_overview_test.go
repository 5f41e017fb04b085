package tui

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/scheduler"
)

func TestLiveFigures(t *testing.T) {
	var s liveStats
	// 60 requests over the last minute: every 10th failed, latencies 1..60 ms.
	for i := range 60 {
		st := 200
		if i%10 == 0 {
			st = 502
		}
		s.add(&admin.Trace{Time: testNow.Add(-time.Duration(i) * time.Second), Status: st, LatencyMS: float64(i + 1),
			OverheadMS: 0.5, PromptTokens: 100, CompletionTokens: 50}, testNow)
	}
	// Older traffic, outside the window.
	s.add(&admin.Trace{Time: testNow.Add(-5 * time.Minute), Status: 200, LatencyMS: 9000, PromptTokens: 1e6}, testNow)

	f := s.figures(testNow)
	if f.Requests != 60 || f.Errors != 6 || math.Abs(f.RPS-1) > 1e-9 || math.Abs(f.ErrorRate-0.1) > 1e-9 {
		t.Errorf("requests %d, errors %d, rps %v, error rate %v", f.Requests, f.Errors, f.RPS, f.ErrorRate)
	}
	if f.TokensPerMin != 9000 {
		t.Errorf("tokens/min %v, want 9000", f.TokensPerMin)
	}
	if f.P50 != 30 || f.P99 != 60 || f.OverheadP50 != 0.5 {
		t.Errorf("p50 %v p99 %v overhead %v", f.P50, f.P99, f.OverheadP50)
	}
	// A minute later the window is empty but the charts remember.
	later := s.figures(testNow.Add(2 * time.Minute))
	if later.Requests != 0 || later.Samples != 0 {
		t.Errorf("old traffic still counted: %+v", later)
	}
	ser := s.series(testNow, 60)
	total := 0.0
	for _, v := range ser.RPS {
		total += v * chartStep.Seconds()
	}
	if math.Round(total) != 61 || ser.RPS[len(ser.RPS)-1] == 0 {
		t.Errorf("the charts hold %v requests, want all 61: %v", total, ser.RPS)
	}
}

// A trace is counted when it finished, so a slow request started long ago
// counts now, and a backlog lands where it happened.
func TestStatsCountAtFinish(t *testing.T) {
	var s liveStats
	s.add(&admin.Trace{Time: testNow.Add(-90 * time.Second), Status: 200, LatencyMS: 85_000}, testNow)
	if f := s.figures(testNow); f.Requests != 1 {
		t.Errorf("slow request not counted at its finish: %+v", f)
	}
}

func TestSparkline(t *testing.T) {
	tests := []struct {
		vals  []float64
		width int
		want  string
	}{
		{[]float64{0, 1, 2, 4, 8}, 5, " ▁▂▄█"},
		{[]float64{3, 3}, 4, "  ██"},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8}, 3, "▆▇█"},
		{nil, 3, "   "},
	}
	for _, tc := range tests {
		if got := sparkline(tc.vals, tc.width); got != tc.want {
			t.Errorf("sparkline(%v, %d) = %q, want %q", tc.vals, tc.width, got, tc.want)
		}
	}
}

func TestHBar(t *testing.T) {
	tests := []struct {
		v, top float64
		w      int
		want   string
	}{
		{10, 10, 4, "████"},
		{5, 10, 4, "██"},
		{1, 10, 2, "▎"}, // 1.6 eighths → 2
		{0.001, 10, 4, "▏"},
		{0, 10, 4, ""},
	}
	for _, tc := range tests {
		if got := hbar(tc.v, tc.top, tc.w); got != tc.want {
			t.Errorf("hbar(%v, %v, %d) = %q, want %q", tc.v, tc.top, tc.w, got, tc.want)
		}
	}
}

func TestOverviewFigures(t *testing.T) {
	m := newTestModel(t, nil)
	feedAll(m)
	v := m.View()
	// From the trace stream (last minute: 6 requests, 1 failed).
	mustContain(t, v, "Last minute  6 requests, 1 error", "Requests/s   0.10", "Error rate   16.7%")
	// From the status poll.
	// Some of today's requests had no price: the cost says so, never hides them.
	mustContain(t, v, "In flight    3", "Cost today   $41.27+?", "12,840 requests · 131 errors", "$41.27 + 12 unpriced")
	// Out of rotation, highlighted with the reason, by name when it has one.
	mustContain(t, v, "1 cooling_down", "1 invalid",
		"! anthropic/backup cooling_down until 12:00:40",
		"upstream 529 overloaded",
		"! cred_openai3     invalid until 12:04:00")
}

func TestOverviewAllInRotation(t *testing.T) {
	m := newTestModel(t, nil)
	st := fixtureStatus()
	st.Out = nil
	send(m, statusMsg{Status: st})
	mustContain(t, m.View(), "✓ every enabled credential is in rotation")
}

// Records whose configuration did not load are shown broken with the
// reason: a provider above the credentials, a credential among those out.
func TestOverviewShowsBrokenRecords(t *testing.T) {
	m := newTestModel(t, nil)
	st := fixtureStatus()
	st.Credentials["broken"] = 1
	st.Out = []admin.OutCredential{{ID: "cred_damaged", State: "broken", LastError: "its secret does not unseal (damaged record)"}}
	st.BrokenProviders = []admin.BrokenProvider{{Name: "private", Reason: "ca_file cannot be loaded"}}
	send(m, statusMsg{Status: st})
	v := m.View()
	mustContain(t, v, "1 broken", "! provider private", "ca_file cannot be loaded", "! cred_damaged", "its secret does not unseal")
}

func TestProvidersAndCredentialsShowBroken(t *testing.T) {
	m := providersModel(t)
	ps := fixtureProviders()
	ps[0].Broken = "ca_file cannot be loaded"
	send(m, providersLoadedMsg{Providers: ps})
	v := m.View()
	mustContain(t, screenLine(v, "api.anthropic.com"), "✗ anthropic")
	mustContain(t, v, "broken     ca_file cannot be loaded")

	c := admin.Credential{Broken: "damaged", Health: &scheduler.Status{State: "broken", LastError: "damaged"}}
	c.Enabled = false
	if state, _ := credState(&c, nil); state != "broken" {
		t.Errorf("a broken, disabled credential shows %q", state)
	}
}

func TestOverviewBeforeData(t *testing.T) {
	m := newTestModel(t, nil)
	v := m.View()
	mustContain(t, v, "waiting for the gateway's status")
	if !strings.Contains(screenLine(v, "Latency p50"), "-") {
		t.Error("latency shown without samples")
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtUSD(0), "$0"}, {fmtUSD(0.000023), "$0.00002"}, {fmtUSD(0.00023), "$0.00023"}, {fmtUSD(0.0034), "$0.0034"},
		{fmtUSD(0.000001), "<$0.00001"}, {fmtUSDExact(0.0000189), "$0.0000189"}, {fmtUSDExact(3 * 0.1), "$0.3"}, {fmtUSDExact(2), "$2"}, {fmtUSD(1.23456), "$1.2346"},
		{fmtUSD(41.2706), "$41.27"}, {fmtCost(0, false), "?"}, {fmtCost(0.5, false), "?"},
		{fmtMS(0.183), "0.18ms"}, {fmtMS(5.25), "5.2ms"}, {fmtMS(845), "845ms"}, {fmtMS(1340), "1.34s"}, {fmtMS(30120), "30.1s"},
		{fmtCount(950), "950"}, {fmtCount(12_400), "12.4k"}, {fmtCount(3_100_000), "3.1M"},
		{fmtInt(1234567), "1,234,567"}, {fmtInt(-1000), "-1,000"}, {fmtInt(12), "12"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
