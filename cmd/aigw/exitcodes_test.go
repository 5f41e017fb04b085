package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// README's "Exit codes" as a script sees them: each command line, its exit
// code, and its message — one "aigw: …" line (a suggestion may follow on
// its own line), nothing on stdout when it fails.
func TestExitCodeContract(t *testing.T) {
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", "https://api.openai.com")
	var cred, key idOnly
	g.okJSON(t, &cred, "credential", "add", "--provider", "openai", "--secret", "sk-test-000000000001")
	g.okJSON(t, &key, "key", "create", "--provider", "openai", "--credentials", cred.ID)

	noToken := map[string]string{"AIGW_DATA_DIR": t.TempDir()}
	// Bad commands and values are judged by the CLI alone: the same exit 2
	// with no token and nothing listening as against the live gateway.
	offline := map[string]string{"AIGW_DATA_DIR": t.TempDir(), "AIGW_ADMIN_URL": "http://127.0.0.1:1"}
	keyCreate := []string{"key", "create", "--provider", "openai", "--credentials", cred.ID}

	cases := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string // in the first line of stderr
		hint string // the second line of stderr, if any
	}{
		{"unknown subcommand", []string{"provider", "lst"}, nil, exitUsage, `unknown command "lst" for "aigw provider"`, "did you mean list?"},
		{"unknown subcommand of a key", []string{"key", "lsit"}, nil, exitUsage, `unknown command "lsit" for "aigw key"`, "did you mean list?"},
		{"unknown command", []string{"foo"}, nil, exitUsage, `unknown command "foo" for "aigw"`, ""},
		{"unknown command like a subcommand", []string{"lst"}, nil, exitUsage, `unknown command "lst" for "aigw"`, ""},
		{"bad --strategy", append(keyCreate, "--strategy", "wieghted"), nil, exitUsage, `"wieghted" for "--strategy" flag: use one of cache_affinity, round_robin, weighted, health_best`, ""},
		{"bad --strategy on update", []string{"key", "update", key.ID, "--strategy", "wieghted"}, nil, exitUsage, `"--strategy"`, ""},
		{"bad --type", []string{"provider", "add", "x", "--type", "oai", "--base-url", "https://x.example"}, nil, exitUsage, `"oai" for "--type" flag: use one of openai, anthropic, gemini, openai-compatible`, ""},
		{"bad --status", []string{"traces", "--status", "6xx"}, nil, exitUsage, `"6xx" for "--status" flag`, ""},
		{"bad --status number", []string{"traces", "--status", "99"}, nil, exitUsage, `"99" for "--status" flag`, ""},
		{"bad --since", []string{"traces", "--since", "yesterday"}, nil, exitUsage, `"yesterday" for "--since" flag`, ""},
		{"bad usage --since", []string{"usage", "--since", "yesterday"}, nil, exitUsage, `"yesterday" for "--since" flag: use a date (YYYY-MM-DD)`, ""},
		{"bad usage --until", []string{"usage", "--until", "2026-02-30"}, nil, exitUsage, `"2026-02-30" for "--until" flag`, ""},
		{"bad --expires-at", append(keyCreate, "--expires-at", "tomorrow"), nil, exitUsage, `"tomorrow" for "--expires-at" flag`, ""},
		{"bad --by", []string{"usage", "--by", "color"}, nil, exitUsage, `"color" for "--by" flag: use one of key, model, provider, day, credential`, ""},
		{"bad -o", []string{"key", "list", "-o", "yaml"}, nil, exitUsage, `invalid --output "yaml"`, ""},
		{"unknown flag", []string{"key", "list", "--bogus"}, nil, exitUsage, "unknown flag: --bogus", ""},
		{"--no-retry without --follow", []string{"traces", "--no-retry"}, nil, exitUsage, "aigw: traces: --no-retry goes with --follow", ""},
		{"--limit 0", []string{"traces", "--limit", "0"}, nil, exitUsage, `"0" for "--limit" flag: use a whole number from 1 to 10000`, ""},
		{"--limit negative", []string{"traces", "--limit", "-1"}, nil, exitUsage, `"-1" for "--limit" flag`, ""},
		{"--limit too large", []string{"traces", "--limit", "20000"}, nil, exitUsage, `"20000" for "--limit" flag`, ""},
		{"missing required flag", []string{"provider", "add", "x", "--base-url", "https://x.example"}, nil, exitUsage, "aigw: provider add: --type is required", ""},
		{"extra argument", []string{"key", "list", "extra"}, nil, exitUsage, "aigw: key list: ", ""},
		{"nothing to change", []string{"key", "update", key.ID}, nil, exitUsage, "aigw: key update: nothing to change", ""},
		{"no admin token", []string{"key", "list"}, noToken, exitAuth, "no admin token", ""},
		{"no admin token, live traces", []string{"traces", "--follow"}, noToken, exitAuth, "no admin token", ""},
		{"refused admin token", []string{"--token", "not-a-token", "key", "list"}, nil, exitAuth, "invalid admin token", ""},
		{"refused admin token, live traces", []string{"--token", "not-a-token", "traces", "--follow"}, nil, exitAuth, "invalid admin token", ""},
		{"admin API unreachable", []string{"--admin", "http://127.0.0.1:1", "key", "list"}, nil, exitUnreachable, "cannot reach the aigw admin API", ""},
		{"command failed", []string{"key", "show", "key_nope"}, nil, exitError, "not found", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			envs := []map[string]string{c.env}
			if c.code == exitUsage {
				envs = append(envs, offline)
			}
			for _, env := range envs {
				r := g.cli(t, "", env, c.args...)
				if r.code != c.code {
					t.Errorf("aigw %s (env %v): exit %d, want %d (stderr %q)", strings.Join(c.args, " "), env, r.code, c.code, r.stderr)
				}
				lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
				if !strings.HasPrefix(lines[0], "aigw: ") || strings.Contains(lines[0], "aigw: aigw") || strings.Contains(strings.ToLower(lines[0]), "did you mean") {
					t.Errorf("first line %q: want one 'aigw: ' prefix and the suggestion on a line of its own", lines[0])
				}
				if !strings.Contains(lines[0], c.want) {
					t.Errorf("first line %q does not say %q", lines[0], c.want)
				}
				if want := map[bool]int{true: 2, false: 1}[c.hint != ""]; len(lines) != want || c.hint != "" && lines[1] != c.hint {
					t.Errorf("stderr %q: want %d line(s), the second %q", r.stderr, want, c.hint)
				}
				if r.stdout != "" {
					t.Errorf("a failed command printed data: %q", r.stdout)
				}
			}
		})
	}

	// The values at the edges still work, and a command group alone is help.
	for _, args := range [][]string{
		{"traces", "--limit", "1"}, {"traces", "--limit", "10000", "--status", "5xx", "--since", "2026-01-01"},
		{"traces", "--status", "429", "--since", "2026-01-01T00:00:00Z"}, {"usage", "--by", "credential", "--since", "2026-01-01", "--until", "2026-12-31"},
		append(keyCreate, "--strategy", "weighted"), {"key", "update", key.ID, "--strategy", "round_robin"},
	} {
		g.ok(t, args...)
	}
	if out := g.ok(t, "provider"); !strings.Contains(out, "Available Commands") || strings.Contains(out, "aigw provider [flags]") {
		t.Errorf("aigw provider: want its help (its subcommands), got %q", out)
	}
}

