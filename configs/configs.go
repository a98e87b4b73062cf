// Package configs is the one configuration loader of both binaries, and the
// home of the documented example files (sidecar.yaml, core.yaml).
//
// An option is declared once, as a field of the binary's Config struct; its
// tags say everything the loader, the usage text and --check-config need:
//
//		Listen string `yaml:"listen" env:"SEALOCR_LISTEN" flag:"listen" default:"..." doc:"TLS listen address"`
//
//	  - yaml: the key in the file; sections are nested structs, and a struct
//	    with `yaml:",inline"` groups fields in Go without nesting the file.
//	  - alias: older YAML keys that still load (the same value as yaml).
//	  - env: environment variables, the canonical one first, then aliases.
//	  - flag: command-line flags, the canonical one first, then aliases.
//	  - default: the default value, written as in the environment.
//	  - doc: the one-line description used in the usage text.
//	  - empty: a word that stands for the empty list in env and flags
//	    ("none"); without it an empty value leaves the default.
//	  - redact:"url": the value is passed through the redaction function
//	    before it is printed.
//
// Field types are string, bool, int, int64, time.Duration and []string
// (comma-separated in env and flags).
//
// Load reads the YAML file named by --config (or its environment variable),
// then the environment, then flags; each later source wins. The file must be
// one YAML document whose keys are all declared: unknown keys and a second
// document are refused. Validation is not the loader's job: each binary's
// Config.Validate is pure and reports every problem with errors.Join.
package configs

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Flags are the command-line switches that are not options.
type Flags struct {
	// ConfigFile is the configuration file that was read, if any.
	ConfigFile string
	// CheckConfig asks to validate the configuration, print it and exit.
	CheckConfig bool
	// Version asks to print the version and exit.
	Version bool
}

// Var is an environment variable that is not one option's value, such as a
// switch that sets two fields; Set applies it.
type Var struct {
	// Name is the variable.
	Name string
	// Doc describes it.
	Doc string
	// Set applies a non-empty value.
	Set func(v string) error
}

// Options configure Load.
type Options struct {
	// Program names the flag set in usage and errors.
	Program string
	// ConfigEnv is the environment variable that names the configuration
	// file, the default of --config.
	ConfigEnv string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Vars are the environment variables with their own setter, applied
	// after the declared ones.
	Vars []Var
}

// Field is one declared option.
type Field struct {
	// Key is the dotted YAML path: "tls.acme.domains".
	Key string
	// Aliases are older YAML keys of the same option (last path element).
	Aliases []string
	// Env are the environment variables, canonical first.
	Env []string
	// Flags are the flag names without dashes, canonical first.
	Flags []string
	// Default is the declared default as written in the tag; "" for none.
	Default string
	// Doc is the one-line description.
	Doc string

	index  []int
	typ    reflect.Type
	empty  string
	redact bool
}

var durationType = reflect.TypeOf(time.Duration(0))

// Fields returns the declared options of the struct that v is or points to,
// in declaration order.
func Fields(v any) []Field {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []Field
	walk(t, "", nil, &out)
	return out
}

func walk(t reflect.Type, prefix string, index []int, out *[]Field) {
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		key, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if key == "-" {
			continue
		}
		idx := append(slices.Clone(index), i)
		if sf.Type.Kind() == reflect.Struct && sf.Type != durationType {
			if opts == "inline" {
				walk(sf.Type, prefix, idx, out)
			} else {
				walk(sf.Type, prefix+key+".", idx, out)
			}
			continue
		}
		*out = append(*out, Field{
			Key:     prefix + key,
			Aliases: split(sf.Tag.Get("alias")),
			Env:     split(sf.Tag.Get("env")),
			Flags:   split(sf.Tag.Get("flag")),
			Default: sf.Tag.Get("default"),
			Doc:     sf.Tag.Get("doc"),
			index:   idx,
			typ:     sf.Type,
			empty:   sf.Tag.Get("empty"),
			redact:  sf.Tag.Get("redact") == "url",
		})
	}
}

func split(tag string) []string {
	if tag == "" {
		return nil
	}
	return strings.Split(tag, ",")
}

