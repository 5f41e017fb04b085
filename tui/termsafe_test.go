package tui

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// What a key holder or an upstream can put in a trace: a model that would
// retitle the window (OSC 0 … BEL) and clear the screen (CSI 2J), a path
// with the same, an 8-bit CSI and a bidi override.
const (
	hostileModel = "evil\x1b]0;pwned\x07\x1b[2J"
	hostilePath  = "/v1/chat/completions\x1b[2J"
	hostileError = "upstream said \x1b]52;c;cHduZWQ=\x07 \u009b2J"
	hostileName  = "team\u009b2J\u202eevil" // names may hold C1 and bidi controls (C0 are refused)
)

// rawSequences are what must never reach the terminal from the data.
var rawSequences = []string{"\x1b]", "\x07", "\u009b", "\x1b[2J", "\u202e"}

func hostileTrace() admin.Trace {
	tr := fixtureTraces()[0]
	tr.Time = testNow.Add(-time.Second)
	tr.Model, tr.Path, tr.Error, tr.KeyName = hostileModel, hostilePath, hostileError, hostileName
	tr.Status = 502
	tr.Attempts = []admin.Attempt{{CredentialID: "cred_openai1", Status: 502, Error: hostileError}}
	return tr
}

// noRawSequences fails when view holds one of the hostile sequences as it
// is; with the ASCII profile the TUI itself writes no escape either.
func noRawSequences(t *testing.T, what, view string, ascii bool) {
	t.Helper()
	for _, seq := range rawSequences {
		if strings.Contains(view, seq) {
			t.Errorf("%s shows a raw %q:\n%q", what, seq, view)
		}
	}
	if ascii && strings.Contains(view, "\x1b") {
		t.Errorf("%s holds an escape sequence with the ASCII profile:\n%q", what, view)
	}
}

func TestTracesPageEscapesHostileText(t *testing.T) {
	m := newTestModel(t, nil)
	send(m, traceMsg{Traces: []admin.Trace{hostileTrace()}})
	press(m, "2")
	v := m.View()
	noRawSequences(t, "the traces table", v, true)
	mustContain(t, v, `evil\x1b]0;pwned`, `team\u0`) // cut to the columns' width

	press(m, "enter")
	v = m.View()
	noRawSequences(t, "the trace's detail", v, true)
	mustContain(t, v, `evil\x1b]0;pwned\x07\x1b[2J`, `/openai/v1/chat/completions\x1b[2J`,
		`upstream said \x1b]52;c;cHduZWQ=\x07 \u009b2J`, `team\u009b2J\u202eevil`)
}

// With colours on, the TUI writes its own SGR sequences; the data's
// sequences still never pass.
func TestTracesPageEscapesHostileTextInColour(t *testing.T) {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.TrueColor)
	m := New(Options{Client: admin.NewClient("http://127.0.0.1:9", "test-token"), Context: t.Context(), Renderer: r,
		Now: func() time.Time { return testNow }, Location: time.UTC})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	send(m, traceMsg{Traces: []admin.Trace{hostileTrace()}})
	press(m, "2")
	noRawSequences(t, "the traces table in colour", m.View(), false)
	press(m, "enter")
	v := m.View()
	noRawSequences(t, "the trace's detail in colour", v, false)
	if !strings.Contains(v, "\x1b[") {
		t.Errorf("the colour profile draws no SGR: the test does not test colour")
	}
	mustContain(t, v, `pwned\x07\x1b[2J`)
}

// Every text field of a trace, whatever it is, reaches the screen escaped.
func TestTraceDetailEscapesEveryTextField(t *testing.T) {
	tr := hostileTrace()
	fillStrings(reflect.ValueOf(&tr).Elem(), hostileModel)
	m := newTestModel(t, nil)
	send(m, traceMsg{Traces: []admin.Trace{tr}})
	press(m, "2")
	noRawSequences(t, "the traces table", m.View(), true)
	press(m, "enter")
	for range 5 { // every line of the detail, scrolling down
		noRawSequences(t, "the trace's detail", m.View(), true)
		press(m, "pgdown")
	}
}

