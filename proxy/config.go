package proxy

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
)

// A configuration change builds the next snapshot from the one published,
// copying only what it touches, so that one key, credential or provider
// costs the same with 100,000 keys as with ten:
//
//   - a key: one shard of the key table, and the pool table when it names
//     credentials no other key names in that order;
//   - a credential: the credential map and the pools that hold it;
//   - a provider: the provider map, its credentials and its pools.
//
// Keys do not point at their provider or credentials: they name the
// provider and a pool, and a request resolves both in the snapshot it
// started with. So a credential's new secret reaches every key that uses
// it without touching those keys.
//
// configState is what the changes need to know besides the snapshot: the
// records as stored and who uses what. Only the goroutine holding
// Proxy.reload uses it; the request path never does.
type configState struct {
	creds  map[string]*store.Credential // unsealed; those that loaded
	broken map[string]string            // credentials that did not load: why
	keys   map[string]*gwKey            // by id
	// The keys again, for the admin API's pages (KeyRefs), in an order a
	// walk reads fast: the last Load's slab, then the keys set since, in
	// the order set. A version replaced or removed is marked unlisted
	// (read only under Proxy.reload, like all of this); loose drops its
	// unlisted ones when they are many.
	slab     []gwKey
	loose    []*gwKey
	unlisted int                // marked since loose was last compacted
	poolIDs  map[string]int32   // poolSpec.sig → pool id
	specs    []*poolSpec        // by pool id; nil: free
	free     []int32            // pool ids to reuse
	budgets  map[string]*budget // by subject/kind: every configured budget
	problems map[string]Problem // by kind/name
}

// poolSpec is what a pool is built from; keys with equal specs share it.
type poolSpec struct {
	sig      string
	provider string
	strategy string
	creds    []string
	refs     int   // keys using it
	err      error // the pool cannot be built (its keys are problems)
}

// change is one configuration change in progress: the next snapshot, and
// which of its parts are already its own (copied from the published one).
type change struct {
	p    *Proxy
	st   *configState
	prev *snapshot // the published snapshot
	next *snapshot
	now  time.Time

	full     bool
	prevKeys map[string]*gwKey // full: the keys before it (for lastUsed)

	ownProviders, ownCreds, ownPools, problemsChanged bool
	ownShard                                          [keyShards]bool
}

// begin starts a change; the caller holds p.reload. A full change starts
// from nothing (Load); the others from the published snapshot.
func (p *Proxy) begin(full bool) *change {
	c := &change{p: p, st: &p.conf, prev: p.snap.Load(), now: p.now()}
	if !full {
		next := *c.prev
		c.next = &next
		return c
	}
	c.full, c.prevKeys = true, c.st.keys
	p.conf = configState{
		creds: map[string]*store.Credential{}, broken: map[string]string{},
		keys: map[string]*gwKey{}, poolIDs: map[string]int32{}, budgets: map[string]*budget{}, problems: map[string]Problem{},
	}
	c.next = &snapshot{providers: map[string]*provider{}, creds: map[string]*credential{}}
	c.ownProviders, c.ownCreds, c.ownPools, c.problemsChanged = true, true, true, true
	for i := range c.ownShard {
		c.ownShard[i] = true
	}
	return c
}

// commit publishes the next snapshot.
func (c *change) commit() {
	if c.problemsChanged {
		ps := slices.Collect(maps.Values(c.st.problems))
		slices.SortFunc(ps, func(a, b Problem) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name)) })
		c.next.problems = ps
	}
	if c.full { // forget what is gone
		keep := make(map[string]bool, len(c.st.creds)+len(c.st.broken))
		for id := range c.st.creds {
			keep[id] = true
		}
		for id := range c.st.broken {
			keep[id] = true
		}
		c.p.health.Forget(keep)
		c.p.budgets.keepOnly(c.st.budgets)
	}
	c.p.snap.Store(c.next)
}

func (c *change) providers() map[string]*provider {
	if !c.ownProviders {
		c.next.providers, c.ownProviders = maps.Clone(c.next.providers), true
	}
	return c.next.providers
}

