package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/internal/units"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"
)

// Golden screens: the real program (teatest) at 80×24 and at 200×50, with
// the colour profile pinned to plain text and the clock pinned to testNow,
// drawing fixed data served by a loopback stand-in for the admin API. The
// files in testdata/ are what a user sees. After a deliberate change of a
// screen, regenerate them and review the diff:
//
//	go test ./tui -run TestGolden -update

func TestMain(m *testing.M) {
	// bubbles' own defaults draw with lipgloss' default renderer: pin it too.
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

// fixtureAdmin serves the fixture status, keys, credentials, providers
// and usage, and streams the fixture traces, in the admin API's JSON and
// event format.
func fixtureAdmin(t *testing.T) *admin.Client {
	t.Helper()
	mux := http.NewServeMux()
	serve := func(pattern string, v func(r *http.Request) any) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v(r))
		})
	}
	keys, creds := goldenKeys(), fixtureCredentials()
	serve("GET /api/v1/status", func(*http.Request) any { return fixtureStatus() })
	serve("GET /api/v1/keys", func(*http.Request) any { return admin.KeyPage{Keys: keys.Keys} })
	serve("GET /api/v1/credentials", func(*http.Request) any { return admin.CredentialPage{Credentials: creds.Credentials} })
	serve("GET /api/v1/providers", func(*http.Request) any { return goldenProviders() })
	serve("GET /api/v1/usage", func(r *http.Request) any {
		q := r.URL.Query()
		switch {
		case q.Get("by") == "day" && q.Get("key") != "": // the Usage page's chart of one key
			return fixtureKeyDays(q.Get("key"))
		case q.Get("since") == "" || q.Get("since") != q.Get("until"): // the Usage page's period
			return fixtureUsage()
		case q.Get("by") == "credential":
			return rowsOf(creds.Today)
		}
		return rowsOf(keys.Today)
	})
	mux.HandleFunc("GET /api/v1/traces/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": fixture traces\n\n")
		for _, tr := range fixtureTraces() {
			b, _ := json.Marshal(tr)
			fmt.Fprintf(w, "event: trace\ndata: %s\n\n", b)
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return admin.NewClient(srv.URL, "test-token")
}

// goldenKeys are the fixture keys plus one used a little today, partly
// unpriced: its cost ("$0.0049+?") is as wide as a cost gets.
func goldenKeys() keysLoadedMsg {
	msg := fixtureKeys()
	msg.Keys = append(msg.Keys, admin.Key{ID: "key_lab", Name: "lab", Provider: "openai", Preview: "aigw_Lb4…c2Rt",
		Credentials: []string{"cred_openai1"}, Strategy: "round_robin", Status: admin.KeyActive})
	msg.Today["key_lab"] = admin.UsageRow{Group: "key_lab", Requests: 7, PromptTokens: 5200, CompletionTokens: 2000, CostUSD: 0.0049, CostUnknown: 3}
	return msg
}

// goldenProviders are the fixture providers plus one with a long base URL.
func goldenProviders() []admin.Provider {
	return append(fixtureProviders(), admin.Provider{Name: "azure-eastus", Type: admin.TypeOpenAI,
		BaseURL: "https://my-company-openai-eastus.openai.azure.com/openai/deployments/gpt-4o", Timeout: units.Duration(90 * time.Second)})
}

func rowsOf(m map[string]admin.UsageRow) []admin.UsageRow {
	rows := make([]admin.UsageRow, 0, len(m))
	for _, r := range m {
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b admin.UsageRow) int { return strings.Compare(a.Group, b.Group) })
	return rows
}

// goldenSizes are the terminals every screen is drawn in.
var goldenSizes = [][2]int{{80, 24}, {200, 50}}

// eachSize runs f in a subtest per golden size, with the real TUI started
// at that size and every fixture trace arrived; its golden file is
// testdata/<test>/<w>x<h>.golden.
func eachSize(t *testing.T, f func(t *testing.T, tm *teatest.TestModel)) {
	for _, size := range goldenSizes {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			f(t, startProgram(t, size[0], size[1]))
		})
	}
}

// startProgram runs the real TUI under teatest at w×h and waits until
// every fixture trace has arrived.
func startProgram(t *testing.T, w, h int) *teatest.TestModel {
	t.Helper()
	m := New(Options{
		Client: fixtureAdmin(t), Context: t.Context(), Renderer: asciiRenderer(),
		Now: func() time.Time { return testNow }, Location: time.UTC,
	})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	tm.Send(keyPress("2"))
	waitFor(t, tm, "18 shown")
	return tm
}

// waitFor waits until the screen has shown all of wants.
func waitFor(t *testing.T, tm *teatest.TestModel, wants ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, w := range wants {
			if !bytes.Contains(b, []byte(w)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

// finalScreen quits and returns the last screen.
func finalScreen(t *testing.T, tm *teatest.TestModel) []byte {
	t.Helper()
	tm.Send(keyPress("q"))
	return []byte(tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).View())
}

func TestGoldenOverview(t *testing.T) {
	eachSize(t, func(t *testing.T, tm *teatest.TestModel) {
		tm.Send(keyPress("1"))
		waitFor(t, tm, "cred_openai3", "Cost today")
		golden.RequireEqual(t, finalScreen(t, tm))
	})
}

func TestGoldenTraces(t *testing.T) {
	eachSize(t, func(t *testing.T, tm *teatest.TestModel) {
		golden.RequireEqual(t, finalScreen(t, tm))
	})
}

func TestGoldenTraceDetail(t *testing.T) {
	eachSize(t, func(t *testing.T, tm *teatest.TestModel) {
		tm.Send(keyPress("/"))
		tm.Type("status:502")
		tm.Send(keyPress("enter"))
		tm.Send(keyPress("enter"))
		waitFor(t, tm, "Attempts (3)")
		golden.RequireEqual(t, finalScreen(t, tm))
	})
}

func TestGoldenKeys(t *testing.T) {
	eachSize(t, func(t *testing.T, tm *teatest.TestModel) {
		tm.Send(keyPress("3"))
		waitFor(t, tm, "key_lab", "rpm 600")
		golden.RequireEqual(t, finalScreen(t, tm))
	})
}

func TestGoldenCredentials(t *testing.T) {
	eachSize(t, func(t *testing.T, tm *teatest.TestModel) {
		tm.Send(keyPress("4"))
		waitFor(t, tm, "personal-2023", "cache")
		golden.RequireEqual(t, finalScreen(t, tm))
	})
}

func TestGoldenProviders(t *testing.T) {
	eachSize(t, func(t *testing.T, tm *teatest.TestModel) {
		tm.Send(keyPress("5"))
		waitFor(t, tm, "azure-eastus", "anthropic-version")
		golden.RequireEqual(t, finalScreen(t, tm))
	})
}

func TestGoldenUsage(t *testing.T) {
	eachSize(t, func(t *testing.T, tm *teatest.TestModel) {
		tm.Send(keyPress("6"))
		waitFor(t, tm, "Total", "key_lab", "max $3.1000")
		golden.RequireEqual(t, finalScreen(t, tm))
	})
}

func TestGoldenHelp(t *testing.T) {
	eachSize(t, func(t *testing.T, tm *teatest.TestModel) {
		tm.Send(keyPress("?"))
		waitFor(t, tm, "Everywhere")
		golden.RequireEqual(t, finalScreen(t, tm))
	})
}
