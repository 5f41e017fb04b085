// Package config holds aigw serve's settings: documented defaults, a TOML
// file (strict: an unknown key or a bad value is an error naming the key and
// its line), AIGW_* environment variables over the file, and flags over both.
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // budgets.timezone works without the system's zone files

	"github.com/aigw/aigw/internal/units"
)

// Config is every setting of `aigw serve`. The toml tags are the file's keys;
// the environment variable of a key is AIGW_ + SECTION_KEY in upper case
// (e.g. proxy.addr → AIGW_PROXY_ADDR, data_dir → AIGW_DATA_DIR).
type Config struct {
	DataDir string           `toml:"data_dir"`
	Proxy   Proxy            `toml:"proxy"`
	Admin   Admin            `toml:"admin"`
	Timeout Timeouts         `toml:"timeouts"`
	Retry   Retry            `toml:"retry"`
	Health  Health           `toml:"health"`
	OAuth   OAuth            `toml:"oauth"`
	Limits  Limits           `toml:"limits"`
	Traces  Traces           `toml:"traces"`
	Usage   Usage            `toml:"usage"`
	Budgets Budgets          `toml:"budgets"`
	Log     Log              `toml:"log"`
	Alerts  Alerts           `toml:"alerts"`
	Pricing map[string]Price `toml:"pricing"`
}

// Alerts configures budget thresholds and the webhooks alerts are POSTed to.
type Alerts struct {
	// Thresholds are percentages of a budget (1–100) that raise an alert.
	Thresholds []float64 `toml:"thresholds"`
	// Webhooks are [[alerts.webhook]] tables.
	Webhooks []Webhook `toml:"webhook"`
}

// Webhook receives alerts as JSON POSTs.
type Webhook struct {
	URL string `toml:"url"` // http or https
	// Events are the alert kinds sent (AlertKinds); empty: all.
	Events []string `toml:"events"`
	// Secret, when set, signs each body: X-Aigw-Signature: sha256=<hex HMAC-SHA256>.
	Secret string `toml:"secret"`
}

// AlertKinds are the alert kinds a webhook may ask for (the alerts
// package's Kinds; a test keeps the two lists equal).
var AlertKinds = []string{"budget_threshold", "credential_invalid", "pool_unhealthy", "model_unpriced", "traces_behind"}

// Proxy is the data-plane listener.
type Proxy struct {
	Addr         string         `toml:"addr"`
	MaxBodySize  units.ByteSize `toml:"max_body_size"`
	BodyMemory   units.ByteSize `toml:"body_memory"`
	MaxConns     int            `toml:"max_conns"` // 0: derived from the open-file limit
	CORSOrigins  []string       `toml:"cors_origins"`
	ReadTimeout  units.Duration `toml:"read_timeout"`
	WriteTimeout units.Duration `toml:"write_timeout"`
	IdleTimeout  units.Duration `toml:"idle_timeout"`
	DrainTimeout units.Duration `toml:"drain_timeout"`
	// ResponsePins is how many OpenAI Responses API ids are remembered with
	// the credential that created them (0: no pinning); ResponsePinTTL how long.
	ResponsePins   int            `toml:"response_pins"`
	ResponsePinTTL units.Duration `toml:"response_pin_ttl"`
	// RefusedTraces is how many requests refused before a good gateway key
	// was found (401, 404, 405, unreadable) are traced a second; 0: none.
	RefusedTraces int `toml:"refused_traces"`
}

// Admin is the admin API listener.
type Admin struct {
	Addr string `toml:"addr"`
}

// Timeouts toward upstreams; a provider's or a key's own timeout wins.
type Timeouts struct {
	Connect   units.Duration `toml:"connect"`
	FirstByte units.Duration `toml:"first_byte"`
	Idle      units.Duration `toml:"idle"`
}

// Retry is the default retry budget and back-off between attempts.
type Retry struct {
	MaxRetries  int            `toml:"max_retries"`
	BackoffBase units.Duration `toml:"backoff_base"`
	BackoffMax  units.Duration `toml:"backoff_max"`
}

// Health decides when a failing credential leaves and rejoins rotation.
type Health struct {
	FailureThreshold int            `toml:"failure_threshold"`
	FailureWindow    units.Duration `toml:"failure_window"`
	Cooldown         units.Duration `toml:"cooldown"`
	MaxCooldown      units.Duration `toml:"max_cooldown"`
}

// OAuth configures the refreshing of OAuth credentials.
type OAuth struct {
	// RefreshTimeout bounds one token request; a request whose upstream
	// refused an expired token waits for it.
	RefreshTimeout units.Duration `toml:"refresh_timeout"`
}

// Limits bounds the in-process limiter state.
type Limits struct {
	MaxTrackedKeys int `toml:"max_tracked_keys"`
}

