package main

// The exit-code contract's parts that are not flags of one command: unknown
// subcommands, a missing admin token, and flag values the CLI can judge by
// itself (so a bad one exits 2 before any admin call, token or not).

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aigw/aigw/internal/units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// errNoToken is a client with no admin token to present: exit 4, like a
// token the admin API refused.
var errNoToken = errors.New("no admin token")

// unknownCommandError is a subcommand that does not exist; runContext
// prints its suggestions on their own lines after the message.
type unknownCommandError struct {
	typed, parent string
	suggestions   []string
}

func (e *unknownCommandError) Error() string {
	return fmt.Sprintf("unknown command %q for %q (see %s --help)", e.typed, e.parent, e.parent)
}

// hint is what follows the message: "did you mean list?", or "" without a
// suggestion.
func (e *unknownCommandError) hint() string {
	if len(e.suggestions) == 0 {
		return ""
	}
	return "did you mean " + strings.Join(e.suggestions, " or ") + "?"
}

// refuseUnknownSubcommands makes every command that only groups others
// (aigw, aigw provider, …) print its help when called alone and refuse an
// argument that names no subcommand. Without it cobra prints the help and
// exits 0 for `aigw provider lst`.
// groupOnly marks a command that only groups subcommands (its own run
// refuses what it does not know).
const groupOnly = "aigw-group"

func refuseUnknownSubcommands(cmd *cobra.Command) {
	if !cmd.HasParent() {
		// A group now runs (to refuse what it does not know), which would
		// add "aigw provider [flags]" to its usage: it is still only its
		// subcommands. (Set on the root, the template is everyone's.)
		const runnable = "{{if .Runnable}}"
		// (A command that runs itself and has subcommands too, such as
		// traces and its export, keeps its usage line.)
		cmd.SetUsageTemplate(strings.Replace(cmd.UsageTemplate(), runnable, `{{if and .Runnable (not (index .Annotations "`+groupOnly+`"))}}`, 1))
	}
	for _, c := range cmd.Commands() {
		refuseUnknownSubcommands(c)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[groupOnly] = "yes"
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, argv []string) error {
		if len(argv) == 0 {
			return cmd.Help()
		}
		cmd.SuggestionsMinimumDistance = 2
		return &usageError{&unknownCommandError{typed: argv[0], parent: cmd.CommandPath(), suggestions: cmd.SuggestionsFor(argv[0])}}
	}
}

