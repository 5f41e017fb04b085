package tui

import (
	"context"
	"errors"
	"fmt"

	"github.com/aigw/aigw/admin"
	tea "github.com/charmbracelet/bubbletea"
)

// The Keys and Credentials pages load their lists a page at a time (issue
// 17): the first page when shown, the next when the cursor comes within
// moreMargin rows of the last one loaded; a reload asks again for as many
// as were loaded. The "/" filter searches what is loaded, and says so
// while more exist (it does not load more by itself).

const (
	listPageSize = admin.DefaultPageLimit
	moreMargin   = 20
	// maxLoadPages bounds one load (a reload of everything loaded so far).
	maxLoadPages = 1000
)

// pager is a list page's place in its paged list.
type pager struct {
	next    string // the cursor after what is loaded ("": everything is)
	loading bool   // the next page is on its way
	gen     int    // counts loads: a page asked for before a reload is dropped
}

// reload starts a load from the first page.
func (pg *pager) reload() int {
	pg.loading = false
	pg.gen++
	return pg.gen
}

// due reports whether to ask for the next page, and marks it asked: more
// exist, none is on its way, no filter is applied and the cursor is near
// the last row shown.
func (pg *pager) due(shown, cursor int, filtered bool) bool {
	if pg.next == "" || pg.loading || filtered || shown-cursor > moreMargin {
		return false
	}
	pg.loading = true
	return true
}

// arrived takes a next page's cursor; false when the page is stale (a
// reload started since it was asked for).
func (pg *pager) arrived(gen int, next string, err error) bool {
	if gen != pg.gen {
		return false
	}
	pg.loading = false
	if err == nil {
		pg.next = next
	}
	return true
}

// note says that more exist than the n loaded ("" when not).
func (pg *pager) note(n int, plural string, filtered bool) string {
	switch {
	case pg.next == "":
		return ""
	case filtered:
		return fmt.Sprintf("searches the %d loaded", n)
	}
	return fmt.Sprintf("%d %s loaded, more as you scroll", n, plural)
}

// firstPages returns the first n items (at least one page) and the cursor
// after them.
func firstPages[T any](n int, fetch func(cursor string, limit int) ([]T, string, error)) ([]T, string, error) {
	n = max(n, listPageSize)
	var out []T
	cursor := ""
	for range maxLoadPages {
		items, next, err := fetch(cursor, min(n-len(out), admin.MaxPageLimit))
		if err != nil {
			return nil, "", err
		}
		out = append(out, items...)
		if next == "" || len(out) >= n {
			return out, next, nil
		}
		cursor = next
	}
	return out, cursor, nil
}

// appendNew appends the items of page whose id is not in list yet.
func appendNew[T any](list, page []T, id func(*T) string) []T {
	have := make(map[string]bool, len(list))
	for i := range list {
		have[id(&list[i])] = true
	}
	for i := range page {
		if !have[id(&page[i])] {
			list = append(list, page[i])
		}
	}
	return list
}

// moreMsg is the page of items after those loaded.
type moreMsg[T any] struct {
	Items []T
	Next  string
	Gen   int
	Err   error
}

// askMore asks for the next page when pg says it is due.
func askMore[T any](c *common, pg *pager, shown, cursor int, filtered bool,
	fetch func(ctx context.Context, client *admin.Client, cursor string) ([]T, string, error)) tea.Cmd {
	if !pg.due(shown, cursor, filtered) {
		return nil
	}
	after, gen := pg.next, pg.gen
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		items, next, err := fetch(ctx, c.client, after)
		return moreMsg[T]{Items: items, Next: next, Gen: gen, Err: err}
	}
}

// takeMore adds a next page to list; ok is false when the page is stale
// or failed (then err says why, for the page's banner).
func takeMore[T any](pg *pager, list []T, msg moreMsg[T], id func(*T) string) (out []T, ok bool, err error) {
	if !pg.arrived(msg.Gen, msg.Next, msg.Err) {
		return list, false, nil
	}
	if msg.Err != nil {
		return list, false, msg.Err
	}
	return appendNew(list, msg.Items, id), true, nil
}

// --- keys --------------------------------------------------------------------

