package main

import (
	"errors"
	"strings"

	"github.com/aigw/aigw/admin"
)

// modelsFlag is --models: a key's model allow-list, comma separated, exact
// names and * globs; "" is every model. It is checked as it is parsed, so
// that a bad pattern is a usage error (exit 2) naming it.
type modelsFlag struct{ list []string }

func (f *modelsFlag) String() string { return strings.Join(f.list, ",") }

func (f *modelsFlag) Set(s string) error {
	l, err := admin.ParseModels(s)
	if err != nil {
		var ve *admin.ValidationError
		if errors.As(err, &ve) {
			return errors.New(ve.Msg)
		}
		return err
	}
	f.list = l
	return nil
}

func (f *modelsFlag) Type() string { return "list" }

// modelsText is a key's allow-list for the table views.
func modelsText(models []string) string {
	if len(models) == 0 {
		return "all"
	}
	return strings.Join(models, ",")
}
