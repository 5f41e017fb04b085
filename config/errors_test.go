package config_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/config"
	"github.com/aigw/aigw/internal/units"
)

func TestUnknownKeyNamesKeyAndLine(t *testing.T) {
	cases := []struct {
		name    string
		content string
		key     string
		line    int
	}{
		{"top level", "data_dir = \"\"\n\nbogus = 1\n", "bogus", 3},
		{"in a section", "[proxy]\naddr = \":8080\"\nadress = \":9090\"\n", "proxy.adress", 3},
		{"in a later section", "[proxy]\naddr = \":8080\"\n\n[retry]\nmax_retries = 2\nmax_retry = 3\n", "retry.max_retry", 6},
		{"a section's key under another section", "[proxy]\naddr = \":1\"\n[admin]\nmax_retries = 1\n", "admin.max_retries", 4},
		{"unknown section", "[proxy]\naddr = \":8080\"\n\n[proxies]\naddr = \":1\"\n", "proxies", 4},
		{"unknown subsection", "[proxy.tls]\ncert = \"x\"\n", "proxy.tls", 1},
		{"section header with a comment", "[log] # logging\nformat = \"json\"\ncolour = true\n", "log.colour", 3},
		{"dotted key at top level", "# comment\nproxy.adress = \":1\"\n", "proxy.adress", 2},
		{"in a pricing table", "[pricing.\"gpt-4.1\"]\ninput = 2.0\ninptu = 2.0\n", "inptu", 3},
		{"in a bare pricing table", "[pricing.llama]\noutput = 1\ncache = 2\n", "pricing.llama.cache", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.content)
			_, err := config.Load(path, nil)
			if err == nil {
				t.Fatal("unknown key accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, "unknown key") || !strings.Contains(msg, tc.key) {
				t.Errorf("error %q does not name the unknown key %s", msg, tc.key)
			}
			if want := fmt.Sprintf("%s:%d:", path, tc.line); !strings.Contains(msg, want) {
				t.Errorf("error %q does not give the line (%s)", msg, want)
			}
		})
	}
}

