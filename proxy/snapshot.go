package proxy

import (
	"crypto/sha256"
	"errors"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
)

// snapshot is the proxy's immutable view of the configuration. Nothing in
// it changes once it is published; a change builds the next one (config.go)
// and swaps the pointer, so a request sees one consistent configuration
// from start to end without any lock. A change copies only what it
// touches: one shard of the key table, the provider or credential maps,
// the pool table; everything else is shared with the previous snapshot.
type snapshot struct {
	providers map[string]*provider
	creds     map[string]*credential // by id
	pools     []*keyPool             // by gwKey.pool
	keys      keyTable
	// problems are the records left out of service because they could not
	// be loaded; everything else serves.
	problems []Problem
}

// keyShards splits the key table so that a change copies 1/256 of it.
const keyShards = 256

// keyTable holds the gateway keys by the SHA-256 of their secret, sharded
// by the hash's first byte. A shard is indexed by the hash's first half
// (half the memory of a whole one per entry); the entry's whole hash is
// compared before it is taken. Two secrets whose hashes share 128 bits
// are not something anyone can make.
type keyTable [keyShards]map[hashHalf]*gwKey

type hashHalf [sha256.Size / 2]byte

func half(h *[sha256.Size]byte) hashHalf { return hashHalf(h[:sha256.Size/2]) }

func (t *keyTable) get(h *[sha256.Size]byte) *gwKey {
	if k := t[h[0]][half(h)]; k != nil && k.hash == *h {
		return k
	}
	return nil
}

// keyPool is a pool of credentials with its strategy. Keys that name the
// same credentials in the same order with the same strategy share one,
// rotation included: a pool spreads the operator's accounts' load across
// all the keys that use it.
type keyPool struct {
	creds  []*credential // in pool order
	pool   *scheduler.Pool
	noPool string // the client's 503 when pool is nil
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

type gwKey struct { // 128 bytes: 100,000 keys are most of a large gateway's memory
	text       string // its id, name and preview, one after the other (one string header, not three)
	hash       [sha256.Size]byte
	provider   string        // its provider's name
	limits     *store.Limits // nil: no rpm, tpm, daily or concurrency limit (no limiter state)
	expiresAt  int64         // unix ns; 0: never
	created    int64         // unix ns: its place in the admin API's pages (KeyRefs)
	pool       int32         // its pool: snapshot.pools[pool]
	timeoutMs  int32         // its first-byte timeout (≤ 24 h); 0: its provider's
	maxRetries int16         // ≤ store.MaxRetriesLimit
	nameAt     uint16        // where the name starts in text
	previewAt  uint16        // where the preview starts
	revoked    bool
	unlisted   bool         // a version no longer in the configuration (only under Proxy.reload: configState)
	lastUsed   atomic.Int64 // unix ns of the last request that presented it; carried to the key's next version

	models *modelAllow // the allowed models; nil: every model

	budgets *keyBudgetSet // nil: none (budget.go)
}

func (k *gwKey) id() string      { return k.text[:k.nameAt] }
func (k *gwKey) name() string    { return k.text[k.nameAt:k.previewAt] }
func (k *gwKey) preview() string { return k.text[k.previewAt:] }

// keyBudgetSet is a key's budgets.
type keyBudgetSet struct {
	list         []*budget
	unpricedDeny bool // a cost budget and unpriced=deny: models without a price are refused
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
