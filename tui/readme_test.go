package tui

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/bubbles/key"
)

// README's key table is the TUI's key map: every key a binding answers to
// is in the table, and every key the table names is bound.
func TestReadmeKeyTableMatchesTheKeyMap(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start := strings.Index(readme, "Key bindings (`?` shows them all)")
	end := strings.Index(readme, "## Command reference")
	if start < 0 || end < start {
		t.Fatal("README has no TUI key table before its command reference")
	}
	table := readme[start:end]
	spell := map[string]string{"up": "↑", "down": "↓", "left": "←", "right": "→", " ": "space", "pgdown": "pgdn"}
	bound := map[string]bool{}
	km := reflect.ValueOf(DefaultKeyMap()).Elem()
	for i := range km.NumField() {
		b, ok := km.Field(i).Interface().(key.Binding)
		if !ok {
			continue
		}
		for _, k := range b.Keys() {
			if s, ok := spell[k]; ok {
				k = s
			}
			bound[k] = true
			if !strings.Contains(table, "`"+k+"`") && !(len(k) == 1 && k >= "1" && k <= "9" && strings.Contains(table, "`1`–`")) {
				t.Errorf("README's key table lacks `%s` (%s: %s)", k, km.Type().Field(i).Name, b.Help().Desc)
			}
		}
	}
	// The keys are in each row's first cell.
	var firsts strings.Builder
	for _, row := range regexp.MustCompile("(?m)^\\| ([^|]+) \\|").FindAllStringSubmatch(table, -1) {
		firsts.WriteString(row[1] + "\n")
	}
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(firsts.String(), -1) {
		k := m[1]
		if k == "?" && bound["?"] || bound[k] || (len(k) == 1 && k >= "1" && k <= "9") {
			continue
		}
		t.Errorf("README's key table names `%s`, which no binding answers to", k)
	}
}
