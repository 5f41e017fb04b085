package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/internal/units"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

type (
	// keysLoadedMsg is the Keys page's data: the keys, today's usage per
	// key, and the providers and credentials the forms offer.
	keysLoadedMsg struct {
		Keys        []admin.Key
		Next        string // the cursor of the keys after these ("": no more)
		Today       map[string]admin.UsageRow
		Credentials []admin.Credential
		Providers   []admin.Provider
		Err         error
	}
	// keyCreatedMsg carries a new key with its secret (shown once).
	keyCreatedMsg struct {
		Key admin.CreatedKey
		Err error
	}
	// keySavedMsg is the answer to an edit or a revocation.
	keySavedMsg struct {
		Key  admin.Key
		Verb string // "updated", "revoked"
		Err  error
	}
)

// keysPage lists the gateway keys with their limits and today's usage;
// creates (the secret is shown once), edits and revokes them.
type keysPage struct {
	c           *common
	keys        []admin.Key
	today       map[string]admin.UsageRow
	creds       []admin.Credential
	providers   []admin.Provider
	proxyAddr   string // from the status, for the "how to use it" note
	loaded      bool
	loading     bool
	table       table
	modal                         // the form or confirmation open over the table
	editing     string            // the id of the key being edited; "" while creating
	editExpires string            // the edited key's expiry as the form showed it
	created     *admin.CreatedKey // the key whose secret is on screen
	flash       banner
	list        listView // filter, sort, selection by id
	showRevoked bool     // H: revoked keys are listed too
	pages       pager    // the keys are loaded a page at a time
}

func newKeysPage(c *common) *keysPage {
	p := &keysPage{c: c, table: table{
		cols: []column{
			{title: "NAME", min: 6, keep: 3},
			{title: "ID", min: 8, keep: 1},
			{title: "PROVIDER", min: 6, keep: 1},
			{title: "STATUS", min: 7, keep: 2},
			{title: "REQ", min: 5, right: true, keep: 2},
			{title: "TOKENS", min: 6, right: true, keep: 1},
			{title: "COST", min: 9, right: true, keep: 3}, // "$0.0049+?": the unpriced mark is never cut
			{title: "CACHE", min: 5, right: true},
			{title: "LAST USED", short: "USED", min: 7, right: true},
		},
		empty: "No gateway keys yet. Press a to create one.",
	}}
	p.list = newListView(c, &p.table, "key")
	return p
}

func (p *keysPage) title() string { return "Keys" }

func (p *keysPage) capturing() bool {
	return p.modalOpen() || p.created != nil || p.list.filtering
}

func (p *keysPage) shortHelp() []key.Binding {
	k := p.c.keys
	if p.created != nil {
		return []key.Binding{key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "I have copied the secret")),
			key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "copy the secret"))}
	}
	if h := p.modalHelp(k); h != nil {
		return h
	}
	if h := p.list.help(); h != nil {
		return h
	}
	return []key.Binding{footAdd, k.Edit, key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "revoke")), footTraces, footFilter, footSort, footRevoked, footCopy}
}

func (p *keysPage) selected() *admin.Key {
	if i := p.list.at(&p.table); i >= 0 && i < len(p.keys) {
		return &p.keys[i]
	}
	return nil
}

func (p *keysPage) load() tea.Cmd {
	if p.loading {
		return nil
	}
	p.loading = true
	p.pages.reload()
	c, n := p.c, len(p.keys)
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		var msg keysLoadedMsg
		if msg.Keys, msg.Next, msg.Err = fetchKeys(ctx, c.client, n); msg.Err != nil {
			return msg
		}
		today := c.today()
		rows, err := c.client.Usage(ctx, admin.UsageQuery{By: admin.GroupByKey, Since: today, Until: today})
		if err != nil {
			msg.Err = err
			return msg
		}
		msg.Today = make(map[string]admin.UsageRow, len(rows))
		for _, r := range rows {
			msg.Today[r.Group] = r
		}
		if msg.Credentials, msg.Err = c.client.AllCredentials(ctx, admin.CredentialQuery{}); msg.Err != nil {
			return msg
		}
		msg.Providers, msg.Err = c.client.Providers(ctx)
		return msg
	}
}

