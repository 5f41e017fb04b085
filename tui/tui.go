package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
)

// Options configure the TUI. Only Client is required.
type Options struct {
	Client *admin.Client
	// Context ends the TUI's background work (the live stream, requests in
	// flight). Default: context.Background(); the TUI also stops it on quit.
	Context context.Context
	// Renderer draws the styles and knows the colour profile. Default: one
	// for Output (or stdout), which honours NO_COLOR and TERM.
	Renderer *lipgloss.Renderer
	// NoColor draws without colours whatever the terminal can do.
	NoColor bool
	// Now is the clock (tests pin it). Default: time.Now.
	Now func() time.Time
	// Location is where times are shown. Default: time.Local.
	Location *time.Location
	// PollInterval is how often the status is polled, and how often an
	// unreachable gateway is tried again. Default: 2s.
	PollInterval time.Duration
	// TraceBuffer is how many traces the Traces page keeps. Default: 1000.
	TraceBuffer int
	// StatusFor is how long a status message ("✓ Key … created.") stays.
	// Default: 5s.
	StatusFor time.Duration

	// Run only: the terminal. Default: stdin and stdout.
	Input  io.Reader
	Output io.Writer
}

// page is one whole-screen page under a tab.
type page interface {
	title() string
	// update handles a message: key presses when the page is active,
	// everything else always.
	update(msg tea.Msg) tea.Cmd
	// view draws the page in common.width × common.bodyHeight.
	view() string
	// capturing reports that a field or a dialog takes every key, so that
	// q, the number keys and tab go to it.
	capturing() bool
	// shortHelp is the footer's bindings for the page's current state.
	shortHelp() []key.Binding
}

// Model is the root model: tab bar, connection banner, help, status poll
// and live stream; it routes messages to the pages.
type Model struct {
	c      *common
	cancel context.CancelFunc
	pages  []page
	active int

	help     help.Model
	showHelp bool

	pollEvery time.Duration
	offline   error     // the last status poll failed with this
	offSince  time.Time // when it started failing

	back *drillReturn // where esc on the Traces page goes after a drill-down

	feed   *liveFeed
	stream streamState
	retry  backoff
	seen   *idSet

	statusFor time.Duration
	fading    map[int]uint64 // page → the status message whose timer runs

	alerts alertState // the banner and the Alerts view (alerts.go)
}

// New makes the root model.
func New(opts Options) *Model {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	r := opts.Renderer
	if r == nil {
		out := opts.Output
		if out == nil {
			r = lipgloss.DefaultRenderer()
		} else {
			r = lipgloss.NewRenderer(out)
		}
	}
	if opts.NoColor {
		r.SetColorProfile(termenv.Ascii)
	}
	c := &common{
		ctx: ctx, client: opts.Client, styles: NewStyles(r), keys: DefaultKeyMap(),
		now: opts.Now, loc: opts.Location, out: opts.Output, width: 80, height: 24,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.loc == nil {
		c.loc = time.Local
	}
	buf := opts.TraceBuffer
	if buf <= 0 {
		buf = 1000
	}
	m := &Model{
		c: c, cancel: cancel, pollEvery: opts.PollInterval,
		feed:  newLiveFeed(min(buf, 500)),
		retry: backoff{min: 500 * time.Millisecond, max: 15 * time.Second},
		seen:  newIDSet(2 * buf),
		help:  help.New(),

		statusFor: opts.StatusFor, fading: make(map[int]uint64),
	}
	if m.statusFor <= 0 {
		m.statusFor = defaultStatusFor
	}
	if m.pollEvery <= 0 {
		m.pollEvery = 2 * time.Second
	}
	m.help.Styles = c.styles.Help
	m.pages = []page{
		newOverviewPage(c),
		newTracesPage(c, buf),
		newKeysPage(c),
		newCredentialsPage(c),
		newProvidersPage(c),
		newUsagePage(c),
	}
	m.layout()
	return m
}

// Run shows the TUI full-screen until the user quits or ctx ends.
func Run(ctx context.Context, opts Options) error {
	if opts.Client == nil {
		return errors.New("tui: no admin client")
	}
	opts.Context = ctx
	opts.Output = lockOutput(opts.Output) // shared with the clipboard's escape sequences
	popts := []tea.ProgramOption{tea.WithOutput(opts.Output)}
	if opts.Input != nil {
		popts = append(popts, tea.WithInput(opts.Input))
	}
	m := New(opts)
	defer m.cancel()
	p := tea.NewProgram(m, append(popts, tea.WithAltScreen(), tea.WithContext(ctx))...)
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // interrupted: a normal way out
	}
	return err
}

// streamState is the live trace stream's state, shown in the tab bar.
type streamState uint8