// cmdPath is the command's path without the program name: the "aigw: "
// prefix of every message already says it.
func cmdPath(cmd *cobra.Command) string {
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// choiceFlag is a string flag that takes one of a known set of values.
type choiceFlag struct {
	val     *string
	choices []string
}

func newChoiceFlag(val *string, def string, choices []string) *choiceFlag {
	*val = def
	return &choiceFlag{val: val, choices: choices}
}

func (f *choiceFlag) String() string {
	if f.val == nil {
		return ""
	}
	return *f.val
}

func (f *choiceFlag) Set(s string) error {
	if !slices.Contains(f.choices, s) {
		return fmt.Errorf("use one of %s", strings.Join(f.choices, ", "))
	}
	*f.val = s
	return nil
}

func (f *choiceFlag) Type() string { return "string" }

// statusFlag is --status: an HTTP status (100-599) or a class (1xx-5xx),
// what the admin API's trace filter takes.
type statusFlag struct{ val *string }

func (f statusFlag) String() string { return *f.val }

func (f statusFlag) Set(s string) error {
	class := len(s) == 3 && strings.EqualFold(s[1:], "xx") && s[0] >= '1' && s[0] <= '5'
	if n, err := strconv.Atoi(s); !class && (err != nil || n < 100 || n > 599) {
		return errors.New("use an HTTP status (e.g. 429) or a class (2xx, 4xx, 5xx)")
	}
	*f.val = s
	return nil
}

func (f statusFlag) Type() string { return "string" }

// timeTextFlag is a time kept as typed (the admin API parses it again):
// RFC 3339 or a date; with day set, only a date (YYYY-MM-DD). Without day,
// a duration ("1h", "30m") means that long ago, and is sent as the time it
// names.
type timeTextFlag struct {
	val *string
	day bool
	now func() time.Time // nil: time.Now
}

func (f timeTextFlag) String() string { return *f.val }

func (f timeTextFlag) Set(s string) error {
	if f.day {
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return errors.New("use a date (YYYY-MM-DD)")
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		now := time.Now
		if f.now != nil {
			now = f.now
		}
		s = now().Add(-d).UTC().Format(time.RFC3339)
	} else if _, err := units.ParseTime(s); err != nil {
		return errors.New("use an RFC 3339 time (e.g. 2026-12-31T23:59:00Z), a date (2026-12-31) or a duration ago (1h, 30m)")
	}
	*f.val = s
	return nil
}

func (f timeTextFlag) Type() string { return "string" }

// rangeFlag is an int flag bounded to [min, max].
type rangeFlag struct {
	val      *int
	min, max int
}

func newRangeFlag(val *int, def, min, max int) rangeFlag {
	*val = def
	return rangeFlag{val: val, min: min, max: max}
}

func (f rangeFlag) String() string { return strconv.Itoa(*f.val) }

func (f rangeFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < f.min || n > f.max {
		return fmt.Errorf("use a whole number from %d to %d", f.min, f.max)
	}
	*f.val = n
	return nil
}

func (f rangeFlag) Type() string { return "int" }

// hideDefaults keeps an update command's help from showing defaults: there
// an omitted flag leaves the setting as it is, whatever the create command
// would have used. (pflag prints no default that reads as its type's zero.)
func hideDefaults(cmd *cobra.Command) {
	cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
		switch f.Value.Type() {
		case "duration":
			f.DefValue = "0" // zero for pflag's durations and units.Duration alike
		case "stringArray", "stringSlice":
			f.DefValue = "[]"
		case "bool":
			f.DefValue = "false"
		case "int", "int64", "float64", "uint64":
			f.DefValue = "0"
		default:
			f.DefValue = ""
		}
	})
}

// idOutput marks the commands that print with -o id: those that add, show,
// change or list providers, credentials and keys.
const idOutput = "aigw/output-id"

func markIDOutput(root *cobra.Command) {
	for _, path := range []string{
		"provider add", "provider list", "provider show", "provider update",
		"credential add", "credential list", "credential show", "credential update", "credential enable",
		"credential disable", "credential refresh",
		"key list", "key show", "key update", "key revoke",
	} {
		if c, _, err := root.Find(strings.Fields(path)); err == nil && c != root {
			if c.Annotations == nil {
				c.Annotations = map[string]string{}
			}
			c.Annotations[idOutput] = "yes"
		}
	}
}

// checkOutput refuses an output format the command cannot print.
func checkOutput(cmd *cobra.Command, output string) error {
	switch {
	case output == "table", output == "json":
		return nil
	case output != "id":
		return &usageError{fmt.Errorf("invalid --output %q: use table, json or id", output)}
	case cmd.Annotations[idOutput] != "":
		return nil
	case cmd.Name() == "create" && cmd.Parent() != nil && (cmd.Parent().Name() == "key" || cmd.Parent().Name() == "token"):
		return &usageError{fmt.Errorf("%s prints a secret that is shown only once: use -o json or the table, not -o id", cmd.CommandPath())}
	}
	return &usageError{fmt.Errorf("-o id is for commands that add, show, change or list providers, credentials and keys; use table or json with %s", cmd.CommandPath())}
}

// printIDs writes ids one per line.
func printIDs(w io.Writer, ids ...string) error {
	for _, id := range ids {
		if _, err := fmt.Fprintln(w, id); err != nil {
			return err
		}
	}
	return nil
}
