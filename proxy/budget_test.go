package proxy_test

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/proxy"
	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/store"
)

// oneRequestCost is what one chat request to the fake costs (a key without
// any budget, so nothing else is charged).
func oneRequestCost(t *testing.T, e *env, creds []string) (cost float64, tokens int64) {
	t.Helper()
	k := e.key(store.KeyInput{Provider: "p", Credentials: creds, Name: "probe"})
	e.rec.mu.Lock()
	n := len(e.rec.traces)
	e.rec.mu.Unlock()
	if r := e.do("POST", "/p/v1/chat/completions", bearer(k), chatBody); r.status != 200 {
		t.Fatalf("probe: %d %s", r.status, r.body)
	}
	tr := e.rec.wait(t, n+1)[n]
	if !tr.CostKnown || tr.CostUSD <= 0 {
		t.Fatalf("probe cost %v known %v", tr.CostUSD, tr.CostKnown)
	}
	return tr.CostUSD, tr.PromptTokens + tr.CompletionTokens
}

// nextMonth is the start of the month after now in loc.
func nextMonth(now time.Time, loc *time.Location) time.Time {
	l := now.In(loc)
	return time.Date(l.Year(), l.Month()+1, 1, 0, 0, 0, 0, loc)
}

func TestKeyMonthlyCostBudget(t *testing.T) {
	e := newEnv(t)
	_, creds := e.setup("openai", 1, "round_robin")
	c, _ := oneRequestCost(t, e, creds)
	key := e.key(store.KeyInput{Provider: "p", Credentials: creds, Name: "team", Limits: store.Limits{MonthlyCost: 1.5 * c}})
	for i := range 2 {
		if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 200 {
			t.Fatalf("request %d within the budget: %d %s", i+1, r.status, r.body)
		}
	}
	upstream := e.fake.Count()
	r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	if r.status != 429 || !strings.Contains(r.body, `"error"`) || !strings.Contains(r.body, "key budget monthly_cost") {
		t.Fatalf("over the monthly budget: %d %s", r.status, r.body)
	}
	reset := nextMonth(time.Now(), time.UTC)
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if want := time.Until(reset).Seconds(); err != nil || float64(secs) < want-5 || float64(secs) > want+5 {
		t.Errorf("Retry-After %q, want about %.0f s (until %s)", r.header.Get("Retry-After"), want, reset)
	}
	if !strings.Contains(r.body, "resets "+reset.Format("2006-01-02T15:04Z07:00")) {
		t.Errorf("the message does not say when it resets: %s", r.body)
	}
	if e.fake.Count() != upstream {
		t.Error("the refused request reached the upstream")
	}
	traces := e.rec.wait(t, 4)
	if tr := traces[3]; tr.Status != 429 || !strings.Contains(tr.Error, "key budget monthly_cost") || !strings.Contains(tr.Error, "(spent $") {
		t.Errorf("the refused request's trace: %d %q", tr.Status, tr.Error)
	}
	bs := e.px.Budgets()
	if len(bs) != 1 || bs[0].Subject == "" || bs[0].Budget != proxy.BudgetMonthlyCost || bs[0].Name != "team" ||
		bs[0].Used != 2*c || bs[0].Limit != 1.5*c || bs[0].Period != time.Now().UTC().Format("2006-01") || !bs[0].Reset.Equal(reset) {
		t.Errorf("Budgets() = %+v (one request costs %v)", bs, c)
	}
}

