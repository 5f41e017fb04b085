// Package gateway assembles `aigw serve`: the data directory, the store, the
// proxy and the admin API in one process, started and stopped together.
package gateway

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/alerts"
	"github.com/aigw/aigw/config"
	"github.com/aigw/aigw/metrics"
	"github.com/aigw/aigw/oauth"
	"github.com/aigw/aigw/proxy"
	"github.com/aigw/aigw/proxy/usage"
	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
	"github.com/aigw/aigw/tracing"
	"golang.org/x/sync/errgroup"
)

// File names inside the data directory.
const (
	DBFile        = "aigw.db"
	MasterKeyFile = "master.key"
)

// lastUsedScan bounds the traces read at start for the keys' last use.
const lastUsedScan = 100_000

// Options are the parts of `aigw serve` that are not configuration.
type Options struct {
	Config config.Config
	// Demo registers a loopback fake provider, a credential and a demo key.
	Demo bool
	// Version is reported by /api/v1/status.
	Version string
	// Out receives the start-up banner (demo key, curl example).
	Out io.Writer
	// DemoReady, if set, receives what --demo set up.
	DemoReady func(DemoInfo)
	// LogOut receives the one-line-per-request log (at info level), like the
	// Logger's output; nil: none.
	LogOut io.Writer
	// Ready, if set, is called once both listeners accept connections.
	Ready func(proxyAddr, adminAddr net.Addr)
	// TracesReady, if set, receives the trace pipeline the proxy records
	// into (tests record traces beside the proxy's).
	TracesReady func(*tracing.Pipeline)
	// AlertsEvery is how often the alerts look at budgets, pools and the
	// trace writer; 0: every 5 s (tests check more often).
	AlertsEvery time.Duration
	Logger      *slog.Logger
}