// Traces configures the trace pipeline and retention.
type Traces struct {
	Retention     units.Duration `toml:"retention"`
	MaxCount      int            `toml:"max_count"`
	QueueSize     int            `toml:"queue_size"`
	BatchSize     int            `toml:"batch_size"`
	FlushInterval units.Duration `toml:"flush_interval"`
}

// Usage configures usage accounting.
type Usage struct {
	InjectStreamUsage bool `toml:"inject_stream_usage"`
}

// Budgets configures the keys', providers' and credentials' budgets.
type Budgets struct {
	// Timezone is where a budget's calendar month begins and ends: an IANA
	// name such as "Europe/Berlin"; "" or "UTC": UTC. Set it once: changing
	// it moves the month's boundaries.
	Timezone string `toml:"timezone"`
}

// Location is the budgets' time zone (UTC when none is set); Validate has
// checked the name.
func (b Budgets) Location() *time.Location {
	if b.Timezone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(b.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Log configures log/slog output on stderr.
type Log struct {
	Format string `toml:"format"`
	Level  string `toml:"level"`
}

// Price overrides or adds a model's price, in USD per 1M tokens.
type Price struct {
	Input      float64 `toml:"input"`
	Output     float64 `toml:"output"`
	CacheWrite float64 `toml:"cache_write"`
	CacheRead  float64 `toml:"cache_read"`
	// CacheWrite1h prices writes to Anthropic's 1-hour cache (0: 2× input);
	// CacheWrite those to the 5-minute cache (0: 1.25× input).
	CacheWrite1h float64 `toml:"cache_write_1h"`
}

// Default returns the built-in settings (config.toml.example documents them).
func Default() Config {
	return Config{
		Proxy: Proxy{
			Addr:         ":8080",
			MaxBodySize:  32 << 20,
			BodyMemory:   256 << 20,
			CORSOrigins:  []string{"*"},
			ReadTimeout:  units.Duration(60 * time.Second),
			WriteTimeout: units.Duration(60 * time.Second),
			IdleTimeout:  units.Duration(120 * time.Second),
			DrainTimeout: units.Duration(30 * time.Second),
			// 30 days: as long as OpenAI keeps a stored response.
			ResponsePins:   100_000,
			RefusedTraces:  50,
			ResponsePinTTL: units.Duration(30 * 24 * time.Hour),
		},
		Admin:   Admin{Addr: "127.0.0.1:9090"},
		Timeout: Timeouts{Connect: units.Duration(10 * time.Second), FirstByte: units.Duration(120 * time.Second), Idle: units.Duration(60 * time.Second)},
		Retry:   Retry{MaxRetries: 2, BackoffBase: units.Duration(100 * time.Millisecond), BackoffMax: units.Duration(2 * time.Second)},
		Health: Health{FailureThreshold: 3, FailureWindow: units.Duration(30 * time.Second),
			Cooldown: units.Duration(10 * time.Second), MaxCooldown: units.Duration(5 * time.Minute)},
		OAuth:  OAuth{RefreshTimeout: units.Duration(10 * time.Second)},
		Limits: Limits{MaxTrackedKeys: 100_000},
		Traces: Traces{Retention: units.Duration(30 * 24 * time.Hour), MaxCount: 1_000_000, QueueSize: 8192,
			BatchSize: 2048, FlushInterval: units.Duration(500 * time.Millisecond)},
		Usage:  Usage{InjectStreamUsage: true},
		Log:    Log{Format: "text", Level: "info"},
		Alerts: Alerts{Thresholds: []float64{80, 100}},
	}
}

// DefaultDataDir is $XDG_DATA_HOME/aigw, else ~/.local/share/aigw.
func DefaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "aigw")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".", "aigw-data")
	}
	return filepath.Join(home, ".local", "share", "aigw")
}

// ResolveDataDir applies the data directory's precedence: flag, then
// $AIGW_DATA_DIR, then the config file's data_dir, then the default.
func ResolveDataDir(flag, fromFile string) string {
	for _, d := range []string{flag, os.Getenv("AIGW_DATA_DIR"), fromFile} {
		if d != "" {
			return d
		}
	}
	return DefaultDataDir()
}