// parse converts s to a value of f's type.
func (f Field) parse(s string) (reflect.Value, error) {
	v := reflect.New(f.typ).Elem()
	switch {
	case f.typ == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return v, err
		}
		v.SetInt(int64(d))
	case f.typ.Kind() == reflect.String:
		v.SetString(s)
	case f.typ.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return v, err
		}
		v.SetBool(b)
	case f.typ.Kind() == reflect.Int || f.typ.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(s, 10, f.typ.Bits())
		if err != nil {
			return v, err
		}
		v.SetInt(n)
	case f.typ.Kind() == reflect.Slice && f.typ.Elem().Kind() == reflect.String:
		list := []string{}
		if f.empty == "" || strings.TrimSpace(s) != f.empty {
			for _, e := range strings.Split(s, ",") {
				if e = strings.TrimSpace(e); e != "" {
					list = append(list, e)
				}
			}
		}
		v.Set(reflect.ValueOf(list))
	default:
		panic("configs: unsupported field type " + f.typ.String() + " of " + f.Key)
	}
	return v, nil
}

// SetDefaults sets every field of the struct dst points to that declares a
// default.
func SetDefaults(dst any) {
	root := reflect.ValueOf(dst).Elem()
	for _, f := range Fields(dst) {
		if f.Default == "" {
			continue
		}
		v, err := f.parse(f.Default)
		if err != nil {
			panic(fmt.Sprintf("configs: default of %s: %v", f.Key, err))
		}
		root.FieldByIndex(f.index).Set(v)
	}
}

// EnvVars returns every environment variable Load reads for dst, aliases
// and Options.Vars included, besides Options.ConfigEnv.
func EnvVars(dst any, o Options) []string {
	var out []string
	for _, f := range Fields(dst) {
		out = append(out, f.Env...)
	}
	for _, v := range o.Vars {
		out = append(out, v.Name)
	}
	return out
}

// flagValue records a flag's parsed value to apply after the environment.
type flagValue struct {
	f       Field
	pending *[]pendingFlag
}

type pendingFlag struct {
	index []int
	v     reflect.Value
}

func (fv flagValue) String() string { return "" }

func (fv flagValue) Set(s string) error {
	v, err := fv.f.parse(s)
	if err != nil {
		return err
	}
	*fv.pending = append(*fv.pending, pendingFlag{fv.f.index, v})
	return nil
}

func (fv flagValue) IsBoolFlag() bool { return fv.f.typ.Kind() == reflect.Bool }

// usage is the flag help of f: its doc, its environment variables and its
// default.
func (f Field) usage() string {
	var b strings.Builder
	b.WriteString(f.Doc)
	var extra []string
	if len(f.Env) > 0 {
		extra = append(extra, "env "+strings.Join(f.Env, ", "))
	}
	if f.Default != "" && f.typ.Kind() != reflect.Bool {
		extra = append(extra, "default "+f.Default)
	}
	if len(extra) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(extra, "; "))
	}
	return b.String()
}

// Load applies, over the values already in the struct dst points to (the
// defaults), the configuration file, then the environment, then the flags
// in args (without the program name). It returns the other switches and
// every parse error of any source, joined; dst holds whatever did parse.
func Load(dst any, args []string, o Options) (Flags, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	fields := Fields(dst)
	root := reflect.ValueOf(dst).Elem()
	var fl Flags
	fs := flag.NewFlagSet(o.Program, flag.ContinueOnError)
	cfgDoc := "YAML configuration file"
	if o.ConfigEnv != "" {
		cfgDoc += " (env " + o.ConfigEnv + ")"
	}
	fs.StringVar(&fl.ConfigFile, "config", getenv(o.ConfigEnv), cfgDoc)
	var pending []pendingFlag
	for _, f := range fields {
		for i, name := range f.Flags {
			u := f.usage()
			if i > 0 {
				u = "alias of --" + f.Flags[0]
			}
			fs.Var(flagValue{f, &pending}, name, u)
		}
	}
	fs.BoolVar(&fl.CheckConfig, "check-config", false, "validate the configuration, print it and exit")
	fs.BoolVar(&fl.Version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return fl, err
	}
	if fs.NArg() > 0 {
		return fl, fmt.Errorf("config: unexpected arguments %q", fs.Args())
	}
	var errs []error
	if fl.ConfigFile != "" {
		if err := loadFile(fl.ConfigFile, dst); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range fields {
		for _, name := range f.Env {
			s := getenv(name)
			if s == "" {
				continue
			}
			v, err := f.parse(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("config: %s: %w", name, err))
			} else {
				root.FieldByIndex(f.index).Set(v)
			}
			break // the first variable set wins: canonical over alias
		}
	}
	for _, v := range o.Vars {
		if s := getenv(v.Name); s != "" {
			if err := v.Set(s); err != nil {
				errs = append(errs, fmt.Errorf("config: %s: %w", v.Name, err))
			}
		}
	}
	for _, p := range pending {
		root.FieldByIndex(p.index).Set(p.v)
	}
	return fl, errors.Join(errs...)
}