// An update command's help shows no defaults: an omitted flag leaves the
// setting unchanged, whatever create would have used.
func TestUpdateHelpShowsNoDefaults(t *testing.T) {
	generated := regexp.MustCompile(`\(default ("[^"]*"|[0-9][^)]*|\[[^\]]*\])\)$`)
	for _, c := range [][]string{{"key", "update", "--help"}, {"provider", "update", "--help"}, {"credential", "update", "--help"}} {
		var out, errb bytes.Buffer
		if code := run(c, &ioStreams{In: strings.NewReader(""), Out: &out, Err: &errb, getenv: func(string) string { return "" }}); code != 0 {
			t.Fatalf("%v: exit %d %s", c, code, errb.String())
		}
		local, _, _ := strings.Cut(out.String(), "Global Flags:")
		_, local, _ = strings.Cut(local, "Flags:")
		for _, line := range strings.Split(local, "\n") {
			if generated.MatchString(strings.TrimSpace(line)) {
				t.Errorf("%v shows a default: %s", c[:2], strings.TrimSpace(line))
			}
		}
	}
	// create keeps its defaults
	var out bytes.Buffer
	run([]string{"key", "create", "--help"}, &ioStreams{In: strings.NewReader(""), Out: &out, Err: &out, getenv: func(string) string { return "" }})
	if !strings.Contains(out.String(), `(default "cache_affinity")`) {
		t.Error("key create --help no longer shows its default strategy")
	}
}
