package tui

import (
	"encoding/base64"
	"errors"
	"io"
	"os"
	"sync"

	tea "github.com/charmbracelet/bubbletea"
)

// copiedMsg answers a copy to the clipboard. page is the title of the page
// that asked (it shows the outcome); what says what was copied, in words
// fit for the screen (never the copied text when it is a secret).
type copiedMsg struct {
	page string
	what string
	err  error
}

// maxClipboard bounds what one copy sends: terminals drop longer OSC 52
// sequences (xterm's default is 100 000 bytes of base64).
const maxClipboard = 64 << 10

// osc52 is the escape sequence that asks the terminal to put text on the
// system clipboard ("c"). It goes through the terminal itself, so it works
// over SSH and in most terminals (xterm, iTerm2, kitty, WezTerm, Windows
// Terminal; tmux with set-clipboard on).
func osc52(text string) string {
	return "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(text)) + "\a"
}

// copyToClipboard writes text to the clipboard through the program's output.
func copyToClipboard(c *common, page, what, text string) tea.Cmd {
	return func() tea.Msg {
		switch {
		case c.out == nil:
			return copiedMsg{page: page, what: what, err: errors.New("no terminal to copy through")}
		case len(text) > maxClipboard:
			return copiedMsg{page: page, what: what, err: errors.New("too long for the clipboard")}
		}
		_, err := io.WriteString(c.out, osc52(text))
		return copiedMsg{page: page, what: what, err: err}
	}
}

// copiedBanner is what the page says after a copy.
func copiedBanner(msg copiedMsg) banner {
	if msg.err != nil {
		return infoBanner("Cannot copy " + msg.what + ": " + errText(msg.err) + ".")
	}
	return okBanner("Copied " + msg.what + " to the clipboard.")
}

// lockedOutput serialises the renderer's writes and the clipboard's, so
// that an escape sequence is never cut by a frame.
type lockedOutput struct {
	mu *sync.Mutex
	w  io.Writer
}

func (o lockedOutput) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(b)
}

// lockedFile is lockedOutput for a terminal: it stays an *os.File to the
// program (size, raw mode) while its writes take the lock.
type lockedFile struct {
	*os.File
	mu *sync.Mutex
}

func (f lockedFile) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.File.Write(b)
}

// lockOutput wraps the program's output (nil: stdout) so that the TUI can
// write to it beside the renderer.
func lockOutput(w io.Writer) io.Writer {
	if w == nil {
		w = os.Stdout
	}
	mu := new(sync.Mutex)
	if f, ok := w.(*os.File); ok {
		return lockedFile{File: f, mu: mu}
	}
	return lockedOutput{mu: mu, w: w}
}
