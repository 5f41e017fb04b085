package store

import "strings"

// Bounds on a gateway key's model allow-list.
const (
	MaxModelPatterns = 64  // patterns per key
	MaxModelPattern  = 128 // bytes per pattern
)

// ValidModels checks a key's model allow-list (Key.Models): exact model
// names, or patterns in which * stands for any run of characters (also
// none, also '/'); nothing else is special. An empty list allows every
// model. The error names the first item refused.
func ValidModels(models []string) error {
	if len(models) > MaxModelPatterns {
		return invalid("models", "a key allows at most %d models or patterns, not %d", MaxModelPatterns, len(models))
	}
	seen := make(map[string]bool, len(models))
	for i, m := range models {
		if m == "" {
			return invalid("models", "item %d is empty", i+1)
		}
		if len(m) > MaxModelPattern {
			return invalid("models", "%q… is longer than %d bytes", m[:32], MaxModelPattern)
		}
		for j := 0; j < len(m); j++ {
			switch c := m[j]; {
			case c <= ' ' || c >= 0x7f:
				return invalid("models", "%q: a model name is printable ASCII without spaces", m)
			case strings.IndexByte(`?[]{}\"`, c) >= 0:
				return invalid("models", "%q: %q is not allowed (the only wildcard is *)", m, string(c))
			}
		}
		if seen[m] {
			return invalid("models", "%q is listed twice", m)
		}
		seen[m] = true
	}
	return nil
}

// ParseModels splits a comma-separated allow-list as the CLI takes it
// ("gpt-5, claude-*"; "" is the empty list: every model) and checks it.
func ParseModels(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return []string{}, nil
	}
	out := strings.Split(s, ",")
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	if err := ValidModels(out); err != nil {
		return nil, err
	}
	return out, nil
}
