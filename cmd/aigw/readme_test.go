package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// README's command reference is what `aigw --help` has: every command and
// subcommand has a row (a group's row lists its subcommands: `aigw key
// list | show ID | …`), every flag is named in the section, and every
// command the section names exists.
func TestReadmeCommandReferenceMatchesTheCLI(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start := strings.Index(readme, "## Command reference")
	if start < 0 {
		t.Fatal("README has no Command reference section")
	}
	section := readme[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	// Rows: "| `aigw GROUP …` | …"; a group's subcommands are its first word
	// and every word after an escaped pipe.
	rowRE := regexp.MustCompile("(?m)^\\| `aigw ([a-z-]+)([^`]*)`")
	subRE := regexp.MustCompile(`(?:^|\\\| )([a-z][a-z-]*)`)
	documented := map[string]bool{}
	for _, m := range rowRE.FindAllStringSubmatch(section, -1) {
		group, rest := m[1], strings.TrimSpace(m[2])
		documented[group] = true
		for _, s := range subRE.FindAllStringSubmatch(rest, -1) {
			documented[group+" "+s[1]] = true
		}
	}
	root := newRootCmd(&ioStreams{})
	var walk func(c *cobra.Command, path string)
	seen := map[string]bool{}
	walk = func(c *cobra.Command, path string) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			p := strings.TrimSpace(path + " " + sub.Name())
			seen[p] = true
			if !documented[p] {
				t.Errorf("README's command reference has no row for `aigw %s`", p)
			}
			sub.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
				if !f.Hidden && !strings.Contains(section, "--"+f.Name) {
					t.Errorf("README's command reference does not name `aigw %s --%s`", p, f.Name)
				}
			})
			walk(sub, p)
		}
	}
	walk(root, "")
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if !strings.Contains(section, "--"+f.Name) {
			t.Errorf("README's command reference does not name the global flag --%s", f.Name)
		}
	})
	for p := range documented {
		if !seen[p] {
			t.Errorf("README's command reference names `aigw %s`, which does not exist", p)
		}
	}
}
