package tui

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

type (
	// credentialsLoadedMsg is the Credentials page's data.
	credentialsLoadedMsg struct {
		Credentials []admin.Credential
		Next        string // the cursor of the credentials after these ("": no more)
		Providers   []admin.Provider
		Today       map[string]admin.UsageRow // today's usage per credential id
		Err         error
	}
	// credentialSavedMsg answers an add, an edit, or an enable/disable.
	credentialSavedMsg struct {
		Credential admin.Credential
		Verb       string // "added", "updated", "enabled", "disabled"
		Err        error
	}
	// credentialRemovedMsg answers a removal.
	credentialRemovedMsg struct {
		ID  string
		Err error
	}
)

// credentialsPage lists the upstream credentials with their live health;
// adds (the secret typed into a masked field), edits, enables/disables and
// removes them. While shown it reloads after every status poll, so states
// change on screen as they change in the gateway.
type credentialsPage struct {
	c         *common
	creds     []admin.Credential
	providers []admin.Provider
	today     map[string]admin.UsageRow
	loaded    bool
	loading   bool
	table     table
	modal            // the form or confirmation open over the table
	editing   string // the id of the credential being edited; "" while adding
	flash     banner
	removed   string // the item this page just removed: its going is no news
	list      listView
	pages     pager // the credentials are loaded a page at a time
}

func newCredentialsPage(c *common) *credentialsPage {
	p := &credentialsPage{c: c, table: table{
		cols: []column{
			{title: "ID", min: 8, keep: 2},
			{title: "PROVIDER", short: "PROV", min: 5, keep: 1},
			{title: "NAME", min: 4, keep: 3},
			{title: "STATE", min: 12, max: 48, keep: 3}, // with the tightest quota window while healthy
			{title: "W", min: 1, right: true},
			{title: "REQ", min: 5, right: true, keep: 2},
			{title: "ERR", min: 3, right: true, keep: 2},
		},
		empty: "No credentials yet. Press a to add one (a provider comes first, on page 5).",
	}}
	p.list = newListView(c, &p.table, "credential")
	return p
}

func (p *credentialsPage) title() string   { return "Credentials" }
func (p *credentialsPage) capturing() bool { return p.modalOpen() || p.list.filtering }

func (p *credentialsPage) shortHelp() []key.Binding {
	k := p.c.keys
	if h := p.modalHelp(k); h != nil {
		return h
	}
	if h := p.list.help(); h != nil {
		return h
	}
	return []key.Binding{footAdd, k.Edit, k.Toggle, key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "remove")), footTraces, footFilter, footSort, footCopy}
}

func (p *credentialsPage) selected() *admin.Credential {
	if i := p.list.at(&p.table); i >= 0 && i < len(p.creds) {
		return &p.creds[i]
	}
	return nil
}

func (p *credentialsPage) load() tea.Cmd {
	if p.loading {
		return nil
	}
	p.loading = true
	p.pages.reload()
	c, n := p.c, len(p.creds)
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		var msg credentialsLoadedMsg
		if msg.Credentials, msg.Next, msg.Err = fetchCredentials(ctx, c.client, n); msg.Err != nil {
			return msg
		}
		if msg.Providers, msg.Err = c.client.Providers(ctx); msg.Err != nil {
			return msg
		}
		today := c.today()
		rows, err := c.client.Usage(ctx, admin.UsageQuery{By: admin.GroupByCredential, Since: today, Until: today})
		var ae *admin.APIError
		switch {
		case errors.As(err, &ae) && ae.Field == "by":
			return msg // a gateway older than the credential roll-ups: no share to show
		case err != nil:
			msg.Err = err
			return msg
		}
		msg.Today = make(map[string]admin.UsageRow, len(rows))
		for _, r := range rows {
			msg.Today[r.Group] = r
		}
		return msg
	}
}

