package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// tracesPage is the live table of requests, newest first. It keeps the
// last traces in a ring; paused, it shows what it had and counts what
// arrives meanwhile; "/" filters; enter opens a trace with every attempt.
//
// With the cursor on the top row the table follows the newest trace; below
// it, the selected trace stays selected (by id) as new ones arrive above,
// and the status line counts them ("3 new ↑").
type tracesPage struct {
	c     *common
	ring  *traceRing
	table table

	paused bool
	frozen []admin.Trace // the ring as it was when paused, newest first
	held   int           // traces (that the filter shows) arrived while paused

	selID string // the selected trace's id when the cursor is below the top row
	fresh int    // traces that arrived above it since it left the top

	filtering bool // the filter field has the keys
	input     textinput.Model
	filter    traceFilter
	matches   []*admin.Trace // the filtered list (when a filter is set)

	detail *admin.Trace // the open trace, or nil
	vp     viewport.Model
}

func newTracesPage(c *common, capacity int) *tracesPage {
	in := textinput.New()
	in.Prompt = "/ "
	in.Placeholder = "key, model, provider or status (e.g. model:gpt-4o status:5xx)"
	in.PromptStyle = c.styles.Title
	in.PlaceholderStyle = c.styles.FormPlaceholder
	in.Cursor.Style = c.styles.FormCursor
	_ = in.Cursor.SetMode(cursor.CursorStatic)
	p := &tracesPage{c: c, ring: newTraceRing(capacity), input: in}
	p.table = table{
		cols: []column{
			{title: "TIME", min: 8, keep: 3},
			{title: "KEY", min: 6, keep: 2},
			{title: "PROVIDER", short: "PROV", min: 5, keep: 1},
			{title: "MODEL", min: 10, max: 40, keep: 2},
			{title: "ST", min: 3, right: true, keep: 3},
			{title: "LATENCY", short: "LAT", min: 5, right: true},
			{title: "TOKENS", short: "TOK", min: 5, right: true},
			{title: "COST", min: 8, right: true, keep: 2},
			{title: "RETRY", short: "RT", min: 2, right: true},
		},
		empty: noTracesYet,
	}
	p.refresh(-1)
	return p
}

func (p *tracesPage) title() string { return "Traces" }

const noTracesYet = "No traces yet: requests through the proxy appear here as they finish."

func (p *tracesPage) capturing() bool { return p.filtering }

func (p *tracesPage) shortHelp() []key.Binding {
	k := p.c.keys
	switch {
	case p.filtering:
		return []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		}
	case p.detail != nil:
		return []key.Binding{k.Back, k.Up, k.Down}
	}
	return []key.Binding{k.Up, k.Down, k.Open, k.Filter, k.Pause}
}

// base is every trace the page has to show: the frozen ones while paused,
// else the ring.
func (p *tracesPage) base() (int, func(i int) *admin.Trace) {
	if p.paused {
		return len(p.frozen), func(i int) *admin.Trace { return &p.frozen[i] }
	}
	return p.ring.len(), p.ring.at
}

// source is the list the table shows: base, filtered when a filter is set.
func (p *tracesPage) source() (int, func(i int) *admin.Trace) {
	if !p.filter.empty() {
		return len(p.matches), func(i int) *admin.Trace { return p.matches[i] }
	}
	return p.base()
}

// refresh recomputes the filtered list, hands the table its rows and puts
// the cursor back on the selected trace. hint is where that trace is
// likely to be now (its row plus the rows added above it).
func (p *tracesPage) refresh(hint int) {
	if !p.filter.empty() {
		p.matches = p.matches[:0]
		n, at := p.base()
		if p.filter.bad != "" {
			n = 0 // a filter it cannot read shows nothing, and says why
		}
		for i := 0; i < n; i++ {
			if t := at(i); p.filter.match(t) {
				p.matches = append(p.matches, t)
			}
		}
	}
	n, at := p.source()
	p.table.setSource(n, func(i int) ([]string, tone) { return p.row(at(i)) })
	if p.selID == "" {
		return
	}
	was := p.table.cursor
	i := -1
	if hint >= 0 && hint < n && at(hint).RequestID == p.selID {
		i = hint
	} else {
		for j := 0; j < n; j++ {
			if at(j).RequestID == p.selID {
				i = j
				break
			}
		}
	}
	if i < 0 { // gone (out of the ring): stay on the row, select what is there
		p.table.clamp()
		p.noteSelection()
		return
	}
	p.table.cursor = i
	p.table.offset = max(p.table.offset+i-was, 0) // the row stays where it is on screen
}

