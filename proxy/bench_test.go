package proxy_test

import (
	"bufio"
	"net"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/aigw/aigw/proxy"
	"github.com/aigw/aigw/store"
	"github.com/valyala/fasthttp"
)

// A minimal upstream for benchmarks: canned OpenAI chat answers, JSON or
// 20-chunk SSE, from fasthttp, so that the upstream costs little next to
// what is measured. (proxytest is the faithful fake; it is too heavy to
// measure a proxy's overhead against.)
var (
	benchJSON   = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Sure! Here is a concise overview. An API gateway sits between clients and model providers: it authenticates callers, picks a provider, forwards the request and streams the answer back."},"finish_reason":"stop"}],"usage":{"prompt_tokens":42,"completion_tokens":128,"total_tokens":170,"prompt_tokens_details":{"cached_tokens":16}}}`)
	benchChunk  = []byte("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word \"},\"finish_reason\":null}]}\n\n")
	benchFinish = []byte("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	benchChat   = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Give me a concise overview of what an API gateway does."}]}`)
	benchStream = []byte(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Give me a concise overview of what an API gateway does."}]}`)
)

func startBenchUpstream(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if len(ctx.Request.Header.Peek("Authorization")) == 0 {
			ctx.SetStatusCode(401)
			return
		}
		if len(ctx.Request.Body()) > 0 && ctx.Request.Body()[len(`{"model":"gpt-4o-mini","`)] == 's' {
			ctx.SetContentType("text/event-stream")
			ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
				for range 20 {
					_, _ = w.Write(benchChunk)
					_ = w.Flush()
				}
				_, _ = w.Write(benchFinish)
				_ = w.Flush()
			})
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(benchJSON)
	}}
	go func() { _ = s.Serve(ln) }()
	b.Cleanup(func() { _ = s.Shutdown() })
	return ln.Addr().String()
}

// BenchmarkProxy measures requests through aigw next to the same requests
// sent straight to the upstream, in the same run: compare ns/op of
// aigw/… with direct/… (the difference is what aigw adds, CPU included,
// since client, proxy and upstream share the machine).
func BenchmarkProxy(b *testing.B) {
	up := startBenchUpstream(b)
	via, keys := benchGateway(b, up,
		store.KeyInput{Strategy: store.StrategyRoundRobin},
		store.KeyInput{Strategy: store.StrategyRoundRobin, Limits: store.Limits{RPM: 1 << 38, MaxConcurrency: 1 << 20, TPM: 1 << 38}},
		store.KeyInput{Strategy: store.StrategyCacheAffinity},
		store.KeyInput{Strategy: store.StrategyRoundRobin, Limits: store.Limits{MonthlyCost: 1e9, MonthlyTokens: 1e12, TotalCost: 1e9}})
	key, limitedKey, affineKey, budgetKey := keys[0], keys[1], keys[2], keys[3]
	for _, sc := range []struct {
		name string
		body []byte
	}{{"chat", benchChat}, {"chat_stream", benchStream}} {
		b.Run("direct/"+sc.name, func(b *testing.B) { benchLoad(b, up, "/v1/chat/completions", "sk-bench", sc.body) })
		b.Run("aigw/"+sc.name, func(b *testing.B) { benchLoad(b, via, "/bench/v1/chat/completions", key, sc.body) })
		b.Run("aigw_limited_key/"+sc.name, func(b *testing.B) { benchLoad(b, via, "/bench/v1/chat/completions", limitedKey, sc.body) })
		// cache_affinity reads the body's session fields and hashes its prefix (no user_id here).
		b.Run("aigw_cache_affinity/"+sc.name, func(b *testing.B) { benchLoad(b, via, "/bench/v1/chat/completions", affineKey, sc.body) })
		// three budgets: reserved at admission, settled at the end (budget.go)
		b.Run("aigw_budget_key/"+sc.name, func(b *testing.B) { benchLoad(b, via, "/bench/v1/chat/completions", budgetKey, sc.body) })
	}
}

// benchEnv starts a proxy, whose traces go nowhere, over a real store
// holding provider "bench" (on upstream) and one credential of it.
func benchEnv(b *testing.B, upstream string) (*env, store.Credential) {
	e := newEnv(b, func(c *proxy.Config) { c.Recorder = discard{} })
	if _, err := e.st.CreateProvider(store.Provider{Name: "bench", Type: "openai", BaseURL: "http://" + upstream}); err != nil {
		b.Fatal(err)
	}
	c, err := e.st.CreateCredential(store.CredentialInput{Provider: "bench", Secret: "sk-bench-credential"})
	if err != nil {
		b.Fatal(err)
	}
	return e, c
}