func (c *change) credentials() map[string]*credential {
	if !c.ownCreds {
		c.next.creds, c.ownCreds = maps.Clone(c.next.creds), true
	}
	return c.next.creds
}

func (c *change) poolTable() []*keyPool {
	if !c.ownPools {
		c.next.pools, c.ownPools = slices.Clone(c.next.pools), true
	}
	return c.next.pools
}

func (c *change) shard(h *[sha256.Size]byte) map[hashHalf]*gwKey {
	i := h[0]
	if !c.ownShard[i] {
		c.next.keys[i], c.ownShard[i] = maps.Clone(c.next.keys[i]), true
	}
	if c.next.keys[i] == nil {
		c.next.keys[i] = make(map[hashHalf]*gwKey)
	}
	return c.next.keys[i]
}

func (c *change) setProblem(kind, name string, p *Problem) {
	id := kind + "/" + name
	if p == nil {
		if _, ok := c.st.problems[id]; !ok {
			return
		}
		delete(c.st.problems, id)
	} else {
		c.st.problems[id] = *p
	}
	c.problemsChanged = true
}

// budget returns budget subject/kind of the next snapshot, nil when its
// limit is not set; a budget no longer set is forgotten with its counter.
func (c *change) budget(subject, what, name, kind string, limit float64) *budget {
	id := subject + "/" + kind
	if limit <= 0 {
		if c.st.budgets[id] != nil {
			delete(c.st.budgets, id)
			c.p.budgets.drop(id)
		}
		return nil
	}
	b := c.p.budgets.get(c.now, subject, what, name, kind, limit)
	c.st.budgets[id] = b
	return b
}

