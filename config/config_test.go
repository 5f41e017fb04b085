package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/config"
)

const exampleFile = "../config.toml.example"

// writeConfig writes content to a config.toml in a temp dir and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// env is a lookup over a fixed map; the real environment is not touched.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func TestExampleFileIsTheDefaults(t *testing.T) {
	got, err := config.Load(exampleFile, nil)
	if err != nil {
		t.Fatalf("the documented example does not load: %v", err)
	}
	if want := config.Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("config.toml.example and config.Default() disagree:\nfile    %+v\ndefault %+v", got, want)
	}
}

func TestDefaultsAreValid(t *testing.T) {
	d := config.Default()
	if err := d.Validate(); err != nil {
		t.Fatalf("the built-in defaults do not validate: %v", err)
	}
	got, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Errorf("Load with no file and no environment = %+v, want the defaults", got)
	}
}

// exampleKeys reads the example as "section.key" names, counting commented
// lines ("# key = …") too, so that documented-but-commented keys show up.
func exampleKeys(t *testing.T) (active, commented map[string]bool) {
	t.Helper()
	raw, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	active, commented = map[string]bool{}, map[string]bool{}
	header := regexp.MustCompile(`^\[([^\]]+)\]`)
	keyLine := regexp.MustCompile(`^([A-Za-z0-9_]+)\s*=`)
	section := ""
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		target := active
		if rest, ok := strings.CutPrefix(line, "#"); ok {
			line, target = strings.TrimSpace(rest), commented
		}
		if name, ok := strings.CutPrefix(line, "[["); ok { // an array of tables: [[alerts.webhook]]
			section = strings.TrimSpace(strings.TrimSuffix(name, "]]")) + "[]"
			target[section] = true
			continue
		}
		if m := header.FindStringSubmatch(line); m != nil {
			section = m[1]
			// [pricing."model"] documents the keys of any model's table.
			if strings.HasPrefix(section, "pricing.") {
				section = "pricing.*"
			}
			target[section] = true
			continue
		}
		if m := keyLine.FindStringSubmatch(line); m != nil {
			name := m[1]
			if section != "" {
				name = section + "." + name
			}
			target[name] = true
		}
	}
	return active, commented
}

// configKeys walks Config by reflection and lists every key by its toml tag.
func configKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("toml")
		if tag == "" || tag == "-" {
			continue
		}
		name := tag
		if prefix != "" {
			name = prefix + "." + tag
		}
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == t.PkgPath():
			keys = append(keys, configKeys(f.Type, name)...)
		case f.Type.Kind() == reflect.Map && f.Type.Elem().Kind() == reflect.Struct:
			keys = append(keys, configKeys(f.Type.Elem(), name+".*")...)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			keys = append(keys, configKeys(f.Type.Elem(), name+"[]")...)
		default:
			keys = append(keys, name)
		}
	}
	return keys
}

func TestExampleFileDocumentsEveryKey(t *testing.T) {
	active, commented := exampleKeys(t)
	keys := configKeys(reflect.TypeFor[config.Config](), "")
	if len(keys) < 30 {
		t.Fatalf("found only %d keys in Config: %v", len(keys), keys)
	}
	for _, k := range keys {
		if strings.HasPrefix(k, "alerts.webhook[].") {
			// Webhooks are none by default: the example shows one commented out.
			if !commented[k] {
				t.Errorf("config.toml.example does not document %s (in a commented [[alerts.webhook]] table)", k)
			}
			continue
		}
		if strings.HasPrefix(k, "pricing.*.") {
			// Price tables are per model, so the example shows one commented out.
			if !commented[k] {
				t.Errorf("config.toml.example does not document %s (in a commented [pricing.\"model\"] table)", k)
			}
			continue
		}
		if !active[k] {
			t.Errorf("config.toml.example does not show %s with its default", k)
		}
	}
}

func TestExamplePricingSnippetLoads(t *testing.T) {
	raw, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	// Uncomment the documented [pricing."…"] table and what follows it.
	lines := strings.Split(string(raw), "\n")
	in := false
	for i, l := range lines {
		if strings.HasPrefix(l, "# [pricing.") {
			in = true
		}
		if in {
			lines[i] = strings.TrimPrefix(l, "# ")
		}
	}
	if !in {
		t.Fatal("config.toml.example has no commented [pricing.\"model\"] example")
	}
	cfg, err := config.Load(writeConfig(t, strings.Join(lines, "\n")), nil)
	if err != nil {
		t.Fatalf("the documented pricing example does not load: %v", err)
	}
	want := map[string]config.Price{"my-finetuned-model": {Input: 3, Output: 12, CacheWrite: 3.75, CacheRead: 0.3, CacheWrite1h: 6}}
	if !reflect.DeepEqual(cfg.Pricing, want) {
		t.Errorf("Pricing = %+v, want %+v", cfg.Pricing, want)
	}
}

func TestPricingTablesLoad(t *testing.T) {
	path := writeConfig(t, `
[pricing."gpt-4.1"]
input = 2.0
output = 8

[pricing."claude-sonnet-4"]
input = 3.0
output = 15.0
cache_write = 3.75
cache_read = 0.30

[pricing.local-llama]
input = 0
output = 0
`)
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]config.Price{
		"gpt-4.1":         {Input: 2, Output: 8},
		"claude-sonnet-4": {Input: 3, Output: 15, CacheWrite: 3.75, CacheRead: 0.3},
		"local-llama":     {},
	}
	if !reflect.DeepEqual(cfg.Pricing, want) {
		t.Errorf("Pricing = %+v, want %+v", cfg.Pricing, want)
	}
}

func TestMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.toml")
	_, err := config.Load(path, nil)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load of a missing file: err = %v, want one naming %s", err, path)
	}
}

func TestBudgetsTimezone(t *testing.T) {
	for _, tc := range []struct {
		tz, err string
	}{
		{"", ""}, {"UTC", ""}, {"Europe/Berlin", ""},
		{"Mars/Olympus", `budgets.timezone: "Mars/Olympus" is not a time zone name`},
		{"Local", `budgets.timezone: "Local" is not a time zone name`},
		{" UTC", `budgets.timezone: " UTC" is not a time zone name`},
	} {
		c := config.Default()
		c.Budgets.Timezone = tc.tz
		err := c.Validate()
		if tc.err == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.tz, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line with %q", tc.tz, err, tc.err)
		}
	}
	c := config.Budgets{Timezone: "Europe/Berlin"}
	if c.Location().String() != "Europe/Berlin" || (config.Budgets{}).Location() != time.UTC {
		t.Errorf("Location: %v %v", c.Location(), (config.Budgets{}).Location())
	}
}
