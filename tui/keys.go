package tui

import "github.com/charmbracelet/bubbles/key"

// KeyMap is every key binding of the TUI, each with the help text that "?"
// shows. Pages and components match keys against it and never against
// literal strings, so that help and behaviour cannot drift apart.
type KeyMap struct {
	// Everywhere (unless a field or dialog is taking the keys).
	Quit      key.Binding
	ForceQuit key.Binding // works even while typing
	Help      key.Binding
	NextPage  key.Binding
	PrevPage  key.Binding
	Pages     key.Binding // 1–6
	Refresh   key.Binding
	Alerts    key.Binding // the Alerts view

	// Lists and views.
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Top      key.Binding
	Bottom   key.Binding
	Open     key.Binding
	Back     key.Binding

	// Traces and the lists.
	Filter      key.Binding
	ListFilter  key.Binding
	Pause       key.Binding
	Sort        key.Binding
	SortReverse key.Binding
	Copy        key.Binding

	// Usage.
	GroupBy      key.Binding
	Period       key.Binding
	CustomPeriod key.Binding

	// Keys.
	ShowRevoked key.Binding

	// Keys, Credentials, Providers.
	Add    key.Binding
	Edit   key.Binding
	Delete key.Binding
	Toggle key.Binding

	// Forms.
	NextField key.Binding
	PrevField key.Binding
	Choose    key.Binding
	Submit    key.Binding
	Cancel    key.Binding

	// Confirm dialogs.
	Yes key.Binding
	No  key.Binding
}

// pageKeys are the number keys, in the order of the tabs.
var pageKeys = []string{"1", "2", "3", "4", "5", "6"}

// DefaultKeyMap is the TUI's key map.
func DefaultKeyMap() *KeyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	return &KeyMap{
		Quit:      b([]string{"q"}, "q", "quit"),
		ForceQuit: b([]string{"ctrl+c"}, "ctrl+c", "quit, even in a form"),
		Help:      b([]string{"?"}, "?", "all key bindings"),
		NextPage:  b([]string{"tab"}, "tab", "next page"),
		PrevPage:  b([]string{"shift+tab"}, "shift+tab", "previous page"),
		Pages:     b(pageKeys, "1-6", "go to page"),
		Refresh:   b([]string{"r"}, "r", "reload the page"),
		Alerts:    b([]string{"!"}, "!", "alerts"),

		Up:       b([]string{"up", "k"}, "↑/k", "up"),
		Down:     b([]string{"down", "j"}, "↓/j", "down"),
		PageUp:   b([]string{"pgup"}, "pgup", "page up"),
		PageDown: b([]string{"pgdown"}, "pgdn", "page down"),
		Top:      b([]string{"home", "g"}, "g/home", "first"),
		Bottom:   b([]string{"end", "G"}, "G/end", "last"),
		Open:     b([]string{"enter"}, "enter", "details"),
		Back:     b([]string{"esc"}, "esc", "back"),

		Filter:      b([]string{"/"}, "/", "filter traces"),
		ListFilter:  b([]string{"/"}, "/", "filter the list"),
		Pause:       b([]string{"p", " "}, "p/space", "pause/resume"),
		Sort:        b([]string{"s"}, "s", "sort by next column"),
		SortReverse: b([]string{"S"}, "S", "reverse the sort"),
		Copy:        b([]string{"c"}, "c", "copy id (OSC 52)"),

		GroupBy:      b([]string{"b"}, "b", "group usage by"),
		Period:       b([]string{"p"}, "p", "usage period"),
		CustomPeriod: b([]string{"P"}, "P", "custom period"),

		ShowRevoked: b([]string{"H"}, "H", "show/hide revoked"),

		Add:    b([]string{"a"}, "a", "add / create"),
		Edit:   b([]string{"e"}, "e", "edit"),
		Delete: b([]string{"d"}, "d", "remove / revoke"),
		Toggle: b([]string{"t"}, "t", "enable/disable"),

		NextField: b([]string{"tab", "down"}, "tab/↓", "next field"),
		PrevField: b([]string{"shift+tab", "up"}, "S-tab/↑", "previous field"),
		Choose:    b([]string{"left", "right"}, "←/→", "change choice"),
		Submit:    b([]string{"enter"}, "enter", "submit"),
		Cancel:    b([]string{"esc"}, "esc", "cancel"),

		Yes: b([]string{"y"}, "y", "yes, do it"),
		No:  b([]string{"n", "esc"}, "n/esc", "no"),
	}
}

// helpGroup is one titled column of the help screen.
type helpGroup struct {
	title    string
	bindings []key.Binding
}

// helpGroups is everything "?" shows.
func (k *KeyMap) helpGroups() []helpGroup {
	return []helpGroup{
		{"Everywhere", []key.Binding{k.Pages, k.NextPage, k.PrevPage, k.Refresh, k.Alerts, k.Help, k.Quit, k.ForceQuit}},
		{"Lists", []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Open, k.Back}},
		{"Traces, usage", []key.Binding{k.Filter, k.Pause, k.GroupBy, k.Period, k.CustomPeriod}},
		{"List pages", []key.Binding{tracesBinding, k.ListFilter, k.Sort, k.SortReverse, k.Copy}},
		{"Keys, creds, providers", []key.Binding{k.Add, k.Edit, k.Delete, k.Toggle, k.ShowRevoked}},
		{"Forms, dialogs", []key.Binding{k.NextField, k.PrevField, k.Choose, k.Submit, k.Cancel, k.Yes, k.No}},
	}
}