// benchGateway starts a proxy over a real store with one provider, one
// credential and a key per given input (its provider and pool are filled in).
func benchGateway(b *testing.B, upstream string, inputs ...store.KeyInput) (addr string, keys []string) {
	e, c := benchEnv(b, upstream)
	for _, in := range inputs {
		in.Provider, in.Credentials = "bench", []string{c.ID}
		_, secret, err := e.st.CreateKey(in)
		if err != nil {
			b.Fatal(err)
		}
		keys = append(keys, secret)
	}
	d, err := e.st.Load()
	if err != nil {
		b.Fatal(err)
	}
	if err := e.px.Load(d); err != nil {
		b.Fatal(err)
	}
	return e.addr, keys
}

// benchLoad sends requests from 8 parallel clients over keep-alive connections.
func benchLoad(b *testing.B, addr, path, key string, body []byte) {
	benchLoadKeys(b, addr, path, []string{key}, body)
}

type discard struct{}

func (discard) Record(*store.Trace) {}

// BenchmarkProxyKeys measures a chat request with 1, 1,024 and 100,000 keys
// in the configuration (requests spread over 1,024 of them when there are
// more than one): the cost of a request must not grow with the keys
// (issue 17). Compare the ns/op of keys=1024 and keys=100000 in one run.
func BenchmarkProxyKeys(b *testing.B) {
	up := startBenchUpstream(b)
	for _, n := range []int{1, 1024, 100_000} {
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			e, c := benchEnv(b, up)
			d, err := e.st.Load()
			if err != nil {
				b.Fatal(err)
			}
			// Built in memory: the store's per-key fsync would make filling
			// take minutes; the proxy only sees store.Data either way.
			var secrets []string
			for i := range n {
				secret := store.NewKeySecret()
				d.Keys = append(d.Keys, store.Key{ID: "key_" + strconv.Itoa(i), Name: "user-" + strconv.Itoa(i), Provider: "bench",
					Credentials: []string{c.ID}, Strategy: store.StrategyRoundRobin, Hash: store.HashKey([]byte(secret))})
				if i%max(1, n/1024) == 0 {
					secrets = append(secrets, secret)
				}
			}
			if err := e.px.Load(d); err != nil {
				b.Fatal(err)
			}
			benchLoadKeys(b, e.addr, "/bench/v1/chat/completions", secrets, benchChat)
		})
	}
}

// benchLoadKeys is benchLoad with each request on the next of keys.
func benchLoadKeys(b *testing.B, addr, path string, keys []string, body []byte) {
	c := &fasthttp.HostClient{Addr: addr, MaxConns: 64}
	auths := make([][]byte, len(keys))
	for i, k := range keys {
		auths[i] = []byte("Bearer " + k)
	}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	var next atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + addr + path)
		req.Header.SetMethod("POST")
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
		for pb.Next() {
			req.Header.SetBytesV("Authorization", auths[next.Add(1)%uint64(len(auths))])
			if err := c.Do(req, resp); err != nil {
				b.Fatal(err)
			}
			if resp.StatusCode() != 200 || len(resp.Body()) < 100 {
				b.Fatalf("status %d, %d bytes: %s", resp.StatusCode(), len(resp.Body()), strconv.Quote(string(resp.Body())))
			}
		}
	})
}

// BenchmarkProxyPoolSize measures a chat request on one key whose pool
// holds 1, 10, 64, 100 and 1,000 credentials, under each strategy: the
// cost of a request must not grow with the pool (issue 16). Compare the
// ns/op of creds=1 and the largest size of one strategy in one run. Sizes
// above store.MaxPoolSize are skipped: the store refuses such a key.
func BenchmarkProxyPoolSize(b *testing.B) {
	up := startBenchUpstream(b)
	for _, strategy := range store.Strategies {
		for _, n := range []int{1, 10, 64, 100, 1000} {
			b.Run("strategy="+strategy+"/creds="+strconv.Itoa(n), func(b *testing.B) {
				if n > store.MaxPoolSize {
					b.Skipf("a key's pool holds at most %d credentials", store.MaxPoolSize)
				}
				e, _ := benchEnv(b, up)
				d, err := e.st.Load()
				if err != nil {
					b.Fatal(err)
				}
				// Built in memory, as in BenchmarkProxyKeys: copies of the
				// stored credential (secret unsealed, as Load gives it),
				// weights 1 to 4 so that weighted has a schedule to follow.
				proto := d.Credentials[0]
				d.Credentials = d.Credentials[:0]
				ids := make([]string, n)
				for i := range n {
					c := proto
					c.ID, c.Name, c.Weight = "cred_"+strconv.Itoa(i), "c"+strconv.Itoa(i), i%4+1
					d.Credentials = append(d.Credentials, c)
					ids[i] = c.ID
				}
				secret := store.NewKeySecret()
				d.Keys = append(d.Keys, store.Key{ID: "key_pool", Name: "pool", Provider: "bench",
					Credentials: ids, Strategy: strategy, Hash: store.HashKey([]byte(secret))})
				if err := e.px.Load(d); err != nil {
					b.Fatal(err)
				}
				benchLoad(b, e.addr, "/bench/v1/chat/completions", secret, benchChat)
			})
		}
	}
}