func (p *credentialsPage) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pageShownMsg, reconnectedMsg, activeTickMsg:
		return p.load()
	case tea.WindowSizeMsg:
		p.modalResize(msg)
	case credentialsLoadedMsg:
		p.loading = false
		if msg.Err != nil {
			p.flash = failBanner("cannot load the credentials", msg.Err)
			return nil
		}
		p.creds, p.providers, p.today, p.loaded = msg.Credentials, msg.Providers, msg.Today, true
		p.pages.next = msg.Next
		if gone := p.setRows(); gone != "" {
			if gone != p.removed {
				p.flash = goneBanner("Credential", gone)
			}
			p.removed = ""
		}
		return p.more()
	case moreMsg[admin.Credential]:
		return p.addMore(msg)
	case credentialSavedMsg:
		if !p.afterSave(msg.Err, &p.flash) {
			return nil
		}
		p.flash = okBanner(fmt.Sprintf("Credential %s %s.", credLabel(&msg.Credential), msg.Verb))
		p.table.want = msg.Credential.ID
		return p.load()
	case credentialRemovedMsg:
		if msg.Err != nil {
			p.flash = failBanner("cannot remove credential "+msg.ID, msg.Err)
			return nil
		}
		p.flash = okBanner("Credential " + msg.ID + " removed.")
		p.removed = msg.ID
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

func (p *credentialsPage) updateKey(msg tea.KeyMsg) tea.Cmd {
	k := p.c.keys
	if cmd, handled := p.modalKey(msg, k, p.submit); handled {
		return cmd
	}
	if cmd, handled := p.listKey(msg); handled {
		return tea.Batch(cmd, p.more())
	}
	sel := p.selected()
	switch {
	case key.Matches(msg, k.Refresh):
		return p.load()
	case key.Matches(msg, k.Add):
		if len(p.providers) == 0 {
			p.flash = infoBanner("A credential belongs to a provider: add one on page 5 first.")
			return nil
		}
		p.editing = ""
		p.form = p.credentialForm(nil)
	case sel == nil:
	case key.Matches(msg, k.Edit):
		p.editing = sel.ID
		p.form = p.credentialForm(sel)
	case key.Matches(msg, k.Toggle) && !sel.Enabled:
		return setCredentialEnabled(p.c, sel.ID, true)
	case key.Matches(msg, k.Toggle):
		// Disabling takes traffic away from every key that uses it: asked first.
		p.confirm.ask(fmt.Sprintf("Disable credential %s?", credLabel(sel)),
			"No key sends it requests until it is enabled again.", setCredentialEnabled(p.c, sel.ID, false))
	case key.Matches(msg, k.Delete):
		p.confirm.ask(fmt.Sprintf("Remove credential %s?", credLabel(sel)),
			"Its secret is deleted from aigw. Keys whose pool holds it must drop it first.", removeCredential(p.c, sel.ID))
	default:
		p.table.update(msg, k, p.list.tableHeight(p.detail(), p.flash, p.pages.note(len(p.creds), "credentials", p.list.active())))
		return p.more()
	}
	return nil
}

func credLabel(c *admin.Credential) string {
	if c.Name == "" {
		return c.ID
	}
	return fmt.Sprintf("%s (%s)", c.Name, c.ID)
}

// stateText says where a credential stands, in the words of the CLI and
// the JSON: the state token, then its detail ("healthy", "cooling_down
// until 15:04:05", "cooling_down · trial pending", "disabled"; see
// admin.CredentialStateText).
func stateText(state string, until time.Time, c *common) string {
	return admin.CredentialStateText(state, until, c.now(), c.clock)
}

// healthText is the detail pane's health line; figures of a credential
// that served nothing yet would be made up (100.0 %, 0.00 ms).
func healthText(state string, requests uint64, success, latencyMS float64) string {
	if requests == 0 {
		return state + " · no requests yet"
	}
	return fmt.Sprintf("%s · success %s · latency %s", state, fmtPercent(success), fmtMS(latencyMS))
}

func credState(c *admin.Credential, cm *common) (string, tone) {
	if c.Broken != "" {
		return "broken", toneBad // its record does not load: in no pool, enabled or not
	}
	if !c.Enabled {
		return "disabled", toneMuted
	}
	if c.Health == nil {
		return "-", toneNormal
	}
	switch c.Health.State {
	case "cooling_down", "quota_exhausted", "budget_exhausted":
		return stateText(c.Health.State, c.Health.Until, cm), toneWarn
	case "invalid":
		return stateText(c.Health.State, c.Health.Until, cm), toneBad
	case "disabled":
		return "disabled", toneMuted
	}
	return c.Health.State, toneNormal
}

