package admin

import (
	"time"

	"github.com/aigw/aigw/internal/units"
	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
)

// The admin API's wire types: what the CLI and the TUI send and receive.
// They are the API's contract, apart from how the store keeps records:
// the server encodes its records, clients decode these, and
// TestWireTypesMatchTheServer round-trips every pair, so a field added to
// a record without its wire field (or the other way) fails the build's
// tests instead of vanishing silently. Nothing under tui/ or cmd/ needs
// the store package.

// Provider is an upstream API as the admin API shows it; Broken says why
// a provider whose configuration could not be loaded (a ca_file gone) is
// out of service.
type Provider struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	BaseURL string `json:"base_url"`
	// AuthHeaders are templates ("Authorization: Bearer {key}") filled with
	// the credential; Headers are added to upstream requests.
	AuthHeaders   []string       `json:"auth_headers"`
	Headers       []string       `json:"headers"`
	Timeout       units.Duration `json:"timeout"` // 0: inherit from config
	CAFile        string         `json:"ca_file,omitempty"`
	SessionHeader string         `json:"session_header,omitempty"` // "": DefaultSessionHeader
	MonthlyCost   float64        `json:"monthly_cost,omitempty"`   // USD per calendar month; 0: no budget
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
	Broken        string         `json:"broken,omitempty"`
	BudgetUse     []BudgetUse    `json:"budget_use"` // its budget's use now; [] without one
}

// ProviderPatch changes the settings it sets; nil fields are unchanged.
type ProviderPatch struct {
	Type          *string         `json:"type,omitempty"`
	BaseURL       *string         `json:"base_url,omitempty"`
	AuthHeaders   *[]string       `json:"auth_headers,omitempty"`
	Headers       *[]string       `json:"headers,omitempty"`
	Timeout       *units.Duration `json:"timeout,omitempty"`
	CAFile        *string         `json:"ca_file,omitempty"`
	SessionHeader *string         `json:"session_header,omitempty"` // "": the default
	MonthlyCost   *float64        `json:"monthly_cost,omitempty"`   // 0: no budget
}

