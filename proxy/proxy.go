// Package proxy is aigw's data plane: a fasthttp server that forwards
// http://HOST/{provider}/{path} to the provider's base URL, authenticating
// the client's gateway key, applying its limits, choosing one of the
// operator's credentials, streaming the answer back and retrying on another
// credential when the upstream fails.
//
// Ownership (fasthttp): a *fasthttp.RequestCtx, its request and response,
// and every []byte taken from their headers or bodies are valid only until
// the handler returns — or, for a response whose body is streamed, until
// fasthttp closes the body stream. Whatever outlives that (the trace, log
// fields) is copied first.
//
// The request path never touches the database: providers, credentials and
// keys live in an immutable snapshot that Load swaps in atomically.
package proxy

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/proxy/usage"
	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
	"github.com/valyala/fasthttp"
)

// Config is what the proxy needs from aigw's configuration.
type Config struct {
	MaxBodySize int
	// BodyMemory bounds the request bodies held in memory at once (all
	// requests together); 0: 8 × MaxBodySize, at least 256 MiB.
	BodyMemory   int64
	ReadTimeout  time.Duration // reading a client's request
	IdleTimeout  time.Duration // client keep-alive
	WriteTimeout time.Duration // longest a write to the client may block (a stalled reader)
	// MaxConns caps concurrent client connections; 0: DefaultMaxConns().
	MaxConns    int
	CORSOrigins []string

	ConnectTimeout   time.Duration
	FirstByteTimeout time.Duration // default; a provider's or key's timeout wins
	StreamIdle       time.Duration // longest silence between two chunks
	MaxRetries       int           // default retry budget of a key
	BackoffBase      time.Duration
	BackoffMax       time.Duration

	Health         scheduler.HealthConfig
	MaxTrackedKeys int

	// ResponsePins bounds the OpenAI Responses API ids remembered with the
	// credential that created them, so that follow-ups reach that account
	// (pinning.go): 0 means DefaultResponsePins, < 0 no pinning.
	// ResponsePinTTL is how long one is remembered; 0 means
	// DefaultResponsePinTTL.
	ResponsePins   int
	ResponsePinTTL time.Duration

	// RefusedTraces is how many requests refused before a good gateway
	// key was found are traced a second (refused.go): 0 means
	// DefaultRefusedTraces, < 0 none. All are counted.
	RefusedTraces int

	// InjectStreamUsage asks OpenAI chat streams for usage when the client
	// did not, and removes that chunk from what the client receives.
	InjectStreamUsage bool
	// Prices turns usage into cost; nil: the built-in table.
	Prices *usage.Prices

	// BudgetLocation is where a budget's calendar month begins and ends;
	// nil: UTC. BudgetSpent supplies what a subject ("key:key_x",
	// "provider:openai", "credential:cred_x") has used of a budget
	// (BudgetMonthlyCost, …) in period ("2026-12", PeriodTotal), over how
	// many requests, when its counter is created: at start-up and when a
	// budget is set. nil: 0.
	BudgetLocation *time.Location
	BudgetSpent    func(subject, budget, period string) (used float64, requests int64)

	// Recorder receives every authenticated request's trace; nil drops them.
	Recorder Recorder
	// RefreshCredential refreshes an OAuth credential whose access token
	// the upstream refused (401/403); refused is that token's SHA-256. It
	// returns nil once the proxy's snapshot holds another access token for
	// the credential (the request is then sent again on it), and is called
	// with a context that ends after RefreshTimeout. Concurrent calls for
	// one credential must share one refresh. nil: no refresh, the
	// credential is marked invalid at once.
	RefreshCredential func(ctx context.Context, credentialID string, refused [sha256.Size]byte) error
	// RefreshTimeout bounds how long a request waits for RefreshCredential
	// (default 15 s).
	RefreshTimeout time.Duration
	// HealthChanged, if set, hears every credential state change after it
	// is logged (alerts). It runs on the goroutine that made the change,
	// often a request's, with the credential's lock held: it must not block.
	HealthChanged func(scheduler.Change)
	Logger        *slog.Logger
}

// Recorder takes finished traces off the request path. Record may block
// when the pipeline is full (push-back): traces are never dropped.
type Recorder interface {
	Record(t *store.Trace)
}

