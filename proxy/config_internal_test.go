package proxy

import (
	"cmp"
	crand "crypto/rand"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aigw/aigw/store"
)

// TestChangesMatchAFullReload drives a store through a few hundred random
// operator changes. After each one the proxy that applied only that change
// (Apply, as the gateway does) must hold exactly the configuration that a
// proxy loading everything from the store builds — what a restart would
// serve: the same keys under the same secrets, the same pools built from
// the current credentials (no stale secret or weight), the same budgets,
// states and problems.
func TestChangesMatchAFullReload(t *testing.T) {
	mk := make([]byte, 32)
	crand.Read(mk)
	st, err := store.Open(filepath.Join(t.TempDir(), "aigw.db"), mk, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	inc := New(Config{})
	if _, err := inc.Apply(st, nil); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	w := &world{t: t, st: st, r: r}
	counts := map[string]int{}
	for step := range 400 {
		op, ch, err := w.randomChange()
		if err != nil {
			var ve *store.ValidationError
			if errors.As(err, &ve) || errors.Is(err, store.ErrInUse) {
				continue // refused by the store: nothing changed
			}
			t.Fatalf("step %d %s: %v", step, op, err)
		}
		counts[op]++
		if _, err := inc.Apply(st, ch); err != nil {
			t.Fatalf("step %d %s: apply: %v", step, op, err)
		}
		full := New(Config{})
		if _, err := full.Apply(st, nil); err != nil {
			t.Fatal(err)
		}
		if got, want := dumpConfig(inc), dumpConfig(full); got != want {
			t.Fatalf("step %d (%s %+v): the changed configuration differs from a full reload:\n%s", step, op, *ch, diffLines(got, want))
		}
		if got, want := keyRefs(t, inc), keyRefs(t, full); !slices.Equal(got, want) {
			t.Fatalf("step %d (%s %+v): the keys listed differ from a full reload's:\n%s", step, op, *ch, diffLines(strings.Join(got, "\n"), strings.Join(want, "\n")))
		}
	}
	for _, op := range []string{"key create", "key update", "key revoke", "key rotate", "credential create", "credential update", "provider create", "provider update", "credential remove"} {
		if counts[op] == 0 {
			t.Errorf("operation %q never ran: %v", op, counts)
		}
	}
	if n := len(inc.snap.Load().pools); n > len(inc.conf.keys)+1 && len(inc.conf.free) == 0 {
		t.Errorf("%d pool slots for %d keys, none free: pools of gone keys are not reused", n, len(inc.conf.keys))
	}
}

// keyRefs is what KeyRefs offers, one line per key, sorted; a key
// offered twice fails the test.
func keyRefs(t *testing.T, p *Proxy) []string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	for r := range p.KeyRefs {
		if seen[r.ID] {
			t.Fatalf("KeyRefs offers %s twice", r.ID)
		}
		seen[r.ID] = true
		out = append(out, fmt.Sprintf("%+v", *r))
	}
	slices.Sort(out)
	return out
}