func (p *keysPage) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pageShownMsg, reconnectedMsg:
		return p.load()
	case statusMsg:
		if msg.Err == nil {
			p.proxyAddr = msg.Status.ProxyAddr
		}
	case tea.WindowSizeMsg:
		p.modalResize(msg)
	case keysLoadedMsg:
		p.loading = false
		if msg.Err != nil {
			p.flash = failBanner("cannot load the keys", msg.Err)
			return nil
		}
		p.keys, p.today, p.creds, p.providers, p.loaded = msg.Keys, msg.Today, msg.Credentials, msg.Providers, true
		p.pages.next = msg.Next
		if gone := p.setRows(); gone != "" {
			p.flash = goneBanner("Key", gone)
		}
		return p.more()
	case moreMsg[admin.Key]:
		return p.addMore(msg)
	case keyCreatedMsg:
		if !p.afterSave(msg.Err, &p.flash) {
			return nil
		}
		k := msg.Key
		p.created = &k
		p.table.want = k.ID
		p.flash = okBanner(fmt.Sprintf("Key %s created.", keyLabel(&k.Key)))
		return p.load()
	case keySavedMsg:
		if !p.afterSave(msg.Err, &p.flash) {
			if p.form != nil {
				return nil
			}
			return p.load() // a failed revoke: show the keys as they are
		}
		p.flash = okBanner(fmt.Sprintf("Key %s %s.", keyLabel(&msg.Key), msg.Verb))
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

func (p *keysPage) updateKey(msg tea.KeyMsg) tea.Cmd {
	k := p.c.keys
	if p.created != nil {
		switch {
		case key.Matches(msg, k.Submit) || key.Matches(msg, k.Back):
			p.created = nil
		case key.Matches(msg, k.Copy):
			return copyToClipboard(p.c, p.title(), "the new key's secret", p.created.Secret)
		}
		return nil
	}
	if cmd, handled := p.modalKey(msg, k, p.submit); handled {
		return cmd
	}
	if cmd, handled := p.listKey(msg); handled {
		return tea.Batch(cmd, p.more())
	}
	switch {
	case key.Matches(msg, k.Refresh):
		return p.load()
	case key.Matches(msg, k.Add):
		if len(p.providers) == 0 {
			p.flash = infoBanner("A key needs a provider and a credential: add them on pages 5 and 4 first.")
			return nil
		}
		p.editing = ""
		p.form = p.keyForm(nil)
	case key.Matches(msg, k.Edit):
		if sel := p.selected(); sel != nil {
			if sel.Status == admin.KeyRevoked {
				p.flash = infoBanner("Key " + keyLabel(sel) + " is revoked; it cannot be changed.")
				return nil
			}
			p.editing = sel.ID
			p.form = p.keyForm(sel)
			p.editExpires = p.form.value("expires_at")
		}
	case key.Matches(msg, k.Delete):
		sel := p.selected()
		if sel == nil {
			return nil
		}
		if sel.Status == admin.KeyRevoked {
			p.flash = infoBanner("Key " + keyLabel(sel) + " is already revoked.")
			return nil
		}
		p.confirm.ask(fmt.Sprintf("Revoke key %s?", keyLabel(sel)),
			"Applications that use it get 401 from now on. This cannot be undone.", revokeKey(p.c, sel.ID))
	default:
		p.table.update(msg, k, p.list.tableHeight(p.detail(), p.flash, p.note()))
		return p.more()
	}
	return nil
}

func keyLabel(k *admin.Key) string {
	if k.Name == "" {
		return k.ID
	}
	return fmt.Sprintf("%s (%s)", k.Name, k.ID)
}

func (p *keysPage) setRows() (gone string) {
	rows := make([]listRow, len(p.keys))
	for i, k := range p.keys {
		u := p.today[k.ID]
		tokens, cost := "-", "-"
		if u.Requests > 0 {
			tokens, cost = fmtCount(float64(u.PromptTokens+u.CompletionTokens)), usageCost(u)
		}
		rows[i] = listRow{id: k.ID, cells: []string{orDash(k.Name), k.ID, k.Provider, k.Status, fmtInt(u.Requests), tokens, cost, cacheShare(u), lastUsedText(k.LastUsedAt, p.c.now())},
			sortKeys: lastUsedSortKey(k.LastUsedAt), hidden: k.Status == admin.KeyRevoked && !p.showRevoked}
		if k.Status != admin.KeyActive {
			rows[i].tone = toneMuted
		}
	}
	return p.list.apply(&p.table, rows)
}

