package tui

import (
	"fmt"
	"strings"

	"github.com/aigw/aigw/admin"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

type (
	// providersLoadedMsg is the Providers page's data.
	providersLoadedMsg struct {
		Providers []admin.Provider
		Err       error
	}
	// providerSavedMsg answers an add or an edit.
	providerSavedMsg struct {
		Provider admin.Provider
		Verb     string // "added", "updated"
		Err      error
	}
	// providerRemovedMsg answers a removal; the admin API refuses one that
	// keys or credentials still use, and says which.
	providerRemovedMsg struct {
		Name string
		Err  error
	}
)

// providersPage lists, adds, edits and removes upstream providers.
type providersPage struct {
	c         *common
	providers []admin.Provider
	loaded    bool
	loading   bool
	table     table
	modal            // the form or confirmation open over the table
	editing   string // the name of the provider being edited; "" while adding
	flash     banner
	removed   string // the item this page just removed: its going is no news
	list      listView
}

func newProvidersPage(c *common) *providersPage {
	p := &providersPage{c: c, table: table{
		cols: []column{
			{title: "NAME", min: 6, keep: 3},
			{title: "TYPE", min: 6, keep: 2},
			{title: "BASE URL", min: 12, max: 60, keep: 1}, // in full in the details
			{title: "TIMEOUT", min: 7, right: true},
		},
		empty: "No providers yet. Press a to add one (e.g. openai, https://api.openai.com).",
	}}
	p.list = newListView(c, &p.table, "provider")
	return p
}

func (p *providersPage) title() string   { return "Providers" }
func (p *providersPage) capturing() bool { return p.modalOpen() || p.list.filtering }

func (p *providersPage) shortHelp() []key.Binding {
	k := p.c.keys
	if h := p.modalHelp(k); h != nil {
		return h
	}
	if h := p.list.help(); h != nil {
		return h
	}
	return []key.Binding{footAdd, k.Edit, key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "remove")), footTraces, footFilter, footSort, footCopy, k.Refresh}
}

func (p *providersPage) selected() *admin.Provider {
	if i := p.list.at(&p.table); i >= 0 && i < len(p.providers) {
		return &p.providers[i]
	}
	return nil
}

func (p *providersPage) load() tea.Cmd {
	if p.loading {
		return nil
	}
	p.loading = true
	c := p.c
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		ps, err := c.client.Providers(ctx)
		return providersLoadedMsg{Providers: ps, Err: err}
	}
}

func (p *providersPage) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pageShownMsg, reconnectedMsg:
		return p.load()
	case tea.WindowSizeMsg:
		p.modalResize(msg)
	case providersLoadedMsg:
		p.loading = false
		if msg.Err != nil {
			p.flash = failBanner("cannot load the providers", msg.Err)
			return nil
		}
		p.providers, p.loaded = msg.Providers, true
		if gone := p.setRows(); gone != "" {
			if gone != p.removed {
				p.flash = goneBanner("Provider", gone)
			}
			p.removed = ""
		}
	case providerSavedMsg:
		if !p.afterSave(msg.Err, &p.flash) {
			return nil
		}
		p.flash = okBanner(fmt.Sprintf("Provider %s %s.", msg.Provider.Name, msg.Verb))
		p.table.want = msg.Provider.Name
		return p.load()
	case providerRemovedMsg:
		if msg.Err != nil {
			p.flash = failBanner("cannot remove provider "+msg.Name, msg.Err)
			return nil
		}
		p.flash = okBanner("Provider " + msg.Name + " removed.")
		p.removed = msg.Name
		return p.load()
	case copiedMsg:
		if msg.page == p.title() {
			p.flash = copiedBanner(msg)
		}
	case tea.KeyMsg:
		return p.updateKey(msg)
	}
	return nil
}

func (p *providersPage) updateKey(msg tea.KeyMsg) tea.Cmd {
	k := p.c.keys
	if cmd, handled := p.modalKey(msg, k, p.submit); handled {
		return cmd
	}
	if cmd, handled := p.listKey(msg); handled {
		return cmd
	}
	sel := p.selected()
	switch {
	case key.Matches(msg, k.Refresh):
		return p.load()
	case key.Matches(msg, k.Add):
		p.editing = ""
		p.form = p.providerForm(nil)
	case sel == nil:
	case key.Matches(msg, k.Edit):
		p.editing = sel.Name
		p.form = p.providerForm(sel)
	case key.Matches(msg, k.Delete):
		p.confirm.ask(fmt.Sprintf("Remove provider %s?", sel.Name),
			"Requests to /"+sel.Name+"/… get 404 afterwards. aigw refuses while keys or credentials still use it.",
			removeProvider(p.c, sel.Name))
	default:
		p.table.update(msg, k, p.list.tableHeight(p.detail(), p.flash, ""))
	}
	return nil
}

