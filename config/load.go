package config

import (
	"bufio"
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load builds the configuration from the defaults, the TOML file at path
// (skipped when path is ""), and the environment (lookup, usually
// os.LookupEnv). It validates the result.
func Load(path string, lookup func(string) (string, bool)) (Config, error) {
	cfg := Default()
	if path != "" {
		if err := decodeFile(path, &cfg); err != nil {
			return Config{}, err
		}
	}
	if lookup != nil {
		if err := applyEnv(reflect.ValueOf(&cfg).Elem(), "AIGW", lookup); err != nil {
			return Config{}, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

func decodeFile(path string, cfg *Config) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	md, err := toml.Decode(string(raw), cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := pe.Message
			if pe.LastKey != "" {
				msg = fmt.Sprintf("key %s: %s", pe.LastKey, pe.Message)
			}
			return fmt.Errorf("config %s:%d: %s", path, pe.Position.Line, msg)
		}
		// Type mismatches come as plain errors that already name the line and key.
		return fmt.Errorf("config %s: %s", path, strings.TrimPrefix(err.Error(), "toml: "))
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		k := undecoded[0]
		return fmt.Errorf("config %s:%d: unknown key %s", path, lineOf(raw, k), k)
	}
	return nil
}

// lineOf finds the line that defines key (table headers tracked), 0 if not found.
// BurntSushi/toml does not report positions of keys it did not decode.
func lineOf(raw []byte, key toml.Key) int {
	if len(key) == 0 {
		return 0
	}
	table, last := strings.Join(key[:len(key)-1], "."), key[len(key)-1]
	current := ""
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			name := strings.Trim(line, "[] \t")
			if i := strings.Index(name, "#"); i >= 0 {
				name = strings.TrimSpace(strings.Trim(name[:i], "[] \t"))
			}
			// Quotes around a part ([pricing."gpt-4.1"]) are not in the key's parts.
			current = strings.NewReplacer(" ", "", `"`, "", "'", "").Replace(name)
			if current == strings.Join(key, ".") {
				return n // an unknown table
			}
			continue
		}
		name, _, ok := strings.Cut(line, "=")
		name = strings.Trim(strings.TrimSpace(name), `"'`)
		if ok && current == table && name == last {
			return n
		}
		if ok && current == "" && name == strings.Join(key, ".") {
			return n // dotted key at top level
		}
	}
	return 0
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// applyEnv overlays AIGW_SECTION_KEY variables on the struct's leaf fields.
func applyEnv(v reflect.Value, prefix string, lookup func(string) (string, bool)) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("toml")
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
			if err := applyEnv(fv, name, lookup); err != nil {
				return err
			}
			continue
		}
		raw, ok := lookup(name)
		if !ok {
			continue
		}
		if err := setFromString(fv, raw); err != nil {
			return fmt.Errorf("config: environment %s=%q: %w", name, raw, err)
		}
	}
	return nil
}

func setFromString(fv reflect.Value, raw string) error {
	if tu, ok := fv.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return tu.UnmarshalText([]byte(raw))
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		fv.SetInt(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		fv.SetFloat(x)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("not true or false")
		}
		fv.SetBool(b)
	case reflect.Slice:
		if fv.Type().Elem().Kind() == reflect.Float64 { // alerts.thresholds: "80,100"
			return setFloats(fv, raw)
		}
		if fv.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot be set from the environment; use the config file")
		}
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		fv.Set(reflect.ValueOf(items))
	case reflect.Map:
		return fmt.Errorf("cannot be set from the environment; use the config file")
	default:
		return fmt.Errorf("unsupported type %s", fv.Type())
	}
	return nil
}

func setFloats(fv reflect.Value, raw string) error {
	var items []float64
	for _, s := range strings.Split(raw, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		items = append(items, x)
	}
	fv.Set(reflect.ValueOf(items))
	return nil
}