// cacheShare is a roll-up's cache-read share: the part of its prompt
// tokens read from the upstream's prompt cache ("60.0%"), "-" without
// prompt tokens.
func cacheShare(u admin.UsageRow) string {
	if u.PromptTokens == 0 {
		return "-"
	}
	return fmtPercent(u.CacheReadShare)
}

// cacheShareText says how much of a day's prompt came from the cache.
func cacheShareText(u admin.UsageRow) string {
	if u.PromptTokens == 0 {
		return "no prompt tokens today"
	}
	return fmt.Sprintf("%s of today's prompt read from cache (%s of %s tokens)",
		fmtPercent(u.CacheReadShare), fmtCount(float64(u.CacheReadTokens)), fmtCount(float64(u.PromptTokens)))
}

// usageCost is a roll-up's cost, "+?" when some requests had no price.
func usageCost(u admin.UsageRow) string {
	switch {
	case u.CostUnknown > 0 && u.CostUSD == 0:
		return "?"
	case u.CostUnknown > 0:
		return fmtUSD(u.CostUSD) + "+?"
	}
	return fmtUSD(u.CostUSD)
}

// detail is the selected key in full: limits next to today's use.
func (p *keysPage) detail() string {
	k := p.selected()
	if k == nil {
		return ""
	}
	s := p.c.styles
	u := p.today[k.ID]
	tokens := u.PromptTokens + u.CompletionTokens
	ofLimit := func(used string, limit string, set bool) string {
		if !set {
			return used
		}
		return used + " of " + limit
	}
	retries := "default"
	if k.MaxRetries != nil {
		retries = fmt.Sprint(*k.MaxRetries)
	}
	expires := "never"
	if k.ExpiresAt != nil {
		expires = k.ExpiresAt.In(p.c.loc).Format("2006-01-02 15:04")
	}
	timeout := "default"
	if k.Timeout != 0 {
		timeout = k.Timeout.String()
	}
	lines := []detailLine{
		detailLine{"key", keyLabel(k), fmt.Sprintf(" · %s · %s · %s", k.Provider, k.Status, k.Preview)},
		detailLine{"pool", "", fmt.Sprintf("%s · %s", k.Strategy, strings.Join(k.Credentials, ", "))},
		detailLine{"models", "", modelsLine(k.Models)},
		detailLine{"limits", "", fmt.Sprintf("rpm %s · tpm %s · in flight %s · per day %s",
			fmtLimit(k.RPM), fmtLimit(k.TPM), fmtLimit(k.MaxConcurrency), dayLimits(k))},
		detailLine{"today", "", fmt.Sprintf("%s req · %s errors · %s tokens · %s",
			fmtInt(u.Requests), fmtInt(u.Errors),
			ofLimit(fmtCount(float64(tokens)), fmtCount(float64(k.DailyTokens)), k.DailyTokens > 0),
			ofLimit(usageCost(u), fmtUSD(k.DailyCost), k.DailyCost > 0))},
		detailLine{"cache", "", cacheShareText(u)},
		detailLine{"other", "", fmt.Sprintf("timeout %s · max retries %s · expires %s", timeout, retries, expires)},
		detailLine{"last used", "", lastUsedDetail(k.LastUsedAt, p.c)},
	}
	if b := budgetsLine(k); b != "" {
		lines = append(lines[:4], append([]detailLine{{"budgets", "", b}}, lines[4:]...)...)
	}
	return details(s, lines...)
}