// Credential is one upstream secret (never shown: Preview is) with its
// live health. Broken says why a credential whose record could not be
// loaded (a secret that does not unseal) is in no pool.
type Credential struct {
	ID        string            `json:"id"`
	Provider  string            `json:"provider"`
	Name      string            `json:"name"`
	Kind      string            `json:"kind"` // KindAPIKey or KindOAuth
	Preview   string            `json:"preview"`
	Weight    int               `json:"weight"`
	RPM       int64             `json:"rpm"` // 0: no own limit
	Enabled   bool              `json:"enabled"`
	OAuth     *OAuthInfo        `json:"oauth,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	Health    *scheduler.Status `json:"health,omitempty"`
	Broken    string            `json:"broken,omitempty"`

	// MonthlyCost: USD per calendar month, 0: no budget. A credential that
	// spent it is out of rotation (health state budget_exhausted) until the
	// month ends.
	MonthlyCost float64     `json:"monthly_cost,omitempty"`
	BudgetUse   []BudgetUse `json:"budget_use"` // its budget's use now; [] without one
}

// OAuthInfo is an OAuth credential's refresh settings and last refresh
// (never its tokens).
type OAuthInfo struct {
	TokenURL         string     `json:"token_url"`
	ClientID         string     `json:"client_id,omitempty"`
	ExpiresAt        *time.Time `json:"expires_at,omitempty"` // of the access token
	LastRefreshAt    *time.Time `json:"last_refresh_at,omitempty"`
	RefreshState     string     `json:"refresh_state,omitempty"` // RefreshOK, RefreshInvalidGrant, …
	LastRefreshError string     `json:"last_refresh_error,omitempty"`
}

// CredentialInput adds a credential.
type CredentialInput struct {
	Provider string `json:"provider"`
	Name     string `json:"name"`
	Secret   string `json:"secret"`           // the API key, or an OAuth access token
	Weight   *int   `json:"weight,omitempty"` // default 1
	RPM      int64  `json:"rpm"`
	// MonthlyCost: USD per calendar month (0: no budget).
	MonthlyCost float64 `json:"monthly_cost,omitempty"`
	// OAuth credentials only.
	OAuthTokenURL     string     `json:"oauth_token_url,omitempty"`
	OAuthRefreshToken string     `json:"oauth_refresh_token,omitempty"`
	OAuthClientID     string     `json:"oauth_client_id,omitempty"`
	ExpiresAt         *time.Time `json:"expires_at,omitempty"`
}

// CredentialPatch changes what it sets; nil fields are unchanged.
type CredentialPatch struct {
	Name              *string    `json:"name,omitempty"`
	Weight            *int       `json:"weight,omitempty"`
	RPM               *int64     `json:"rpm,omitempty"`
	MonthlyCost       *float64   `json:"monthly_cost,omitempty"` // 0: no budget
	Enabled           *bool      `json:"enabled,omitempty"`
	Secret            *string    `json:"secret,omitempty"` // rotate the secret
	OAuthTokenURL     *string    `json:"oauth_token_url,omitempty"`
	OAuthRefreshToken *string    `json:"oauth_refresh_token,omitempty"`
	OAuthClientID     *string    `json:"oauth_client_id,omitempty"`
	ExpiresAt         *time.Time `json:"expires_at,omitempty"`
}

// Limits are a gateway key's own limits; 0 is no limit.
type Limits struct {
	RPM            int64   `json:"rpm"`             // requests per minute
	TPM            int64   `json:"tpm"`             // tokens per minute
	DailyTokens    int64   `json:"daily_tokens"`    // tokens per UTC day
	DailyCost      float64 `json:"daily_cost"`      // USD per UTC day
	MaxConcurrency int64   `json:"max_concurrency"` // requests in flight
	// Budgets: a calendar month in the configured budgets.timezone (UTC by
	// default), and the key's whole life; 0 (absent): none.
	MonthlyCost   float64 `json:"monthly_cost,omitempty"`   // USD per calendar month
	MonthlyTokens int64   `json:"monthly_tokens,omitempty"` // tokens per calendar month
	TotalCost     float64 `json:"total_cost,omitempty"`     // USD over the key's life
	// Unpriced: UnpricedAllow ("" too) or UnpricedDeny — whether a key with
	// a cost budget may use a model without a price.
	Unpriced string `json:"unpriced,omitempty"`
}

// Key.Unpriced values.
const (
	UnpricedAllow = store.UnpricedAllow
	UnpricedDeny  = store.UnpricedDeny
)

// Key is a gateway key (never its secret: Preview is).
type Key struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Provider    string   `json:"provider"`
	Preview     string   `json:"preview"`
	Credentials []string `json:"credentials"`
	Strategy    string   `json:"strategy"`
	Models      []string `json:"models"` // exact names and * globs; empty: every model
	Limits
	Timeout    units.Duration `json:"timeout"`     // 0: inherit from provider / config
	MaxRetries *int           `json:"max_retries"` // nil: the configured default
	ExpiresAt  *time.Time     `json:"expires_at"`
	RevokedAt  *time.Time     `json:"revoked_at"`
	Status     string         `json:"status"` // KeyActive, KeyRevoked, KeyExpired
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	LastUsedAt *time.Time     `json:"last_used_at"` // when a request last presented it; nil: never
	BudgetUse  []BudgetUse    `json:"budget_use"`   // each budget's use now; [] without budgets
}

// BudgetUse is how much of one budget is used now.
type BudgetUse struct {
	Budget string     `json:"budget"` // monthly_cost, monthly_tokens, total_cost
	Period string     `json:"period"` // "2026-12", or "total"
	Used   float64    `json:"used"`   // USD, or tokens
	Limit  float64    `json:"limit"`
	Reset  *time.Time `json:"reset"` // when the period ends; nil for total_cost
}

// KeyInput creates a gateway key.
type KeyInput struct {
	Provider    string   `json:"provider"`
	Credentials []string `json:"credentials"`
	Name        string   `json:"name"`
	Strategy    string   `json:"strategy"` // default DefaultStrategy
	Models      []string `json:"models,omitempty"`
	Limits
	Timeout    units.Duration `json:"timeout"`
	MaxRetries *int           `json:"max_retries,omitempty"`
	ExpiresAt  *time.Time     `json:"expires_at,omitempty"`
}

// KeyPatch changes what it sets; nil fields are unchanged.
type KeyPatch struct {
	Name           *string         `json:"name,omitempty"`
	Credentials    *[]string       `json:"credentials,omitempty"`
	Strategy       *string         `json:"strategy,omitempty"`
	Models         *[]string       `json:"models,omitempty"` // empty: every model
	RPM            *int64          `json:"rpm,omitempty"`
	TPM            *int64          `json:"tpm,omitempty"`
	DailyTokens    *int64          `json:"daily_tokens,omitempty"`
	DailyCost      *float64        `json:"daily_cost,omitempty"`
	MaxConcurrency *int64          `json:"max_concurrency,omitempty"`
	MonthlyCost    *float64        `json:"monthly_cost,omitempty"`
	MonthlyTokens  *int64          `json:"monthly_tokens,omitempty"`
	TotalCost      *float64        `json:"total_cost,omitempty"`
	Unpriced       *string         `json:"unpriced,omitempty"`
	Timeout        *units.Duration `json:"timeout,omitempty"`
	MaxRetries     *int            `json:"max_retries,omitempty"`
	ExpiresAt      *time.Time      `json:"expires_at,omitempty"`
	NoExpiry       bool            `json:"no_expiry,omitempty"` // clear expires_at
}

// CreatedKey is a new key with its secret, returned once.
type CreatedKey struct {
	Key
	Secret string `json:"secret"`
}

// Trace is one request through the proxy.
type Trace struct {
	RequestID           string    `json:"request_id"`
	Time                time.Time `json:"time"`
	KeyID               string    `json:"key_id"` // "": refused before a key matched
	KeyName             string    `json:"key_name"`
	KeyPreview          string    `json:"key_preview"`
	Provider            string    `json:"provider"`
	CredentialID        string    `json:"credential_id"`
	Strategy            string    `json:"strategy"`
	Affinity            string    `json:"affinity,omitempty"`
	Method              string    `json:"method"`
	Path                string    `json:"path"`
	Model               string    `json:"model"`
	Stream              bool      `json:"stream"`
	Status              int       `json:"status"`
	LatencyMS           float64   `json:"latency_ms"`
	TTFBMS              float64   `json:"ttfb_ms"`
	OverheadMS          float64   `json:"overhead_ms"`
	Retries             int       `json:"retries"`
	Attempts            []Attempt `json:"attempts"`
	PromptTokens        int64     `json:"prompt_tokens"`
	CompletionTokens    int64     `json:"completion_tokens"`
	CacheCreationTokens int64     `json:"cache_creation_tokens"`
	CacheReadTokens     int64     `json:"cache_read_tokens"`
	CacheWrite5mTokens  int64     `json:"cache_creation_5m_tokens"` // of CacheCreationTokens, to the 5-minute cache
	CacheWrite1hTokens  int64     `json:"cache_creation_1h_tokens"` // … to the 1-hour cache (both 0: not reported)
	ReasoningTokens     int64     `json:"reasoning_tokens"`
	CostUSD             float64   `json:"cost_usd"`
	CostKnown           bool      `json:"cost_known"`
	UsageSource         string    `json:"usage_source"` // UsageSourceNone when nothing was read
	BytesOut            int64     `json:"bytes_out"`
	Error               string    `json:"error"`
}

// Attempt is one try of a request on one credential.
type Attempt struct {
	CredentialID string  `json:"credential_id"`
	Status       int     `json:"status"` // 0: no HTTP answer (connect error, timeout)
	Error        string  `json:"error,omitempty"`
	LatencyMS    float64 `json:"latency_ms"`
}

// TracePage is one page of traces, newest first.
type TracePage struct {
	Traces     []Trace `json:"traces"`
	NextCursor string  `json:"next_cursor"` // pass as cursor for the next (older) page; "" at the end
}

// KeyPage is one page of gateway keys: oldest first, or by name when
// filtered by a name prefix.
type KeyPage struct {
	Keys       []Key  `json:"keys"`
	NextCursor string `json:"next_cursor"` // pass as cursor for the next page; "" at the end
}

// CredentialPage is one page of credentials, by provider, then oldest first.
type CredentialPage struct {
	Credentials []Credential `json:"credentials"`
	NextCursor  string       `json:"next_cursor"` // pass as cursor for the next page; "" at the end
}

// Page sizes of the key and credential lists.
const (
	DefaultPageLimit = store.DefaultPageLimit
	MaxPageLimit     = store.MaxPageLimit
)

// KeyStatuses are the values of the key list's status filter.
var KeyStatuses = []string{store.KeyActive, store.KeyRevoked, store.KeyExpired}

// UsageRow is the sum of one group's requests over a period.
type UsageRow struct {
	Group               string  `json:"group"` // key id, model, provider, day (YYYY-MM-DD) or credential id
	Requests            int64   `json:"requests"`
	Errors              int64   `json:"errors"` // status >= 400 or none
	PromptTokens        int64   `json:"prompt_tokens"`
	CompletionTokens    int64   `json:"completion_tokens"`
	CacheCreationTokens int64   `json:"cache_creation_tokens"`
	CacheReadTokens     int64   `json:"cache_read_tokens"`
	CostUSD             float64 `json:"cost_usd"`
	CostUnknown         int64   `json:"cost_unknown"`     // priced requests left out of CostUSD (no price)
	CacheReadShare      float64 `json:"cache_read_share"` // CacheReadTokens / PromptTokens, 4 decimals
}

// AdminToken is an admin API token's record (never the token).
type AdminToken struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	CreatedAt time.Time  `json:"created_at"`
	Status    string     `json:"status"`              // active, revoked, expired
	ParentID  string     `json:"parent_id,omitempty"` // the token that created it; "" for a root
}

// CreatedToken is a new admin token with its signed value, returned once.
type CreatedToken struct {
	AdminToken
	Token string `json:"token"`
}

// The API's vocabulary: values its fields take and the limits it applies.
const (
	TypeOpenAI    = store.TypeOpenAI
	TypeAnthropic = store.TypeAnthropic
	TypeGemini    = store.TypeGemini

	TypeOpenAICompatible = store.TypeOpenAICompatible

	KindAPIKey = store.KindAPIKey
	KindOAuth  = store.KindOAuth

	KeyActive  = store.KeyActive
	KeyRevoked = store.KeyRevoked
	KeyExpired = store.KeyExpired

	StrategyRoundRobin = store.StrategyRoundRobin
	DefaultStrategy    = store.DefaultStrategy

	DefaultSessionHeader = store.DefaultSessionHeader

	RefreshOK           = store.RefreshOK
	RefreshInvalidGrant = store.RefreshInvalidGrant

	GroupByKey        = store.GroupByKey
	GroupByModel      = store.GroupByModel
	GroupByProvider   = store.GroupByProvider
	GroupByDay        = store.GroupByDay
	GroupByCredential = store.GroupByCredential

	UsageSourceNone = store.UsageSourceNone

	MaxRetriesLimit = store.MaxRetriesLimit
	MaxRollupModels = store.MaxRollupModels
)

// Lists of the values above, for flags and forms.
var (
	ProviderTypes  = store.ProviderTypes
	Strategies     = store.Strategies
	UsageGroupings = store.UsageGroupings
)

// ValidationError is a request the API refuses for one field.
type ValidationError = store.ValidationError

// ValidModels checks a key's model patterns as the API will.
func ValidModels(patterns []string) error { return store.ValidModels(patterns) }

// ParseModels splits a comma-separated model list (a flag's value).
func ParseModels(s string) ([]string, error) { return store.ParseModels(s) }

// RefreshFailed reports whether an OAuthInfo.RefreshState is a failure.
func RefreshFailed(state string) bool { return store.RefreshFailed(state) }

// UsageDay is the UTC day a time falls on, as usage groups days.
func UsageDay(t time.Time) string { return store.UsageDay(t) }

// Add sums o into r (a total over rows), as the store sums its rows: the
// two types have the same fields.
func (r *UsageRow) Add(o *UsageRow) { (*store.UsageRow)(r).Add((*store.UsageRow)(o)) }

// Alert is one alert (a budget threshold or an event) as the admin API
// shows it; the store keeps the last 1,000.
type Alert struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`    // budget_threshold, credential_invalid, pool_unhealthy, model_unpriced, traces_behind
	Subject string    `json:"subject"` // key:ID, provider:NAME, credential:ID, model:NAME, traces
	// Period is what the alert fires once per: a budget's period
	// ("2026-12", "total") or, for events, the UTC day.
	Period    string  `json:"period"`
	Message   string  `json:"message"`
	Name      string  `json:"name,omitempty"`
	Budget    string  `json:"budget,omitempty"`
	Threshold float64 `json:"threshold,omitempty"` // percent of the budget
	Used      float64 `json:"used,omitempty"`
	Limit     float64 `json:"limit,omitempty"`
}