func (p *credentialsPage) setRows() (gone string) {
	rows := make([]listRow, len(p.creds))
	for i := range p.creds {
		c := &p.creds[i]
		state, tn := credState(c, p.c)
		req, errs := "-", "-"
		if c.Health != nil {
			req, errs = fmtInt(int64(c.Health.RequestsToday)), fmtInt(int64(c.Health.FailuresToday))
		}
		if q := quotaCell(c, p.c.now()); q != "" && state == "healthy" {
			state += " · " + q // 80 columns leave no room for a column of its own
		}
		rows[i] = listRow{id: c.ID, cells: []string{c.ID, c.Provider, orDash(c.Name), state, fmt.Sprint(c.Weight), req, errs}, tone: tn}
	}
	return p.list.apply(&p.table, rows)
}

func (p *credentialsPage) detail() string {
	c := p.selected()
	if c == nil {
		return ""
	}
	s := p.c.styles
	rpm := "none"
	if c.RPM > 0 {
		rpm = fmtInt(c.RPM)
	}
	enabled := "enabled"
	if !c.Enabled {
		enabled = "disabled"
	}
	lines := []detailLine{
		{"credential", credLabel(c), fmt.Sprintf(" · %s · %s", c.Provider, enabled)},
		{"secret", "", fmt.Sprintf("%s %s · weight %d · rpm %s", c.Kind, c.Preview, c.Weight, rpm)},
	}
	if h := c.Health; h != nil {
		state, _ := credState(c, p.c)
		lines = append(lines,
			detailLine{"health", "", healthText(state, h.Requests, h.SuccessRate, h.LatencyMS)},
			detailLine{"requests", "", fmt.Sprintf("today %s (%s failed) · since start %s (%s failed)",
				fmtInt(int64(h.RequestsToday)), fmtInt(int64(h.FailuresToday)), fmtInt(int64(h.Requests)), fmtInt(int64(h.Failures)))},
			detailLine{"last error", "", orDash(oneLine(h.LastError))},
		)
		if q := quotaText(c, p.c); q != "" {
			lines = append(lines, detailLine{"quota", "", q})
		}
	}
	if p.today != nil {
		lines = append(lines, detailLine{"cache", "", cacheShareText(p.today[c.ID])})
	}
	lines = append(lines, oauthDetail(c, p.c)...)
	return details(s, lines...)
}