// budgetsLine is "$12.30 of $50.00/month (25%) · 1.0M tokens/month ·
// $500.00 total · unpriced deny" (what is used, when the gateway says), or
// "" for a key without budgets.
func budgetsLine(k *admin.Key) string {
	used := func(budget string, text func(float64) string) string {
		for _, u := range k.BudgetUse {
			if u.Budget == budget && u.Limit > 0 {
				return fmt.Sprintf("%s of ", text(u.Used))
			}
		}
		return ""
	}
	share := func(budget string) string {
		for _, u := range k.BudgetUse {
			if u.Budget == budget && u.Limit > 0 {
				return fmt.Sprintf(" (%.0f%%)", 100*u.Used/u.Limit)
			}
		}
		return ""
	}
	count := func(v float64) string { return fmtCount(v) }
	var parts []string
	if k.MonthlyCost > 0 {
		parts = append(parts, used("monthly_cost", fmtUSD)+fmtUSD(k.MonthlyCost)+"/month"+share("monthly_cost"))
	}
	if k.MonthlyTokens > 0 {
		parts = append(parts, used("monthly_tokens", count)+fmtCount(float64(k.MonthlyTokens))+" tokens/month"+share("monthly_tokens"))
	}
	if k.TotalCost > 0 {
		parts = append(parts, used("total_cost", fmtUSD)+fmtUSD(k.TotalCost)+" total"+share("total_cost"))
	}
	if len(parts) > 0 && k.Unpriced == admin.UnpricedDeny {
		parts = append(parts, "unpriced deny")
	}
	return strings.Join(parts, " · ")
}