// An Anthropic key gets its 429 in Anthropic's shape.
func TestKeyBudgetInProviderShape(t *testing.T) {
	e := newEnv(t)
	_, creds := e.setup("anthropic", 1, "round_robin")
	key := e.key(store.KeyInput{Provider: "p", Credentials: creds, Limits: store.Limits{MonthlyTokens: 1}})
	body := `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	if r := e.do("POST", "/p/v1/messages", xAPIKey(key), body); r.status != 200 {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	r := e.do("POST", "/p/v1/messages", xAPIKey(key), body)
	if r.status != 429 || !strings.Contains(r.body, `"type":"error"`) || !strings.Contains(r.body, "key budget monthly_tokens 1 reached (used ") {
		t.Fatalf("over monthly_tokens: %d %s", r.status, r.body)
	}
}

func TestTotalCostBudgetHasNoRetryAfter(t *testing.T) {
	e := newEnv(t)
	_, creds := e.setup("openai", 1, "round_robin")
	c, _ := oneRequestCost(t, e, creds)
	key := e.key(store.KeyInput{Provider: "p", Credentials: creds, Limits: store.Limits{TotalCost: c / 2}})
	if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 200 {
		t.Fatalf("first: %d", r.status)
	}
	r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	if r.status != 429 || r.header.Get("Retry-After") != "" || !strings.Contains(r.body, "total_cost") || !strings.Contains(r.body, "does not reset") {
		t.Fatalf("over total_cost: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if bs := e.px.Budgets(); len(bs) != 1 || bs[0].Period != proxy.PeriodTotal || !bs[0].Reset.IsZero() {
		t.Errorf("Budgets() = %+v", bs)
	}
}

// The month is the configured time zone's: Berlin's next month begins an
// hour (or two) before UTC's.
func TestBudgetMonthInTimeZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *proxy.Config) { c.BudgetLocation = berlin })
	_, creds := e.setup("openai", 1, "round_robin")
	key := e.key(store.KeyInput{Provider: "p", Credentials: creds, Limits: store.Limits{MonthlyTokens: 1}})
	e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	reset := nextMonth(time.Now(), berlin)
	if r.status != 429 || !strings.Contains(r.body, "resets "+reset.Format("2006-01-02T15:04Z07:00")) {
		t.Fatalf("over the Berlin month: %d %s (want reset %s)", r.status, r.body, reset.Format(time.RFC3339))
	}
	if bs := e.px.Budgets(); len(bs) != 1 || !bs[0].Reset.Equal(reset) || bs[0].Period != time.Now().In(berlin).Format("2006-01") {
		t.Errorf("Budgets() = %+v, want reset %s", bs, reset)
	}
}

// A model without a price counts toward token budgets, not toward cost
// budgets (unpriced allow, the default); with unpriced deny it is refused
// before the upstream.
func TestUnpricedModels(t *testing.T) {
	e := newEnv(t)
	_, creds := e.setup("openai", 1, "round_robin")
	const unpriced = `{"model":"my-local-model","messages":[{"role":"user","content":"hi"}]}`
	allow := e.key(store.KeyInput{Provider: "p", Credentials: creds, Name: "allow", Limits: store.Limits{MonthlyCost: 0.000001, MonthlyTokens: 1000}})
	for i := range 3 {
		if r := e.do("POST", "/p/v1/chat/completions", bearer(allow), unpriced); r.status != 200 {
			t.Fatalf("unpriced request %d with unpriced allow: %d %s", i, r.status, r.body)
		}
	}
	var cost, tokens proxy.BudgetStatus
	for _, b := range e.px.Budgets() {
		switch b.Budget {
		case proxy.BudgetMonthlyCost:
			cost = b
		case proxy.BudgetMonthlyTokens:
			tokens = b
		}
	}
	tr := e.rec.wait(t, 3)[2]
	if tr.CostKnown || cost.Used != 0 || tokens.Used != 3*float64(tr.PromptTokens+tr.CompletionTokens) || tokens.Used == 0 {
		t.Errorf("after 3 unpriced requests: cost budget used %v, token budget used %v (trace: %d+%d tokens, cost known %v)",
			cost.Used, tokens.Used, tr.PromptTokens, tr.CompletionTokens, tr.CostKnown)
	}

	deny := e.key(store.KeyInput{Provider: "p", Credentials: creds, Limits: store.Limits{MonthlyCost: 10, Unpriced: store.UnpricedDeny}})
	before := e.fake.Count()
	r := e.do("POST", "/p/v1/chat/completions", bearer(deny), unpriced)
	if r.status != 403 || !strings.Contains(r.body, `\"my-local-model\" has no price`) {
		t.Fatalf("unpriced model with unpriced deny: %d %s", r.status, r.body)
	}
	if e.fake.Count() != before {
		t.Error("the refused unpriced request reached the upstream")
	}
	if r := e.do("POST", "/p/v1/chat/completions", bearer(deny), chatBody); r.status != 200 {
		t.Errorf("a priced model with unpriced deny: %d %s", r.status, r.body)
	}
	// deny without a cost budget refuses nothing.
	tokensOnly := e.key(store.KeyInput{Provider: "p", Credentials: creds, Limits: store.Limits{MonthlyTokens: 1e6, Unpriced: store.UnpricedDeny}})
	if r := e.do("POST", "/p/v1/chat/completions", bearer(tokensOnly), unpriced); r.status != 200 {
		t.Errorf("unpriced deny without a cost budget: %d %s", r.status, r.body)
	}
}