// Proxy is the data-plane server.
type Proxy struct {
	cfg                 Config
	log                 *slog.Logger
	rec                 Recorder
	snap                atomic.Pointer[snapshot]
	server              *fasthttp.Server
	clients             clientCache
	health              *scheduler.Health
	keys                *scheduler.KeyStates
	cors                cors
	ids                 idGen
	prices              atomic.Pointer[usage.Prices] // swapped by SetPrices
	pins                *pinTable                    // nil: no response pinning
	inflight            atomic.Int64
	bodyMem             atomic.Int64  // bytes of request bodies held now
	bigBody             atomic.Int64  // bytes of large bodies read since memory was last given back
	fdWaits             atomic.Uint64 // accepts that waited for a file descriptor
	srvLog              serverLog
	refused             refusals
	stopped             chan struct{} // closed by Shutdown
	startOnce, stopOnce sync.Once
	pool                sync.Pool // *exchange
	budgets             budgetBook
	reload              sync.Mutex  // held while the configuration changes
	conf                configState // guarded by reload (config.go)
	now                 func() time.Time
}

// New builds a proxy with an empty snapshot.
func New(cfg Config) *Proxy {
	p := &Proxy{cfg: cfg, log: cfg.Logger, rec: cfg.Recorder, now: time.Now, stopped: make(chan struct{})}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.cfg.FirstByteTimeout <= 0 {
		p.cfg.FirstByteTimeout = 120 * time.Second
	}
	if p.cfg.RefreshTimeout <= 0 {
		p.cfg.RefreshTimeout = 15 * time.Second
	}
	if p.cfg.MaxTrackedKeys <= 0 {
		p.cfg.MaxTrackedKeys = 100_000
	}
	if p.cfg.Health.FailureThreshold == 0 {
		p.cfg.Health = scheduler.DefaultHealth
	}
	p.health = scheduler.NewHealth(p.cfg.Health, p.logHealthChange)
	p.keys = scheduler.NewKeyStates(p.cfg.MaxTrackedKeys)
	p.budgets = budgetBook{loc: cmp.Or(cfg.BudgetLocation, time.UTC), spent: cfg.BudgetSpent}
	p.SetPrices(cfg.Prices)
	if p.cfg.MaxConns <= 0 {
		p.cfg.MaxConns = DefaultMaxConns()
	}
	if p.cfg.BodyMemory <= 0 {
		p.cfg.BodyMemory = max(8*int64(cfg.MaxBodySize), 256<<20)
	}
	if p.cfg.ResponsePins >= 0 {
		p.pins = newPinTable(cmp.Or(p.cfg.ResponsePins, DefaultResponsePins), cmp.Or(p.cfg.ResponsePinTTL, DefaultResponsePinTTL))
	}
	p.refused.perSec = int64(cmp.Or(p.cfg.RefusedTraces, DefaultRefusedTraces))
	p.srvLog = serverLog{log: p.log, every: 10 * time.Second}
	p.cors = newCORS(cfg.CORSOrigins)
	p.ids.init()
	p.snap.Store(&snapshot{providers: map[string]*provider{}, creds: map[string]*credential{}})
	p.pool.New = func() any { return &exchange{p: p, upHeader: new(fasthttp.ResponseHeader)} }
	p.server = &fasthttp.Server{
		Name:                  "aigw",
		Handler:               p.handle,
		ErrorHandler:          p.handleServerError,
		ExpectHandler:         p.expectContinue,
		Logger:                &p.srvLog,
		SecureErrorLogMessage: true,
		Concurrency:           p.cfg.MaxConns,
		ReadBufferSize:        maxHeaderBytes,
		MaxRequestBodySize:    cfg.MaxBodySize,
		// The body is read by the handler once the key was checked
		// (readBody), not by fasthttp before it: a stranger's upload costs
		// no memory.
		StreamRequestBody:            true,
		ReadTimeout:                  cfg.ReadTimeout,
		IdleTimeout:                  cfg.IdleTimeout,
		WriteTimeout:                 cfg.WriteTimeout,
		NoDefaultServerHeader:        true,
		NoDefaultDate:                true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
	}
	return p
}

// Health exposes the credentials' live state (for the admin API).
func (p *Proxy) Health() *scheduler.Health { return p.health }

// InFlight is the number of requests being served.
func (p *Proxy) InFlight() int64 { return p.inflight.Load() }

// KeyStates exposes the keys' limiter state (for the admin API and quotas).
func (p *Proxy) KeyStates() *scheduler.KeyStates { return p.keys }

