package tui

import (
	"time"

	"github.com/aigw/aigw/admin"
	tea "github.com/charmbracelet/bubbletea"
)

// Messages the root model produces or handles and passes on to the pages.
// Each page's own messages are declared in its file.
type (
	// statusMsg is the answer of the status poll (every PollInterval).
	statusMsg struct {
		Status admin.Status
		Err    error
	}
	// pollMsg says it is time to poll the status again.
	pollMsg struct{}

	// traceMsg carries new traces from the live stream, oldest first:
	// usually one, more when they arrive faster than the screen redraws.
	// Each trace arrives once: the root model drops the repeats of a
	// reconnection's backlog.
	traceMsg struct{ Traces []admin.Trace }
	// streamOpenMsg says the live stream is connected.
	streamOpenMsg struct{}
	// streamEndedMsg says the live stream broke; the root reconnects.
	streamEndedMsg struct{ Err error }
	// streamRetryMsg says it is time to reconnect the live stream.
	streamRetryMsg struct{}

	// pageShownMsg goes to a page when it becomes the active one.
	pageShownMsg struct{}
	// activeTickMsg goes to the active page after each status poll, for
	// pages whose data changes by itself (credential health).
	activeTickMsg struct{}
	// reconnectedMsg goes to every page when the admin API answers again
	// after it could not be reached.
	reconnectedMsg struct{}
)

// pollStatus asks the admin API for the gateway's status.
func pollStatus(c *common) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		st, err := c.client.Status(ctx)
		return statusMsg{Status: st, Err: err}
	}
}

// pollAfter schedules the next status poll.
func pollAfter(d time.Duration) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return pollMsg{} })
}
