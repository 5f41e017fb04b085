package tui

import (
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

type bannerKind int

const (
	bannerNone bannerKind = iota
	bannerInfo
	bannerOK
	bannerErr
)

// banner is a one- or two-line message: what an action did, or why it
// failed (its text may quote an upstream's error: view makes it safe). The
// zero banner shows nothing.
type banner struct {
	kind bannerKind
	text string
	id   uint64 // tells this message from the next (see comp_flash.go)
}

func infoBanner(text string) banner { return banner{kind: bannerInfo, text: text, id: nextBannerID()} }
func okBanner(text string) banner   { return banner{kind: bannerOK, text: text, id: nextBannerID()} }
func errBanner(err error) banner {
	return banner{kind: bannerErr, text: errText(err), id: nextBannerID()}
}

// failBanner says what could not be done and why.
func failBanner(what string, err error) banner {
	return banner{kind: bannerErr, text: what + ": " + errText(err), id: nextBannerID()}
}

// view wraps the text to width, at most maxLines lines.
func (b banner) view(s *Styles, width, maxLines int) string {
	if b.kind == bannerNone || b.text == "" || width <= 0 {
		return ""
	}
	var st lipgloss.Style
	prefix := ""
	switch b.kind {
	case bannerOK:
		st, prefix = s.BannerOK, "✓ "
	case bannerErr:
		st, prefix = s.BannerErr, "✗ "
	default:
		st, prefix = s.BannerInfo, "· "
	}
	text := ansi.Wordwrap(prefix+safe(b.text), width, " ")
	return st.Render(fitLines(text, width, min(lipgloss.Height(text), maxLines)))
}