// loadFile decodes the YAML file at path over dst: one document, every key
// declared (aliases renamed to their canonical key). An empty file changes
// nothing.
func loadFile(path string, dst any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("config: %s: %w", path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: want one YAML document", path)
	}
	top := &doc
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return nil
	}
	if top.Kind != yaml.MappingNode {
		return fmt.Errorf("config: %s: line %d: want a mapping of keys", path, top.Line)
	}
	t := reflect.TypeOf(dst).Elem()
	if err := checkKeys(top, t, ""); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	if err := top.Decode(dst); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}

// checkKeys rejects undeclared keys of the mapping n, decoded into t, and
// renames alias keys to their canonical name.
func checkKeys(n *yaml.Node, t reflect.Type, prefix string) error {
	keys := map[string]reflect.StructField{}
	aliases := map[string]string{}
	collectKeys(t, keys, aliases)
	var errs []error
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if canon, ok := aliases[k.Value]; ok {
			k.Value = canon
		}
		sf, ok := keys[k.Value]
		if !ok {
			errs = append(errs, fmt.Errorf("line %d: field %s%s not found in type %s", k.Line, prefix, k.Value, t))
			continue
		}
		if seen[k.Value] {
			errs = append(errs, fmt.Errorf("line %d: %s%s set twice (under its name and an alias)", k.Line, prefix, k.Value))
		}
		seen[k.Value] = true
		if sf.Type.Kind() == reflect.Struct && sf.Type != durationType && val.Kind == yaml.MappingNode {
			if err := checkKeys(val, sf.Type, prefix+k.Value+"."); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// collectKeys maps the YAML keys of t, inline sections included, to their
// fields, and each alias to its key.
func collectKeys(t reflect.Type, keys map[string]reflect.StructField, aliases map[string]string) {
	for i := range t.NumField() {
		sf := t.Field(i)
		key, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || key == "-" {
			continue
		}
		if opts == "inline" {
			collectKeys(sf.Type, keys, aliases)
			continue
		}
		keys[key] = sf
		for _, a := range split(sf.Tag.Get("alias")) {
			aliases[a] = key
		}
	}
}

// Dump returns v (a struct) as YAML under its canonical keys: lists as []
// rather than null, and each field tagged redact:"url" passed through
// redact.
func Dump(v any, redact func(string) string) string {
	c := reflect.New(reflect.TypeOf(v)).Elem()
	c.Set(reflect.ValueOf(v))
	for _, f := range Fields(v) {
		fv := c.FieldByIndex(f.index)
		switch {
		case f.typ.Kind() == reflect.Slice && fv.IsNil():
			fv.Set(reflect.MakeSlice(f.typ, 0, 0))
		case f.typ.Kind() == reflect.Slice:
			fv.Set(reflect.ValueOf(slices.Clone(fv.Interface().([]string))))
		case f.redact && redact != nil:
			fv.SetString(redact(fv.String()))
		}
	}
	b, err := yaml.Marshal(c.Interface())
	if err != nil { // cannot happen for the supported field types
		return "# configuration could not be shown\n"
	}
	return string(b)
}