// Run serves until ctx is cancelled, then drains and closes everything.
func Run(ctx context.Context, o Options) error {
	cfg := o.Config
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	dir := cfg.DataDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	dbPath := filepath.Join(dir, DBFile)
	if err := store.CheckFile(dbPath); err != nil {
		return err // before anything is created beside a file that is not ours
	}
	master, err := loadOrCreateMasterKey(filepath.Join(dir, MasterKeyFile), dbPath)
	if err != nil {
		return err
	}
	st, err := store.Open(dbPath, master, store.Options{LockTimeout: 2 * time.Second, Yield: yieldToRequests})
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("data directory %s is in use by another aigw serve (its database is locked)", dir)
		}
		if errors.Is(err, store.ErrWrongMasterKey) {
			return fmt.Errorf("%s is not the master key of %s (its sealed secrets do not open); put back the master.key this database was created with; nothing was changed",
				filepath.Join(dir, MasterKeyFile), dbPath)
		}
		return err
	}
	defer st.Close()
	if st.SmallPages() {
		log.Info("the database has 4 KiB pages (made before 2026-12-03); 'aigw backup --compact FILE' writes a copy with 16 KiB pages, which need less memory once retention prunes: stop aigw, put the copy in place of the database, start it", "db", dbPath)
	}

	tokens := admin.NewTokens(st, master)
	if err := admin.EnsureLocalToken(tokens, dir); err != nil {
		return fmt.Errorf("admin token: %w", err)
	}

	var refresher *oauth.Refresher // set below; the proxy has it refresh refused OAuth tokens
	today, err := st.KeyTotalsForDay(store.UsageDay(time.Now()))
	if err != nil {
		return fmt.Errorf("reading today's usage: %w", err)
	}
	keyDays := tracing.NewKeyDays(today, time.Now())
	budgetLoc := cfg.Budgets.Location()
	spend, err := tracing.NewSpend(st, budgetLoc, time.Now())
	if err != nil {
		return fmt.Errorf("reading this month's usage for the budgets: %w", err)
	}
	var px *proxy.Proxy
	var traces *tracing.Pipeline
	priceTable := prices(cfg.Pricing, importedPrices(st, log))
	alerter, err := newAlerts(cfg, o.AlertsEvery, st, log, func() *proxy.Proxy { return px }, func() *tracing.Pipeline { return traces })
	if err != nil {
		return err
	}
	mets := metrics.New(metrics.Sources{
		InFlight:    func() int64 { return px.InFlight() },
		Credentials: func() []scheduler.Status { return px.Health().All() },
		Pipeline:    func() tracing.Stats { return traces.Stats() },
		Clients: func() metrics.ClientStats {
			c := px.ConnStats()
			r := px.RefusalStats()
			return metrics.ClientStats{Open: int(c.Open), MaxConns: px.MaxConns(), ConnErrors: c.ConnErrors,
				LogsSuppressed: c.LogsSuppressed, FDWaits: c.FDWaits, BodyBytes: c.BodyBytesHeld,
				RefusedReasons: proxy.RefusalReasons[:], Refused: r.ByReason[:], RefusedUntraced: r.Untraced}
		},
		Providers:  func() map[string]string { return px.ProviderStates() },
		Budgets:    func() []metrics.Budget { return budgetMetrics(px.Budgets()) },
		KnownModel: func(model string) bool { return px.Prices().Listed(model) },
		Extra:      alerter.Collectors(),
	})
	traces = tracing.New(tracing.Config{
		QueueSize:     cfg.Traces.QueueSize,
		BatchSize:     cfg.Traces.BatchSize,
		FlushInterval: cfg.Traces.FlushInterval.D(),
		Yield:         yieldToRequests,
		Store:         st,
		Observers:     []tracing.Observer{mets, keyDays, spend, alerter},
		RequestLog:    o.requestLog(),
		LogJSON:       cfg.Log.Format == "json",
		Logger:        log,
	})
	go traces.Run()
	if o.TracesReady != nil {
		o.TracesReady(traces)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := traces.Close(ctx); err != nil {
			log.Error("trace pipeline did not flush", "err", err)
		}
	}()

	px = proxy.New(proxy.Config{
		MaxBodySize:      int(cfg.Proxy.MaxBodySize),
		BodyMemory:       int64(cfg.Proxy.BodyMemory),
		MaxConns:         cfg.Proxy.MaxConns,
		ReadTimeout:      cfg.Proxy.ReadTimeout.D(),
		WriteTimeout:     cfg.Proxy.WriteTimeout.D(),
		IdleTimeout:      cfg.Proxy.IdleTimeout.D(),
		CORSOrigins:      cfg.Proxy.CORSOrigins,
		ConnectTimeout:   cfg.Timeout.Connect.D(),
		FirstByteTimeout: cfg.Timeout.FirstByte.D(),
		StreamIdle:       cfg.Timeout.Idle.D(),
		MaxRetries:       cfg.Retry.MaxRetries,
		BackoffBase:      cfg.Retry.BackoffBase.D(),
		BackoffMax:       cfg.Retry.BackoffMax.D(),
		Health: scheduler.HealthConfig{
			FailureThreshold: cfg.Health.FailureThreshold,
			FailureWindow:    cfg.Health.FailureWindow.D(),
			Cooldown:         cfg.Health.Cooldown.D(),
			MaxCooldown:      cfg.Health.MaxCooldown.D(),
		},
		MaxTrackedKeys:    cfg.Limits.MaxTrackedKeys,
		ResponsePins:      cmp.Or(cfg.Proxy.ResponsePins, -1),  // 0 in the file: no pinning
		RefusedTraces:     cmp.Or(cfg.Proxy.RefusedTraces, -1), // 0 in the file: none traced
		ResponsePinTTL:    cfg.Proxy.ResponsePinTTL.D(),
		InjectStreamUsage: cfg.Usage.InjectStreamUsage,
		Prices:            priceTable,
		BudgetLocation:    budgetLoc,
		BudgetSpent:       spend.Lookup,
		Recorder:          traces,
		RefreshCredential: func(ctx context.Context, id string, refused [sha256.Size]byte) error {
			return refresher.Rejected(ctx, id, refused)
		},
		// The refresher bounds the token request itself; a request waits a
		// little longer, for the new tokens to be stored and loaded.
		RefreshTimeout: cfg.OAuth.RefreshTimeout.D() + 5*time.Second,
		HealthChanged:  alerter.CredentialChanged,
		Logger:         log,
	})
	px.KeyStates().SeedFunc = keyDays.Lookup
	var reloadMu sync.Mutex
	logged := map[string]string{} // problems already logged: kind/name → reason
	// load changes the proxy's configuration by what changed (nil: reads
	// it all again).
	load := func(flush bool, ch *admin.Change) error {
		reloadMu.Lock() // the last writer's view wins
		defer reloadMu.Unlock()
		if flush {
			// The traces queued now are written first, so that a budget set
			// by this change starts from everything spent so far.
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = traces.Flush(fctx)
			cancel()
		}
		began := time.Now()
		var pch *proxy.Change
		if ch != nil {
			pch = &proxy.Change{Kind: ch.Kind, ID: ch.ID, Removed: ch.Removed}
		}
		applied, err := px.Apply(st, pch)
		if err != nil {
			return err
		}
		mets.ConfigChanged(applied, time.Since(began))
		logged = logProblems(log, px.Problems(), logged)
		return nil
	}
	// An operator's change (which may set a budget) waits for the trace
	// writer; an OAuth refresh, which a request waits for, does not: it
	// changes no budget.
	reload := func() error { return load(true, nil) }
	began := time.Now()
	if err := reload(); err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	log.Info("configuration loaded", "keys", px.KeyCount(), "took", time.Since(began).Round(time.Millisecond).String())
	if used, err := st.KeysLastUsed(lastUsedScan); err != nil {
		log.Warn("cannot read the keys' last use from the traces", "err", err)
	} else {
		px.SeedLastUsed(used)
	}
	// Reading the configuration and the newest traces left garbage in
	// proportion to the keys and traces stored (~1 KiB a key): give it back
	// now rather than whenever the runtime gets to it.
	debug.FreeOSMemory()
	// Start-up ran a little of nearly every package: ~4 MiB of the
	// binary's pages that serving does not use go with it (code_linux.go).
	// Once, not periodically: the pages requests use would fault back in
	// after each drop, a few milliseconds on the next request.
	dropCode()
	refresher = &oauth.Refresher{Store: st, Reload: func(id string) error {
		return load(false, &admin.Change{Kind: admin.ChangeCredential, ID: id})
	}, Logger: log, Timeout: cfg.OAuth.RefreshTimeout.D()}

	proxyLn, err := net.Listen("tcp", cfg.Proxy.Addr)
	if err != nil {
		return fmt.Errorf("proxy listener: %w", err)
	}
	defer proxyLn.Close()
	adminLn, err := net.Listen("tcp", cfg.Admin.Addr)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	defer adminLn.Close()
	if err := admin.WriteLocalURL(dir, adminLn.Addr()); err != nil {
		return fmt.Errorf("write %s: %w", admin.LocalURLFile, err)
	}
	if !isLoopback(adminLn.Addr()) {
		log.Warn("the admin API listens beyond loopback; anyone who can reach it still needs an admin token", "addr", adminLn.Addr().String())
	}

	adminAPI := admin.New(admin.Options{Store: st, Tokens: tokens, Reload: reload,
		Changed: func(ch admin.Change) error { return load(true, &ch) }, Health: px.Health(), ProviderStates: px.ProviderStates,
		RefreshCredential: refresher.Refresh,
		Prices:            px.Prices,
		PricesImported: func(imported map[string]usage.Price) {
			px.SetPrices(prices(cfg.Pricing, imported))
		},
		Live: traces, Metrics: mets.Handler(), Logger: log, KeyLastUsed: px.KeyLastUsed, KeyRefs: px.KeyRefs, Alerts: alerter,
		Budgets: func(subjects []string) map[string][]admin.BudgetUse { return budgetUse(px.BudgetsOf(subjects)) },
		Status:  statusFunc(o.Version, time.Now(), proxyLn.Addr().String(), px, traces)})
	adminSrv := &http.Server{Handler: adminAPI.Handler(), ReadHeaderTimeout: 10 * time.Second}

	if o.Demo {
		info, stop, err := startDemo(ctx, st, px.KeyRefs, reload, proxyLn.Addr(), adminLn.Addr(), o.Out)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer stop()
		if o.DemoReady != nil {
			o.DemoReady(*info)
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		refresher.Run(gctx)
		return nil
	})
	g.Go(func() error {
		tuneGC(gctx, st.ReleaseMapped) // after FreeOSMemory above: the live heap is known
		return nil
	})
	g.Go(func() error {
		alerter.Run(gctx)
		return nil
	})
	g.Go(func() error {
		tracing.RunRetention(gctx, st, cfg.Traces.Retention.D(), uint64(cfg.Traces.MaxCount), time.Minute, log)
		return nil
	})
	g.Go(func() error {
		if err := px.Serve(proxyLn); err != nil && gctx.Err() == nil {
			return fmt.Errorf("proxy: %w", err)
		}
		return nil // closed by the shutdown below
	})
	g.Go(func() error {
		if err := adminSrv.Serve(adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("admin: %w", err)
		}
		return nil
	})
	log.Info("aigw serving", "proxy", proxyLn.Addr().String(), "admin", adminLn.Addr().String(), "data_dir", dir,
		"max_conns", px.MaxConns())
	if o.Ready != nil {
		o.Ready(proxyLn.Addr(), adminLn.Addr())
	}
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down: draining requests in flight", "deadline", cfg.Proxy.DrainTimeout.String())
		drainCtx, cancel := context.WithTimeout(context.Background(), cfg.Proxy.DrainTimeout.D())
		defer cancel()
		errProxy := px.Shutdown(drainCtx)
		refresher.Close() // no request waits on a refresh any more
		// A shutdown right after start may come before Serve took the
		// listener: closing it makes a late Serve return at once.
		proxyLn.Close()
		adminAPI.CloseStreams()
		errAdmin := adminSrv.Shutdown(drainCtx)
		return errors.Join(errProxy, errAdmin)
	})
	return g.Wait()
}

