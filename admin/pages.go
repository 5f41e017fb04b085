package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/aigw/aigw/store"
)

// The key and credential lists come a page at a time (issue 17), like the
// traces: GET /api/v1/keys?provider=&name=<prefix>&status=&cursor=&limit=
// answers {"keys":[…],"next_cursor":"…"}; the next page is asked for with
// cursor=next_cursor and the same filters, until next_cursor is "".

// keyPageOut is how the server sends a KeyPage.
type keyPageOut struct {
	Keys       []keyOut `json:"keys"`
	NextCursor string   `json:"next_cursor"`
}

// credentialPageOut is how the server sends a CredentialPage.
type credentialPageOut struct {
	Credentials []credentialOut `json:"credentials"`
	NextCursor  string          `json:"next_cursor"`
}

// pageLimit reads the limit parameter (default DefaultPageLimit).
func pageLimit(q url.Values) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return DefaultPageLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxPageLimit {
		return 0, badParam("limit", "%q must be between 1 and %d", s, MaxPageLimit)
	}
	return n, nil
}

// listedProvider is the provider parameter; an unknown provider is a 404,
// not an empty page.
func (s *Server) listedProvider(q url.Values) (string, error) {
	p := q.Get("provider")
	if p != "" {
		if _, err := s.store.Provider(p); err != nil {
			return "", err
		}
	}
	return p, nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.KeyFilter{NamePrefix: q.Get("name"), Status: q.Get("status"), After: q.Get("cursor")}
	if f.Status != "" && !slices.Contains(KeyStatuses, f.Status) {
		return badParam("status", "%q is not one of %s", f.Status, strings.Join(KeyStatuses, ", "))
	}
	var err error
	if f.Limit, err = pageLimit(q); err != nil {
		return err
	}
	if f.Provider, err = s.listedProvider(q); err != nil {
		return err
	}
	ks, next, err := s.store.KeysFrom(f, s.keyRefs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, keyPageOut{Keys: s.withLastUsed(ks...), NextCursor: next})
	return nil
}

func (s *Server) listCredentials(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.CredentialFilter{NamePrefix: q.Get("name"), After: q.Get("cursor")}
	var err error
	if f.Limit, err = pageLimit(q); err != nil {
		return err
	}
	if f.Provider, err = s.listedProvider(q); err != nil {
		return err
	}
	cs, next, err := s.store.Credentials(f)
	if err != nil {
		return err
	}
	budgets := budgetUseOf(s, "credential:", cs, func(c *store.Credential) string { return c.ID })
	out := make([]credentialOut, len(cs))
	for i, c := range cs {
		out[i] = s.credentialWith(c, budgets)
	}
	writeJSON(w, http.StatusOK, credentialPageOut{Credentials: out, NextCursor: next})
	return nil
}

// KeyQuery selects a page of gateway keys.
type KeyQuery struct {
	Provider string // exactly this provider
	Name     string // names starting with it (the page is then in name order)
	Status   string // KeyActive, KeyRevoked, KeyExpired; "": all
	Cursor   string // the NextCursor of the page before
	Limit    int    // 0: DefaultPageLimit
}

// CredentialQuery selects a page of credentials.
type CredentialQuery struct {
	Provider string // exactly this provider
	Name     string // names starting with it
	Cursor   string // the NextCursor of the page before
	Limit    int    // 0: DefaultPageLimit
}

// pageQuery is the query string of a list: the parameters given (pairs
// of name and value; an empty value is left out) and the limit, when set.
func pageQuery(limit int, pairs ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			v.Set(pairs[i], pairs[i+1])
		}
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// Keys returns one page of gateway keys.
func (c *Client) Keys(ctx context.Context, q KeyQuery) (KeyPage, error) {
	var out KeyPage
	path := "/api/v1/keys" + pageQuery(q.Limit, "provider", q.Provider, "name", q.Name, "status", q.Status, "cursor", q.Cursor)
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// Credentials returns one page of credentials (never their secrets).
func (c *Client) Credentials(ctx context.Context, q CredentialQuery) (CredentialPage, error) {
	var out CredentialPage
	path := "/api/v1/credentials" + pageQuery(q.Limit, "provider", q.Provider, "name", q.Name, "cursor", q.Cursor)
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// maxPages bounds a walk over every page (10 million keys at the largest
// page size): a server that kept answering with a cursor would otherwise
// keep the client going for ever.
const maxPages = 10_000

// EachKeyPage calls each with every page of q's keys in turn, from q.Cursor
// on, until the last page or each's error. Only one page is held at a time.
func (c *Client) EachKeyPage(ctx context.Context, q KeyQuery, each func([]Key) error) error {
	for range maxPages {
		page, err := c.Keys(ctx, q)
		if err != nil {
			return err
		}
		if err := each(page.Keys); err != nil {
			return err
		}
		if page.NextCursor == "" {
			return nil
		}
		if page.NextCursor == q.Cursor {
			return fmt.Errorf("admin API /api/v1/keys: the next page's cursor is the one just used")
		}
		q.Cursor = page.NextCursor
	}
	return fmt.Errorf("admin API /api/v1/keys: more than %d pages", maxPages)
}

// AllCredentials lists every credential q selects (from its cursor on),
// page after page (an operator has tens of them, not thousands).
func (c *Client) AllCredentials(ctx context.Context, q CredentialQuery) ([]Credential, error) {
	out := []Credential{}
	q.Limit = MaxPageLimit
	for range maxPages {
		page, err := c.Credentials(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Credentials...)
		if page.NextCursor == "" || page.NextCursor == q.Cursor {
			return out, nil
		}
		q.Cursor = page.NextCursor
	}
	return nil, fmt.Errorf("admin API /api/v1/credentials: more than %d pages", maxPages)
}