// Serve answers requests on ln until Shutdown. Running out of file
// descriptors pauses accepting; it does not end Serve.
func (p *Proxy) Serve(ln net.Listener) error {
	p.startOnce.Do(func() { go p.returnMemory() })
	return p.server.Serve(&fdListener{Listener: ln, waits: &p.fdWaits, log: &p.srvLog})
}

// returnMemory gives the memory of a burst of large request bodies back
// to the system once they are gone, rather than when the runtime's own
// pace gets to it (minutes on an idle gateway).
func (p *Proxy) returnMemory() {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.stopped:
			return
		case <-t.C:
		}
		if p.bigBody.Load() >= returnAfter && p.bodyMem.Load() < returnAfter/4 {
			p.bigBody.Store(0)
			debug.FreeOSMemory()
		}
	}
}

// returnAfter is how many bytes of large bodies make returnMemory act.
const returnAfter = 64 << 20

// MaxConns is the cap on concurrent client connections in force.
func (p *Proxy) MaxConns() int { return p.cfg.MaxConns }

// ConnStats are counters of the client side, for /metrics.
type ConnStats struct {
	Open           int32  // client connections open now
	ConnErrors     uint64 // connections that ended in an error fasthttp reported (malformed, aborted, over the cap, …)
	FDWaits        uint64 // accepts that waited because the process was out of file descriptors
	BodyBytesHeld  int64  // request-body bytes held in memory now
	LogsSuppressed uint64 // connection-error log lines not written (rate limit)
}

// ConnStats reports the client side's counters.
func (p *Proxy) ConnStats() ConnStats {
	return ConnStats{
		Open:           p.server.GetOpenConnectionsCount(),
		ConnErrors:     p.srvLog.count.Load(),
		FDWaits:        p.fdWaits.Load(),
		BodyBytesHeld:  p.bodyMem.Load(),
		LogsSuppressed: p.srvLog.suppressed.Load(),
	}
}

// Shutdown stops accepting connections and waits for requests in flight
// (streams included) until ctx ends.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.stopOnce.Do(func() { close(p.stopped) })
	return p.server.ShutdownWithContext(ctx)
}

func (p *Proxy) logHealthChange(c scheduler.Change) {
	attrs := []any{"credential", c.Credential, "from", c.From.String(), "to", c.To.String(), "reason", c.Reason}
	if !c.Until.IsZero() {
		attrs = append(attrs, "until", c.Until.UTC().Format(time.RFC3339))
	}
	level := slog.LevelWarn
	if c.To == scheduler.Healthy {
		level = slog.LevelInfo
	}
	p.log.Log(context.Background(), level, "credential state changed", attrs...)
	if p.cfg.HealthChanged != nil {
		p.cfg.HealthChanged(c)
	}
}

// maxHeaderBytes bounds a request's line and headers (larger: 431).
const maxHeaderBytes = 8 << 10

// handleServerError answers requests fasthttp could not read: a body over
// the limit (413, refused from its Content-Length without reading it),
// a read timeout (408) or malformed HTTP (400).
// Each is a refused request: counted, and traced within the refusals'
// budget.
func (p *Proxy) handleServerError(ctx *fasthttp.RequestCtx, err error) {
	sh := shapeOpenAI
	var prov *provider
	if name, _ := splitProvider(ctx.Path()); name != nil {
		if prov = p.snap.Load().providers[string(name)]; prov != nil {
			sh = prov.shape
		}
	}
	ctx.SetConnectionClose()
	var to interface{ Timeout() bool }
	var small *fasthttp.ErrSmallBuffer
	var status int
	var msg string
	switch {
	case errors.As(err, &small):
		status, msg = fasthttp.StatusRequestHeaderFieldsTooLarge, "aigw: request headers larger than "+strconv.Itoa(maxHeaderBytes)+" bytes"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status, msg = fasthttp.StatusRequestEntityTooLarge, "aigw: request body larger than "+strconv.Itoa(p.cfg.MaxBodySize)+" bytes (proxy.max_body_size)"
	case errors.As(err, &to) && to.Timeout():
		status, msg = fasthttp.StatusRequestTimeout, "aigw: timed out reading the request"
	default:
		status, msg = fasthttp.StatusBadRequest, "aigw: malformed HTTP request"
	}
	var buf [16]byte
	now := p.now()
	id := p.ids.next(buf[:0], now)
	ctx.Response.Header.SetCanonical(hdrRequestID, id)
	writeError(ctx, sh, status, msg)
	p.traceRefusal(ctx, id, now, prov, status, refusedUnreadable, msg)
}