// 200 concurrent requests against a budget that allows 50: the
// reservations admit 50, and the overshoot stays below one request's cost
// (the last admitted request may cross the cap). After a restart the
// counter starts from the month's spend and average (BudgetSpent), as warm.
// A cold budget (no request seen yet) estimates 1 % of the budget per
// request: its burst overshoots more, still by no more than the requests
// in flight.
func TestBudgetBurstOvershootIsBounded(t *testing.T) {
	for _, tc := range []struct {
		name           string
		warm, restored bool
	}{{"warm", true, false}, {"restarted", false, true}, {"cold", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			var c float64 // one request's cost, once known
			e := newEnv(t, func(cfg *proxy.Config) {
				cfg.MaxConns = 1000
				if tc.restored {
					cfg.BudgetSpent = func(subject, budget, period string) (float64, int64) { return c, 1 } // one request spent before
				}
			})
			_, creds := e.setup("openai", 2, "round_robin")
			c, _ = oneRequestCost(t, e, creds)
			limit := 50.5 * c // allows 50 requests after the warm-up's (or the month's) one
			if !tc.warm && !tc.restored {
				limit = 50 * c
			}
			key := e.key(store.KeyInput{Provider: "p", Credentials: creds, Limits: store.Limits{MonthlyCost: limit}})
			if tc.warm {
				if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 200 {
					t.Fatalf("warm-up: %d", r.status)
				}
			}
			e.fake.Program(proxytest.Rule{HeaderDelay: 300 * time.Millisecond})
			var ok, refused, other atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 200 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					switch r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status {
					case 200:
						ok.Add(1)
					case 429:
						refused.Add(1)
					default:
						other.Add(1)
					}
				}()
			}
			close(start)
			wg.Wait()
			var used float64
			for _, b := range e.px.Budgets() {
				used = b.Used
			}
			overshoot := used - limit
			t.Logf("%s budget $%.6f (%.1f requests of $%.6f): %d admitted, %d refused (429), %d other; spent $%.6f, overshoot $%.6f = %.2f requests",
				tc.name, limit, limit/c, c, ok.Load(), refused.Load(), other.Load(), used, max(overshoot, 0), max(overshoot, 0)/c)
			if other.Load() != 0 || ok.Load()+refused.Load() != 200 {
				t.Fatalf("answers other than 200 and 429: %d", other.Load())
			}
			inflightCost := float64(ok.Load()) * c // every admitted request was in flight at once
			if overshoot > inflightCost {
				t.Errorf("overshoot $%v beyond the in-flight requests' cost $%v", overshoot, inflightCost)
			}
			if tc.warm || tc.restored {
				if ok.Load() != 50 || overshoot >= c {
					t.Errorf("%s budget: %d admitted (want 50), overshoot %.2f requests (want < 1)", tc.name, ok.Load(), overshoot/c)
				}
			} else if ok.Load() > 101 || ok.Load() < 50 {
				t.Errorf("cold budget: %d admitted, want 50..101 (an estimate of 1 %% of the budget each)", ok.Load())
			}
			// Settled: what the counter holds is what the requests cost.
			spentByTraces := 0.0
			if tc.restored {
				spentByTraces = c // the month's spend before the restart
			}
			n := 201
			if tc.warm {
				n++
			}
			for _, tr := range e.rec.wait(t, n) {
				if tr.KeyName != "probe" {
					spentByTraces += tr.CostUSD
				}
			}
			if d := spentByTraces - used; d > 1e-12 || d < -1e-12 {
				t.Errorf("the budget counts $%v, the traces $%v", used, spentByTraces)
			}
		})
	}
}

