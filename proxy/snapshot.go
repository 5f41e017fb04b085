package proxy

import (
	"crypto/sha256"
	"fmt"
	"strings"
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
	creds     map[string]*credential // by id, for secret-change detection
}

type provider struct {
	name    string
	typ     string
	shape   shape
	up      *upstream
	auth    []authHeader // where the credential goes
	headers []header     // added when the client did not send them
	timeout time.Duration
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
}

// reloadContext is what buildSnapshot needs besides the data.
type reloadContext struct {
	clients    *clientCache
	health     *scheduler.Health
	timeouts   upstreamTimeouts
	maxRetries int
	previous   *snapshot
}

func buildSnapshot(d *store.Data, rc reloadContext) (*snapshot, error) {
	s := &snapshot{
		providers: make(map[string]*provider, len(d.Providers)),
		keys:      make(map[[sha256.Size]byte]*gwKey, len(d.Keys)),
		creds:     make(map[string]*credential, len(d.Credentials)),
	}
	for _, p := range d.Providers {
		up, err := rc.clients.get(p.BaseURL, p.CAFile, rc.timeouts)
		if err != nil {
			return nil, fmt.Errorf("provider %s: %w", p.Name, err)
		}
		pr := &provider{name: p.Name, typ: p.Type, shape: shapeOf(p.Type), up: up, timeout: p.Timeout.D()}
		for _, line := range p.AuthHeaders {
			name, value, _ := strings.Cut(line, ":")
			prefix, suffix, _ := strings.Cut(strings.TrimSpace(value), "{key}")
			pr.auth = append(pr.auth, authHeader{name: []byte(strings.TrimSpace(name)), prefix: prefix, suffix: suffix})
		}
		for _, line := range p.Headers {
			name, value, _ := strings.Cut(line, ":")
			pr.headers = append(pr.headers, header{name: []byte(strings.TrimSpace(name)), value: []byte(strings.TrimSpace(value))})
		}
		s.providers[p.Name] = pr
	}
	keep := make(map[string]bool, len(d.Credentials))
	for _, c := range d.Credentials {
		pr := s.providers[c.Provider]
		if pr == nil {
			continue
		}
		cr := &credential{id: c.ID, secretHash: sha256.Sum256([]byte(c.Secret))}
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
		}
		gk.limited = k.RPM > 0 || k.TPM > 0 || k.DailyTokens > 0 || k.DailyCost > 0 || k.MaxConcurrency > 0
		if k.MaxRetries != nil {
			gk.maxRetries = *k.MaxRetries
		}
		if k.ExpiresAt != nil {
			gk.expiresAt = k.ExpiresAt.UnixNano()
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
		if len(pool) > 0 {
			strategy, err := scheduler.ParseStrategy(k.Strategy)
			if err != nil {
				return nil, fmt.Errorf("key %s: %w", k.ID, err)
			}
			if gk.pool, err = scheduler.NewPool(strategy, pool, ws); err != nil {
				return nil, fmt.Errorf("key %s: %w", k.ID, err)
			}
		}
		s.keys[k.Hash] = gk
	}
	return s, nil
}
