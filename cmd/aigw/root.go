package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/config"
	"github.com/aigw/aigw/internal/termsafe"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// Exit codes (documented in README).
const (
	exitOK          = 0
	exitError       = 1 // the command failed
	exitUsage       = 2 // bad flags or arguments
	exitUnreachable = 3 // the admin API could not be reached
	exitAuth        = 4 // the admin token is missing or was refused (invalid, revoked, expired or lacking a scope)
)

// ioStreams are the command's standard streams; tests replace them.
type ioStreams struct {
	In       io.Reader
	Out      io.Writer // data
	Err      io.Writer // status and errors
	inTTY    bool
	outTTY   bool
	errTTY   bool // stderr is a terminal: long commands show progress there
	outWidth int  // terminal columns; 0: not a terminal, no truncation
	getenv   func(string) string
}

func newSystemIO() *ioStreams {
	s := &ioStreams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, getenv: os.Getenv}
	s.inTTY = term.IsTerminal(int(os.Stdin.Fd()))
	s.outTTY = term.IsTerminal(int(os.Stdout.Fd()))
	s.errTTY = term.IsTerminal(int(os.Stderr.Fd()))
	if s.outTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			s.outWidth = w
		}
	}
	return s
}

// app is what every command shares: streams, global flags, the client.
type app struct {
	io     *ioStreams
	admin  string
	token  string
	output string
}

// usageError marks errors in how the command was called.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// run executes the command line and returns the exit code; the only place
// that turns errors into messages and codes.
func run(args []string, streams *ioStreams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, streams)
}

// runContext is run with the context the commands get (tests cancel it).
func runContext(ctx context.Context, args []string, streams *ioStreams) int {
	root := newRootCmd(streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(streams.Err, "aigw: "+oneLine(err.Error()))
	var uc *unknownCommandError
	if errors.As(err, &uc) && uc.hint() != "" {
		fmt.Fprintln(streams.Err, oneLine(uc.hint()))
	}
	var ue *usageError
	var ae *admin.APIError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, admin.ErrUnreachable):
		return exitUnreachable
	case errors.Is(err, errNoToken), errors.As(err, &ae) && (ae.Status == 401 || ae.Status == 403):
		return exitAuth
	}
	return exitError
}

// oneLine is a message on one line, safe for the terminal (an error may
// quote what a client or an upstream sent).
func oneLine(s string) string {
	return termsafe.String(strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " "))
}

