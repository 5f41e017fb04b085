package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/proxy/usage"
	"github.com/spf13/cobra"
)

func newPricesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prices",
		Short: "Show the price table requests are priced with, or import a price list",
		Long: `Requests are priced from three tables, each winning over the one before it:
the built-in table (LiteLLM's list, dated in 'aigw version'), a list imported
with 'aigw prices import', and the [pricing] section of config.toml.`,
	}
	cmd.AddCommand(newPricesListCmd(a), newPricesImportCmd(a))
	return cmd
}

func newPricesListCmd(a *app) *cobra.Command {
	var glob string
	cmd := &cobra.Command{
		Use:   "list [--model GLOB]",
		Short: "List the prices the running gateway uses, with the source of each",
		Long: `List the price table the running gateway prices requests with, in USD per 1M
tokens, one row per model with its source: built-in, imported (aigw prices
import) or config ([pricing] in config.toml). A cache price shown as "-" is not
set: cache reads are billed as input, 5-minute cache writes at 1.25× input and
1-hour writes at 2× input. >200K is the input/output price for prompts over
200,000 tokens, where the model has one. Names are shown in the lower-case
form lookups use; --model selects them with a glob (*, ?, [a-z]).`,
		Example: `  aigw prices list --model 'claude-*'
  aigw prices list -o json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			rows, err := c.Prices(cmd.Context(), glob)
			if err != nil {
				var ae *admin.APIError
				if errors.As(err, &ae) && ae.Field == "model" {
					return &usageError{fmt.Errorf("invalid --model %q: not a glob pattern (*, ?, [a-z])", glob)}
				}
				return apiErr(cmd, err)
			}
			if a.output == "json" {
				return printJSON(a.io.Out, rows)
			}
			t := newTable("MODEL", "INPUT", "OUTPUT", "CACHE WRITE", "WRITE 1H", "CACHE READ", ">200K IN/OUT", "SOURCE")
			for _, r := range rows {
				tier := "-"
				if r.Above200k != nil {
					tier = priceText(r.Above200k.Input) + "/" + priceText(r.Above200k.Output)
				}
				t.add(r.Model, priceText(r.Input), priceText(r.Output), priceOrDash(r.CacheWrite), priceOrDash(r.CacheWrite1h),
					priceOrDash(r.CacheRead), tier, r.Source)
			}
			return t.print(a.io.Out, a.io.outWidth)
		},
	}
	cmd.Flags().StringVar(&glob, "model", "", "only models whose name matches this glob (e.g. 'claude-*')")
	return cmd
}

func priceText(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func priceOrDash(v float64) string {
	if v == 0 {
		return "-"
	}
	return priceText(v)
}

func newPricesImportCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "Import a price list in LiteLLM's model_prices_and_context_window.json format",
		Long: `Import a price list in LiteLLM's model_prices_and_context_window.json format
(the built-in table's own source; prices in USD per token) from FILE: nothing
is fetched. The list is checked first: a price field of the wrong type, a
negative price or a malformed file is refused with the model and field named,
and nothing is stored. Entries of providers aigw does not speak to (bedrock,
azure, …) and entries without both an input and an output price are left out;
an entry without litellm_provider is kept. The list replaces any earlier
import, is kept in the gateway's database (it survives restarts) and prices
requests at once. The [pricing] section of config.toml still wins over it.
Needs an admin token with the admin scope.`,
		Example: `  aigw prices import ./model_prices_and_context_window.json`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			path := argv[0]
			raw, err := readPriceList(path)
			if err != nil {
				return &usageError{err}
			}
			// Checked here too, so that a bad file is reported before anything is sent.
			if _, _, err := usage.ParseLiteLLM(raw); err != nil {
				return &usageError{fmt.Errorf("%s: %w", path, err)}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			rep, err := c.ImportPrices(cmd.Context(), raw, filepath.Base(path))
			if err != nil {
				return apiErr(cmd, err)
			}
			if a.output == "json" {
				return printJSON(a.io.Out, rep)
			}
			for _, n := range rep.Notes {
				fmt.Fprintln(a.io.Err, "aigw: note: "+oneLine(n))
			}
			_, err = fmt.Fprintf(a.io.Out, "imported %d models from %s (left out: %d of other providers, %d without a price); in effect now\n",
				rep.Models, oneLine(filepath.Base(path)), rep.OtherProvider, rep.NoPrice)
			return err
		},
	}
}

// readPriceList reads at most usage.MaxPriceListBytes of path.
func readPriceList(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("prices import: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, usage.MaxPriceListBytes+1))
	if err != nil {
		return nil, fmt.Errorf("prices import: %w", err)
	}
	if len(raw) > usage.MaxPriceListBytes {
		return nil, fmt.Errorf("prices import: %s is larger than %d MiB", path, usage.MaxPriceListBytes>>20)
	}
	return raw, nil
}