// dayLimits is "5.0M tokens, $25.00", or "none".
func dayLimits(k *admin.Key) string {
	var parts []string
	if k.DailyTokens > 0 {
		parts = append(parts, fmtCount(float64(k.DailyTokens))+" tokens")
	}
	if k.DailyCost > 0 {
		parts = append(parts, fmtUSD(k.DailyCost))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (p *keysPage) view() string {
	s := p.c.styles
	switch {
	case p.created != nil:
		return p.secretView()
	case p.form != nil:
		return p.form.view()
	case p.confirm.open:
		return p.confirm.view(s, p.c.keys, p.c.width, p.c.bodyHeight)
	case !p.loaded:
		msg := s.Muted.Render("Loading keys…")
		if p.flash.kind == bannerErr {
			msg = p.flash.view(s, p.c.width, 3)
		}
		return msg
	}
	return p.list.layout(p.table, p.detail(), p.flash, p.note())
}

// secretView shows a new key's secret, the only time it can be seen.
func (p *keysPage) secretView() string {
	s, k := p.c.styles, p.created
	base := "http://HOST:8080/" + safe(k.Provider)
	if p.proxyAddr != "" {
		base = "http://" + safe(proxyHost(p.proxyAddr)) + "/" + safe(k.Provider)
	}
	w := max(p.c.width-2, 20)
	note := ansi.Wordwrap("This is the only time the secret is shown: aigw keeps only its hash and cannot show it again. "+
		"Copy it now into the application's configuration as its API key, with the base URL "+base+" (plus the API's own path, e.g. /v1).", w, " ")
	return s.Title.Render("New key "+safe(keyLabel(&k.Key))) + s.Muted.Render(" for provider "+safe(k.Provider)) + "\n\n" +
		"  " + s.Secret.Render(k.Secret) + "\n\n" +
		s.Warn.Render(note) + "\n\n" +
		s.Muted.Render("Press enter when you have copied it.")
}

// proxyHost makes a listen address something to connect to (":8080" →
// "127.0.0.1:8080").
func proxyHost(addr string) string {
	if strings.HasPrefix(addr, ":") || strings.HasPrefix(addr, "0.0.0.0:") || strings.HasPrefix(addr, "[::]:") {
		return "127.0.0.1" + addr[strings.LastIndex(addr, ":"):]
	}
	return addr
}

// keyForm is the create form (k == nil) or the edit form of k.
func (p *keysPage) keyForm(k *admin.Key) *form {
	var names []string
	for _, pr := range p.providers {
		names = append(names, pr.Name)
	}
	num := func(n int64) string {
		if n == 0 {
			return ""
		}
		return fmt.Sprint(n)
	}
	v := admin.Key{Strategy: admin.DefaultStrategy}
	if k != nil {
		v = *k
	}
	retries, timeout, expires, cost := "", "", "", ""
	if v.MaxRetries != nil {
		retries = fmt.Sprint(*v.MaxRetries)
	}
	if v.Timeout != 0 {
		timeout = v.Timeout.String()
	}
	if v.ExpiresAt != nil {
		expires = v.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if v.DailyCost != 0 {
		cost = fmt.Sprint(v.DailyCost)
	}
	usd := func(f float64) string {
		if f == 0 {
			return ""
		}
		return fmt.Sprint(f)
	}
	unpriced := admin.UnpricedAllow
	if v.Unpriced == admin.UnpricedDeny {
		unpriced = admin.UnpricedDeny
	}
	limit := wholeNumber(0, 1e15)
	fields := []*field{textInput("name", "Name", v.Name, "optional", "A label for the application that uses the key.", nil)}
	if k == nil {
		fields = append(fields, choiceInput("provider", "Provider", names, "", "The provider the key's requests go to (←/→ to choose)."))
	}
	fields = append(fields,
		p.credentialsInput(k, v.Credentials),
		choiceInput("strategy", "Strategy", admin.Strategies, v.Strategy, "How a credential is chosen from the pool (←/→)."),
		textInput("rpm", "Requests/min", num(v.RPM), "no limit", "Requests per minute; empty or 0: no limit.", limit),
		textInput("tpm", "Tokens/min", num(v.TPM), "no limit", "Tokens per minute; empty or 0: no limit.", limit),
		textInput("daily_tokens", "Tokens/day", num(v.DailyTokens), "no limit", "Tokens per UTC day; empty or 0: no limit.", limit),
		textInput("daily_cost", "Cost/day (USD)", cost, "no limit", "US dollars per UTC day, e.g. 5 or 2.50; empty or 0: no limit.", dollars),
		textInput("max_concurrency", "Concurrency", num(v.MaxConcurrency), "no limit", "Requests in flight at once; empty or 0: no limit.", limit),
		textInput("timeout", "Timeout", timeout, "provider's", "Upstream timeout, e.g. 60s or 5m; empty: the provider's or the default.", duration),
		textInput("max_retries", "Max retries", retries, "default", retriesHint(k != nil), wholeNumber(0, admin.MaxRetriesLimit)),
		textInput("expires_at", "Expires", expires, "never", "When the key stops working: a duration from now (30d), a date (2026-01-31) or an RFC 3339 time; empty: never.",
			func(s string) error { _, err := parseExpiry(s, p.c.now()); return err }),
		textInput("models", "Models", strings.Join(v.Models, ", "), "every model",
			"Models the key may use: exact names and * globs, comma-separated (gpt-5, claude-*); empty: every model.", checkModels),
		textInput("monthly_cost", "Cost/month (USD)", usd(v.MonthlyCost), "no budget", "US dollars per calendar month (budgets.timezone, default UTC); empty or 0: no budget.", budgetDollars),
		textInput("monthly_tokens", "Tokens/month", num(v.MonthlyTokens), "no budget", "Tokens per calendar month; empty or 0: no budget.", limit),
		textInput("total_cost", "Cost total (USD)", usd(v.TotalCost), "no budget", "US dollars over the key's life, never reset; empty or 0: no budget.", budgetDollars),
		choiceInput("unpriced", "Unpriced models", []string{admin.UnpricedAllow, admin.UnpricedDeny}, unpriced,
			"With a cost budget: may the key use models without a price (their cost is unknown)? deny refuses them (←/→)."),
	)
	if k == nil {
		return newForm(p.c, "New gateway key", "Its secret is shown once, when it is created.", fields...)
	}
	return newForm(p.c, "Edit key "+keyLabel(k), "Changes apply to the next request.", fields...)
}

func retriesHint(editing bool) string {
	h := fmt.Sprintf("Retries on another credential, 0 to %d; empty: ", admin.MaxRetriesLimit)
	if editing {
		return h + "unchanged."
	}
	return h + "the configured default."
}

// parseExpiry reads "" (none), a duration from now, a date or an RFC 3339 time.
func parseExpiry(v string, now time.Time) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	if d, err := units.ParseDuration(v); err == nil {
		t := now.Add(d)
		return &t, nil
	}
	if t, err := units.ParseTime(v); err == nil {
		return &t, nil
	}
	return nil, fmt.Errorf("%q is not a duration (30d), a date (2026-01-31) or an RFC 3339 time", v)
}

// submit turns the form into a create or an update request.
func (p *keysPage) submit() tea.Cmd {
	if p.editing == "" {
		in, ok := p.createInput()
		if !ok {
			return nil
		}
		return createKey(p.c, in)
	}
	patch, ok := p.patch()
	if !ok {
		return nil
	}
	return updateKey(p.c, p.editing, patch)
}

func (p *keysPage) retries() *int {
	if v := p.form.value("max_retries"); v != "" {
		n := int(parseInt(v))
		return &n
	}
	return nil
}

// createInput is the create form as a request; an empty pool is every
// credential of the chosen provider.
func (p *keysPage) createInput() (admin.KeyInput, bool) {
	f := p.form
	provider := f.value("provider")
	pool := list(f.value("credentials"), ", ")
	if len(pool) == 0 {
		for _, c := range p.creds {
			if c.Provider == provider {
				pool = append(pool, c.ID)
			}
		}
		if len(pool) == 0 {
			f.fail("credentials", fmt.Sprintf("provider %q has no credentials yet: add one on page 4 first", provider))
			return admin.KeyInput{}, false
		}
	}
	expires, _ := parseExpiry(f.value("expires_at"), p.c.now())
	return admin.KeyInput{
		Provider: provider, Credentials: pool, Name: f.value("name"), Strategy: f.value("strategy"),
		Limits: admin.Limits{
			RPM: parseInt(f.value("rpm")), TPM: parseInt(f.value("tpm")), DailyTokens: parseInt(f.value("daily_tokens")),
			DailyCost: parseUSD(f.value("daily_cost")), MaxConcurrency: parseInt(f.value("max_concurrency")),
			MonthlyCost: parseUSD(f.value("monthly_cost")), MonthlyTokens: parseInt(f.value("monthly_tokens")),
			TotalCost: parseUSD(f.value("total_cost")), Unpriced: f.value("unpriced"),
		},
		Timeout: parseDuration(f.value("timeout")), MaxRetries: p.retries(), ExpiresAt: expires,
		Models: list(f.value("models"), ", "),
	}, true
}

// patch is the edit form as a request.
func (p *keysPage) patch() (admin.KeyPatch, bool) {
	f := p.form
	pool := list(f.value("credentials"), ", ")
	if len(pool) == 0 {
		f.fail("credentials", "a key needs at least one credential")
		return admin.KeyPatch{}, false
	}
	name, strategy := f.value("name"), f.value("strategy")
	rpm, tpm, daily := parseInt(f.value("rpm")), parseInt(f.value("tpm")), parseInt(f.value("daily_tokens"))
	cost, conc := parseUSD(f.value("daily_cost")), parseInt(f.value("max_concurrency"))
	timeout := parseDuration(f.value("timeout"))
	monthCost, monthTokens, totalCost := parseUSD(f.value("monthly_cost")), parseInt(f.value("monthly_tokens")), parseUSD(f.value("total_cost"))
	unpriced := f.value("unpriced")
	models := list(f.value("models"), ", ")
	if models == nil {
		models = []string{} // every model: sent as [], which clears the list
	}
	patch := admin.KeyPatch{
		Name: &name, Credentials: &pool, Strategy: &strategy, RPM: &rpm, TPM: &tpm, DailyTokens: &daily,
		DailyCost: &cost, MaxConcurrency: &conc, Timeout: &timeout, MaxRetries: p.retries(), Models: &models,
		MonthlyCost: &monthCost, MonthlyTokens: &monthTokens, TotalCost: &totalCost, Unpriced: &unpriced,
	}
	if v := f.value("expires_at"); v != p.editExpires { // resending an expiry now past would be refused
		expires, _ := parseExpiry(v, p.c.now())
		patch.ExpiresAt, patch.NoExpiry = expires, expires == nil
	}
	return patch, true
}

func createKey(c *common, in admin.KeyInput) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		k, err := c.client.CreateKey(ctx, in)
		return keyCreatedMsg{Key: k, Err: err}
	}
}

func updateKey(c *common, id string, patch admin.KeyPatch) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		k, err := c.client.UpdateKey(ctx, id, patch)
		return keySavedMsg{Key: k, Verb: "updated", Err: err}
	}
}

func revokeKey(c *common, id string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		k, err := c.client.RevokeKey(ctx, id)
		if err != nil {
			err = fmt.Errorf("revoking key %s: %w", id, err)
		}
		return keySavedMsg{Key: k, Verb: "revoked", Err: err}
	}
}