// A credential that spent its month leaves rotation (budget_exhausted)
// while the pool's other credential serves; with both spent the key gets a
// 429 naming the credential budget.
func TestCredentialBudget(t *testing.T) {
	e := newEnv(t)
	e.provider("p", "openai")
	capped := e.cred("p", "sk-capped-secret-value", 1)
	other := e.cred("p", "sk-other-secret-value", 1)
	c, _ := oneRequestCost(t, e, []string{other})
	if _, err := e.st.UpdateCredential(capped, store.CredentialPatch{MonthlyCost: ptr(c / 2)}); err != nil {
		t.Fatal(err)
	}
	e.reload()
	key := e.key(store.KeyInput{Provider: "p", Credentials: []string{capped, other}, Strategy: "round_robin"})
	for i := range 6 {
		if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	if n := e.fake.CountBy("sk-capped-secret-value"); n != 1 {
		t.Errorf("the capped credential served %d requests, want 1 (then out of rotation)", n)
	}
	st := e.px.Health().Status(capped)
	if st.State != "budget_exhausted" || !st.Until.Equal(nextMonth(time.Now(), time.UTC)) || !strings.Contains(st.Reason, "monthly_cost") {
		t.Errorf("capped credential's state: %+v", st)
	}
	if _, err := e.st.UpdateCredential(other, store.CredentialPatch{MonthlyCost: ptr(c / 2)}); err != nil {
		t.Fatal(err)
	}
	e.reload()
	e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody) // spends the other's month too (counted since its budget was set)
	r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody)
	if r.status != 429 || !strings.Contains(r.body, "credential budget monthly_cost") || r.header.Get("Retry-After") == "" {
		t.Fatalf("every credential spent: %d %s", r.status, r.body)
	}
	// Raising the budget puts the credential back at once.
	if _, err := e.st.UpdateCredential(capped, store.CredentialPatch{MonthlyCost: ptr(0.0)}); err != nil {
		t.Fatal(err)
	}
	e.reload()
	if st := e.px.Health().Status(capped); st.State != "healthy" {
		t.Errorf("after the budget was removed: %s", st.State)
	}
	if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 200 {
		t.Errorf("after the budget was removed: %d %s", r.status, r.body)
	}
}

func TestProviderBudget(t *testing.T) {
	e := newEnv(t)
	_, creds := e.setup("openai", 1, "round_robin")
	c, _ := oneRequestCost(t, e, creds)
	if _, err := e.st.UpdateProvider("p", store.ProviderPatch{MonthlyCost: ptr(1.5 * c)}); err != nil {
		t.Fatal(err)
	}
	e.reload()
	a := e.key(store.KeyInput{Provider: "p", Credentials: creds})
	b := e.key(store.KeyInput{Provider: "p", Credentials: creds})
	for _, k := range []string{a, b} {
		if r := e.do("POST", "/p/v1/chat/completions", bearer(k), chatBody); r.status != 200 {
			t.Fatalf("within the provider's budget: %d", r.status)
		}
	}
	r := e.do("POST", "/p/v1/chat/completions", bearer(a), chatBody)
	if r.status != 429 || !strings.Contains(r.body, "provider budget monthly_cost") || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the provider's budget: %d %s", r.status, r.body)
	}
}