// setProvider adds or replaces a provider; its credentials (its auth
// headers carry their secrets) and its pools are rebuilt with it.
func (c *change) setProvider(p *store.Provider) {
	pr := &provider{name: p.Name, typ: p.Type, shape: shapeOf(p.Type), timeout: p.Timeout.D(),
		session: []byte(cmp.Or(p.SessionHeader, store.DefaultSessionHeader))}
	up, err := c.p.clients.get(p.BaseURL, p.CAFile, upstreamTimeouts{Connect: c.p.cfg.ConnectTimeout})
	if err != nil {
		pr.broken = upstreamProblem(p, err)
		c.setProblem("provider", p.Name, &Problem{Kind: "provider", Name: p.Name, Reason: pr.broken, Err: err})
	} else {
		c.setProblem("provider", p.Name, nil)
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
	pr.budget = c.budget("provider:"+p.Name, "provider", p.Name, BudgetMonthlyCost, p.MonthlyCost)
	c.providers()[p.Name] = pr
	for _, cr := range c.st.creds {
		if cr.Provider == p.Name {
			c.buildCredential(cr)
		}
	}
	c.rebuildPools(func(sp *poolSpec) bool { return sp.provider == p.Name })
}

// setCredential adds or replaces a credential that loaded; the pools that
// hold it are rebuilt (its weight is theirs).
func (c *change) setCredential(rec *store.Credential) {
	c.st.creds[rec.ID] = rec
	delete(c.st.broken, rec.ID)
	c.buildCredential(rec)
	c.rebuildPools(func(sp *poolSpec) bool { return slices.Contains(sp.creds, rec.ID) })
}

// breakCredential takes a credential whose record does not load out of
// every pool, with the reason.
func (c *change) breakCredential(id, why string) {
	c.st.broken[id] = why
	delete(c.st.creds, id)
	c.p.health.Break(id, why) // in no pool: the snapshot does not hold it
	if c.next.creds[id] != nil {
		delete(c.credentials(), id)
	}
	c.budget("credential:"+id, "credential", id, BudgetMonthlyCost, 0)
	c.rebuildPools(func(sp *poolSpec) bool { return slices.Contains(sp.creds, id) })
}

func (c *change) buildCredential(rec *store.Credential) {
	pr := c.next.providers[rec.Provider]
	if pr == nil {
		return
	}
	cr := &credential{id: rec.ID, secretHash: sha256.Sum256([]byte(rec.Secret)), oauth: rec.Kind == store.KindOAuth}
	for _, a := range pr.auth {
		cr.authValues = append(cr.authValues, []byte(a.prefix+rec.Secret+a.suffix))
	}
	old := c.prev.creds[rec.ID]
	cr.health = c.p.health.Configure(rec.ID, rec.Enabled, rec.RPM, old != nil && old.secretHash != cr.secretHash)
	cr.budget = c.budget("credential:"+rec.ID, "credential", cmp.Or(rec.Name, rec.ID), BudgetMonthlyCost, rec.MonthlyCost)
	if cr.budget != nil {
		cr.budget.markCredential(cr.health, c.now)
	} else {
		cr.health.BudgetRestored("its monthly budget was removed")
	}
	c.credentials()[rec.ID] = cr
}

// setKey adds or replaces a gateway key; gk is where to build it (zero).
func (c *change) setKey(k *store.Key, gk *gwKey) {
	old := c.st.keys[k.ID]
	if gk.text == "" { // else Load put it in its arena
		gk.text = k.ID + k.Name + k.Preview
	}
	gk.nameAt, gk.previewAt = uint16(len(k.ID)), uint16(len(k.ID)+len(k.Name))
	gk.hash, gk.revoked, gk.created = k.Hash, k.RevokedAt != nil, k.CreatedAt.UnixNano()
	// Timeouts are at most 24 h (store.validTimeout): int32 milliseconds,
	// rounded up so that a sub-millisecond one is not "none".
	gk.timeoutMs = int32(min((k.Timeout.D()+time.Millisecond-1)/time.Millisecond, math.MaxInt32))
	gk.maxRetries = int16(min(c.p.cfg.MaxRetries, math.MaxInt16))
	gk.models = compileModels(k.Models)
	gk.provider = k.Provider
	if pr := c.next.providers[k.Provider]; pr != nil {
		gk.provider = pr.name // the provider's copy of the name: one string for all its keys
	}
	// A request still on the old version may store its time after this
	// copy: that one use is lost, the next one counts.
	if prev := cmp.Or(old, c.prevKeys[k.ID]); prev != nil {
		gk.lastUsed.Store(prev.lastUsed.Load())
	}
	// A revoked key is refused anyway: its budgets are nobody's concern.
	get := c.budget
	if gk.revoked {
		get = func(subject, what, name, kind string, _ float64) *budget {
			return c.budget(subject, what, name, kind, 0)
		}
	}
	if bs := keyBudgets(get, k); bs != nil {
		gk.budgets = &keyBudgetSet{list: bs, unpricedDeny: k.Unpriced == store.UnpricedDeny && k.HasCostBudget()}
	}
	if k.RPM > 0 || k.TPM > 0 || k.DailyTokens > 0 || k.DailyCost > 0 || k.MaxConcurrency > 0 {
		l := k.Limits
		gk.limits = &l
	}
	if k.MaxRetries != nil {
		gk.maxRetries = int16(min(*k.MaxRetries, math.MaxInt16))
	}
	if k.ExpiresAt != nil {
		gk.expiresAt = k.ExpiresAt.UnixNano()
	}
	gk.pool = c.acquirePool(k.Provider, k.Strategy, k.Credentials)
	if err := c.st.specs[gk.pool].err; err != nil {
		c.setProblem("key", k.ID, &Problem{Kind: "key", Name: k.ID, Reason: err.Error(), Err: err})
	} else {
		c.setProblem("key", k.ID, nil)
	}
	if old != nil {
		c.releasePool(old.pool)
		if old.hash != gk.hash {
			delete(c.shard(&old.hash), half(&old.hash))
		}
		c.unlist(old)
	}
	c.shard(&gk.hash)[half(&gk.hash)] = gk
	c.st.keys[gk.id()] = gk // the arena's copy of the id: the decoded record can go
	if !c.full {            // else it is in the slab
		c.st.loose = append(c.st.loose, gk)
	}
}

// unlist takes a key's version out of the walk of KeyRefs: a request may
// still hold it, so it is marked, not changed.
func (c *change) unlist(k *gwKey) {
	k.unlisted = true
	if c.st.unlisted++; c.st.unlisted > len(c.st.loose)/2+1024 {
		c.st.loose = slices.DeleteFunc(c.st.loose, func(k *gwKey) bool { return k.unlisted })
		c.st.unlisted = 0
	}
}

// maxKeyText bounds a key's id, name and preview together (gwKey keeps
// their offsets in 16 bits). The store makes ids of 16 bytes and refuses
// names over 64; only a damaged record is longer, and its name is cut.
const maxKeyText = 1 << 12

func fitKeyText(k *store.Key) {
	if len(k.ID) > maxKeyText/4 {
		k.ID = k.ID[:maxKeyText/4]
	}
	if len(k.Preview) > maxKeyText/4 {
		k.Preview = k.Preview[:maxKeyText/4]
	}
	if len(k.Name) > maxKeyText/4 {
		k.Name = k.Name[:maxKeyText/4]
	}
}

// removeKey takes a deleted key out.
func (c *change) removeKey(id string) {
	old := c.st.keys[id]
	if old == nil {
		return
	}
	for _, kind := range []string{BudgetMonthlyCost, BudgetMonthlyTokens, BudgetTotalCost} {
		c.budget("key:"+id, "key", id, kind, 0)
	}
	c.setProblem("key", id, nil)
	c.releasePool(old.pool)
	delete(c.shard(&old.hash), half(&old.hash))
	delete(c.st.keys, id)
	c.unlist(old)
}

// acquirePool is the id of the pool for these credentials and strategy,
// built when no key uses it yet.
func (c *change) acquirePool(provider, strategy string, creds []string) int32 {
	sig := provider + "\x00" + strategy + "\x00" + strings.Join(creds, "\x00")
	if id, ok := c.st.poolIDs[sig]; ok {
		c.st.specs[id].refs++
		return id
	}
	sp := &poolSpec{sig: sig, provider: provider, strategy: strategy, creds: slices.Clone(creds), refs: 1}
	var id int32
	if n := len(c.st.free); n > 0 {
		id, c.st.free = c.st.free[n-1], c.st.free[:n-1]
		c.st.specs[id] = sp
	} else {
		id = int32(len(c.st.specs))
		c.st.specs = append(c.st.specs, sp)
	}
	c.st.poolIDs[sig] = id
	pools := c.poolTable()
	if int(id) == len(pools) {
		c.next.pools = append(pools, nil)
	}
	c.next.pools[id] = c.buildPool(sp)
	return id
}

// releasePool drops a key's use of pool id; the last one frees it.
func (c *change) releasePool(id int32) {
	sp := c.st.specs[id]
	if sp.refs--; sp.refs > 0 {
		return
	}
	delete(c.st.poolIDs, sp.sig)
	c.st.specs[id] = nil
	c.st.free = append(c.st.free, id)
	c.poolTable()[id] = nil
}

// rebuildPools builds again the pools whose spec matches.
func (c *change) rebuildPools(match func(*poolSpec) bool) {
	for id, sp := range c.st.specs {
		if sp != nil && match(sp) {
			c.poolTable()[id] = c.buildPool(sp)
		}
	}
}

func (c *change) buildPool(sp *poolSpec) *keyPool {
	kp := &keyPool{}
	sp.err = nil
	pr := c.next.providers[sp.provider]
	switch {
	case pr == nil:
		kp.noPool = msgEmptyPool // not reached: the key's provider is gone, so is its route
		return kp
	case pr.broken != "":
		kp.noPool = "aigw: provider " + strconv.Quote(pr.name) + " is unavailable: its configuration has a problem the gateway's operator must fix"
		return kp
	}
	hs := make([]*scheduler.Cred, 0, len(sp.creds))
	ws := make([]int, 0, len(sp.creds))
	for _, id := range sp.creds {
		cr := c.next.creds[id]
		if cr == nil {
			continue
		}
		kp.creds = append(kp.creds, cr)
		hs = append(hs, cr.health)
		ws = append(ws, c.st.creds[id].Weight)
	}
	if len(hs) == 0 {
		kp.noPool = msgEmptyPool
		if len(sp.creds) > 0 { // every one broken
			kp.noPool = "aigw: no credential of the gateway key's pool can be used: a configuration problem the gateway's operator must fix"
		}
		return kp
	}
	strategy, err := scheduler.ParseStrategy(sp.strategy)
	if err == nil {
		kp.pool, err = scheduler.NewPool(strategy, hs, ws)
	}
	if err != nil {
		kp.creds = nil
		kp.noPool = "aigw: the gateway key's configuration has a problem the gateway's operator must fix"
		sp.err = err
	}
	return kp
}

// Load replaces the whole configuration with d; requests in flight keep
// the snapshot they started with. Counters (health, limits, budgets, last
// use) carry over for what is still there.
func (p *Proxy) Load(d *store.Data) error {
	p.reload.Lock()
	defer p.reload.Unlock()
	c := p.begin(true)
	for i := range d.Providers {
		c.setProvider(&d.Providers[i])
	}
	for id, why := range d.BrokenCredentials {
		c.breakCredential(id, why)
	}
	for i := range d.Credentials {
		if cr := &d.Credentials[i]; c.next.providers[cr.Provider] != nil {
			c.setCredential(cr)
		}
	}
	// The keys are most of the configuration's memory: their entries are
	// allocated together and the tables sized once, so that what stays
	// live is dense rather than spread over pages the decoding also used.
	slab := make([]gwKey, len(d.Keys))
	c.st.keys = make(map[string]*gwKey, len(d.Keys))
	c.st.slab = slab
	for i := range c.next.keys {
		c.next.keys[i] = make(map[hashHalf]*gwKey, len(d.Keys)/keyShards+len(d.Keys)/(4*keyShards))
	}
	n := 0
	for i := range d.Keys {
		fitKeyText(&d.Keys[i])
		n += len(d.Keys[i].ID) + len(d.Keys[i].Name) + len(d.Keys[i].Preview)
	}
	buf := make([]byte, 0, n)
	for i := range d.Keys {
		buf = append(append(append(buf, d.Keys[i].ID...), d.Keys[i].Name...), d.Keys[i].Preview...)
	}
	arena, at := string(buf), 0
	for i := range d.Keys {
		k, gk := &d.Keys[i], &slab[i]
		e := at + len(k.ID) + len(k.Name) + len(k.Preview)
		gk.text, at = arena[at:e], e
		if c.next.providers[k.Provider] != nil {
			c.setKey(k, gk)
		} else {
			gk.unlisted = true
		}
	}
	c.commit()
	return nil
}

// LoadKey puts key id as stored into the configuration; k nil: it was
// deleted. Its provider must be loaded already.
func (p *Proxy) LoadKey(id string, k *store.Key) {
	p.reload.Lock()
	defer p.reload.Unlock()
	c := p.begin(false)
	if k == nil || c.next.providers[k.Provider] == nil {
		c.removeKey(id)
	} else {
		fitKeyText(k)
		c.setKey(k, new(gwKey))
	}
	c.commit()
}

// LoadCredential puts credential id as stored into the configuration: cr
// when it loaded, else why it did not (broken).
func (p *Proxy) LoadCredential(id string, cr *store.Credential, broken string) {
	p.reload.Lock()
	defer p.reload.Unlock()
	c := p.begin(false)
	if cr != nil {
		c.setCredential(cr)
	} else {
		c.breakCredential(id, broken)
	}
	c.commit()
}

// LoadProvider puts a provider, new or changed, into the configuration.
func (p *Proxy) LoadProvider(pr *store.Provider) {
	p.reload.Lock()
	defer p.reload.Unlock()
	c := p.begin(false)
	c.setProvider(pr)
	c.commit()
}

// KeyRefs offers every gateway key of the configuration to the admin
// API's key pages (store.KeysFrom): the proxy holds them all, so the store
// keeps no index of them and a page is one walk in memory. A change waits
// for the walk; requests do not.
func (p *Proxy) KeyRefs(yield func(*store.KeyRef) bool) {
	p.reload.Lock()
	defer p.reload.Unlock()
	var r store.KeyRef
	each := func(k *gwKey) bool {
		if k.unlisted {
			return true
		}
		r = store.KeyRef{ID: k.id(), Name: k.name(), Provider: k.provider, Created: k.created, Expires: k.expiresAt, Revoked: k.revoked}
		return yield(&r)
	}
	// The slab in memory order, not the id map's: a walk of 100,000 keys
	// in ~3 ms rather than ~15 (one cache miss per key).
	for i := range p.conf.slab {
		if !each(&p.conf.slab[i]) {
			return
		}
	}
	for _, k := range p.conf.loose {
		if !each(k) {
			return
		}
	}
}

// KeyCount is the number of gateway keys in the configuration.
func (p *Proxy) KeyCount() int {
	p.reload.Lock()
	defer p.reload.Unlock()
	return len(p.conf.keys)
}

// KeyPool is a pool of credentials used by active keys, for the alerts
// that watch pools.
type KeyPool struct {
	Credentials []string // ids, in pool order
	Keys        int      // active keys that use it
	Key, Name   string   // one of them (the first by id)
}

// ActivePools lists each pool used by at least one key that is neither
// revoked nor expired: one entry per pool, however many keys share it.
func (p *Proxy) ActivePools() []KeyPool {
	now := p.now().UnixNano()
	p.reload.Lock()
	defer p.reload.Unlock()
	byPool := map[int32]*KeyPool{}
	for _, k := range p.conf.keys {
		if k.revoked || k.expiresAt != 0 && now >= k.expiresAt {
			continue
		}
		kp := byPool[k.pool]
		if kp == nil {
			kp = &KeyPool{Credentials: p.conf.specs[k.pool].creds, Key: k.id(), Name: k.name()}
			byPool[k.pool] = kp
		} else if k.id() < kp.Key {
			kp.Key, kp.Name = k.id(), k.name()
		}
		kp.Keys++
	}
	out := make([]KeyPool, 0, len(byPool))
	for _, kp := range byPool {
		out = append(out, *kp)
	}
	slices.SortFunc(out, func(a, b KeyPool) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// Source reads the configuration, whole or one record at a time (the
// store).
type Source interface {
	Load() (*store.Data, error)
	Provider(name string) (store.Provider, error)
	LoadCredential(id string) (c *store.Credential, broken string, err error)
	Key(id string) (store.Key, error)
}

// Change names what changed in a Source.
type Change struct {
	Kind    string // "provider", "credential" or "key"
	ID      string // the provider's name, the credential's or key's id
	Removed bool   // it was deleted, with whatever the store deleted with it
}

// Apply changes the configuration by ch, read from src: one provider,
// credential or key. It reads everything again when ch is nil, or when a
// provider or a credential was removed (the store changes keys with them;
// removals are rare and cost O(keys) in the store anyway). applied is what
// it loaded: "provider", "credential", "key" or "all".
func (p *Proxy) Apply(src Source, ch *Change) (applied string, err error) {
	switch {
	case ch == nil || ch.Removed && ch.Kind != "key":
		d, err := src.Load()
		if err != nil {
			return "all", err
		}
		return "all", p.Load(d)
	case ch.Kind == "key":
		k, err := src.Key(ch.ID)
		if errors.Is(err, store.ErrNotFound) {
			p.LoadKey(ch.ID, nil)
			return ch.Kind, nil
		}
		if err != nil {
			return ch.Kind, err
		}
		p.LoadKey(ch.ID, &k)
	case ch.Kind == "credential":
		c, broken, err := src.LoadCredential(ch.ID)
		if errors.Is(err, store.ErrNotFound) {
			return p.Apply(src, nil) // removed meanwhile
		}
		if err != nil {
			return ch.Kind, err
		}
		p.LoadCredential(ch.ID, c, broken)
	case ch.Kind == "provider":
		pr, err := src.Provider(ch.ID)
		if errors.Is(err, store.ErrNotFound) {
			return p.Apply(src, nil)
		}
		if err != nil {
			return ch.Kind, err
		}
		p.LoadProvider(&pr)
	default:
		return "", fmt.Errorf("unknown configuration change %q", ch.Kind)
	}
	return ch.Kind, nil
}
