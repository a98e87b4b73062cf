package logging

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// maxDepth bounds how deep sanitize follows a value, so cycles end.
const maxDepth = 32

// sanitize rebuilds v, roughly as encoding/json would see it, out of
// map[string]any, []any, strings, numbers, bools and nil, applying the key
// rules to map keys and struct field names and Redact to every string:
//
//   - byte slices and arrays become "[redacted]";
//   - values implementing json.Marshaler are marshalled, decoded and
//     sanitized; encoding.TextMarshaler and error values become their
//     scrubbed text;
//   - structs follow their json tags ("-", names, omitempty) and promote the
//     fields of embedded structs;
//   - channels, functions and values nested deeper than maxDepth become
//     "[redacted]".
func (r *redactor) sanitize(v reflect.Value, depth int) any {
	if !v.IsValid() {
		return nil
	}
	if depth > maxDepth {
		return tokenRedacted
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		if v.IsNil() {
			return nil
		}
	}
	if isBytes(v.Type()) {
		return tokenRedacted
	}
	if v.CanInterface() {
		switch x := v.Interface().(type) {
		case hashed:
			return r.hash(x)
		case json.Marshaler:
			b, err := x.MarshalJSON()
			if err != nil {
				return tokenRedacted
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			var t any
			if dec.Decode(&t) != nil {
				return tokenRedacted
			}
			return r.sanitizeDecoded(t, depth+1)
		case encoding.TextMarshaler:
			b, err := x.MarshalText()
			if err != nil {
				return tokenRedacted
			}
			return Redact(string(b))
		case error:
			return Redact(x.Error())
		}
	}
	switch v.Kind() {
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if s, ok := redactInt(v.Int()); ok {
			return s
		}
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if s, ok := redactUint(v.Uint()); ok {
			return s
		}
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.Complex64, reflect.Complex128:
		return fmt.Sprint(v.Complex())
	case reflect.String:
		return Redact(v.String())
	case reflect.Pointer, reflect.Interface:
		return r.sanitize(v.Elem(), depth+1)
	case reflect.Slice, reflect.Array:
		// A list of strings is read as name, value, name, value...: the
		// value after a credential or payload name gets that name's rule
		// ([2]string{"cookie", v}, a flat header list).
		out := make([]any, v.Len())
		for i := range out {
			if i%2 == 1 {
				if name, ok := stringOf(v.Index(i - 1)); ok {
					out[i] = r.sanitizeKeyed(name, v.Index(i), depth+1)
					continue
				}
			}
			out[i] = r.sanitize(v.Index(i), depth+1)
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			k := mapKey(it.Key())
			out[Redact(k)] = r.sanitizeKeyed(k, it.Value(), depth+1)
		}
		return out
	case reflect.Struct:
		out := make(map[string]any)
		r.addStructFields(out, v, depth+1)
		return out
	}
	return tokenRedacted
}

// sanitizeKeyed applies the key rules to the value v stored under key.
func (r *redactor) sanitizeKeyed(key string, v reflect.Value, depth int) any {
	switch classifyKey(key) {
	case keyPayload:
		return tokenRedacted
	case keySecret:
		if v.Kind() == reflect.Bool {
			return v.Bool()
		}
		return tokenMasked
	}
	return r.sanitize(v, depth)
}

// addStructFields adds the fields of struct v to out, direct fields first so
// they win over promoted ones.
func (r *redactor) addStructFields(out map[string]any, v reflect.Value, depth int) {
	if depth > maxDepth {
		return
	}
	t := v.Type()
	pairName, pairValue := nameValueFields(v)
	var embedded []reflect.Value
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, omitEmpty, skip := jsonField(f)
		if skip {
			continue
		}
		fv := v.Field(i)
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, fv)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if omitEmpty && fv.IsZero() {
			continue
		}
		if i == pairValue && classifyKey(pairName) != keyPlain {
			// The value of a name/value struct (bhttp.Field, a
			// Key/Value pair) gets its name's rule.
			out[Redact(name)] = r.sanitizeKeyed(pairName, fv, depth)
			continue
		}
		out[Redact(name)] = r.sanitizeKeyed(name, fv, depth)
	}
	for _, ev := range embedded {
		if ev.Kind() == reflect.Pointer {
			if ev.IsNil() {
				continue
			}
			ev = ev.Elem()
		}
		promoted := make(map[string]any)
		r.addStructFields(promoted, ev, depth+1)
		for k, pv := range promoted {
			if _, taken := out[k]; !taken {
				out[k] = pv
			}
		}
	}
}

// stringOf returns the string held by v (directly or in an interface).
func stringOf(v reflect.Value) (string, bool) {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "", false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.String {
		return "", false
	}
	return v.String(), true
}

// nameValueFields finds, in struct v, a string field Name or Key (any case)
// and a field Value or Values: it returns the name held and the index of
// the value field, or "" and -1.
func nameValueFields(v reflect.Value) (string, int) {
	t := v.Type()
	name, nameOK, value := "", false, -1
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		switch strings.ToLower(f.Name) {
		case "name", "key":
			name, nameOK = stringOf(v.Field(i))
		case "value", "values":
			value = i
		}
	}
	if !nameOK || value < 0 {
		return "", -1
	}
	return name, value
}

// jsonField reads the json tag of f.
func jsonField(f reflect.StructField) (name string, omitEmpty, skip bool) {
	tag, ok := f.Tag.Lookup("json")
	if !ok {
		return "", false, false
	}
	if tag == "-" {
		return "", false, true
	}
	name, opts, _ := strings.Cut(tag, ",")
	for opts != "" {
		var opt string
		opt, opts, _ = strings.Cut(opts, ",")
		if opt == "omitempty" || opt == "omitzero" {
			omitEmpty = true
		}
	}
	return name, omitEmpty, false
}

// sanitizeDecoded applies the rules of sanitize to a value decoded from JSON
// with UseNumber.
func (r *redactor) sanitizeDecoded(t any, depth int) any {
	if depth > maxDepth {
		return tokenRedacted
	}
	switch x := t.(type) {
	case string:
		return Redact(x)
	case json.Number:
		if s := string(x); len(s) > phoneLen {
			if red := Redact(s); red != s {
				return red
			}
		}
		return x
	case []any:
		for i := range x {
			x[i] = r.sanitizeDecoded(x[i], depth+1)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			switch classifyKey(k) {
			case keyPayload:
				out[Redact(k)] = tokenRedacted
			case keySecret:
				if b, ok := v.(bool); ok {
					out[Redact(k)] = b
				} else {
					out[Redact(k)] = tokenMasked
				}
			default:
				out[Redact(k)] = r.sanitizeDecoded(v, depth+1)
			}
		}
		return out
	}
	return t // bool or nil
}

// isBytes reports whether t is a slice or array of bytes.
func isBytes(t reflect.Type) bool {
	return (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() == reflect.Uint8
}

// mapKey renders a map key as encoding/json would.
func mapKey(k reflect.Value) string {
	if k.Kind() == reflect.String {
		return k.String()
	}
	if k.CanInterface() {
		if tm, ok := k.Interface().(encoding.TextMarshaler); ok {
			if b, err := tm.MarshalText(); err == nil {
				return string(b)
			}
		}
	}
	switch k.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(k.Uint(), 10)
	}
	return fmt.Sprint(k)
}