// TestKeyRefsAfterManyChanges changes a few keys thousands of times: the
// walk of the admin API's pages offers each key once, as it is now, and
// what it keeps of the versions replaced stays bounded.
func TestKeyRefsAfterManyChanges(t *testing.T) {
	mk := make([]byte, 32)
	crand.Read(mk)
	st, err := store.Open(filepath.Join(t.TempDir(), "aigw.db"), mk, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateProvider(store.Provider{Name: "openai", Type: "openai", BaseURL: "http://127.0.0.1:9/v1"}); err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateCredential(store.CredentialInput{Provider: "openai", Secret: "sk-refs"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	create := func(name string) {
		k, _, err := st.CreateKey(store.KeyInput{Provider: "openai", Credentials: []string{c.ID}, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	create("k0") // two in the slab of the first load, one set after it
	create("k1")
	p := New(Config{})
	if _, err := p.Apply(st, nil); err != nil {
		t.Fatal(err)
	}
	create("k2")
	if _, err := p.Apply(st, &Change{Kind: "key", ID: ids[2]}); err != nil {
		t.Fatal(err)
	}
	const changes = 3000
	for i := range changes {
		id := ids[i%len(ids)]
		name := fmt.Sprintf("n%d", i)
		if _, err := st.UpdateKey(id, store.KeyPatch{Name: &name}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Apply(st, &Change{Kind: "key", ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	full := New(Config{})
	if _, err := full.Apply(st, nil); err != nil {
		t.Fatal(err)
	}
	got, want := keyRefs(t, p), keyRefs(t, full)
	if !slices.Equal(got, want) || len(got) != 3 {
		t.Errorf("after %d changes KeyRefs offers %v; want %v", changes, got, want)
	}
	if n := len(p.conf.loose); n > changes/2 {
		t.Errorf("the walk keeps %d versions of 3 keys after %d changes; want the replaced ones dropped", n, changes)
	}
}

// world makes random changes to a store, the way operators do.
type world struct {
	t     *testing.T
	st    *store.Store
	r     *rand.Rand
	provs []string
}

func (w *world) pick(xs []string) string { return xs[w.r.IntN(len(xs))] }

func (w *world) randomChange() (string, *Change, error) {
	st, r := w.st, w.r
	if len(w.provs) == 0 || r.IntN(40) == 0 {
		name := fmt.Sprintf("p%d", len(w.provs))
		_, err := st.CreateProvider(store.Provider{Name: name, Type: "openai", BaseURL: "http://127.0.0.1:9/v1"})
		if err == nil {
			w.provs = append(w.provs, name)
		}
		return "provider create", &Change{Kind: "provider", ID: name}, err
	}
	prov := w.pick(w.provs)
	creds, _, err := st.Credentials(store.CredentialFilter{Provider: prov, Limit: store.MaxPageLimit})
	if err != nil {
		return "", nil, err
	}
	if len(creds) < 2 || r.IntN(8) == 0 {
		weight := 1 + r.IntN(5)
		c, err := st.CreateCredential(store.CredentialInput{Provider: prov, Secret: "sk-" + randomWord(r), Weight: &weight,
			MonthlyCost: float64(r.IntN(2) * 10)})
		return "credential create", &Change{Kind: "credential", ID: c.ID}, err
	}
	keys, _, err := st.Keys(store.KeyFilter{Status: store.KeyActive, Limit: store.MaxPageLimit})
	if err != nil {
		return "", nil, err
	}
	var active []store.Key
	for _, k := range keys {
		if k.RevokedAt == nil {
			active = append(active, k)
		}
	}
	pool := func() []string {
		ids := make([]string, 0, 3)
		for range 1 + r.IntN(3) {
			if id := creds[r.IntN(len(creds))].ID; !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		return ids
	}
	strategies := []string{"round_robin", "weighted", "health_best", "cache_affinity"}
	switch n := r.IntN(20); {
	case n < 6 || len(active) == 0:
		in := store.KeyInput{Provider: prov, Credentials: pool(), Name: randomWord(r), Strategy: w.pick(strategies)}
		if r.IntN(3) == 0 {
			in.MonthlyCost, in.TotalCost = 5, float64(r.IntN(2)*20)
		}
		if r.IntN(3) == 0 {
			in.RPM = 60
		}
		k, _, err := st.CreateKey(in)
		return "key create", &Change{Kind: "key", ID: k.ID}, err
	case n < 9:
		k := active[r.IntN(len(active))]
		kc, _, _ := st.Credentials(store.CredentialFilter{Provider: k.Provider, Limit: store.MaxPageLimit})
		ids := []string{kc[r.IntN(len(kc))].ID}
		strategy := w.pick(strategies)
		cost := float64(r.IntN(2) * 7)
		name := randomWord(r)
		_, err := st.UpdateKey(k.ID, store.KeyPatch{Credentials: &ids, Strategy: &strategy, MonthlyCost: &cost, Name: &name})
		return "key update", &Change{Kind: "key", ID: k.ID}, err
	case n < 10:
		k := active[r.IntN(len(active))]
		_, err := st.RevokeKey(k.ID)
		return "key revoke", &Change{Kind: "key", ID: k.ID}, err
	case n < 11:
		k := active[r.IntN(len(active))]
		_, _, err := st.RotateKeySecret(k.ID)
		return "key rotate", &Change{Kind: "key", ID: k.ID}, err
	case n < 16:
		c := creds[r.IntN(len(creds))]
		var p store.CredentialPatch
		switch r.IntN(4) {
		case 0:
			weight := 1 + r.IntN(9)
			p.Weight = &weight
		case 1:
			on := r.IntN(2) == 0
			p.Enabled = &on
		case 2:
			secret := "sk-" + randomWord(r)
			p.Secret = &secret
		default:
			cost := float64(r.IntN(2) * 3)
			p.MonthlyCost = &cost
		}
		_, err := st.UpdateCredential(c.ID, p)
		return "credential update", &Change{Kind: "credential", ID: c.ID}, err
	case n < 17:
		c := creds[r.IntN(len(creds))]
		err := st.DeleteCredential(c.ID)
		return "credential remove", &Change{Kind: "credential", ID: c.ID, Removed: true}, err
	default:
		var p store.ProviderPatch
		if r.IntN(2) == 0 {
			hs := []string{"Authorization: Bearer {key}", "X-Extra: k-{key}-" + randomWord(r)}[:1+r.IntN(2)]
			p.AuthHeaders = &hs
		} else {
			cost := float64(r.IntN(2) * 50)
			p.MonthlyCost = &cost
		}
		_, err := st.UpdateProvider(prov, p)
		return "provider update", &Change{Kind: "provider", ID: prov}, err
	}
}

func randomWord(r *rand.Rand) string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8)
	for i := range b {
		b[i] = letters[r.IntN(len(letters))]
	}
	return string(b)
}

// dumpConfig writes out everything of p's configuration a request or an
// operator's view can tell apart.
func dumpConfig(p *Proxy) string {
	p.reload.Lock()
	defer p.reload.Unlock()
	s := p.snap.Load()
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(s.providers)) {
		pr := s.providers[name]
		fmt.Fprintf(&b, "provider %s type=%s broken=%q auth=%q budget=%s\n", name, pr.typ, pr.broken, fmt.Sprint(pr.auth), budgetString(pr.budget))
	}
	for _, id := range slices.Sorted(maps.Keys(s.creds)) {
		c := s.creds[id]
		fmt.Fprintf(&b, "credential %s auth=%q state=%s budget=%s\n", id, c.authValues, c.health.State(), budgetString(c.budget))
	}
	var keys []*gwKey
	for i := range s.keys {
		for _, k := range s.keys[i] {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b *gwKey) int { return cmp.Compare(a.id(), b.id()) })
	for _, k := range keys {
		if p.conf.keys[k.id()] != k {
			fmt.Fprintf(&b, "key %s: in the table but not the state\n", k.id())
		}
		kp := s.pools[k.pool]
		var pool []string
		for _, c := range kp.creds {
			stale := ""
			if s.creds[c.id] != c {
				stale = "(stale)"
			}
			pool = append(pool, c.id+stale)
		}
		strategy := "-"
		if kp.pool != nil {
			strategy = kp.pool.Strategy().String()
		}
		var budgets []string
		deny := false
		if k.budgets != nil {
			for _, bd := range k.budgets.list {
				budgets = append(budgets, budgetString(bd))
			}
			deny = k.budgets.unpricedDeny
		}
		fmt.Fprintf(&b, "key %s name=%s hash=%x provider=%s revoked=%v limits=%+v retries=%d budgets=%v deny=%v pool=%v %s noPool=%q\n",
			k.id(), k.name(), k.hash[:4], k.provider, k.revoked, limitsString(k.limits), k.maxRetries, budgets, deny, pool, strategy, kp.noPool)
	}
	if len(keys) != len(p.conf.keys) {
		fmt.Fprintf(&b, "%d keys in the table, %d in the state\n", len(keys), len(p.conf.keys))
	}
	for _, pr := range s.problems {
		fmt.Fprintf(&b, "problem %s %s %s\n", pr.Kind, pr.Name, pr.Reason)
	}
	for _, id := range slices.Sorted(maps.Keys(p.conf.budgets)) {
		fmt.Fprintf(&b, "budget %s %s\n", id, budgetString(p.conf.budgets[id]))
	}
	return b.String()
}

func limitsString(l *store.Limits) string {
	if l == nil {
		return "none"
	}
	return fmt.Sprintf("%+v", *l)
}

func budgetString(b *budget) string {
	if b == nil {
		return "-"
	}
	return fmt.Sprintf("%s/%s=%g(%s)", b.subject, b.kind, b.limit, b.name)
}

func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var out []string
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "+ "+l)
		}
	}
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "- "+l)
		}
	}
	return strings.Join(out, "\n") + "\n(+ changed only, - full reload)"
}

// A damaged record with an absurdly long name still loads (its name cut),
// and the key's id, name and preview read back whole otherwise.
func TestKeyTextFits(t *testing.T) {
	p := New(Config{})
	d := &store.Data{Providers: []store.Provider{{Name: "p", Type: "openai", BaseURL: "http://127.0.0.1:9"}}}
	long := strings.Repeat("n", 70000)
	d.Keys = []store.Key{
		{ID: "key_a", Name: "app", Preview: "aigw_…abcd", Provider: "p", Strategy: "round_robin", Hash: [32]byte{1}},
		{ID: "key_b", Name: long, Preview: "aigw_…efgh", Provider: "p", Strategy: "round_robin", Hash: [32]byte{2}},
	}
	if err := p.Load(d); err != nil {
		t.Fatal(err)
	}
	a, b := p.conf.keys["key_a"], p.conf.keys["key_b"]
	if a.id() != "key_a" || a.name() != "app" || a.preview() != "aigw_…abcd" {
		t.Errorf("key_a reads back as %q %q %q", a.id(), a.name(), a.preview())
	}
	if b.id() != "key_b" || b.name() != long[:maxKeyText/4] || b.preview() != "aigw_…efgh" {
		t.Errorf("key_b reads back as %q, a name of %d bytes, %q", b.id(), len(b.name()), b.preview())
	}
}