// A reload keeps a budget's counter; a budget set later starts from what
// BudgetSpent says was spent (the roll-ups, in aigw serve).
func TestBudgetCountersSurviveReloadAndSeed(t *testing.T) {
	seeded := map[string]float64{"key:": 0}
	var mu sync.Mutex
	e := newEnv(t, func(c *proxy.Config) {
		c.BudgetSpent = func(subject, budget, period string) (float64, int64) {
			mu.Lock()
			defer mu.Unlock()
			if budget == proxy.BudgetMonthlyTokens && period == time.Now().UTC().Format("2006-01") {
				return seeded[subject], 10
			}
			return 0, 0
		}
	})
	_, creds := e.setup("openai", 1, "round_robin")
	k, _, err := e.st.CreateKey(store.KeyInput{Provider: "p", Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	seeded["key:"+k.ID] = 999
	mu.Unlock()
	if _, err := e.st.UpdateKey(k.ID, store.KeyPatch{MonthlyTokens: ptr(int64(1000))}); err != nil {
		t.Fatal(err)
	}
	e.reload()
	if bs := e.px.Budgets(); len(bs) != 1 || bs[0].Used != 999 {
		t.Fatalf("a new budget's counter is not seeded: %+v", bs)
	}
	e.reload() // same budget: same counter, not seeded again
	if _, err := e.st.UpdateKey(k.ID, store.KeyPatch{MonthlyTokens: ptr(int64(2000))}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	seeded["key:"+k.ID] = 0
	mu.Unlock()
	e.reload()
	if bs := e.px.Budgets(); len(bs) != 1 || bs[0].Used != 999 || bs[0].Limit != 2000 {
		t.Fatalf("after reloads: %+v", bs)
	}
}

// A streamed answer is charged when its stream ends, with the tokens the
// stream reported.
func TestBudgetChargesStreams(t *testing.T) {
	e := newEnv(t)
	_, creds := e.setup("openai", 1, "round_robin")
	key := e.key(store.KeyInput{Provider: "p", Credentials: creds, Limits: store.Limits{MonthlyTokens: 1_000_000, MonthlyCost: 1000}})
	if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatStreamBody); r.status != 200 || !strings.Contains(r.body, "data: [DONE]") {
		t.Fatalf("stream: %d %s", r.status, r.body)
	}
	tr := e.rec.wait(t, 1)[0]
	want := float64(tr.PromptTokens + tr.CompletionTokens)
	for _, b := range e.px.Budgets() {
		switch {
		case b.Budget == proxy.BudgetMonthlyTokens && (b.Used != want || want == 0):
			t.Errorf("tokens after a stream: %v, trace says %v", b.Used, want)
		case b.Budget == proxy.BudgetMonthlyCost && (b.Used != tr.CostUSD || b.Used == 0):
			t.Errorf("cost after a stream: %v, trace says %v", b.Used, tr.CostUSD)
		}
	}
}

// Requests that cost nothing (the upstream refused them) give their
// reservations back: 150 of them in a row against a budget that has seen
// no request (each reserves 1 % of it) are all answered by the upstream,
// none refused by the budget.
func TestBudgetReservationsAreReleased(t *testing.T) {
	e := newEnv(t)
	_, creds := e.setup("openai", 1, "round_robin")
	key := e.key(store.KeyInput{Provider: "p", Credentials: creds, Limits: store.Limits{MonthlyCost: 1}})
	e.fake.Program(proxytest.Rule{Status: 400, Message: "bad request"})
	for i := range 150 {
		if r := e.do("POST", "/p/v1/chat/completions", bearer(key), chatBody); r.status != 400 {
			t.Fatalf("request %d: %d %s (a reservation was kept)", i, r.status, r.body)
		}
	}
	if bs := e.px.Budgets(); len(bs) != 1 || bs[0].Used != 0 {
		t.Errorf("refused requests were charged: %+v", bs)
	}
}
