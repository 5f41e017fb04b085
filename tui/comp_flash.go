package tui

import (
	"sync/atomic"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// A page's status message ("✓ Provider groq added.") fades after a few
// seconds and stays behind when the user goes to another page. Each banner
// made by infoBanner, okBanner, errBanner or failBanner has an id of its
// own; the root model starts a timer for each new one and clears it when
// the timer ends, unless a newer message has taken its place (its timer
// runs from its own start). Errors do not fade: they stay until the next
// action says otherwise, or until the user leaves the page.

// defaultStatusFor is how long a status message stays.
const defaultStatusFor = 5 * time.Second

// bannerIDs numbers the banners.
var bannerIDs atomic.Uint64

func nextBannerID() uint64 { return bannerIDs.Add(1) }

// flashFadeMsg says that the message id of page is due to fade.
type flashFadeMsg struct {
	page int
	id   uint64
}

// flasher is a page with a status message.
type flasher interface{ flashBanner() *banner }

func (p *keysPage) flashBanner() *banner        { return &p.flash }
func (p *credentialsPage) flashBanner() *banner { return &p.flash }
func (p *providersPage) flashBanner() *banner   { return &p.flash }
func (p *usagePage) flashBanner() *banner       { return &p.flash }

// fades starts the timer of each page's new status message.
func (m *Model) fades() tea.Cmd {
	var cmds []tea.Cmd
	for i, p := range m.pages {
		f, ok := p.(flasher)
		if !ok {
			continue
		}
		b := f.flashBanner()
		if b.id == 0 || b.kind == bannerErr || b.kind == bannerNone || m.fading[i] == b.id {
			continue
		}
		m.fading[i] = b.id
		msg := flashFadeMsg{page: i, id: b.id}
		cmds = append(cmds, tea.Tick(m.statusFor, func(time.Time) tea.Msg { return msg }))
	}
	return tea.Batch(cmds...)
}

// fade clears page's message if it is still the one whose time is up.
func (m *Model) fade(msg flashFadeMsg) {
	if msg.page < 0 || msg.page >= len(m.pages) {
		return
	}
	if f, ok := m.pages[msg.page].(flasher); ok && f.flashBanner().id == msg.id {
		*f.flashBanner() = banner{}
	}
}

// leave clears the status message of the page the user leaves.
func (m *Model) leave(page int) {
	if f, ok := m.pages[page].(flasher); ok {
		*f.flashBanner() = banner{}
	}
}