func keyID(k *admin.Key) string { return k.ID }

// keysAfter is the page of at most limit keys after cursor.
func keysAfter(ctx context.Context, c *admin.Client, cursor string, limit int) ([]admin.Key, string, error) {
	page, err := c.Keys(ctx, admin.KeyQuery{Cursor: cursor, Limit: limit})
	return page.Keys, page.NextCursor, err
}

func fetchKeys(ctx context.Context, c *admin.Client, n int) ([]admin.Key, string, error) {
	return firstPages(n, func(cursor string, limit int) ([]admin.Key, string, error) { return keysAfter(ctx, c, cursor, limit) })
}

// more asks for the next page of keys when it is due.
func (p *keysPage) more() tea.Cmd {
	return askMore(p.c, &p.pages, len(p.list.shown), p.table.cursor, p.list.active(),
		func(ctx context.Context, c *admin.Client, cursor string) ([]admin.Key, string, error) {
			return keysAfter(ctx, c, cursor, listPageSize)
		})
}

func (p *keysPage) addMore(msg moreMsg[admin.Key]) tea.Cmd {
	keys, ok, err := takeMore(&p.pages, p.keys, msg, keyID)
	if err != nil {
		p.flash = failBanner("cannot load more keys", err)
	}
	if !ok {
		return nil
	}
	p.keys = keys
	p.setRows()
	return p.more()
}

// note is the line above the list: whether more keys exist than are
// loaded, and the hidden revoked keys.
func (p *keysPage) note() string {
	more, hidden := p.pages.note(len(p.keys), "keys", p.list.active()), p.hiddenNote()
	if more != "" && hidden != "" {
		return more + " · " + hidden
	}
	return more + hidden
}

// errNamed ends a walk over the keys once every row is named.
var errNamed = errors.New("every key named")

// keyNames names the keys of usage rows grouped by key: the keys are
// walked page after page (oldest first) only until every row's is found.
func keyNames(ctx context.Context, c *admin.Client, rows []admin.UsageRow) (map[string]string, error) {
	names := make(map[string]string, len(rows))
	want := make(map[string]bool, len(rows))
	for _, r := range rows {
		want[r.Group] = true
	}
	if len(want) == 0 {
		return names, nil
	}
	err := c.EachKeyPage(ctx, admin.KeyQuery{Limit: admin.MaxPageLimit}, func(page []admin.Key) error {
		for _, k := range page {
			if want[k.ID] {
				names[k.ID] = k.Name
				delete(want, k.ID)
			}
		}
		if len(want) == 0 {
			return errNamed
		}
		return nil
	})
	if errors.Is(err, errNamed) {
		err = nil
	}
	return names, err
}

// --- credentials ---------------------------------------------------------------

func credentialID(c *admin.Credential) string { return c.ID }

// credentialsAfter is the page of at most limit credentials after cursor.
func credentialsAfter(ctx context.Context, c *admin.Client, cursor string, limit int) ([]admin.Credential, string, error) {
	page, err := c.Credentials(ctx, admin.CredentialQuery{Cursor: cursor, Limit: limit})
	return page.Credentials, page.NextCursor, err
}

func fetchCredentials(ctx context.Context, c *admin.Client, n int) ([]admin.Credential, string, error) {
	return firstPages(n, func(cursor string, limit int) ([]admin.Credential, string, error) {
		return credentialsAfter(ctx, c, cursor, limit)
	})
}

// more asks for the next page of credentials when it is due.
func (p *credentialsPage) more() tea.Cmd {
	return askMore(p.c, &p.pages, len(p.list.shown), p.table.cursor, p.list.active(),
		func(ctx context.Context, c *admin.Client, cursor string) ([]admin.Credential, string, error) {
			return credentialsAfter(ctx, c, cursor, listPageSize)
		})
}

func (p *credentialsPage) addMore(msg moreMsg[admin.Credential]) tea.Cmd {
	creds, ok, err := takeMore(&p.pages, p.creds, msg, credentialID)
	if err != nil {
		p.flash = failBanner("cannot load more credentials", err)
	}
	if !ok {
		return nil
	}
	p.creds = creds
	p.setRows()
	return p.more()
}