// quotaCell is the tightest upstream rate-limit window: the part left and
// how soon it resets ("12% left ↻3m"); "" when the upstream announced none.
func quotaCell(c *admin.Credential, now time.Time) string {
	if c.Health == nil {
		return ""
	}
	best := -1
	for i, w := range c.Health.Quota {
		if w.RemainingFraction == nil {
			continue
		}
		if b := c.Health.Quota; best < 0 || *w.RemainingFraction < *b[best].RemainingFraction {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	w := c.Health.Quota[best]
	return fmt.Sprintf("%.0f%% left ↻%s", math.Floor(*w.RemainingFraction*100), fmtIn(w.Reset.Sub(now)))
}

// quotaText lists every window the upstream announced: "requests 49/50 ·
// unified_5h 42% used · … (tightest resets 15:04:05)".
func quotaText(c *admin.Credential, cm *common) string {
	var parts []string
	for _, w := range c.Health.Quota {
		var part string
		switch {
		case w.Remaining != nil && w.Limit != nil:
			part = fmt.Sprintf("%s %s/%s", w.Window, fmtCount(float64(*w.Remaining)), fmtCount(float64(*w.Limit)))
		case w.Remaining != nil:
			part = fmt.Sprintf("%s %s left", w.Window, fmtCount(float64(*w.Remaining)))
		case w.Utilization != nil:
			part = fmt.Sprintf("%s %.0f%% used", w.Window, *w.Utilization*100)
		default:
			part = w.Window + " " + w.Status
		}
		if w.Exhausted {
			part += " (used up until " + cm.clock(w.Reset) + ")"
		} else {
			part += " ↻" + fmtIn(w.Reset.Sub(cm.now()))
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, " · ")
}

// fmtIn is a short time ahead: "45s", "3m", "2h5m", "6d".
func fmtIn(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func (p *credentialsPage) view() string {
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
		return s.Muted.Render("Loading credentials…")
	}
	return p.list.layout(p.table, p.detail(), p.flash, p.pages.note(len(p.creds), "credentials", p.list.active()))
}

// credentialForm is the add form (c == nil) or the edit form of c.
func (p *credentialsPage) credentialForm(c *admin.Credential) *form {
	weight := wholeNumber(1, 1000)
	rpm := wholeNumber(0, 1e12)
	if c == nil {
		var names []string
		for _, pr := range p.providers {
			names = append(names, pr.Name)
		}
		return newForm(p.c, "New credential", "The secret is sealed in aigw's database and never shown again.", append([]*field{
			choiceInput("provider", "Provider", names, "", "The provider this secret is for (←/→ to choose)."),
			textInput("name", "Name", "", "optional", "A label, e.g. the account it belongs to.", nil),
			secretInput("secret", "Secret", "The upstream API key, or an OAuth access token; what you type is masked.", required),
			textInput("weight", "Weight", "1", "", "Share of requests under the weighted strategy, 1 to 1000.", weight),
			textInput("rpm", "Requests/min", "", "no limit", "This credential's own requests-per-minute limit; empty or 0: none.", rpm),
		}, p.oauthFields(nil)...)...)
	}
	r := ""
	if c.RPM > 0 {
		r = fmt.Sprint(c.RPM)
	}
	return newForm(p.c, "Edit credential "+credLabel(c), "Leave the secret empty to keep the current one.", append([]*field{
		textInput("weight", "Weight", fmt.Sprint(c.Weight), "", "Share of requests under the weighted strategy, 1 to 1000.", weight),
		textInput("name", "Name", c.Name, "optional", "A label, e.g. the account it belongs to.", nil),
		textInput("rpm", "Requests/min", r, "no limit", "This credential's own requests-per-minute limit; empty or 0: none.", rpm),
		secretInput("secret", "New secret", "Rotate the secret: type the new one (masked); empty keeps the current one.", nil),
	}, p.oauthFields(c)...)...)
}

func (p *credentialsPage) submit() tea.Cmd {
	f := p.form
	weight := int(parseInt(f.value("weight")))
	rpm := parseInt(f.value("rpm"))
	name := f.value("name")
	if p.editing == "" {
		in := admin.CredentialInput{Provider: f.value("provider"), Name: name, Secret: f.value("secret"), Weight: &weight, RPM: rpm}
		if !p.oauthInput(&in) {
			return nil
		}
		c := p.c
		return func() tea.Msg {
			ctx, cancel := c.call()
			defer cancel()
			cr, err := c.client.CreateCredential(ctx, in)
			return credentialSavedMsg{Credential: cr, Verb: "added", Err: err}
		}
	}
	patch := admin.CredentialPatch{Name: &name, Weight: &weight, RPM: &rpm}
	if s := f.value("secret"); s != "" {
		patch.Secret = &s
	}
	p.oauthPatch(p.byID(p.editing), &patch)
	return saveCredential(p.c, p.editing, patch, "updated")
}

func setCredentialEnabled(c *common, id string, enabled bool) tea.Cmd {
	verb := "disabled"
	if enabled {
		verb = "enabled"
	}
	return saveCredential(c, id, admin.CredentialPatch{Enabled: &enabled}, verb)
}

func saveCredential(c *common, id string, patch admin.CredentialPatch, verb string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		cr, err := c.client.UpdateCredential(ctx, id, patch)
		return credentialSavedMsg{Credential: cr, Verb: verb, Err: err}
	}
}

func removeCredential(c *common, id string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		return credentialRemovedMsg{ID: id, Err: c.client.DeleteCredential(ctx, id)}
	}
}
