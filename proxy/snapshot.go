package proxy

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
)

// snapshot is the proxy's immutable view of the configuration. Nothing in
// it changes after buildSnapshot returns; a reload builds a new one and
// swaps the pointer, so a request sees one consistent configuration from
// start to end without any lock.
type snapshot struct {
	providers map[string]*provider
	keys      map[[sha256.Size]byte]*gwKey
	creds     map[string]*credential   // by id, for secret-change detection
	used      map[string]*atomic.Int64 // each key's last use (unix ns) by id; see lastused.go
	// problems are the records left out of service because they could not
	// be loaded; everything else serves.
	problems []Problem
	budgets  []*budget // every configured budget (budget.go)
}

type provider struct {
	name    string
	typ     string
	shape   shape
	up      *upstream    // nil when broken
	auth    []authHeader // where the credential goes
	headers []header     // added when the client did not send them
	timeout time.Duration
	session []byte // the header naming a conversation (cache_affinity)
	broken  string // why it is out of service ("": it serves)

	budget *budget // monthly_cost of all its keys together; nil: none
}

// authHeader is a template "Name: prefix{key}suffix".
type authHeader struct {
	name           []byte
	prefix, suffix string
}

type header struct{ name, value []byte }

type credential struct {
	id         string
	secretHash [sha256.Size]byte
	authValues [][]byte // one per provider auth header, ready to send
	health     *scheduler.Cred
	oauth      bool // its secret is an access token that can be refreshed

	budget *budget // its monthly_cost; nil: none
}

type gwKey struct {
	id         string
	name       string
	preview    string
	provider   *provider
	creds      []*credential // in pool order
	pool       *scheduler.Pool
	limits     store.Limits
	limited    bool // any limit set: the key has limiter state
	timeout    time.Duration
	maxRetries int
	expiresAt  int64 // unix ns; 0: never
	revoked    bool
	noPool     string        // the client's 503 when pool is nil
	lastUsed   *atomic.Int64 // unix ns of the last request that presented it; shared with the next snapshot

	models *modelAllow // the allowed models; nil: every model

	budgets      []*budget // nil: none (budget.go)
	unpricedDeny bool      // a cost budget and unpriced=deny: models without a price are refused
}

// Problem is a stored record the snapshot could not use. It is out of
// service (a provider's keys answer 503, a key answers 503) while the rest
// of the configuration serves; the next reload tries it again.
type Problem struct {
	Kind   string // "provider" or "key"
	Name   string // the provider's name or the key's id
	Reason string // for the operator's views: names the field, no OS error text
	Err    error  // the underlying error, for the log only
}

const msgEmptyPool = "aigw: the key's credential pool is empty"

// ProviderStates reports each provider of the current configuration: ""
// when it serves, otherwise why it is out of service.
func (p *Proxy) ProviderStates() map[string]string {
	s := p.snap.Load()
	out := make(map[string]string, len(s.providers))
	for name, pr := range s.providers {
		out[name] = pr.broken
	}
	return out
}

// Problems lists the records the current configuration left out of service.
func (p *Proxy) Problems() []Problem { return p.snap.Load().problems }

// reloadContext is what buildSnapshot needs besides the data.
type reloadContext struct {
	clients    *clientCache
	health     *scheduler.Health
	timeouts   upstreamTimeouts
	maxRetries int
	previous   *snapshot
	budgets    *budgetBook
	now        time.Time
}

