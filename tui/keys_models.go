package tui

import (
	"errors"
	"strings"

	"github.com/aigw/aigw/admin"
)

// checkModels is the key form's check of its Models field: the admin API's
// own rule (admin.ValidModels), shown before anything is sent.
func checkModels(v string) error {
	err := admin.ValidModels(list(v, ", "))
	if ve := (*admin.ValidationError)(nil); errors.As(err, &ve) {
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
