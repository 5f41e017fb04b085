package tui

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"
)

// Styles is every style the TUI draws with, made once from one renderer so
// that the colour profile (NO_COLOR, a terminal without colours, a test's
// pinned profile) applies everywhere. Views use these and never make their
// own.
//
// Colours are the terminal's 16 ANSI colours, so they follow the user's
// theme and need no background detection. Nothing is told by colour alone:
// the selected row has a "›", the active tab brackets, states are words.
type Styles struct {
	TabActive   lipgloss.Style
	TabInactive lipgloss.Style
	Rule        lipgloss.Style // the line under the tab bar

	Live, Offline, Paused lipgloss.Style // the stream indicator

	Plain lipgloss.Style
	Title lipgloss.Style // a section title
	Label lipgloss.Style // "Requests/s"
	Value lipgloss.Style // a figure
	Muted lipgloss.Style
	Good  lipgloss.Style
	Warn  lipgloss.Style
	Bad   lipgloss.Style

	TableHeader   lipgloss.Style
	TableSelected lipgloss.Style

	BannerInfo lipgloss.Style
	BannerOK   lipgloss.Style
	BannerErr  lipgloss.Style

	FormTitle        lipgloss.Style
	FormLabel        lipgloss.Style
	FormLabelFocused lipgloss.Style
	FormInput        lipgloss.Style
	FormPlaceholder  lipgloss.Style
	FormCursor       lipgloss.Style
	FormError        lipgloss.Style
	FormHint         lipgloss.Style

	Dialog lipgloss.Style // the confirm dialog's box
	Secret lipgloss.Style // a key secret shown once

	Spark lipgloss.Style
	Bar   lipgloss.Style

	Help help.Styles
}

// NewStyles makes the styles with r (which knows the colour profile).
func NewStyles(r *lipgloss.Renderer) *Styles {
	const (
		red     = lipgloss.Color("1")
		green   = lipgloss.Color("2")
		yellow  = lipgloss.Color("3")
		blue    = lipgloss.Color("4")
		magenta = lipgloss.Color("5")
		cyan    = lipgloss.Color("6")
		grey    = lipgloss.Color("8")
	)
	s := &Styles{
		TabActive:   r.NewStyle().Bold(true).Reverse(true),
		TabInactive: r.NewStyle(),
		Rule:        r.NewStyle().Foreground(grey),

		Live:    r.NewStyle().Foreground(green),
		Offline: r.NewStyle().Foreground(red).Bold(true),
		Paused:  r.NewStyle().Foreground(yellow).Bold(true),

		Plain: r.NewStyle(),
		Title: r.NewStyle().Bold(true).Foreground(cyan),
		Label: r.NewStyle().Foreground(grey),
		Value: r.NewStyle().Bold(true),
		Muted: r.NewStyle().Foreground(grey),
		Good:  r.NewStyle().Foreground(green),
		Warn:  r.NewStyle().Foreground(yellow),
		Bad:   r.NewStyle().Foreground(red),

		TableHeader:   r.NewStyle().Bold(true).Foreground(cyan),
		TableSelected: r.NewStyle().Reverse(true),

		BannerInfo: r.NewStyle().Foreground(cyan),
		BannerOK:   r.NewStyle().Foreground(green),
		BannerErr:  r.NewStyle().Foreground(red).Bold(true),

		FormTitle:        r.NewStyle().Bold(true).Foreground(cyan),
		FormLabel:        r.NewStyle().Foreground(grey),
		FormLabelFocused: r.NewStyle().Bold(true),
		FormInput:        r.NewStyle(),
		FormPlaceholder:  r.NewStyle().Foreground(grey),
		FormCursor:       r.NewStyle().Reverse(true),
		FormError:        r.NewStyle().Foreground(red),
		FormHint:         r.NewStyle().Foreground(grey),

		Dialog: r.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(yellow).Padding(0, 2),
		Secret: r.NewStyle().Bold(true).Foreground(magenta),

		Spark: r.NewStyle().Foreground(blue),
		Bar:   r.NewStyle().Foreground(magenta),
	}
	s.Help = help.Styles{
		Ellipsis:       r.NewStyle().Foreground(grey),
		ShortKey:       r.NewStyle().Bold(true),
		ShortDesc:      r.NewStyle().Foreground(grey),
		ShortSeparator: r.NewStyle().Foreground(grey),
		FullKey:        r.NewStyle().Bold(true),
		FullDesc:       r.NewStyle(),
		FullSeparator:  r.NewStyle(),
	}
	return s
}