// noteSelection records the selected trace after the cursor moved: at the
// top the table follows the newest trace and nothing is counted.
func (p *tracesPage) noteSelection() {
	n, at := p.source()
	if p.table.cursor <= 0 || p.table.cursor >= n {
		p.selID, p.fresh = "", 0
		return
	}
	p.selID = at(p.table.cursor).RequestID
}

func (p *tracesPage) row(t *admin.Trace) ([]string, tone) {
	status := strconv.Itoa(t.Status)
	if t.Status == 0 {
		status = "-"
	}
	tn := toneNormal
	switch {
	case failed(t):
		tn = toneBad
	case t.Retries > 0:
		tn = toneWarn
	}
	retries := ""
	if t.Retries > 0 {
		retries = strconv.Itoa(t.Retries)
	}
	return []string{
		p.c.clock(t.Time), orDash(firstOf(t.KeyName, t.KeyID, t.KeyPreview)), orDash(t.Provider), orDash(t.Model), status,
		fmtMS(t.LatencyMS), tokensText(t), fmtCost(t.CostUSD, t.CostKnown), retries,
	}, tn
}

// tokensText is prompt + completion tokens, "-" when the usage is unknown.
func tokensText(t *admin.Trace) string {
	if t.UsageSource == admin.UsageSourceNone && t.PromptTokens == 0 && t.CompletionTokens == 0 {
		return "-"
	}
	return fmtCount(float64(t.PromptTokens + t.CompletionTokens))
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// tableHeight is the table's share of the body (header included).
func (p *tracesPage) tableHeight() int {
	return max(p.c.bodyHeight-2, 2)
}

func (p *tracesPage) update(msg tea.Msg) tea.Cmd {
	k := p.c.keys
	switch msg := msg.(type) {
	case traceMsg:
		shown := 0
		for i := range msg.Traces {
			p.ring.push(msg.Traces[i])
			if p.filter.empty() || p.filter.match(&msg.Traces[i]) {
				shown++
			}
		}
		if p.paused {
			p.held += shown
			return nil
		}
		// Keep the selection on the same trace as new ones arrive on top.
		if p.selID != "" {
			p.fresh += shown
		}
		p.refresh(p.table.cursor + shown)
		return nil

	case tea.WindowSizeMsg:
		p.vp.Width, p.vp.Height = p.c.width, max(p.c.bodyHeight-1, 1)
		p.input.Width = max(p.c.width-4, 10)
		if p.detail != nil {
			p.vp.SetContent(p.detailText(p.detail))
		}
		return nil

	case tea.KeyMsg:
		if p.filtering {
			return p.updateFilter(msg)
		}
		if p.detail != nil {
			switch {
			case key.Matches(msg, k.Back):
				p.detail = nil
				return nil
			}
			var cmd tea.Cmd
			p.vp, cmd = p.vp.Update(msg)
			return cmd
		}
		switch {
		case key.Matches(msg, k.Filter):
			p.filtering = true
			return p.input.Focus()
		case key.Matches(msg, k.Pause):
			p.setPaused(!p.paused)
			return nil
		case key.Matches(msg, k.Back):
			if !p.filter.empty() {
				p.input.SetValue("")
				p.filter = traceFilter{}
				p.refresh(-1)
			}
			return nil
		case key.Matches(msg, k.Open):
			n, at := p.source()
			if n == 0 {
				return nil
			}
			t := *at(p.table.cursor)
			p.detail = &t
			p.vp = viewport.New(p.c.width, max(p.c.bodyHeight-1, 1))
			p.vp.SetContent(p.detailText(&t))
			return nil
		}
		if p.table.update(msg, k, p.tableHeight()) {
			p.noteSelection()
			if p.table.offset == 0 { // the newest rows are in sight
				p.fresh = 0
			}
		}
	}
	return nil
}

// setPaused freezes the table as it is (the ring is copied: it goes on
// filling) or, resuming, shows what arrived meanwhile.
func (p *tracesPage) setPaused(paused bool) {
	hint := -1
	if paused {
		p.frozen = make([]admin.Trace, p.ring.len())
		for i := range p.frozen {
			p.frozen[i] = *p.ring.at(i)
		}
	} else {
		if p.selID != "" {
			p.fresh += p.held
			hint = p.table.cursor + p.held
		}
		p.frozen = nil
	}
	p.paused, p.held = paused, 0
	p.refresh(hint)
}

// updateFilter edits the filter; the table follows each keystroke.
func (p *tracesPage) updateFilter(msg tea.KeyMsg) tea.Cmd {
	switch msg.Type {
	case tea.KeyEnter:
		p.filtering = false
		p.input.Blur()
		return nil
	case tea.KeyEsc:
		p.filtering = false
		p.input.Blur()
		p.input.SetValue("")
	default:
		var cmd tea.Cmd
		p.input, cmd = p.input.Update(msg)
		p.applyFilter()
		return cmd
	}
	p.applyFilter()
	return nil
}

func (p *tracesPage) applyFilter() {
	p.filter = parseTraceFilter(p.input.Value())
	switch {
	case p.filter.bad != "":
		p.table.empty = p.filter.bad
	case !p.filter.empty():
		p.table.empty = "No trace matches " + strconv.Quote(strings.TrimSpace(p.input.Value())) + "."
	default:
		p.table.empty = noTracesYet
	}
	p.table.cursor, p.table.offset = 0, 0
	p.selID, p.fresh = "", 0
	p.refresh(-1)
}

func (p *tracesPage) view() string {
	if p.detail != nil {
		s := p.c.styles
		return p.vp.View() + "\n" + s.Muted.Render(fmt.Sprintf("%3.0f%% · esc back", p.vp.ScrollPercent()*100))
	}
	s := p.c.styles
	n, _ := p.source()
	var status []string
	if p.paused {
		status = append(status, s.Paused.Render(fmt.Sprintf("‖ PAUSED · %d new (p to resume)", p.held)))
	} else {
		status = append(status, feedState(p.c))
		if p.fresh > 0 {
			status = append(status, s.Warn.Render(fmt.Sprintf("%d new ↑ (g: newest)", p.fresh)))
		}
	}
	if !p.filter.empty() {
		status = append(status, s.Warn.Render(fmt.Sprintf("filter %q: %d shown of the last %d kept", p.input.Value(), n, len(p.ring.buf))))
	} else {
		status = append(status, s.Muted.Render(fmt.Sprintf("%d shown (last %d kept)", n, len(p.ring.buf))))
	}
	top := strings.Join(status, s.Muted.Render("  ·  "))
	if p.filtering {
		top = p.input.View()
	}
	return top + "\n\n" + p.table.view(s, p.c.width, p.tableHeight())
}

// detailText is everything about one trace, attempt by attempt. Its values
// are plain text, made safe (kv, line) before they are styled.
func (p *tracesPage) detailText(t *admin.Trace) string {
	s := p.c.styles
	var b strings.Builder
	label := func(k string) string { return s.Label.Render(cell(k, 14, false)) + " " }
	kv := func(k, v string) { b.WriteString(hangValue(label(k), safe(v), s.Plain, p.c.width, 15) + "\n") }
	status := strconv.Itoa(t.Status)
	if t.Status == 0 {
		status = "no answer"
	}
	b.WriteString(s.Title.Render("Trace "+safe(t.RequestID)) + "\n")
	kv("time", t.Time.In(p.c.loc).Format("2006-01-02 15:04:05.000 MST"))
	kv("request", fmt.Sprintf("%s /%s%s", t.Method, t.Provider, t.Path))
	kv("key", fmt.Sprintf("%s %s %s", orDash(t.KeyName), t.KeyID, t.KeyPreview))
	kv("provider", fmt.Sprintf("%s · strategy %s · credential %s", t.Provider, orDash(t.Strategy), orDash(t.CredentialID)))
	stream := ""
	if t.Stream {
		stream = " (stream)"
	}
	kv("model", orDash(t.Model)+stream)
	st := status
	if failed(t) {
		st = s.Bad.Render(status)
	}
	b.WriteString(label("status") + st + " · " + plural(t.Retries, "retry", "retries") + "\n") // aigw's own text
	kv("latency", fmt.Sprintf("%s total · %s to first byte · %s aigw overhead", fmtMS(t.LatencyMS), fmtMS(t.TTFBMS), fmtMS(t.OverheadMS)))
	kv("tokens", fmt.Sprintf("%s prompt · %s completion", fmtInt(t.PromptTokens), fmtInt(t.CompletionTokens)))
	kv("of which", fmt.Sprintf("%s cache write · %s cache read · %s reasoning",
		fmtInt(t.CacheCreationTokens), fmtInt(t.CacheReadTokens), fmtInt(t.ReasoningTokens)))
	cost := fmtUSDExact(t.CostUSD)
	if !t.CostKnown {
		cost = "?"
		cost += " (unknown: no usage read or no price for the model)"
	}
	kv("cost", cost)
	kv("usage from", orDash(t.UsageSource))
	kv("bytes out", fmtInt(t.BytesOut))
	if t.Error != "" {
		b.WriteString(hangValue(label("error"), oneLine(t.Error), s.Bad, p.c.width, 15) + "\n")
	}
	b.WriteString("\n" + s.Title.Render(fmt.Sprintf("Attempts (%d)", len(t.Attempts))) + "\n")
	if len(t.Attempts) == 0 {
		b.WriteString(s.Muted.Render("  none recorded") + "\n")
	}
	for i, a := range t.Attempts {
		st := strconv.Itoa(a.Status)
		if a.Status == 0 {
			st = "no answer"
		}
		head := fmt.Sprintf("  %d. %-17s %-9s %8s  ", i+1, safe(a.CredentialID), st, fmtMS(a.LatencyMS))
		style := s.Plain
		if a.Status == 0 || a.Status >= 400 {
			style = s.Bad
		}
		line := hangValue(style.Render(head), oneLine(a.Error), style, p.c.width, lipgloss.Width(head))
		b.WriteString(line + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// traceFilter is what "/" typed: words that must all match. A word is
// "field:value" (key, model, provider, cred, status, since, until) or a
// bare value that may match key, model, provider or status. Values match
// as a substring, or whole after "=" (model:=gpt-4o). Status values are a
// code (429), a class (5xx), "ok" (2xx) or "err" (4xx, 5xx and no answer);
// since and until are UTC days (YYYY-MM-DD), both included.
// bad says what in the text could not be read ("": all of it could).
type traceFilter struct {
	terms [][2]string
	bad   string
}

func parseTraceFilter(s string) traceFilter {
	var f traceFilter
	for _, w := range strings.Fields(strings.ToLower(s)) {
		field, val, ok := strings.Cut(w, ":")
		switch {
		case !ok:
			field, val = "", w
		case !traceFilterFields[field]:
			f.bad = fmt.Sprintf("Unknown filter %q: use key model provider cred status since until.", safe(field)+":")
		case field == "status" && val != "" && !validStatusFilter(val):
			f.bad = fmt.Sprintf("status:%s is not a status: use a code (429), a class (5xx), ok or err.", safe(val))
		case (field == "since" || field == "until") && val != "" && !validDay(val):
			f.bad = fmt.Sprintf("%s:%s is not a day: use YYYY-MM-DD.", field, safe(val))
		}
		if field == "credential" {
			field = "cred"
		}
		if val != "" || f.bad != "" {
			f.terms = append(f.terms, [2]string{field, val})
		}
	}
	return f
}

// traceFilterFields are the fields a filter word may name.
var traceFilterFields = map[string]bool{
	"key": true, "model": true, "provider": true, "status": true,
	"cred": true, "credential": true, "since": true, "until": true,
}

// validDay is a day as YYYY-MM-DD.
func validDay(v string) bool {
	_, err := time.Parse(time.DateOnly, v)
	return err == nil
}

// validStatusFilter is a code (three digits), a class (4xx) or ok/err.
func validStatusFilter(v string) bool {
	switch v {
	case "ok", "err", "error", "errors", "failed":
		return true
	}
	if len(v) != 3 || v[0] < '1' || v[0] > '5' {
		return false
	}
	if v[1:] == "xx" {
		return true
	}
	return v[1] >= '0' && v[1] <= '9' && v[2] >= '0' && v[2] <= '9'
}

func (f traceFilter) empty() bool { return len(f.terms) == 0 }

func (f traceFilter) match(t *admin.Trace) bool {
	for _, term := range f.terms {
		field, v := term[0], term[1]
		has := func(s string) bool {
			if w, exact := strings.CutPrefix(v, "="); exact {
				return strings.ToLower(s) == w
			}
			return strings.Contains(strings.ToLower(s), v)
		}
		ok := false
		switch field {
		case "key":
			ok = has(t.KeyID) || has(t.KeyName)
		case "model":
			ok = has(t.Model)
		case "provider":
			ok = has(t.Provider)
		case "status":
			ok = statusMatches(t, v)
		case "cred":
			ok = has(t.CredentialID) || slices.ContainsFunc(t.Attempts, func(a admin.Attempt) bool { return has(a.CredentialID) })
		case "since":
			ok = admin.UsageDay(t.Time) >= v
		case "until":
			ok = admin.UsageDay(t.Time) <= v
		default:
			ok = has(t.KeyID) || has(t.KeyName) || has(t.Model) || has(t.Provider) || statusMatches(t, v)
		}
		if !ok {
			return false
		}
	}
	return true
}

func statusMatches(t *admin.Trace, v string) bool {
	switch v {
	case "ok":
		return t.Status >= 200 && t.Status < 300
	case "err", "error", "errors", "failed":
		return failed(t)
	}
	if len(v) == 3 && v[1:] == "xx" && v[0] >= '1' && v[0] <= '5' {
		return t.Status/100 == int(v[0]-'0')
	}
	return strconv.Itoa(t.Status) == v
}