const (
	streamConnecting streamState = iota // opening the stream
	streamLive                          // open: new traces arrive as they happen
	streamRetrying                      // broken: waiting to reconnect
)

// Init starts the status poll and the live stream.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(pollStatus(m.c), pollAlerts(m.c), m.feed.connect(m.c), m.feed.next(m.c.ctx), m.pages[m.active].update(pageShownMsg{}))
}

func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.route(msg)
	m.layout()
	return m, tea.Batch(cmd, m.fades())
}

func (m *Model) route(msg tea.Msg) tea.Cmd {
	k := m.c.keys
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.width, m.c.height = msg.Width, msg.Height
		m.layout()
		return m.broadcast(msg)

	case tea.KeyMsg:
		if len(msg.Runes) > 1 && msg.Type == tea.KeyRunes && !msg.Paste && !m.capturing() {
			return m.eachRune(msg)
		}
		if key.Matches(msg, k.ForceQuit) {
			return m.quit()
		}
		if cmd, ok := m.alerts.update(k, msg); ok {
			return cmd
		}
		if m.showHelp {
			switch {
			case key.Matches(msg, k.Quit):
				return m.quit()
			case key.Matches(msg, k.Help), key.Matches(msg, k.Back):
				m.showHelp = false
			}
			return nil
		}
		p := m.pages[m.active]
		if !p.capturing() {
			switch {
			case key.Matches(msg, k.Quit):
				return m.quit()
			case key.Matches(msg, k.Help):
				m.showHelp = true
				return nil
			case key.Matches(msg, k.Alerts):
				m.alerts.open = true
				m.alerts.markSeen()
				return pollAlerts(m.c)
			case key.Matches(msg, k.NextPage):
				return m.show(m.active + 1)
			case key.Matches(msg, k.PrevPage):
				return m.show(m.active - 1)
			case key.Matches(msg, k.Pages):
				if i := indexOf(pageKeys, msg.String()); i >= 0 {
					return m.show(i)
				}
				return nil
			}
			if cmd, ok := m.drillBack(msg); ok {
				return cmd
			}
		}
		return p.update(msg)

	case pollMsg:
		return pollStatus(m.c)

	case statusMsg:
		var cmds []tea.Cmd
		if msg.Err != nil {
			if m.offline == nil {
				m.offSince = m.c.now()
			}
			m.offline = msg.Err
		} else if m.offline != nil {
			m.offline = nil
			cmds = append(cmds, m.broadcast(reconnectedMsg{}))
		}
		if msg.Err == nil {
			cmds = append(cmds, pollAlerts(m.c))
		}
		cmds = append(cmds, m.broadcast(msg), m.pages[m.active].update(activeTickMsg{}), pollAfter(m.pollEvery))
		return tea.Batch(cmds...)

	case streamOpenMsg:
		m.stream = streamLive
		m.retry.reset()
		return m.feed.next(m.c.ctx)

	case traceMsg:
		m.stream = streamLive
		m.retry.reset()
		next := m.feed.next(m.c.ctx)
		fresh := msg.Traces[:0:0]
		for _, t := range msg.Traces {
			if m.seen.add(t.RequestID) {
				fresh = append(fresh, t)
			}
		}
		if len(fresh) == 0 {
			return next
		}
		return tea.Batch(next, m.broadcast(traceMsg{Traces: fresh}))

	case streamEndedMsg:
		next := m.feed.next(m.c.ctx)
		if m.c.ctx.Err() != nil {
			return nil
		}
		m.stream = streamRetrying
		wait := m.retry.next()
		return tea.Batch(next, tea.Tick(wait, func(time.Time) tea.Msg { return streamRetryMsg{} }))

	case streamRetryMsg:
		m.stream = streamConnecting
		return m.feed.connect(m.c)

	case alertsMsg:
		cmd, _ := m.alerts.update(k, msg)
		return cmd
	case flashFadeMsg:
		m.fade(msg)
		return nil
	case drillMsg:
		return m.drillDown(msg)
	}
	return m.broadcast(msg)
}

// capturing reports whether a text field or form has the keys.
func (m *Model) capturing() bool {
	return !m.showHelp && m.pages[m.active].capturing()
}

// eachRune routes the runes of one key message (keys typed faster than
// they are read, a held key over SSH) one at a time, as if they had come
// one by one. Once a key opens a text field, it gets the rest as typed.
func (m *Model) eachRune(msg tea.KeyMsg) tea.Cmd {
	var cmds []tea.Cmd
	for i, r := range msg.Runes {
		if m.c.ctx.Err() != nil { // quit
			break
		}
		one := msg
		one.Runes = []rune{r}
		if m.capturing() {
			one.Runes = msg.Runes[i:]
		}
		cmds = append(cmds, m.route(one))
		m.layout()
		if len(one.Runes) > 1 {
			break
		}
	}
	return tea.Batch(cmds...)
}

