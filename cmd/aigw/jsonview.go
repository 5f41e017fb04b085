package main

// What `-o json` promises beyond the field names: a list is a JSON array
// even when empty (`[]`, never `null`), and a setting left to its default
// is `null` (a key's or provider's timeout when it inherits one), never a
// zero such as "0s" that reads as a value. The field names stay those of
// the admin API's objects.

import (
	"encoding"
	"encoding/json"
	"reflect"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/internal/units"
)

// jsonValue is v as -o json prints it.
func jsonValue(v any) any {
	if v == nil {
		return v
	}
	// Lists first: the views embed what they show in unexported fields,
	// which reflection cannot set.
	return defaultsNull(emptyLists(reflect.ValueOf(v)).Interface())
}

// keyJSON is a key whose inherited timeout is null.
type keyJSON struct {
	admin.Key
	Timeout *units.Duration `json:"timeout"` // null: the provider's, else the configured one
}

// createdKeyJSON is key create's output: the key and its secret.
type createdKeyJSON struct {
	keyJSON
	Secret string `json:"secret"`
}

// providerJSON is a provider whose inherited timeout is null.
type providerJSON struct {
	admin.Provider
	Timeout *units.Duration `json:"timeout"` // null: the configured one
}

func optDuration(d units.Duration) *units.Duration {
	if d == 0 {
		return nil
	}
	return &d
}

func keyView(k admin.Key) keyJSON { return keyJSON{Key: k, Timeout: optDuration(k.Timeout)} }

func providerView(p admin.Provider) providerJSON {
	return providerJSON{Provider: p, Timeout: optDuration(p.Timeout)}
}

// defaultsNull swaps the objects that have settings where zero means "the
// default" for their views.
func defaultsNull(v any) any {
	switch v := v.(type) {
	case admin.Key:
		return keyView(v)
	case []admin.Key:
		return mapSlice(v, keyView)
	case admin.CreatedKey:
		return createdKeyJSON{keyJSON: keyView(v.Key), Secret: v.Secret}
	case admin.Provider:
		return providerView(v)
	case []admin.Provider:
		return mapSlice(v, providerView)
	}
	return v
}

func mapSlice[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, x := range in {
		out[i] = f(x)
	}
	return out
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// emptyLists returns a copy of v in which every nil slice and map that JSON
// would show (exported fields, at any depth) is an empty one. Values that
// marshal themselves (times, durations) are kept as they are.
func emptyLists(v reflect.Value) reflect.Value {
	if !v.IsValid() {
		return v
	}
	if t := v.Type(); t.Implements(jsonMarshaler) || t.Implements(textMarshaler) ||
		reflect.PointerTo(t).Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
		return v
	}
	switch v.Kind() {
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v // []byte: base64 text
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(emptyLists(v.Index(i)))
		}
		return out
	case reflect.Map:
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(it.Key(), emptyLists(it.Value()))
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(emptyLists(v.Elem()))
		return p
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(emptyLists(v.Elem()))
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if f := out.Field(i); f.CanSet() && v.Type().Field(i).Tag.Get("json") != "-" {
				f.Set(emptyLists(v.Field(i)))
			}
		}
		return out
	}
	return v
}