func newRootCmd(streams *ioStreams) *cobra.Command {
	a := &app{io: streams}
	root := &cobra.Command{
		Use:   "aigw",
		Short: "A single-binary AI API gateway for OpenAI, Anthropic and Gemini traffic",
		Long: `aigw sits between your applications (using their official OpenAI, Anthropic or
Gemini SDKs) and the providers: it checks the application's gateway key, applies
its limits, picks one of your real credentials, forwards and streams the request,
retries on another credential when one fails, and records usage and cost.

Start it with 'aigw serve'; every other command manages it through the admin API.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, a.output); err != nil {
				return err
			}
			return checkFlagRules(cmd)
		},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.admin, "admin", "", "admin API URL (default $AIGW_ADMIN_URL, else the data directory's admin.url, else http://127.0.0.1:9090)")
	pf.StringVar(&a.token, "token", "", "admin token (default $AIGW_ADMIN_TOKEN or the data directory's admin.token)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table, json, or id (the id alone, one per line, where a command adds, shows or lists things)")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "id"}, cobra.ShellCompDirectiveNoFileComp))

	root.AddGroup(&cobra.Group{ID: "run", Title: "Run:"}, &cobra.Group{ID: "manage", Title: "Manage (through the admin API):"})
	for _, c := range []*cobra.Command{newServeCmd(a), newTUICmd(a)} {
		c.GroupID = "run"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newProviderCmd(a), newCredentialCmd(a), newKeyCmd(a), newTracesCmd(a), newUsageCmd(a), newAlertsCmd(a), newPricesCmd(a), newTokenCmd(a), newBackupCmd(a)} {
		c.GroupID = "manage"
		root.AddCommand(c)
	}
	root.AddCommand(newVersionCmd(a))
	refuseUnknownSubcommands(root)
	markIDOutput(root)
	return root
}

// client builds the admin client from flags, environment and the data directory.
func (a *app) client() (*admin.Client, error) {
	dir := a.dataDir()
	url := admin.AdminURL(firstNonEmpty(a.admin, a.io.getenv("AIGW_ADMIN_URL"), localURL(dir), "http://127.0.0.1:9090"))
	token := firstNonEmpty(a.token, a.io.getenv("AIGW_ADMIN_TOKEN"))
	if token == "" {
		path := filepath.Join(dir, admin.LocalTokenFile)
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: give --token or AIGW_ADMIN_TOKEN, or run where `aigw serve` keeps %s (%v)", errNoToken, path, errors.Unwrap(err))
		}
		token = strings.TrimSpace(string(raw))
	}
	return admin.NewClient(url, token), nil
}

// dataDir is the local gateway's data directory: $AIGW_DATA_DIR, else the
// default.
func (a *app) dataDir() string {
	return firstNonEmpty(a.io.getenv("AIGW_DATA_DIR"), config.DefaultDataDir())
}

// localURL is the admin URL the local `aigw serve` wrote in dir ("" when
// there is none), found like admin.token is.
func localURL(dir string) string {
	raw, err := os.ReadFile(filepath.Join(dir, admin.LocalURLFile))
	if err != nil || len(raw) > 512 {
		return ""
	}
	return strings.TrimSpace(string(raw))
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// args wraps cobra's argument checks so that their errors are usage errors.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return &usageError{fmt.Errorf("%s: %w (see %s --help)", cmdPath(cmd), err, cmd.CommandPath())}
		}
		return nil
	}
}

// apiErr rewrites a refused field into the name of the flag that set it,
// so the message points at what the user typed.
func apiErr(cmd *cobra.Command, err error) error {
	var ae *admin.APIError
	if !errors.As(err, &ae) || ae.Field == "" {
		return err
	}
	flag := strings.ReplaceAll(ae.Field, "_", "-")
	if alias, ok := map[string]string{"auth-headers": "auth-header", "headers": "header", "scopes": "scope"}[flag]; ok {
		flag = alias
	}
	if cmd.Flags().Lookup(flag) == nil {
		return err
	}
	msg := strings.Replace(ae.Message, "invalid "+ae.Field, "invalid --"+flag, 1)
	return &admin.APIError{Status: ae.Status, Message: msg, Field: ae.Field}
}

const (
	annRequired  = "aigw/required"
	annExclusive = "aigw/exclusive"
)

// requireFlags marks flags the command cannot run without. (cobra's own
// MarkFlagRequired reports a plain error, which would not exit with the
// usage code.)
func requireFlags(cmd *cobra.Command, names ...string) {
	setAnnotation(cmd, annRequired, names)
}

// exclusiveFlags marks flags that cannot be given together.
func exclusiveFlags(cmd *cobra.Command, names ...string) {
	setAnnotation(cmd, annExclusive, names)
}

func setAnnotation(cmd *cobra.Command, key string, names []string) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	if prev := cmd.Annotations[key]; prev != "" && key == annRequired {
		names = append(strings.Split(prev, ","), names...)
	}
	cmd.Annotations[key] = strings.Join(names, ",")
}

func checkFlagRules(cmd *cobra.Command) error {
	if req := cmd.Annotations[annRequired]; req != "" {
		for _, name := range strings.Split(req, ",") {
			if !changed(cmd, name) {
				return &usageError{fmt.Errorf("%s: --%s is required (see --help)", cmdPath(cmd), name)}
			}
		}
	}
	if ex := cmd.Annotations[annExclusive]; ex != "" {
		names := strings.Split(ex, ",")
		if changed(cmd, names[0]) && changed(cmd, names[1]) {
			return &usageError{fmt.Errorf("%s: give either --%s or --%s, not both", cmdPath(cmd), names[0], names[1])}
		}
	}
	return nil
}

// changed reports whether the user set the flag.
func changed(cmd *cobra.Command, name string) bool { return cmd.Flags().Changed(name) }

var _ pflag.Value = (*timeFlag)(nil)
