package tui

import (
	"os"
	"path/filepath"
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

// The screens README.md and tui/README.md show are golden files as they
// are today: a change of a screen that regenerates its golden file must
// update the captures too.
func TestReadmeCapturesAreGoldenScreens(t *testing.T) {
	goldens := map[string]string{}
	files, err := filepath.Glob("testdata/*/80x24.golden")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden screens: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		goldens[trimLines(string(raw))] = f
	}
	for _, doc := range []string{"../README.md", "README.md"} {
		raw, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		captures := 0
		for _, block := range codeBlocks(string(raw)) {
			first, _, _ := strings.Cut(block, "\n")
			if !strings.Contains(first, "Overview") || !strings.Contains(first, "Usage") {
				continue // not a screen
			}
			captures++
			if _, ok := goldens[trimLines(block)]; !ok {
				t.Errorf("%s shows a screen that is no golden file (regenerate the capture from tui/testdata):\n%s", doc, block)
			}
		}
		if captures == 0 {
			t.Errorf("%s shows no screen", doc)
		}
	}
}

// trimLines drops trailing blanks of each line and trailing empty lines.
func trimLines(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n "), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// codeBlocks are the bodies of a Markdown text's plain ``` blocks.
func codeBlocks(md string) []string {
	var out []string
	var body []string
	in, plain := false, false
	for _, l := range strings.Split(md, "\n") {
		switch {
		case !in && strings.HasPrefix(l, "```"):
			in, plain, body = true, l == "```", body[:0]
		case in && strings.HasPrefix(l, "```"):
			in = false
			if plain {
				out = append(out, strings.Join(body, "\n"))
			}
		case in:
			body = append(body, l)
		}
	}
	return out
}
