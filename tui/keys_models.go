package tui

import (
	"errors"
	"strings"

	"github.com/aigw/aigw/store"
)

// checkModels is the key form's check of its Models field: the admin API's
// own rule (store.ValidModels), shown before anything is sent.
func checkModels(v string) error {
	err := store.ValidModels(list(v, ", "))
	if ve := (*store.ValidationError)(nil); errors.As(err, &ve) {
		return errors.New(ve.Msg)
	}
	return err
}

// modelsLine is a key's allow-list for its detail: "every model" when empty.
func modelsLine(models []string) string {
	if len(models) == 0 {
		return "every model"
	}
	return strings.Join(models, ", ")
}
