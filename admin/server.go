// Package admin is aigw's management plane: the REST+JSON API under /api/v1
// (providers, credentials, keys, admin tokens, backup) with scoped admin
// tokens, and the Go client that the CLI and the TUI use. It never sits on
// the proxy's request path; after every write it asks the proxy (through the
// Reload hook) to rebuild its in-memory snapshot.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/aigw/aigw/proxy/usage"
	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
)

// Options wires a Server.
type Options struct {
	Store  *store.Store
	Tokens *Tokens
	// Reload rebuilds the proxy's snapshot after a write; nil does nothing.
	Reload func() error
	// Changed, when set, is called instead of Reload with what the write
	// changed, so that the proxy rebuilds only that.
	Changed func(Change) error
	// Health gives the credentials' live state (nil: not shown).
	Health *scheduler.Health
	// RefreshCredential refreshes an OAuth credential now and waits for the
	// outcome (nil: POST …/refresh answers 503).
	RefreshCredential func(ctx context.Context, id string) error
	// ProviderStates gives, by provider name, why a provider is out of
	// service ("" or absent: it serves); nil: not shown.
	ProviderStates func() map[string]string
	// Live is the trace pipeline's live view (nil: no live stream).
	Live LiveTraces
	// Metrics serves /metrics (nil: not served).
	Metrics http.Handler
	// Status reports the live figures of /api/v1/status (nil: not served).
	Status func() Status
	// Prices gives the price table in use (nil: the built-in one).
	Prices func() *usage.Prices
	// PricesImported, when set, is called with an imported price list once
	// it is stored: the gateway prices requests with it from then on.
	PricesImported func(map[string]usage.Price)
	// KeyLastUsed gives when key id was last used (ok false: never; nil:
	// not shown). Asked per key listed, so that a page of keys costs the
	// same however many keys there are.
	KeyLastUsed func(id string) (t time.Time, ok bool)
	// Budgets gives the use now of the budgets of subjects ("key:ID",
	// "provider:NAME", "credential:ID"), by subject; nil: not shown.
	Budgets func(subjects []string) map[string][]BudgetUse
	// Alerts is the live alert feed (nil: no live alert stream).
	Alerts AlertFeed
	// KeyRefs offers every gateway key from memory (the proxy's
	// configuration), for picking a page of keys; nil: the pages are
	// picked from the stored records, which costs O(keys) decodes.
	KeyRefs store.KeyRefs
	Logger  *slog.Logger
}

// Server serves the admin API.
type Server struct {
	closing  chan struct{} // closed by CloseStreams
	closeOne sync.Once
	store    *store.Store
	tokens   *Tokens
	reload   func() error
	onChange func(Change) error
	health   *scheduler.Health
	refresh  func(ctx context.Context, id string) error
	provs    func() map[string]string
	live     LiveTraces
	metrics  http.Handler
	statusFn func() Status
	lastUsed func(id string) (time.Time, bool)
	budgets  func(subjects []string) map[string][]BudgetUse
	alerts   AlertFeed
	keyRefs  store.KeyRefs
	prices   func() *usage.Prices
	// pricesImported: see Options.PricesImported.
	pricesImported func(map[string]usage.Price)
	log            *slog.Logger
	mux            *http.ServeMux
}

// New builds the server and its routes.
func New(o Options) *Server {
	s := &Server{closing: make(chan struct{}), store: o.Store, tokens: o.Tokens, reload: o.Reload, onChange: o.Changed, health: o.Health, refresh: o.RefreshCredential, provs: o.ProviderStates, live: o.Live, metrics: o.Metrics, statusFn: o.Status, lastUsed: o.KeyLastUsed, budgets: o.Budgets, alerts: o.Alerts, keyRefs: o.KeyRefs, log: o.Logger, mux: http.NewServeMux(),
		prices: o.Prices, pricesImported: o.PricesImported}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.routes()
	return s
}

// CloseStreams ends every live stream (they would otherwise hold a
// graceful shutdown until its deadline); call it before http.Server.Shutdown.
func (s *Server) CloseStreams() { s.closeOne.Do(func() { close(s.closing) }) }

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.mux }

