package tui

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/scheduler"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// testNow is the pinned clock of the tests.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// asciiRenderer draws without colours or attributes, so that views compare
// as plain text.
func asciiRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return r
}

// newTestModel is the real root model at 80×24 with the clock pinned,
// talking to client (nil: an address where nothing listens; no test
// using it runs a command that would call it).
func newTestModel(t *testing.T, client *admin.Client) *Model {
	t.Helper()
	if client == nil {
		client = admin.NewClient("http://127.0.0.1:9", "test-token")
	}
	m := New(Options{
		Client: client, Context: t.Context(), Renderer: asciiRenderer(),
		Now: func() time.Time { return testNow }, Location: time.UTC,
	})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	return m
}

// keyPress is the message Bubble Tea sends for a key named as in the key
// map ("enter", "shift+tab", "q", …).
func keyPress(k string) tea.KeyMsg {
	types := map[string]tea.KeyType{
		"enter": tea.KeyEnter, "esc": tea.KeyEsc, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab,
		"up": tea.KeyUp, "down": tea.KeyDown, "left": tea.KeyLeft, "right": tea.KeyRight,
		"pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown, "ctrl+c": tea.KeyCtrlC, "backspace": tea.KeyBackspace,
	}
	if t, ok := types[k]; ok {
		return tea.KeyMsg{Type: t}
	}
	if k == " " {
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// press sends keys one by one and returns the last command.
func press(m tea.Model, keys ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range keys {
		_, cmd = m.Update(keyPress(k))
	}
	return cmd
}

// typeText types s a character at a time, as a person would.
func typeText(m tea.Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

// send delivers messages as the runtime would.
func send(m tea.Model, msgs ...tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	for _, msg := range msgs {
		_, cmd = m.Update(msg)
	}
	return cmd
}

func mustContain(t *testing.T, view string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(view, w) {
			t.Errorf("the screen does not show %q:\n%s", w, view)
		}
	}
}

// mustSay is mustContain for sentences that may wrap: it compares the
// screen's words, whatever the line breaks.
func mustSay(t *testing.T, view string, wants ...string) {
	t.Helper()
	words := strings.Join(strings.Fields(view), " ")
	for _, w := range wants {
		if !strings.Contains(words, w) {
			t.Errorf("the screen does not say %q:\n%s", w, view)
		}
	}
}

func mustNotContain(t *testing.T, view string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(view, w) {
			t.Errorf("the screen shows %q:\n%s", w, view)
		}
	}
}

// screenLine returns the first line of view that contains s.
func screenLine(view, s string) string {
	for _, l := range strings.Split(view, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// fixtureTraces are deterministic traces ending just before testNow,
// oldest first: steady traffic with a few failures, retries, a streamed
// request and one whose cost is unknown.
func fixtureTraces() []admin.Trace {
	type row struct {
		ago      time.Duration
		key      string
		provider string
		model    string
		status   int
		latency  float64
		prompt   int64
		compl    int64
		cost     float64
		known    bool
		retries  int
		err      string
	}
	rows := []row{
		{9*time.Minute + 40*time.Second, "billing", "openai", "gpt-4o-mini", 200, 640, 812, 204, 0.000244, true, 0, ""},
		{8*time.Minute + 55*time.Second, "billing", "openai", "gpt-4o-mini", 200, 590, 790, 180, 0.000226, true, 0, ""},
		{8*time.Minute + 10*time.Second, "support-bot", "anthropic", "claude-sonnet-4-5", 200, 2310, 2400, 610, 0.016350, true, 0, ""},
		{7*time.Minute + 30*time.Second, "support-bot", "anthropic", "claude-sonnet-4-5", 200, 1980, 2210, 480, 0.013830, true, 0, ""},
		{6*time.Minute + 45*time.Second, "billing", "openai", "gpt-4o-mini", 429, 35, 0, 0, 0, false, 2, "upstream 429 on every credential"},
		{6*time.Minute + 5*time.Second, "search", "gemini", "gemini-2.5-flash", 200, 880, 1500, 300, 0.001200, true, 0, ""},
		{5*time.Minute + 20*time.Second, "search", "gemini", "gemini-2.5-flash", 200, 910, 1480, 320, 0.001244, true, 0, ""},
		{4*time.Minute + 40*time.Second, "billing", "openai", "gpt-4o", 200, 1420, 1200, 350, 0.006500, true, 1, ""},
		{3*time.Minute + 50*time.Second, "support-bot", "anthropic", "claude-sonnet-4-5", 502, 30120, 0, 0, 0, false, 2, "upstream: connection reset by peer"},
		{3*time.Minute + 5*time.Second, "search", "gemini", "gemini-2.5-flash", 200, 760, 1320, 290, 0.001121, true, 0, ""},
		{2*time.Minute + 30*time.Second, "billing", "openai", "gpt-4o-mini", 200, 530, 700, 150, 0.000195, true, 0, ""},
		{1*time.Minute + 50*time.Second, "lab", "local", "llama-3.1-70b", 200, 3100, 900, 400, 0, false, 0, ""},
		{55 * time.Second, "support-bot", "anthropic", "claude-sonnet-4-5", 200, 2050, 2300, 520, 0.014700, true, 0, ""},
		{42 * time.Second, "billing", "openai", "gpt-4o-mini", 200, 610, 760, 190, 0.000228, true, 0, ""},
		{30 * time.Second, "search", "gemini", "gemini-2.5-flash", 200, 820, 1410, 305, 0.001186, true, 0, ""},
		{21 * time.Second, "billing", "openai", "gpt-4o-mini", 500, 120, 0, 0, 0, false, 2, "upstream 500 Internal Server Error"},
		{12 * time.Second, "support-bot", "anthropic", "claude-sonnet-4-5", 200, 1870, 2050, 450, 0.012900, true, 0, ""},
		{5 * time.Second, "search", "gemini", "gemini-2.5-pro", 200, 1340, 1700, 420, 0.006325, true, 0, ""},
	}
	out := make([]admin.Trace, len(rows))
	for i, r := range rows {
		id := "req" + string(rune('a'+i)) + "0000000000"
		t := admin.Trace{
			RequestID: id, Time: testNow.Add(-r.ago).Add(-time.Duration(r.latency * float64(time.Millisecond))),
			KeyID: "key_" + r.key, KeyName: r.key, KeyPreview: "aigw_abc…wxyz", Provider: r.provider,
			CredentialID: "cred_" + r.provider + "1", Strategy: "round_robin", Method: "POST", Path: "/v1/chat/completions",
			Model: r.model, Status: r.status, LatencyMS: r.latency, TTFBMS: r.latency / 3, OverheadMS: 0.18 + float64(i%5)*0.04,
			Retries: r.retries, PromptTokens: r.prompt, CompletionTokens: r.compl, CostUSD: r.cost, CostKnown: r.known,
			UsageSource: "response", BytesOut: 1800, Error: r.err,
		}
		if r.status >= 400 {
			t.UsageSource = admin.UsageSourceNone
		}
		for a := 0; a <= r.retries; a++ {
			st := r.status
			if a < r.retries && r.status < 400 {
				st = 503
			}
			at := admin.Attempt{CredentialID: "cred_" + r.provider + string(rune('1'+a)), Status: st, LatencyMS: r.latency / float64(r.retries+1)}
			if st >= 400 {
				at.Error = "upstream answered " + statusText(st)
			}
			t.Attempts = append(t.Attempts, at)
		}
		out[i] = t
	}
	return out
}

func statusText(status int) string {
	switch status {
	case 429:
		return "429 Too Many Requests"
	case 500:
		return "500 Internal Server Error"
	case 502:
		return "502 Bad Gateway"
	case 503:
		return "503 Service Unavailable"
	}
	return "an error"
}

// fixtureStatus is a status with two credentials out of rotation.
func fixtureStatus() admin.Status {
	return admin.Status{
		Version: "test", StartedAt: testNow.Add(-3 * time.Hour), ProxyAddr: "127.0.0.1:8080", InFlight: 3,
		Credentials: map[string]int{"healthy": 4, "cooling_down": 1, "invalid": 1, "disabled": 1},
		Today:       admin.StatusToday{Day: "2025-06-01", Requests: 12840, Errors: 131, Tokens: 9_870_000, CostUSD: 41.2706, CostUnknown: 12},
		Out: []admin.OutCredential{
			{ID: "cred_anthropic2", Provider: "anthropic", Name: "backup", State: "cooling_down", Until: testNow.Add(40 * time.Second), LastError: "upstream 529 overloaded"},
			{ID: "cred_openai3", State: "invalid", Until: testNow.Add(4 * time.Minute), LastError: "upstream 401: invalid api key"},
		},
	}
}

func fixtureProviders() []admin.Provider {
	return []admin.Provider{
		{Name: "anthropic", Type: admin.TypeAnthropic, BaseURL: "https://api.anthropic.com", AuthHeaders: []string{"x-api-key: {key}"}, Headers: []string{"anthropic-version: 2023-06-01"}},
		{Name: "openai", Type: admin.TypeOpenAI, BaseURL: "https://api.openai.com", AuthHeaders: []string{"Authorization: Bearer {key}"}},
	}
}

func fixtureCredentials() credentialsLoadedMsg {
	health := func(state string, until time.Time, req, fail uint64, lastErr string) *scheduler.Status {
		return &scheduler.Status{State: state, Until: until, RequestsToday: req, FailuresToday: fail, Requests: req * 3, Failures: fail * 2,
			SuccessRate: 0.97, LatencyMS: 840, LastError: lastErr}
	}
	cred := func(id, provider, name string, enabled bool, weight int, h *scheduler.Status) admin.Credential {
		return admin.Credential{ID: id, Provider: provider, Name: name, Kind: admin.KindAPIKey,
			Preview: "sk-…" + id[len(id)-4:], Weight: weight, Enabled: enabled, Health: h}
	}
	return credentialsLoadedMsg{
		Providers: fixtureProviders(),
		Today: map[string]admin.UsageRow{
			"cred_anthropic1": {Group: "cred_anthropic1", Requests: 1204, PromptTokens: 3_100_000, CacheReadTokens: 2_480_000, CacheReadShare: 0.8},
		},
		Credentials: []admin.Credential{
			cred("cred_anthropic1", "anthropic", "team-a", true, 3, health("healthy", time.Time{}, 1204, 3, "")),
			cred("cred_anthropic2", "anthropic", "team-b", true, 1, health("cooling_down", testNow.Add(40*time.Second), 388, 41, "upstream 529 overloaded")),
			cred("cred_openai1", "openai", "prod", true, 1, health("healthy", time.Time{}, 9120, 12, "")),
			cred("cred_openai3", "openai", "personal-2023", true, 1, health("invalid", testNow.Add(4*time.Minute), 17, 17, "upstream 401: invalid api key")),
			cred("cred_openai4", "openai", "spare", false, 1, health("disabled", time.Time{}, 0, 0, "")),
		},
	}
}

func fixtureKeys() keysLoadedMsg {
	retries := 2
	return keysLoadedMsg{
		Keys: []admin.Key{
			{ID: "key_billing", Name: "billing", Provider: "openai", Preview: "aigw_Q2x…9fK0", Credentials: []string{"cred_openai1", "cred_openai3"},
				Strategy: "weighted", Limits: admin.Limits{RPM: 600, DailyTokens: 5_000_000, DailyCost: 25}, MaxRetries: &retries, Status: admin.KeyActive},
			{ID: "key_support", Name: "support-bot", Provider: "anthropic", Preview: "aigw_Zt1…a8Qe", Credentials: []string{"cred_anthropic1", "cred_anthropic2"},
				Strategy: "health_best", Status: admin.KeyActive},
			{ID: "key_old", Name: "", Provider: "openai", Preview: "aigw_u7P…0aaQ", Credentials: []string{"cred_openai1"}, Strategy: "round_robin", Status: admin.KeyRevoked},
		},
		Today: map[string]admin.UsageRow{
			"key_billing": {Group: "key_billing", Requests: 4210, Errors: 38, PromptTokens: 2_900_000, CompletionTokens: 610_000, CostUSD: 3.4187,
				CacheReadTokens: 1_740_000, CacheReadShare: 0.6},
			"key_support": {Group: "key_support", Requests: 812, Errors: 9, PromptTokens: 1_800_000, CompletionTokens: 390_000, CostUSD: 11.02, CostUnknown: 4},
		},
		Credentials: fixtureCredentials().Credentials,
		Providers:   fixtureProviders(),
	}
}

// fixtureKeyDays is a key's cost per day over the last 7 days to testNow
// (key_support's adds up to its $11.02 in fixtureUsage; a day without use
// is not listed, as the roll-ups leave it out).
func fixtureKeyDays(key string) []admin.UsageRow {
	if key != "key_support" {
		return []admin.UsageRow{{Group: "2025-06-01", Requests: 1, CostUSD: 0.01}}
	}
	var out []admin.UsageRow
	for i, usd := range []float64{1.2, 0.8, 2.5, 0, 1.9, 3.1, 1.52} {
		if usd > 0 {
			out = append(out, admin.UsageRow{Group: admin.UsageDay(testNow.AddDate(0, 0, i-6)), Requests: 100, CostUSD: usd})
		}
	}
	return out
}

func fixtureUsage() []admin.UsageRow {
	return []admin.UsageRow{
		{Group: "key_billing", Requests: 4210, Errors: 38, PromptTokens: 2_900_000, CompletionTokens: 610_000, CostUSD: 3.4187,
			CacheReadTokens: 1_740_000, CacheReadShare: 0.6},
		{Group: "key_support", Requests: 812, Errors: 90, PromptTokens: 1_800_000, CompletionTokens: 390_000, CostUSD: 11.02, CostUnknown: 4},
		{Group: "key_lab", Requests: 77, PromptTokens: 52_000, CompletionTokens: 20_000, CostUnknown: 77},
	}
}