func buildSnapshot(d *store.Data, rc reloadContext) (*snapshot, error) {
	s := &snapshot{
		providers: make(map[string]*provider, len(d.Providers)),
		keys:      make(map[[sha256.Size]byte]*gwKey, len(d.Keys)),
		creds:     make(map[string]*credential, len(d.Credentials)),
		used:      make(map[string]*atomic.Int64, len(d.Keys)),
	}
	getBudget, doneBudgets := rc.budgets.counters(rc.now)
	defer doneBudgets()
	for _, p := range d.Providers {
		pr := &provider{name: p.Name, typ: p.Type, shape: shapeOf(p.Type), timeout: p.Timeout.D(),
			session: []byte(cmp.Or(p.SessionHeader, store.DefaultSessionHeader))}
		up, err := rc.clients.get(p.BaseURL, p.CAFile, rc.timeouts)
		if err != nil {
			pr.broken = upstreamProblem(&p, err)
			s.problems = append(s.problems, Problem{Kind: "provider", Name: p.Name, Reason: pr.broken, Err: err})
		}
		pr.up = up
		for _, line := range p.AuthHeaders {
			name, value, _ := strings.Cut(line, ":")
			prefix, suffix, _ := strings.Cut(strings.TrimSpace(value), "{key}")
			pr.auth = append(pr.auth, authHeader{name: []byte(strings.TrimSpace(name)), prefix: prefix, suffix: suffix})
		}
		for _, line := range p.Headers {
			name, value, _ := strings.Cut(line, ":")
			pr.headers = append(pr.headers, header{name: []byte(strings.TrimSpace(name)), value: []byte(strings.TrimSpace(value))})
		}
		if pr.budget = getBudget("provider:"+p.Name, "provider", p.Name, BudgetMonthlyCost, p.MonthlyCost); pr.budget != nil {
			s.budgets = append(s.budgets, pr.budget)
		}
		s.providers[p.Name] = pr
	}
	keep := make(map[string]bool, len(d.Credentials)+len(d.BrokenCredentials))
	for id, why := range d.BrokenCredentials {
		rc.health.Break(id, why) // in no pool below: s.creds does not hold it
		keep[id] = true
	}
	for _, c := range d.Credentials {
		pr := s.providers[c.Provider]
		if pr == nil {
			continue
		}
		cr := &credential{id: c.ID, secretHash: sha256.Sum256([]byte(c.Secret)), oauth: c.Kind == store.KindOAuth}
		for _, a := range pr.auth {
			cr.authValues = append(cr.authValues, []byte(a.prefix+c.Secret+a.suffix))
		}
		changed := false
		if rc.previous != nil {
			if old := rc.previous.creds[c.ID]; old != nil && old.secretHash != cr.secretHash {
				changed = true
			}
		}
		cr.health = rc.health.Configure(c.ID, c.Enabled, c.RPM, changed)
		cr.budget = getBudget("credential:"+c.ID, "credential", cmp.Or(c.Name, c.ID), BudgetMonthlyCost, c.MonthlyCost)
		if cr.budget != nil {
			s.budgets = append(s.budgets, cr.budget)
			cr.budget.markCredential(cr.health, rc.now)
		} else {
			cr.health.BudgetRestored("its monthly budget was removed")
		}
		s.creds[c.ID] = cr
		keep[c.ID] = true
	}
	rc.health.Forget(keep)
	weights := make(map[string]int, len(d.Credentials))
	for _, c := range d.Credentials {
		weights[c.ID] = c.Weight
	}
	for _, k := range d.Keys {
		pr := s.providers[k.Provider]
		if pr == nil {
			continue
		}
		gk := &gwKey{
			id: k.ID, name: k.Name, preview: k.Preview, provider: pr, limits: k.Limits,
			timeout: k.Timeout.D(), maxRetries: rc.maxRetries, revoked: k.RevokedAt != nil,
			models: compileModels(k.Models), lastUsed: lastUsedOf(k.ID, rc.previous),
		}
		s.used[k.ID] = gk.lastUsed
		// A revoked key is refused anyway: its budgets are nobody's concern.
		if gk.budgets = keyBudgets(getBudget, &k); gk.budgets != nil && k.RevokedAt == nil {
			s.budgets = append(s.budgets, gk.budgets...)
			gk.unpricedDeny = k.Unpriced == store.UnpricedDeny && k.HasCostBudget()
		}
		gk.limited = k.RPM > 0 || k.TPM > 0 || k.DailyTokens > 0 || k.DailyCost > 0 || k.MaxConcurrency > 0
		if k.MaxRetries != nil {
			gk.maxRetries = *k.MaxRetries
		}
		if k.ExpiresAt != nil {
			gk.expiresAt = k.ExpiresAt.UnixNano()
		}
		s.keys[k.Hash] = gk
		if pr.broken != "" {
			gk.noPool = "aigw: provider " + strconv.Quote(pr.name) + " is unavailable: its configuration has a problem the gateway's operator must fix"
			continue
		}
		var pool []*scheduler.Cred
		var ws []int
		for _, id := range k.Credentials {
			cr := s.creds[id]
			if cr == nil {
				continue
			}
			gk.creds = append(gk.creds, cr)
			pool = append(pool, cr.health)
			ws = append(ws, weights[id])
		}
		if len(pool) == 0 {
			gk.noPool = msgEmptyPool
			if len(k.Credentials) > 0 { // every one broken
				gk.noPool = "aigw: no credential of the gateway key's pool can be used: a configuration problem the gateway's operator must fix"
			}
			continue
		}
		strategy, err := scheduler.ParseStrategy(k.Strategy)
		if err == nil {
			gk.pool, err = scheduler.NewPool(strategy, pool, ws)
		}
		if err != nil {
			gk.creds = nil
			gk.noPool = "aigw: the gateway key's configuration has a problem the gateway's operator must fix"
			s.problems = append(s.problems, Problem{Kind: "key", Name: k.ID, Reason: err.Error(), Err: err})
		}
	}
	return s, nil
}

// upstreamProblem is the operator's reason for a provider whose upstream
// client could not be set up. It names the setting to repair, without the
// OS error: that would tell whether some file on the server exists.
func upstreamProblem(p *store.Provider, err error) string {
	var ue *url.Error
	if p.CAFile == "" || errors.As(err, &ue) {
		return "base_url " + strconv.Quote(p.BaseURL) + " cannot be used: " + err.Error()
	}
	return "ca_file " + strconv.Quote(p.CAFile) + " cannot be loaded (missing, unreadable or not PEM); restore it, then run: aigw provider update " + p.Name + " --ca-file " + p.CAFile
}