// handlerFunc returns an error instead of writing one; serve writes it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.handle("GET /api/v1/providers", ScopeProvidersRead, s.listProviders)
	s.handle("POST /api/v1/providers", ScopeProvidersWrite, s.createProvider)
	s.handle("GET /api/v1/providers/{name}", ScopeProvidersRead, s.getProvider)
	s.handle("PATCH /api/v1/providers/{name}", ScopeProvidersWrite, s.updateProvider)
	s.handle("DELETE /api/v1/providers/{name}", ScopeProvidersWrite, s.deleteProvider)

	s.handle("GET /api/v1/credentials", ScopeCredentialsRead, s.listCredentials)
	s.handle("POST /api/v1/credentials", ScopeCredentialsWrite, s.createCredential)
	s.handle("GET /api/v1/credentials/{id}", ScopeCredentialsRead, s.getCredential)
	s.handle("PATCH /api/v1/credentials/{id}", ScopeCredentialsWrite, s.updateCredential)
	s.handle("DELETE /api/v1/credentials/{id}", ScopeCredentialsWrite, s.deleteCredential)
	s.handle("POST /api/v1/credentials/{id}/refresh", ScopeCredentialsWrite, s.refreshCredential)

	s.handle("GET /api/v1/keys", ScopeKeysRead, s.listKeys)
	s.handle("POST /api/v1/keys", ScopeKeysWrite, s.createKey)
	s.handle("GET /api/v1/keys/{id}", ScopeKeysRead, s.getKey)
	s.handle("PATCH /api/v1/keys/{id}", ScopeKeysWrite, s.updateKey)
	s.handle("POST /api/v1/keys/{id}/revoke", ScopeKeysWrite, s.revokeKey)

	s.handle("GET /api/v1/tokens", ScopeTokensRead, s.listTokens)
	s.handle("POST /api/v1/tokens", ScopeTokensWrite, s.createToken)
	s.handle("GET /api/v1/tokens/{id}", ScopeTokensRead, s.getToken)
	s.handle("DELETE /api/v1/tokens/{id}", ScopeTokensWrite, s.revokeToken)

	s.handle("GET /api/v1/backup", ScopeBackup, s.backup)

	s.handle("GET /api/v1/traces", ScopeTracesRead, s.listTraces)
	s.handle("GET /api/v1/traces/stream", ScopeTracesRead, s.streamTraces)
	s.handle("GET /api/v1/traces/export", ScopeTracesRead, s.exportTraces)
	s.handle("GET /api/v1/traces/{id}", ScopeTracesRead, s.getTrace)
	s.handle("GET /api/v1/usage", ScopeUsageRead, s.usage)
	s.handle("GET /api/v1/prices", ScopeUsageRead, s.listPrices)
	s.handle("PUT /api/v1/prices/imported", ScopeAdmin, s.importPrices)
	s.handle("GET /api/v1/status", ScopeMetricsRead, s.status)
	// Alerts are status: what metrics:read already shows, in a sentence.
	s.handle("GET /api/v1/alerts", ScopeMetricsRead, s.listAlerts)
	s.handle("GET /api/v1/alerts/stream", ScopeMetricsRead, s.streamAlerts)
	s.handle("GET /metrics", ScopeMetricsRead, func(w http.ResponseWriter, r *http.Request) error {
		if s.metrics == nil {
			return &httpError{status: http.StatusNotFound, msg: "metrics are not enabled"}
		}
		s.metrics.ServeHTTP(w, r)
		return nil
	})

	// Go's profiler, for the operator chasing a performance problem.
	s.handle("GET /debug/pprof/{name...}", ScopeAdmin, func(w http.ResponseWriter, r *http.Request) error {
		switch r.PathValue("name") {
		case "profile":
			pprof.Profile(w, r)
		case "trace":
			pprof.Trace(w, r)
		case "":
			pprof.Index(w, r)
		default:
			pprof.Handler(r.PathValue("name")).ServeHTTP(w, r)
		}
		return nil
	})

	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &httpError{status: http.StatusNotFound, msg: fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)})
	})
}

type ctxKey struct{}