// logProblems logs each record left out of service once (again when its
// reason changes) and each one that loads again; it returns what is now
// logged. Credentials that do not unseal are logged by their state change.
func logProblems(log *slog.Logger, problems []proxy.Problem, before map[string]string) map[string]string {
	now := make(map[string]string, len(problems))
	for _, p := range problems {
		id := p.Kind + " " + p.Name
		now[id] = p.Reason
		if before[id] != p.Reason {
			log.Error(p.Kind+" out of service: its configuration could not be loaded; everything else serves", p.Kind, p.Name, "reason", p.Reason, "err", p.Err)
		}
	}
	for id := range before {
		if _, still := now[id]; !still {
			log.Info("back in service: its configuration loads again", "record", id)
		}
	}
	return now
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// loadOrCreateMasterKey reads the hex master key, creating it (0600) on
// first start.
func loadOrCreateMasterKey(path, dbPath string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if fi, err := os.Stat(dbPath); err == nil && fi.Size() > 0 {
			return nil, fmt.Errorf("%s is missing but %s exists: without its master key the sealed credentials cannot be read; restore master.key beside the database", path, dbPath)
		}
		key := make([]byte, store.MasterKeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := writeNewFile(path, []byte(hex.EncodeToString(key)+"\n")); err != nil {
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != store.MasterKeySize {
		return nil, fmt.Errorf("%s is not a master key (64 hex characters expected)", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by other users (mode %v); run: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	return key, nil
}

// writeNewFile creates path with mode 0600, failing if it exists.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// requestLog is where request lines go: LogOut, when the level shows info.
func (o Options) requestLog() io.Writer {
	if o.LogOut == nil || o.Logger == nil || !o.Logger.Enabled(context.Background(), slog.LevelInfo) {
		return nil
	}
	return o.LogOut
}

// prices is the built-in price table, then the imported list, then the
// config's overrides: each wins over what comes before it.
func prices(overrides map[string]config.Price, imported map[string]usage.Price) *usage.Prices {
	p := usage.DefaultPrices()
	if len(imported) > 0 {
		p = p.WithSource(imported, usage.PriceImported)
	}
	if len(overrides) == 0 {
		return p
	}
	m := make(map[string]usage.Price, len(overrides))
	for model, o := range overrides {
		m[model] = usage.Price{Input: o.Input, Output: o.Output, CacheWrite: o.CacheWrite, CacheRead: o.CacheRead, CacheWrite1h: o.CacheWrite1h}
	}
	return p.WithSource(m, usage.PriceConfig)
}

// importedPrices reads the price list `aigw prices import` stored; a list
// that cannot be read is logged and left out (the built-in prices and the
// config's still apply).
func importedPrices(st *store.Store, log *slog.Logger) map[string]usage.Price {
	doc, err := st.ImportedPrices()
	if err == nil && doc == nil {
		return nil
	}
	var m map[string]usage.Price
	if err == nil {
		m, _, _, err = usage.DecodeTable(doc)
	}
	if err != nil {
		log.Error("the imported price list cannot be read; pricing without it (import it again)", "err", err)
		return nil
	}
	return m
}

// statusFunc reports the live figures of /api/v1/status.
func statusFunc(version string, started time.Time, proxyAddr string, px *proxy.Proxy, traces *tracing.Pipeline) func() admin.Status {
	return func() admin.Status {
		ps := traces.Stats()
		st := admin.Status{
			Version: version, StartedAt: started.UTC(), ProxyAddr: proxyAddr, InFlight: px.InFlight(),
			TraceQueue: ps.Queued, WriterLagMS: float64(ps.Lag.Microseconds()) / 1000,
			Credentials: map[string]int{}, Out: []admin.OutCredential{}, BrokenProviders: []admin.BrokenProvider{},
		}
		for name, why := range px.ProviderStates() {
			if why != "" {
				st.BrokenProviders = append(st.BrokenProviders, admin.BrokenProvider{Name: name, Reason: why})
			}
		}
		slices.SortFunc(st.BrokenProviders, func(a, b admin.BrokenProvider) int { return strings.Compare(a.Name, b.Name) })
		for _, c := range px.Health().All() {
			st.Credentials[c.State]++
			switch c.State {
			case scheduler.Cooling.String(), scheduler.Invalid.String(), scheduler.Broken.String(), scheduler.Exhausted.String(), scheduler.BudgetExhausted.String():
				st.Out = append(st.Out, admin.OutCredential{ID: c.ID, State: c.State, Until: c.Until, LastError: c.LastError, Reason: c.Reason})
			}
		}
		return st
	}
}

// newAlerts builds the alerts from the config; the proxy and the trace
// pipeline are created after it, so it reaches them through px and traces.
// Budgets plug in as Config.Budgets (the proxy's budget counters).
func newAlerts(cfg config.Config, every time.Duration, st *store.Store, log *slog.Logger,
	px func() *proxy.Proxy, traces func() *tracing.Pipeline) (*alerts.Manager, error) {
	hooks := make([]alerts.Webhook, len(cfg.Alerts.Webhooks))
	for i, h := range cfg.Alerts.Webhooks {
		hooks[i] = alerts.Webhook{URL: h.URL, Events: h.Events, Secret: h.Secret}
	}
	m, err := alerts.New(alerts.Config{
		Thresholds: cfg.Alerts.Thresholds,
		Interval:   every,
		Budgets: func() []alerts.BudgetUsage {
			p := px()
			if p == nil {
				return nil
			}
			bs := p.Budgets()
			out := make([]alerts.BudgetUsage, len(bs))
			for i, b := range bs {
				out[i] = alerts.BudgetUsage{Subject: b.Subject, Name: b.Name, Budget: b.Budget, Period: b.Period,
					Used: b.Used, Limit: b.Limit, Reset: b.Reset}
			}
			return out
		},
		Pools: func() []alerts.Pool {
			p := px()
			if p == nil {
				return nil
			}
			pools := p.ActivePools()
			out := make([]alerts.Pool, len(pools))
			for i, k := range pools {
				out[i] = alerts.Pool{Key: k.Key, Name: k.Name, Credentials: k.Credentials, Keys: k.Keys}
			}
			return out
		},
		Credentials: func() []scheduler.Status { return px().Health().All() },
		Pipeline:    func() tracing.Stats { return traces().Stats() },
		// Behind: half the queue waiting, or a batch written 10 flush
		// intervals (at least 10 s) after its oldest trace came.
		TracesQueued: cfg.Traces.QueueSize / 2,
		TracesLag:    max(10*cfg.Traces.FlushInterval.D(), 10*time.Second),
		Webhooks:     hooks,
		Store:        st,
		Logger:       log,
	})
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	return m, nil
}

// yieldToRequests pauses the trace writer for a moment between slices of a
// batch. A goroutine that is never blocked keeps a core to itself: the Go
// scheduler looks at the network only when it has nothing else to run (or
// every 10 ms), so on one core a batch written in one go delayed every
// request arriving meanwhile by as long as the batch took (the p99 of a
// single client rose by ~2.5 ms). Parked, the writer leaves the core to
// the requests that are ready.
func yieldToRequests() { time.Sleep(20 * time.Microsecond) }

// budgetUse groups the proxy's budgets by subject, for the admin API.
func budgetUse(bs []proxy.BudgetStatus) map[string][]admin.BudgetUse {
	out := make(map[string][]admin.BudgetUse, len(bs))
	for _, b := range bs {
		u := admin.BudgetUse{Budget: b.Budget, Period: b.Period, Used: b.Used, Limit: b.Limit}
		if !b.Reset.IsZero() {
			r := b.Reset
			u.Reset = &r
		}
		out[b.Subject] = append(out[b.Subject], u)
	}
	return out
}

// budgetMetrics turns the proxy's budgets into /metrics' figures.
func budgetMetrics(bs []proxy.BudgetStatus) []metrics.Budget {
	out := make([]metrics.Budget, len(bs))
	for i, b := range bs {
		out[i] = metrics.Budget{Subject: b.Subject, Budget: b.Budget, Used: b.Used, Limit: b.Limit}
	}
	return out
}
