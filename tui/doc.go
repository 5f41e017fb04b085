// Package tui is `aigw tui`: the operator's terminal view of a running
// gateway, built with Bubble Tea, bubbles and lipgloss.
//
// It talks to the gateway only through the admin API's Go client
// (*admin.Client) and never opens the database. The live pages read the
// trace stream (admin.Client.StreamTraces) and the status poll
// (admin.Client.Status); the management pages call the admin API's CRUD
// endpoints.
//
// # Layout
//
//   - tui.go: the root Model. It owns the tab bar, the connection banner, the
//     help screen, the status poll and the live trace stream, and routes
//     messages: key presses go to the active page, everything else to every
//     page (each ignores what it does not know).
//   - common.go: what every part shares (size, styles, keymap, client, clock)
//     and the formatting helpers.
//   - styles.go, keys.go: the one Styles struct and the one KeyMap.
//   - messages.go, stream.go: every message type and the tea.Cmd functions
//     that do I/O. Nothing else does I/O; errors travel as messages.
//   - comp_*.go: reusable components (tab bar, table, sparkline and bar
//     chart, form with a masked secret field, confirm dialog, banner).
//   - page_*.go: one model per page (Overview, Traces, Keys, Credentials,
//     Providers, Usage).
//   - stats.go: the rolling-window figures of the Overview.
package tui