// handle registers h behind admin-token authentication and a scope check.
func (s *Server) handle(pattern, scope string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		tok, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !hasScope(tok.Scopes, scope) {
			s.writeError(w, r, &httpError{status: http.StatusForbidden,
				msg: fmt.Sprintf("admin token %s lacks the %s scope", tok.ID, scope)})
			return
		}
		r = r.WithContext(withToken(r.Context(), tok))
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) authenticate(r *http.Request) (store.AdminToken, error) {
	auth := r.Header.Get("Authorization")
	scheme, raw, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return store.AdminToken{}, &httpError{status: http.StatusUnauthorized, msg: "missing admin token (Authorization: Bearer …)"}
	}
	tok, err := s.tokens.Verify(strings.TrimSpace(raw))
	if err != nil {
		return store.AdminToken{}, &httpError{status: http.StatusUnauthorized, msg: err.Error()}
	}
	return tok, nil
}

// changed runs after a successful write: the proxy's snapshot follows.
// Change names what a write changed, so that the proxy's configuration
// changes by that much (Options.Changed).
type Change struct {
	Kind    string // ChangeProvider, ChangeCredential or ChangeKey
	ID      string // the provider's name, the credential's or the key's id
	Removed bool   // it was deleted (with what the store deleted with it)
}

// Change kinds.
const (
	ChangeProvider   = "provider"
	ChangeCredential = "credential"
	ChangeKey        = "key"
)

func (s *Server) changed(c Change) {
	var err error
	switch {
	case s.onChange != nil:
		err = s.onChange(c)
	case s.reload != nil:
		err = s.reload()
	default:
		return
	}
	if err != nil {
		s.log.Error("reloading the proxy snapshot failed; the proxy keeps the previous configuration", "err", err)
	}
}

// httpError is an error with the status to answer.
type httpError struct {
	status int
	msg    string
	field  string
}

func (e *httpError) Error() string { return e.msg }

type errorBody struct {
	Error struct {
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

// writeError turns any handler error into a JSON error with its status.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var body errorBody
	body.Error.Message = err.Error()
	status := http.StatusInternalServerError
	var he *httpError
	var ve *store.ValidationError
	switch {
	case errors.As(err, &he):
		status, body.Error.Field = he.status, he.field
	case errors.As(err, &ve):
		status, body.Error.Field = http.StatusBadRequest, ve.Field
	case errors.Is(err, store.ErrTokenInactive): // revoked while its request ran
		status = http.StatusUnauthorized
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, store.ErrExists), errors.Is(err, store.ErrInUse):
		status = http.StatusConflict
	default:
		s.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Error.Message = "internal error: " + err.Error()
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

const maxRequestBody = 1 << 20

// decode reads a JSON request body strictly: unknown fields and wrong types
// are 400 errors naming the field.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		var me *http.MaxBytesError
		switch {
		case errors.As(err, &me):
			return &httpError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body larger than %d bytes", maxRequestBody)}
		case errors.As(err, &te):
			f := jsonField(te.Field)
			return &httpError{status: http.StatusBadRequest, field: f,
				msg: fmt.Sprintf("invalid %s: expected %s, got %s", f, te.Type, te.Value)}
		case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return &httpError{status: http.StatusBadRequest, msg: "request body is not valid JSON"}
		// encoding/json has no typed error for an unknown field; its text is
		// the only signal, and it is stable since Go 1.10.
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &httpError{status: http.StatusBadRequest, field: f, msg: fmt.Sprintf("unknown field %q", f)}
		}
		return &httpError{status: http.StatusBadRequest, msg: "invalid request body: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &httpError{status: http.StatusBadRequest, msg: "request body is not valid JSON: data after the object"}
	}
	return nil
}

// jsonField turns encoding/json's path of a refused field into the name the
// client sent: json puts the Go names of embedded structs in the path
// ("Limits.rpm" for a key's "rpm"), and JSON names here are lower case.
func jsonField(path string) string {
	parts := strings.Split(path, ".")
	kept := parts[:0]
	for _, p := range parts {
		if p != "" && (p[0] < 'A' || p[0] > 'Z') {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ".")
}