func TestBadValueNamesKeyAndLine(t *testing.T) {
	cases := []struct {
		name    string
		content string
		line    int
		want    []string // all must appear in the error
	}{
		{"bad duration", "[proxy]\naddr = \":8080\"\nread_timeout = \"soon\"\n", 3, []string{"proxy.read_timeout", "soon"}},
		{"duration without a unit", "[timeouts]\nconnect = \"10\"\n", 2, []string{"timeouts.connect"}},
		{"fractional days", "[traces]\nretention = \"1.5d\"\n", 2, []string{"traces.retention"}},
		{"days beyond a duration", "[traces]\nretention = \"300000d\"\n", 2, []string{"traces.retention"}},
		{"bad size", "[proxy]\nmax_body_size = \"32 parsecs\"\n", 2, []string{"proxy.max_body_size", "32 parsecs"}},
		{"negative size", "[proxy]\nmax_body_size = \"-1MiB\"\n", 2, []string{"proxy.max_body_size"}},
		{"string for an int", "[retry]\nmax_retries = \"two\"\n", 2, []string{"retry.max_retries"}},
		{"float for an int", "[limits]\nmax_tracked_keys = 1.5\n", 2, []string{"limits.max_tracked_keys"}},
		{"int for a string", "[log]\n\nformat = 1\n", 3, []string{"log.format"}},
		{"string for a bool", "[usage]\ninject_stream_usage = \"no\"\n", 2, []string{"usage.inject_stream_usage"}},
		{"string for a list", "[proxy]\ncors_origins = \"*\"\n", 2, []string{"proxy.cors_origins"}},
		{"string for a price", "[pricing.m]\ninput = \"3\"\n", 2, []string{"pricing.m.input"}},
		// Syntax errors: the parser's position (it notices an unclosed
		// header only at the line break, hence line 2).
		{"unclosed section header", "[proxy\naddr = \":1\"\n", 2, nil},
		{"missing value", "[proxy]\naddr =\n", 2, nil},
		{"unterminated string", "[admin]\naddr = \"127.0.0.1:9090\n", 2, nil},
		{"duplicate key", "[log]\nlevel = \"info\"\nlevel = \"debug\"\n", 3, []string{"level"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.content)
			_, err := config.Load(path, nil)
			if err == nil {
				t.Fatal("bad value accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file", msg)
			}
			// Parse errors read "FILE:LINE: …", type errors "FILE: line LINE (last key …)".
			if !strings.Contains(msg, fmt.Sprintf("%s:%d:", path, tc.line)) && !strings.Contains(msg, fmt.Sprintf("line %d ", tc.line)) {
				t.Errorf("error %q does not give line %d", msg, tc.line)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestValidateNamesKey(t *testing.T) {
	cases := []struct {
		name   string
		change func(c *config.Config)
		key    string
	}{
		{"proxy address without a port", func(c *config.Config) { c.Proxy.Addr = "localhost" }, "proxy.addr"},
		{"proxy address with an empty port", func(c *config.Config) { c.Proxy.Addr = "127.0.0.1:" }, "proxy.addr"},
		{"empty admin address", func(c *config.Config) { c.Admin.Addr = "" }, "admin.addr"},
		{"tiny body limit", func(c *config.Config) { c.Proxy.MaxBodySize = 100 }, "proxy.max_body_size"},
		{"CORS origin without scheme", func(c *config.Config) { c.Proxy.CORSOrigins = []string{"app.example.com"} }, "proxy.cors_origins"},
		{"negative read timeout", func(c *config.Config) { c.Proxy.ReadTimeout = units.Duration(-time.Second) }, "proxy.read_timeout"},
		{"zero drain timeout", func(c *config.Config) { c.Proxy.DrainTimeout = 0 }, "proxy.drain_timeout"},
		{"negative idle timeout", func(c *config.Config) { c.Timeout.Idle = units.Duration(-time.Second) }, "timeouts.idle"},
		{"zero connect timeout", func(c *config.Config) { c.Timeout.Connect = 0 }, "timeouts.connect"},
		{"max_retries 11", func(c *config.Config) { c.Retry.MaxRetries = 11 }, "retry.max_retries"},
		{"max_retries -1", func(c *config.Config) { c.Retry.MaxRetries = -1 }, "retry.max_retries"},
		{"backoff_max below backoff_base", func(c *config.Config) {
			c.Retry.BackoffBase, c.Retry.BackoffMax = units.Duration(time.Second), units.Duration(500*time.Millisecond)
		}, "retry.backoff_max"},
		{"max_cooldown below cooldown", func(c *config.Config) {
			c.Health.Cooldown, c.Health.MaxCooldown = units.Duration(time.Minute), units.Duration(time.Second)
		}, "health.max_cooldown"},
		{"failure_threshold 0", func(c *config.Config) { c.Health.FailureThreshold = 0 }, "health.failure_threshold"},
		{"max_tracked_keys 1", func(c *config.Config) { c.Limits.MaxTrackedKeys = 1 }, "limits.max_tracked_keys"},
		{"negative retention", func(c *config.Config) { c.Traces.Retention = units.Duration(-time.Hour) }, "traces.retention"},
		{"queue_size 0", func(c *config.Config) { c.Traces.QueueSize = 0 }, "traces.queue_size"},
		{"batch_size 0", func(c *config.Config) { c.Traces.BatchSize = 0 }, "traces.batch_size"},
		{"max_count 0", func(c *config.Config) { c.Traces.MaxCount = 0 }, "traces.max_count"},
		{"negative response_pins", func(c *config.Config) { c.Proxy.ResponsePins = -1 }, "proxy.response_pins"},
		{"zero response_pin_ttl", func(c *config.Config) { c.Proxy.ResponsePinTTL = 0 }, "proxy.response_pin_ttl"},
		{"log format yaml", func(c *config.Config) { c.Log.Format = "yaml" }, "log.format"},
		{"log level verbose", func(c *config.Config) { c.Log.Level = "verbose" }, "log.level"},
		{"negative price", func(c *config.Config) {
			c.Pricing = map[string]config.Price{"gpt-4o": {Input: 2.5, Output: -10}}
		}, "pricing.gpt-4o"},
		{"negative cache price", func(c *config.Config) {
			c.Pricing = map[string]config.Price{"m": {CacheRead: -0.1}}
		}, "pricing.m"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			tc.change(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("invalid value accepted")
			}
			if !strings.HasPrefix(err.Error(), tc.key+":") {
				t.Errorf("error %q does not start with the key %s", err, tc.key)
			}
		})
	}
}

func TestValidateReportsEveryBadKey(t *testing.T) {
	c := config.Default()
	c.Log.Format = "yaml"
	c.Retry.MaxRetries = 11
	c.Proxy.Addr = "nowhere"
	err := c.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{"log.format", "retry.max_retries", "proxy.addr"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q misses %s", err, key)
		}
	}
}

func TestValidationThroughLoad(t *testing.T) {
	cases := []struct {
		content string
		key     string
	}{
		{"[log]\nformat = \"yaml\"\n", "log.format"},
		{"[retry]\nmax_retries = 11\n", "retry.max_retries"},
		{"[retry]\nbackoff_base = \"5s\"\n", "retry.backoff_max"},
		{"[timeouts]\nidle = \"-5s\"\n", "timeouts.idle"},
		{"[proxy]\ncors_origins = [\"*\", \"app.example.com\"]\n", "proxy.cors_origins"},
		{"[admin]\naddr = \"9090\"\n", "admin.addr"},
		{"[pricing.\"gpt-4o\"]\ninput = -1.0\n", "pricing.gpt-4o"},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			_, err := config.Load(writeConfig(t, tc.content), nil)
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("err = %v, want one naming %s", err, tc.key)
			}
		})
	}
}
