package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/config"
	"github.com/aigw/aigw/internal/units"
)

// TestPrecedence checks defaults < file < environment, key by key.
func TestPrecedence(t *testing.T) {
	file := writeConfig(t, `
data_dir = "/from/file"
[proxy]
addr = ":9000"
cors_origins = ["https://file.example"]
max_body_size = "8MiB"
[retry]
max_retries = 3
[timeouts]
idle = "30s"
connect = "3s"
[usage]
inject_stream_usage = true
[log]
level = "debug"
`)
	vars := map[string]string{
		"AIGW_PROXY_ADDR":                ":7000",
		"AIGW_RETRY_MAX_RETRIES":         "5",
		"AIGW_PROXY_CORS_ORIGINS":        "https://a.example, https://b.example,",
		"AIGW_USAGE_INJECT_STREAM_USAGE": "false",
		"AIGW_TIMEOUTS_IDLE":             "5s",
		"AIGW_TRACES_RETENTION":          "7d",
		"AIGW_DATA_DIR":                  "/from/env",
		// Client settings share the prefix; serve ignores them.
		"AIGW_ADMIN_URL":   "http://10.0.0.1:1",
		"AIGW_ADMIN_TOKEN": "not-a-setting",
		"AIGW_CONFIG":      "/elsewhere.toml",
		"AIGW_BOGUS":       "x",
	}
	got, err := config.Load(file, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	def := config.Default()
	cases := []struct {
		key       string
		got, want any
	}{
		// environment over file over default
		{"proxy.addr", got.Proxy.Addr, ":7000"},
		{"retry.max_retries", got.Retry.MaxRetries, 5},
		{"proxy.cors_origins", got.Proxy.CORSOrigins, []string{"https://a.example", "https://b.example"}},
		{"usage.inject_stream_usage", got.Usage.InjectStreamUsage, false},
		{"timeouts.idle", got.Timeout.Idle, units.Duration(5 * time.Second)},
		{"data_dir", got.DataDir, "/from/env"},
		// environment over default
		{"traces.retention", got.Traces.Retention, units.Duration(7 * 24 * time.Hour)},
		// file over default
		{"proxy.max_body_size", got.Proxy.MaxBodySize, units.ByteSize(8 << 20)},
		{"timeouts.connect", got.Timeout.Connect, units.Duration(3 * time.Second)},
		{"log.level", got.Log.Level, "debug"},
		// default, with AIGW_ADMIN_URL present
		{"admin.addr", got.Admin.Addr, def.Admin.Addr},
		{"timeouts.first_byte", got.Timeout.FirstByte, def.Timeout.FirstByte},
		{"log.format", got.Log.Format, def.Log.Format},
	}
	for _, tc := range cases {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.key, tc.got, tc.want)
		}
	}
}

func TestEnvironmentWithoutFile(t *testing.T) {
	got, err := config.Load("", env(map[string]string{
		"AIGW_ADMIN_ADDR":          "127.0.0.1:19090",
		"AIGW_PROXY_MAX_BODY_SIZE": "512KiB",
		"AIGW_PROXY_CORS_ORIGINS":  "",
		"AIGW_HEALTH_COOLDOWN":     "1m",
		"AIGW_LOG_FORMAT":          "json",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	want.Admin.Addr = "127.0.0.1:19090"
	want.Proxy.MaxBodySize = 512 << 10
	want.Proxy.CORSOrigins = nil // an empty list: no CORS headers
	want.Health.Cooldown = units.Duration(time.Minute)
	want.Log.Format = "json"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestBadEnvironmentValueNamesVariable(t *testing.T) {
	cases := []struct {
		name, value string
		wantInMsg   string // besides the variable's name
	}{
		{"AIGW_RETRY_MAX_RETRIES", "many", "integer"},
		{"AIGW_TIMEOUTS_IDLE", "soon", "duration"},
		{"AIGW_TIMEOUTS_IDLE", "5", "duration"},
		{"AIGW_USAGE_INJECT_STREAM_USAGE", "nope", "true or false"},
		{"AIGW_PROXY_MAX_BODY_SIZE", "big", "size"},
		{"AIGW_LIMITS_MAX_TRACKED_KEYS", "1e6", "integer"},
		{"AIGW_PRICING", "gpt-4o=1", "config file"},
	}
	for _, tc := range cases {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			_, err := config.Load("", env(map[string]string{tc.name: tc.value}))
			if err == nil {
				t.Fatal("bad value accepted")
			}
			if !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.wantInMsg) {
				t.Errorf("error %q does not name %s and say %q", err, tc.name, tc.wantInMsg)
			}
		})
	}
}

// An environment value that parses but is out of range fails validation,
// naming the key it set.
func TestEnvironmentValueIsValidated(t *testing.T) {
	_, err := config.Load("", env(map[string]string{"AIGW_RETRY_MAX_RETRIES": "11"}))
	if err == nil || !strings.Contains(err.Error(), "retry.max_retries") {
		t.Fatalf("err = %v, want one naming retry.max_retries", err)
	}
}

func TestRealEnvironmentThroughLookup(t *testing.T) {
	t.Setenv("AIGW_PROXY_ADDR", "127.0.0.1:18080")
	t.Setenv("AIGW_ADMIN_URL", "http://127.0.0.1:1")
	got, err := config.Load("", os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got.Proxy.Addr != "127.0.0.1:18080" {
		t.Errorf("proxy.addr = %q, want the environment's", got.Proxy.Addr)
	}
}

func TestResolveDataDir(t *testing.T) {
	home := t.TempDir()
	xdg := filepath.Join(home, "xdg")
	cases := []struct {
		name                string
		flag, env, fromFile string
		xdg                 string
		want                string
	}{
		{"flag wins", "/flag", "/env", "/file", xdg, "/flag"},
		{"environment over file", "", "/env", "/file", xdg, "/env"},
		{"file over default", "", "", "/file", xdg, "/file"},
		{"default under XDG_DATA_HOME", "", "", "", xdg, filepath.Join(xdg, "aigw")},
		{"default under the home directory", "", "", "", "", filepath.Join(home, ".local", "share", "aigw")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HOME", home)
			t.Setenv("XDG_DATA_HOME", tc.xdg)
			t.Setenv("AIGW_DATA_DIR", tc.env)
			if got := config.ResolveDataDir(tc.flag, tc.fromFile); got != tc.want {
				t.Errorf("ResolveDataDir(%q, %q) = %q, want %q", tc.flag, tc.fromFile, got, tc.want)
			}
		})
	}
}
