package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"
)

// Golden screens: the real program (teatest) at 80×24, with the colour
// profile pinned to plain text and the clock pinned to testNow, drawing
// fixed data served by a loopback stand-in for the admin API. The files in
// testdata/ are what a user sees. After a deliberate change of a screen,
// regenerate them and review the diff:
//
//	go test ./tui -run TestGolden -update

func TestMain(m *testing.M) {
	// bubbles' own defaults draw with lipgloss' default renderer: pin it too.
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

// fixtureAdmin serves the fixture status and streams the fixture traces,
// in the admin API's JSON and event format.
func fixtureAdmin(t *testing.T) *admin.Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(fixtureStatus())
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

// startProgram runs the real TUI under teatest at 80×24 and waits until
// every fixture trace has arrived.
func startProgram(t *testing.T) *teatest.TestModel {
	t.Helper()
	m := New(Options{
		Client: fixtureAdmin(t), Context: t.Context(), Renderer: asciiRenderer(),
		Now: func() time.Time { return testNow }, Location: time.UTC,
	})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
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
	tm := startProgram(t)
	tm.Send(keyPress("1"))
	waitFor(t, tm, "cred_openai3", "Cost today")
	golden.RequireEqual(t, finalScreen(t, tm))
}

func TestGoldenTraces(t *testing.T) {
	tm := startProgram(t)
	golden.RequireEqual(t, finalScreen(t, tm))
}

func TestGoldenTraceDetail(t *testing.T) {
	tm := startProgram(t)
	tm.Send(keyPress("/"))
	tm.Type("status:502")
	tm.Send(keyPress("enter"))
	tm.Send(keyPress("enter"))
	waitFor(t, tm, "Attempts (3)")
	golden.RequireEqual(t, finalScreen(t, tm))
}

func TestGoldenHelp(t *testing.T) {
	tm := startProgram(t)
	tm.Send(keyPress("?"))
	waitFor(t, tm, "Everywhere")
	golden.RequireEqual(t, finalScreen(t, tm))
}