// fillStrings sets every string in v (structs, slices, pointers) to s.
func fillStrings(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(s)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillStrings(v.Field(i), s)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			fillStrings(v.Index(i), s)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			fillStrings(v.Elem(), s)
		}
	}
}

func TestUsagePageEscapesHostileGroups(t *testing.T) {
	m := newTestModel(t, nil)
	press(m, "6", "b") // by model
	send(m, usageLoadedMsg{By: "model", Period: 1, Rows: []admin.UsageRow{{Group: hostileModel, Requests: 3, CostUSD: 0.5}}})
	v := m.View()
	noRawSequences(t, "the usage page", v, true)
	mustContain(t, v, `evil\x1b]0;pwned\x07\x1b`, "█")

	// An error loading the usage quotes what the server said.
	m = newTestModel(t, nil)
	press(m, "6")
	send(m, usageLoadedMsg{By: "key", Period: 1, Err: errors.New(hostileError)})
	v = m.View()
	noRawSequences(t, "the usage error banner", v, true)
	mustSay(t, v, `cHduZWQ=\x07`)
}

func TestOverviewEscapesCredentialReasons(t *testing.T) {
	m := newTestModel(t, nil)
	st := fixtureStatus()
	st.Out = []admin.OutCredential{{ID: "cred_x", Provider: "openai", Name: hostileName, State: "invalid", LastError: hostileError}}
	send(m, statusMsg{Status: st})
	v := m.View()
	noRawSequences(t, "the overview", v, true)
	mustContain(t, v, `openai/team\u009b2J\u202eevil`, `upstream said \x1`) // cut to the width
}

func TestManagementPagesEscapeNamesAndErrors(t *testing.T) {
	// Keys: the table and the selected key's details.
	m := newTestModel(t, nil)
	press(m, "3")
	keys := fixtureKeys()
	keys.Keys[0].Name = hostileName
	send(m, statusMsg{Status: fixtureStatus()}, keys)
	v := m.View()
	noRawSequences(t, "the keys page", v, true)
	mustContain(t, v, `team\u009b2J\u202eevil (key_billing)`)
	press(m, "d") // revoke: the dialog names the key
	noRawSequences(t, "the revoke dialog", m.View(), true)
	mustSay(t, m.View(), `team\u009b2J\u202eevil`)

	// Credentials: the table, the last error in the details, a save that failed.
	m = newTestModel(t, nil)
	press(m, "4")
	creds := fixtureCredentials()
	creds.Credentials[0].Name = hostileName
	creds.Credentials[0].Health.LastError = hostileError
	send(m, creds)
	v = m.View()
	noRawSequences(t, "the credentials page", v, true)
	mustContain(t, v, `team\u009b2J\u202eevil`, `upstream said \x1b]52;c;`)
	send(m, credentialSavedMsg{Verb: "updated", Err: errors.New(hostileError)})
	noRawSequences(t, "the credentials page's error banner", m.View(), true)
	press(m, "e") // the edit form: its title names the credential, a failed save quotes the server
	send(m, credentialSavedMsg{Verb: "updated", Err: errors.New(hostileError)})
	v = m.View()
	noRawSequences(t, "the credential form", v, true)
	mustContain(t, v, `Edit credential team\u009b2J\u202eevil`, `upstream said \x1b]52;c;`)

	// Providers: the base URL and headers in the details.
	m = newTestModel(t, nil)
	press(m, "5")
	provs := fixtureProviders()
	provs[0].Headers = []string{"x-note: \u009b2J\u202e"}
	send(m, providersLoadedMsg{Providers: provs})
	v = m.View()
	noRawSequences(t, "the providers page", v, true)
	mustContain(t, v, `x-note: \u009b2J\u202e`)
}

// Text typed or pasted into a list filter is shown escaped: in the filter
// line and in "No key matches …".
func TestListFilterEscapesWhatIsTyped(t *testing.T) {
	m := keysModel(t)
	press(m, "/")
	send(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(hostileModel), Paste: true})
	press(m, "enter")
	v := m.View()
	mustContain(t, v, "No key matches `evil")
	noRawSequences(t, "the Keys filter", v, true)
}