func (p *providersPage) setRows() (gone string) {
	rows := make([]listRow, len(p.providers))
	for i, pr := range p.providers {
		timeout := "default"
		if pr.Timeout != 0 {
			timeout = pr.Timeout.String()
		}
		name, tn := pr.Name, toneNormal
		if pr.Broken != "" { // out of service: the reason is in the detail
			name, tn = "✗ "+name, toneBad
		}
		rows[i] = listRow{id: pr.Name, cells: []string{name, pr.Type, pr.BaseURL, timeout}, tone: tn}
	}
	return p.list.apply(&p.table, rows)
}

func (p *providersPage) detail() string {
	pr := p.selected()
	if pr == nil {
		return ""
	}
	s := p.c.styles
	lines := []detailLine{
		{"provider", pr.Name, fmt.Sprintf(" · %s · %s", pr.Type, pr.BaseURL)},
		{"auth", "", orDash(strings.Join(pr.AuthHeaders, "; "))},
		{"headers", "", orDash(strings.Join(pr.Headers, "; "))},
		{"CA file", "", orDash(pr.CAFile)},
	}
	if pr.Broken != "" {
		lines = append(lines, detailLine{"broken", "", oneLine(pr.Broken)})
	}
	return details(s, lines...)
}

func (p *providersPage) view() string {
	s := p.c.styles
	switch {
	case p.form != nil:
		return p.form.view()
	case p.confirm.open:
		return p.confirm.view(s, p.c.keys, p.c.width, p.c.bodyHeight)
	case !p.loaded:
		if p.flash.kind == bannerErr {
			return p.flash.view(s, p.c.width, 3)
		}
		return s.Muted.Render("Loading providers…")
	}
	return p.list.layout(p.table, p.detail(), p.flash, "")
}

// providerForm is the add form (pr == nil) or the edit form of pr.
func (p *providersPage) providerForm(pr *admin.Provider) *form {
	v := admin.Provider{Type: admin.TypeOpenAI}
	if pr != nil {
		v = *pr
	}
	timeout := ""
	if v.Timeout != 0 {
		timeout = v.Timeout.String()
	}
	var fields []*field
	if pr == nil {
		fields = append(fields, textInput("name", "Name", "", "e.g. openai",
			"The first URL segment: clients call http://aigw:8080/NAME/… (lowercase letters, digits, - _ .).", required))
	}
	fields = append(fields,
		choiceInput("type", "Type", admin.ProviderTypes, v.Type, "The API it speaks, for usage reading and defaults (←/→)."),
		textInput("base_url", "Base URL", v.BaseURL, "https://api.openai.com", "Where requests go: {base URL}/{rest of the path}.", required),
		textInput("auth_headers", "Auth headers", strings.Join(v.AuthHeaders, "; "), "the type's default",
			"How the credential is sent, {key} replaced by it, e.g. Authorization: Bearer {key}; several separated by ';'.", nil),
		textInput("headers", "Extra headers", strings.Join(v.Headers, "; "), map[bool]string{true: "the type's default", false: "none"}[pr == nil],
			"Added when the client did not send them, e.g. anthropic-version: 2023-06-01; separated by ';'.", nil),
		textInput("timeout", "Timeout", timeout, "the default", "Upstream timeout, e.g. 60s or 5m; empty: the configured default.", duration),
	)
	if pr == nil {
		return newForm(p.c, "New provider", "", fields...)
	}
	return newForm(p.c, "Edit provider "+pr.Name, "Changes apply to the next request.", fields...)
}

func (p *providersPage) submit() tea.Cmd {
	f := p.form
	typ, base := f.value("type"), f.value("base_url")
	auth, headers := list(f.value("auth_headers"), ";"), list(f.value("headers"), ";")
	timeout := parseDuration(f.value("timeout"))
	c := p.c
	if p.editing == "" {
		in := admin.Provider{Name: f.value("name"), Type: typ, BaseURL: base, AuthHeaders: auth, Headers: headers, Timeout: timeout}
		return func() tea.Msg {
			ctx, cancel := c.call()
			defer cancel()
			pr, err := c.client.CreateProvider(ctx, in)
			return providerSavedMsg{Provider: pr, Verb: "added", Err: err}
		}
	}
	if auth == nil {
		auth = []string{} // back to the type's default
	}
	if headers == nil {
		headers = []string{}
	}
	patch := admin.ProviderPatch{Type: &typ, BaseURL: &base, AuthHeaders: &auth, Headers: &headers, Timeout: &timeout}
	name := p.editing
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		pr, err := c.client.UpdateProvider(ctx, name, patch)
		return providerSavedMsg{Provider: pr, Verb: "updated", Err: err}
	}
}

func removeProvider(c *common, name string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		return providerRemovedMsg{Name: name, Err: c.client.DeleteProvider(ctx, name)}
	}
}
