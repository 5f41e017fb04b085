package store

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aigw/aigw/internal/units"
	"golang.org/x/net/http/httpguts"
)

// ValidationError names the field whose value was refused.
type ValidationError struct {
	Field string // snake_case, as in the JSON API (e.g. "base_url")
	Msg   string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Msg) }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Provider types.
const (
	TypeOpenAI           = "openai"
	TypeAnthropic        = "anthropic"
	TypeGemini           = "gemini"
	TypeOpenAICompatible = "openai-compatible"
)

// ProviderTypes lists the accepted provider types.
var ProviderTypes = []string{TypeOpenAI, TypeAnthropic, TypeGemini, TypeOpenAICompatible}

// Scheduling strategies of a gateway key.
const (
	StrategyRoundRobin    = "round_robin"
	StrategyWeighted      = "weighted"
	StrategyHealthBest    = "health_best"
	StrategyCacheAffinity = "cache_affinity"
	// DefaultStrategy is a new key's: conversations stay on one
	// credential, whose prompt cache holds them.
	DefaultStrategy = StrategyCacheAffinity
)

// Strategies lists the accepted strategies.
var Strategies = []string{StrategyCacheAffinity, StrategyRoundRobin, StrategyWeighted, StrategyHealthBest}

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

func validName(field, name string, required bool) error {
	if name == "" {
		if required {
			return invalid(field, "must not be empty")
		}
		return nil
	}
	if len(name) > 64 {
		return invalid(field, "%q is longer than 64 characters", name)
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return invalid(field, "%q contains control characters", name)
		}
	}
	return nil
}

// validProviderName: the provider name is the first URL segment.
func validProviderName(name string) error {
	if name == "" {
		return invalid("name", "must not be empty")
	}
	if len(name) > 64 {
		return invalid("name", "%q is longer than 64 characters", name)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (i > 0 && (c == '-' || c == '_' || c == '.'))
		if !ok {
			return invalid("name", "%q: use lowercase letters, digits, '-', '_' or '.' (it is the first URL path segment)", name)
		}
	}
	return nil
}

func validBaseURL(raw string) error {
	if raw == "" {
		return invalid("base_url", "must not be empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid("base_url", "%q is not a URL", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalid("base_url", "%q must start with http:// or https://", raw)
	}
	if u.Host == "" {
		return invalid("base_url", "%q has no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return invalid("base_url", "%q must not carry a query, fragment or user info", raw)
	}
	return nil
}

// parseHeaderLine splits "Name: value" and checks both parts.
func parseHeaderLine(field, line string) (name, value string, err error) {
	name, value, ok := strings.Cut(line, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" {
		return "", "", invalid(field, "%q must look like 'Name: value'", line)
	}
	if !httpguts.ValidHeaderFieldName(name) {
		return "", "", invalid(field, "%q: %q is not a valid header name", line, name)
	}
	if !httpguts.ValidHeaderFieldValue(value) {
		return "", "", invalid(field, "%q: the value has characters not allowed in a header", line)
	}
	return http.CanonicalHeaderKey(name), value, nil
}

func validAuthHeaders(lines []string) error {
	for _, l := range lines {
		if _, v, err := parseHeaderLine("auth_headers", l); err != nil {
			return err
		} else if !strings.Contains(v, "{key}") {
			return invalid("auth_headers", "%q must contain {key}, where the credential goes", l)
		}
	}
	return nil
}

// validSessionHeader accepts "" (the default) or a header name other than
// one aigw itself reads or drops.
func validSessionHeader(name string) error {
	if name == "" {
		return nil
	}
	if len(name) > 64 || !httpguts.ValidHeaderFieldName(name) {
		return invalid("session_header", "%q is not a valid header name (at most 64 characters)", name)
	}
	switch http.CanonicalHeaderKey(name) {
	case "Authorization", "X-Api-Key", "X-Goog-Api-Key", "Cookie", "Host", "Content-Length", "Content-Type":
		return invalid("session_header", "%q carries something else; name a header of its own, e.g. %s", name, DefaultSessionHeader)
	}
	return nil
}

func validHeaders(lines []string) error {
	for _, l := range lines {
		if _, _, err := parseHeaderLine("headers", l); err != nil {
			return err
		}
	}
	return nil
}

const maxTimeout = 24 * time.Hour

func validTimeout(field string, d units.Duration) error {
	if d < 0 || time.Duration(d) > maxTimeout {
		return invalid(field, "%s must be between 0 (inherit) and 24h", time.Duration(d))
	}
	return nil
}

func validFuture(field string, t *time.Time, now time.Time) error {
	if t != nil && !t.After(now) {
		return invalid(field, "%s is in the past", t.Format(time.RFC3339))
	}
	return nil
}

const maxLimit = 1_000_000_000_000 // absurdly large values are refused

// ValidUSD checks an amount of dollars of a limit or budget: finite,
// between 0 (no limit) and 1e9.
func ValidUSD(field string, v float64) error {
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) || v > 1e9 {
		return invalid(field, "%v must be between 0 (no limit) and 1e9 USD", v)
	}
	return nil
}

func validLimit(field string, v int64) error {
	if v < 0 {
		return invalid(field, "%d must not be negative (0 means no limit)", v)
	}
	if v > maxLimit {
		return invalid(field, "%d is larger than %d", v, int64(maxLimit))
	}
	return nil
}