// show makes page i (wrapping around) the active one.
func (m *Model) show(i int) tea.Cmd {
	if next := (i + len(m.pages)) % len(m.pages); next != m.active {
		m.leave(m.active)
	}
	m.active = (i + len(m.pages)) % len(m.pages)
	m.back = nil
	m.layout()
	return m.pages[m.active].update(pageShownMsg{})
}

func (m *Model) quit() tea.Cmd {
	m.cancel()
	return tea.Quit
}

// broadcast gives msg to every page.
func (m *Model) broadcast(msg tea.Msg) tea.Cmd {
	cmds := make([]tea.Cmd, 0, len(m.pages))
	for _, p := range m.pages {
		cmds = append(cmds, p.update(msg))
	}
	return tea.Batch(cmds...)
}

// layout works out the page's height from the header and footer.
func (m *Model) layout() {
	m.c.offline, m.c.stream = m.offline != nil, m.stream
	m.help.Width = m.c.width
	m.c.bodyHeight = max(m.c.height-lipgloss.Height(m.header())-1, 1)
}

func (m *Model) header() string {
	s := m.c.styles
	titles := make([]string, len(m.pages))
	for i, p := range m.pages {
		titles[i] = p.title()
	}
	var right string
	switch {
	case m.offline != nil:
		right = s.Offline.Render("○ offline")
	case m.stream == streamRetrying:
		right = s.Offline.Render("◌ retrying")
	case m.stream == streamConnecting:
		right = s.Offline.Render("◌ connecting")
	default:
		right = s.Live.Render("● live")
	}
	bar := tabBar(s, titles, m.active, m.c.width, right)
	if m.offline != nil {
		return bar + "\n" + m.offlineBanner()
	}
	bar += "\n" + s.Rule.Render(strings.Repeat("─", m.c.width))
	if b := m.alerts.banner(m.c); b != "" && !m.alerts.open {
		bar += "\n" + b
	}
	return bar
}

// offlineBanner says why the gateway cannot be used and that the TUI keeps
// trying.
func (m *Model) offlineBanner() string {
	every := m.pollEvery.String()
	var text string
	var ae *admin.APIError
	switch {
	case errors.Is(m.offline, admin.ErrUnreachable):
		text = fmt.Sprintf("Cannot reach the aigw admin API at %s since %s. Is `aigw serve` running? (--admin or AIGW_ADMIN_URL) Retrying every %s…",
			m.c.client.BaseURL(), m.c.clock(m.offSince), every)
	case errors.As(m.offline, &ae) && (ae.Status == 401 || ae.Status == 403):
		text = fmt.Sprintf("The admin API refused the token: %s. Give --token or AIGW_ADMIN_TOKEN. Retrying every %s…", oneLine(ae.Message), every)
	default:
		text = fmt.Sprintf("The gateway's status is unavailable: %s. Retrying every %s…", errText(m.offline), every)
	}
	return banner{kind: bannerErr, text: text}.view(m.c.styles, m.c.width, 3)
}

func (m *Model) View() string {
	body := ""
	if m.showHelp {
		body = m.helpView()
	} else if m.alerts.open {
		body = m.alerts.view(m.c)
	} else {
		body = m.pages[m.active].view()
	}
	return m.header() + "\n" + fitLines(body, m.c.width, m.c.bodyHeight) + "\n" + m.footer()
}

// footer is the short help of the page's state plus the global keys.
func (m *Model) footer() string {
	k := m.c.keys
	var b []key.Binding
	if m.showHelp {
		b = []key.Binding{key.NewBinding(key.WithKeys("?"), key.WithHelp("?/esc", "close help")), k.Quit}
	} else if m.alerts.open {
		b = []key.Binding{key.NewBinding(key.WithKeys("!"), key.WithHelp("!/esc", "close alerts")), k.Quit}
	} else {
		p := m.pages[m.active]
		b = m.drillHelp(p.shortHelp())
		if !p.capturing() {
			b = append(b, k.Help, k.Quit)
		}
	}
	return ansi.Truncate(m.help.ShortHelpView(b), m.c.width, "…")
}

// helpView shows every binding, grouped, as many groups side by side as
// the width allows.
func (m *Model) helpView() string {
	s := m.c.styles
	var rows []string
	var line []string
	lineW := 0
	for _, g := range m.c.keys.helpGroups() {
		block := s.Title.Render(g.title) + "\n" + m.help.FullHelpView([][]key.Binding{g.bindings})
		w := lipgloss.Width(block) + 3
		if lineW+w > m.c.width && len(line) > 0 {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, line...)+"\n")
			line, lineW = nil, 0
		}
		line = append(line, block, "   ")
		lineW += w
	}
	if len(line) > 0 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, line...))
	}
	return strings.Join(rows, "\n")
}