// Validate checks values that parse but make no sense; the error names the key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	for key, addr := range map[string]string{"proxy.addr": c.Proxy.Addr, "admin.addr": c.Admin.Addr} {
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			bad(key, "%q is not host:port (e.g. :8080 or 127.0.0.1:9090)", addr)
		}
	}
	if c.Proxy.MaxBodySize < 1024 {
		bad("proxy.max_body_size", "%s is below 1KiB", c.Proxy.MaxBodySize)
	}
	if c.Proxy.BodyMemory < c.Proxy.MaxBodySize {
		bad("proxy.body_memory", "%s is below proxy.max_body_size %s", c.Proxy.BodyMemory, c.Proxy.MaxBodySize)
	}
	if c.Proxy.MaxConns < 0 {
		bad("proxy.max_conns", "%d must be 0 (derived from the open-file limit) or more", c.Proxy.MaxConns)
	}
	for _, o := range c.Proxy.CORSOrigins {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			bad("proxy.cors_origins", "%q must be \"*\" or an origin like https://app.example.com", o)
		}
	}
	positive := []struct {
		key string
		d   units.Duration
	}{
		{"proxy.read_timeout", c.Proxy.ReadTimeout}, {"proxy.idle_timeout", c.Proxy.IdleTimeout},
		{"proxy.write_timeout", c.Proxy.WriteTimeout},
		{"proxy.drain_timeout", c.Proxy.DrainTimeout}, {"proxy.response_pin_ttl", c.Proxy.ResponsePinTTL},
		{"timeouts.connect", c.Timeout.Connect}, {"timeouts.first_byte", c.Timeout.FirstByte}, {"timeouts.idle", c.Timeout.Idle},
		{"retry.backoff_base", c.Retry.BackoffBase}, {"retry.backoff_max", c.Retry.BackoffMax},
		{"health.failure_window", c.Health.FailureWindow}, {"health.cooldown", c.Health.Cooldown},
		{"health.max_cooldown", c.Health.MaxCooldown}, {"oauth.refresh_timeout", c.OAuth.RefreshTimeout},
		{"traces.retention", c.Traces.Retention},
		{"traces.flush_interval", c.Traces.FlushInterval},
	}
	for _, p := range positive {
		if p.d <= 0 {
			bad(p.key, "must be a positive duration, got %s", p.d)
		}
	}
	if c.Retry.MaxRetries < 0 || c.Retry.MaxRetries > 10 {
		bad("retry.max_retries", "%d must be between 0 and 10", c.Retry.MaxRetries)
	}
	if c.Retry.BackoffMax < c.Retry.BackoffBase {
		bad("retry.backoff_max", "%s is below retry.backoff_base %s", c.Retry.BackoffMax, c.Retry.BackoffBase)
	}
	if c.Health.MaxCooldown < c.Health.Cooldown {
		bad("health.max_cooldown", "%s is below health.cooldown %s", c.Health.MaxCooldown, c.Health.Cooldown)
	}
	ints := []struct {
		key    string
		v, min int
	}{
		{"health.failure_threshold", c.Health.FailureThreshold, 1}, {"limits.max_tracked_keys", c.Limits.MaxTrackedKeys, 16},
		{"traces.max_count", c.Traces.MaxCount, 1}, {"traces.queue_size", c.Traces.QueueSize, 16},
		{"traces.batch_size", c.Traces.BatchSize, 1}, {"proxy.response_pins", c.Proxy.ResponsePins, 0},
		{"proxy.refused_traces", c.Proxy.RefusedTraces, 0},
	}
	for _, i := range ints {
		if i.v < i.min {
			bad(i.key, "%d must be at least %d", i.v, i.min)
		}
	}
	if tz := c.Budgets.Timezone; tz != "" {
		if _, err := time.LoadLocation(tz); err != nil || tz == "Local" || strings.TrimSpace(tz) != tz {
			bad("budgets.timezone", "%q is not a time zone name such as UTC or Europe/Berlin", tz)
		}
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q must be text or json", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q must be debug, info, warn or error", c.Log.Level)
	}
	for model, p := range c.Pricing {
		if model == "" {
			bad("pricing", "a model name is empty")
		}
		for _, v := range []float64{p.Input, p.Output, p.CacheWrite, p.CacheRead, p.CacheWrite1h} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				bad("pricing."+model, "prices must be finite and not negative, got %v", v)
				break
			}
		}
	}
	c.validateAlerts(bad)
	return errors.Join(errs...)
}

func (c *Config) validateAlerts(bad func(key, format string, args ...any)) {
	for _, t := range c.Alerts.Thresholds {
		if math.IsNaN(t) || t < 1 || t > 100 {
			bad("alerts.thresholds", "%v must be between 1 and 100 (percent of a budget)", t)
		}
	}
	for i, h := range c.Alerts.Webhooks {
		key := fmt.Sprintf("alerts.webhook[%d]", i)
		u, err := url.Parse(h.URL)
		switch {
		case h.URL == "":
			bad(key+".url", "is empty")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			// Not the URL itself: a webhook URL's path is often a secret.
			bad(key+".url", "must be an http:// or https:// URL with a host")
		}
		for _, e := range h.Events {
			if !slices.Contains(AlertKinds, e) {
				bad(key+".events", "%q is not an alert kind (%s)", e, strings.Join(AlertKinds, ", "))
			}
		}
	}
}
