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
//	  - defaultdoc: the default in words, for an option whose default
//	    depends on other settings or on the host (its default tag is empty).
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
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"
)

// Flags are the command-line switches that are not options, and where
// each option's value came from.
type Flags struct {
	// ConfigFile is the configuration file that was read, if any.
	ConfigFile string
	// CheckConfig asks to validate the configuration, print it and exit.
	CheckConfig bool
	// Version asks to print the version and exit.
	Version bool
	// Help asks for the usage text (-h, --help); print it to standard
	// output and exit 0.
	Help bool
	// HelpConfig asks for every setting (--help-config): YAML key,
	// environment variable, flag, default (see WriteSettings).
	HelpConfig bool
	// Sources maps the key of each option that was set to where:
	// "FILE:LINE", an environment variable "NAME=VALUE" (the value left out
	// for redacted options) or a flag "--name". See Annotate.
	Sources map[string]string
}

// Var is an environment variable that is not one option's value, such as a
// switch that sets two fields; Set applies it.
type Var struct {
	// Name is the variable.
	Name string
	// Doc describes it.
	Doc string
	// Keys are the options it sets, for Flags.Sources.
	Keys []string
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
	// DefaultDoc is the default in words where it is derived at load time
	// ("<state_dir>/keys.yaml"); "" for none.
	DefaultDoc string
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
			Key:        prefix + key,
			Aliases:    split(sf.Tag.Get("alias")),
			Env:        split(sf.Tag.Get("env")),
			Flags:      split(sf.Tag.Get("flag")),
			Default:    sf.Tag.Get("default"),
			DefaultDoc: sf.Tag.Get("defaultdoc"),
			Doc:        sf.Tag.Get("doc"),
			index:      idx,
			typ:        sf.Type,
			empty:      sf.Tag.Get("empty"),
			redact:     sf.Tag.Get("redact") == "url",
		})
	}
}

func split(tag string) []string {
	if tag == "" {
		return nil
	}
	return strings.Split(tag, ",")
}

// want says what a value of f's type looks like, for errors.
func (f Field) want() string {
	switch {
	case f.typ == durationType:
		return "want a duration such as 500ms, 30s or 5m"
	case f.typ.Kind() == reflect.Bool:
		return "want true or false"
	case f.typ.Kind() == reflect.Int || f.typ.Kind() == reflect.Int64:
		return "want a whole number"
	case f.typ.Kind() == reflect.Slice:
		return "want a list (comma-separated in the environment and flags)"
	}
	return "want a string"
}

// placeholder names the kind of value f takes in the usage text.
func (f Field) placeholder() string {
	k := f.Key[strings.LastIndexByte(f.Key, '.')+1:]
	switch {
	case f.typ == durationType:
		return "DURATION"
	case f.typ.Kind() == reflect.Bool:
		return ""
	case f.typ.Kind() == reflect.Int || f.typ.Kind() == reflect.Int64:
		return "N"
	case f.typ.Kind() == reflect.Slice:
		return "LIST"
	case strings.HasSuffix(k, "listen"):
		return "ADDR"
	case strings.HasSuffix(k, "file") || strings.HasSuffix(k, "lib") || strings.HasSuffix(k, "_root"):
		return "FILE"
	case strings.HasSuffix(k, "dir") || k == "models":
		return "DIR"
	case strings.HasSuffix(k, "url") || k == "upstream":
		return "URL"
	case strings.HasSuffix(k, "mode") || strings.HasSuffix(k, "level") || strings.HasSuffix(k, "format"):
		return "MODE"
	}
	return "VALUE"
}

// parse converts s to a value of f's type; an error says what is wanted
// (never a parser's text).
func (f Field) parse(s string) (reflect.Value, error) {
	v := reflect.New(f.typ).Elem()
	bad := errors.New(f.want())
	switch {
	case f.typ == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return v, bad
		}
		v.SetInt(int64(d))
	case f.typ.Kind() == reflect.String:
		v.SetString(s)
	case f.typ.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return v, bad
		}
		v.SetBool(b)
	case f.typ.Kind() == reflect.Int || f.typ.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, f.typ.Bits())
		if err != nil {
			return v, bad
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

// flagValue records a flag's parsed value to apply after the environment;
// a value that does not parse is recorded as a problem, and parsing goes
// on, so that every flag's problem is reported with the others.
type flagValue struct {
	f     Field
	name  string
	state *flagState
}

// flagState is what the flags leave for Load: the values to apply and the
// problems, in the order of the command line.
type flagState struct {
	pending []pendingFlag
	errs    []error
}

type pendingFlag struct {
	f    Field
	name string
	v    reflect.Value
}

func (fv flagValue) String() string { return "" }

func (fv flagValue) Set(s string) error {
	v, err := fv.f.parse(s)
	if err != nil {
		shown := "--" + fv.name + "=" + s
		if fv.f.redact {
			shown = "--" + fv.name
		}
		fv.state.errs = append(fv.state.errs, fmt.Errorf("config: %s: %w", shown, err))
		return nil
	}
	fv.state.pending = append(fv.state.pending, pendingFlag{fv.f, fv.name, v})
	return nil
}

func (fv flagValue) IsBoolFlag() bool { return fv.f.typ.Kind() == reflect.Bool }

// usage is the flag help of f: its doc, then its environment variables
// and its default in one format: "(env NAME; default VALUE)", the default
// in words where it is derived (DefaultDoc).
func (f Field) usage() string {
	var b strings.Builder
	b.WriteString(f.Doc)
	var extra []string
	if len(f.Env) > 0 {
		extra = append(extra, "env "+strings.Join(f.Env, ", "))
	}
	if d := f.defaultText(); d != "" {
		extra = append(extra, "default "+d)
	}
	if len(extra) > 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "(%s)", strings.Join(extra, "; "))
	}
	return b.String()
}

// defaultText is the default as the usage text and the settings table
// show it: the declared value, else the words of DefaultDoc; false for a
// switch without one.
func (f Field) defaultText() string {
	switch {
	case f.Default != "":
		return f.Default
	case f.DefaultDoc != "":
		return f.DefaultDoc
	case f.typ.Kind() == reflect.Bool:
		return "false"
	}
	return ""
}

// Load applies, over the values already in the struct dst points to (the
// defaults), the configuration file, then the environment, then the flags
// in args (without the program name). It returns the other switches, where
// each option came from, and every problem of every source, joined in the
// order file, environment, flags; dst holds whatever did parse. Each
// problem names what the user wrote: the file and line, the environment
// variable, or the flag, and what is accepted; an unknown key or flag gets
// the nearest known one as a suggestion. A flag's problem does not stop the
// parse: the flags after it, the file and the environment are read too.
// -h and --help set Flags.Help and are not errors.
func Load(dst any, args []string, o Options) (Flags, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	fields := Fields(dst)
	root := reflect.ValueOf(dst).Elem()
	fl := Flags{Sources: map[string]string{}}
	var st flagState
	fs := newFlagSet(o, getenv, fields, &fl, &st)
	for rest := args; ; {
		err := fs.Parse(rest)
		if err == nil {
			break
		}
		if errors.Is(err, flag.ErrHelp) {
			fl.Help = true
			return fl, nil
		}
		// An unknown flag or a bad syntax: note it and go on after it,
		// so that the other sources' problems are reported too.
		st.errs = append(st.errs, flagError(err, fs))
		next := fs.Args()
		if len(next) >= len(rest) { // not consumed (bad flag syntax)
			next = rest[1:]
		}
		if skipsValue(err, rest, next) {
			next = next[1:]
		}
		rest = next
	}
	if fs.NArg() > 0 {
		st.errs = append(st.errs, fmt.Errorf("config: unexpected arguments %q (every setting is a --flag, an environment variable or a key of --config FILE; --help lists them)", fs.Args()))
	}
	var errs []error
	if fl.ConfigFile != "" {
		if err := loadFile(fl.ConfigFile, dst, fl.Sources); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range fields {
		for _, name := range f.Env {
			s := getenv(name)
			if s == "" {
				continue
			}
			shown := name + "=" + s
			if f.redact {
				shown = name
			}
			v, err := f.parse(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("config: %s: %w", shown, err))
			} else {
				root.FieldByIndex(f.index).Set(v)
				fl.Sources[f.Key] = shown
			}
			break // the first variable set wins: canonical over alias
		}
	}
	for _, v := range o.Vars {
		if s := getenv(v.Name); s != "" {
			if err := v.Set(s); err != nil {
				errs = append(errs, fmt.Errorf("config: %s=%s: %w", v.Name, s, err))
				continue
			}
			for _, k := range v.Keys {
				fl.Sources[k] = v.Name + "=" + s
			}
		}
	}
	for _, p := range st.pending {
		root.FieldByIndex(p.f.index).Set(p.v)
		fl.Sources[p.f.Key] = "--" + p.name
	}
	return fl, errors.Join(append(errs, st.errs...)...)
}

// skipsValue reports whether the argument after an unknown flag is that
// flag's value, to be passed over with it: the flag had no "=value" and the
// next argument does not look like a flag. (An unknown boolean flag
// followed by a stray argument loses that argument's own error; the
// unknown flag is reported either way.)
func skipsValue(err error, rest, next []string) bool {
	if !strings.HasPrefix(err.Error(), unknownFlag) || len(next) == 0 || len(rest) == 0 {
		return false
	}
	consumed := rest[len(rest)-len(next)-1]
	return !strings.Contains(consumed, "=") && !strings.HasPrefix(next[0], "-")
}

// newFlagSet declares the options' flags and the switches on a flag set
// that prints nothing (Usage does): errors are returned, help is Flags.Help.
func newFlagSet(o Options, getenv func(string) string, fields []Field, fl *Flags, st *flagState) *flag.FlagSet {
	fs := flag.NewFlagSet(o.Program, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&fl.ConfigFile, "config", getenv(o.ConfigEnv), configDoc(o))
	for _, f := range fields {
		for i, name := range f.Flags {
			u := f.usage()
			if i > 0 {
				u = "alias of --" + f.Flags[0]
			}
			fs.Var(flagValue{f, name, st}, name, u)
		}
	}
	fs.BoolVar(&fl.CheckConfig, "check-config", false, "validate the configuration, print it and exit")
	fs.BoolVar(&fl.HelpConfig, "help-config", false, "print every setting (YAML key, environment variable, flag, default) and exit")
	fs.BoolVar(&fl.Version, "version", false, "print the version and exit")
	return fs
}

func configDoc(o Options) string {
	d := "YAML configuration file"
	if o.ConfigEnv != "" {
		d += " (env " + o.ConfigEnv + ")"
	}
	return d
}

// unknownFlag starts the flag package's error for an undeclared flag.
const unknownFlag = "flag provided but not defined: -"

// flagError rewrites the flag package's error: an unknown flag gets the
// nearest known one; a missing value or a bad syntax names the flag. (A
// value that does not parse is reported by flagValue.Set.)
func flagError(err error, fs *flag.FlagSet) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, unknownFlag); ok {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		hint := ""
		if s := nearest(name, names); s != "" {
			hint = fmt.Sprintf(" (did you mean --%s?)", s)
		}
		return fmt.Errorf("config: unknown flag --%s%s; --help lists the flags, --help-config every setting", name, hint)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Errorf("config: --%s: needs a value", name)
	}
	return fmt.Errorf("config: %s", msg)
}

// MisspelledEnv returns a warning for each variable of environ (entries
// "NAME=VALUE", as os.Environ gives them) whose name starts with prefix, is
// not one of known, and is a likely typo of one of them: within an edit
// distance of 2, or the same in another case. The warning names the
// variable and the nearest known name, never the value (it may be a
// secret): "config: SEALOCR_MAX_CONCURENT is not a setting (did you mean
// SEALOCR_MAX_CONCURRENT?)". Other variables with the prefix are left
// alone: the binaries share it, and each sees the other's variables.
func MisspelledEnv(environ []string, prefix string, known []string) []string {
	isKnown := map[string]bool{}
	for _, k := range known {
		isKnown[k] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if isKnown[name] || !strings.HasPrefix(strings.ToUpper(name), prefix) {
			continue
		}
		best, bestD := "", 3
		for _, k := range known {
			if d := editDistance(strings.ToUpper(name), k); d < bestD {
				best, bestD = k, d
			}
		}
		if best != "" {
			out = append(out, fmt.Sprintf("config: %s is not a setting (did you mean %s?)", name, best))
		}
	}
	return out
}

// nearest returns the candidate closest to s by edit distance, if it is
// close enough to be a typo of it (at most a third of its length, and 3),
// else "".
func nearest(s string, candidates []string) string {
	best, bestD := "", min(3, max(1, len(s)/3))+1
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance of a and b in
// bytes: insertions, deletions, substitutions and swaps of two neighbours
// (the commonest typo) each count one.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// loadFile decodes the YAML file at path over dst: one document, every key
// declared (aliases renamed to their canonical key), each option decoded on
// its own so that a problem names its line and key. An empty file changes
// nothing. Where each option was set goes into sources.
func loadFile(path string, dst any, sources map[string]string) error {
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
		return fmt.Errorf("config: %s: not valid YAML%s", path, yamlLine(err))
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
		return fmt.Errorf("config: %s:%d: want a mapping of keys", path, top.Line)
	}
	t := reflect.TypeOf(dst).Elem()
	var errs []error
	if err := checkKeys(top, t, "", path); err != nil {
		errs = append(errs, err)
	}
	root := reflect.ValueOf(dst).Elem()
	for _, f := range Fields(dst) {
		n := lookup(top, strings.Split(f.Key, "."))
		if n == nil {
			continue
		}
		v := reflect.New(f.typ)
		if err := n.Decode(v.Interface()); err != nil {
			got := ""
			if n.Kind == yaml.ScalarNode && !f.redact {
				got = fmt.Sprintf(" (got %q)", n.Value)
			}
			errs = append(errs, fmt.Errorf("config: %s:%d: %s: %s%s", path, n.Line, f.Key, f.want(), got))
			continue
		}
		root.FieldByIndex(f.index).Set(v.Elem())
		sources[f.Key] = fmt.Sprintf("%s:%d", path, n.Line)
	}
	return errors.Join(errs...)
}

// yamlLine returns " at line N" for the line a yaml.v3 error names, or "":
// the rest of the message can quote the file.
func yamlLine(err error) string {
	if n := YAMLErrorLine(err.Error()); n > 0 {
		return fmt.Sprintf(" at line %d", n)
	}
	return ""
}

// YAMLErrorLine returns the line number a yaml.v3 error message names
// ("yaml: line 3: ...", "line 3: cannot unmarshal ..."), or 0. Callers
// report that number instead of the message, which can quote the input.
func YAMLErrorLine(msg string) int {
	_, rest, ok := strings.Cut(msg, "line ")
	if !ok {
		return 0
	}
	n := 0
	for _, c := range rest {
		if c < '0' || c > '9' || n > 1e7 {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// lookup returns the value node at the key path under the mapping n, or
// nil.
func lookup(n *yaml.Node, path []string) *yaml.Node {
	for _, k := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// checkKeys rejects undeclared keys of the mapping n, decoded into t, with
// the nearest declared key as a suggestion, and renames alias keys to their
// canonical name.
func checkKeys(n *yaml.Node, t reflect.Type, prefix, path string) error {
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
			hint := ""
			if s := nearest(k.Value, slices.Collect(maps.Keys(keys))); s != "" {
				hint = fmt.Sprintf(" (did you mean %s%s?)", prefix, s)
			}
			errs = append(errs, fmt.Errorf("config: %s:%d: unknown key %s%s%s", path, k.Line, prefix, k.Value, hint))
			continue
		}
		if seen[k.Value] {
			errs = append(errs, fmt.Errorf("config: %s:%d: %s%s set twice (under its name and an alias)", path, k.Line, prefix, k.Value))
		}
		seen[k.Value] = true
		if sf.Type.Kind() == reflect.Struct && sf.Type != durationType {
			if val.Kind != yaml.MappingNode {
				errs = append(errs, fmt.Errorf("config: %s:%d: %s%s: want a mapping of keys", path, val.Line, prefix, k.Value))
				continue
			}
			if err := checkKeys(val, sf.Type, prefix+k.Value+".", path); err != nil {
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

// Usage writes the usage text of a binary configured by dst: head (what it
// is, its command lines and subcommands), then every flag with a typed
// placeholder, its environment variables and default in one format, then a
// pointer to WriteSettings for the settings that have no flag.
func Usage(w io.Writer, head string, dst any, o Options) {
	fmt.Fprint(w, head)
	fields := Fields(dst)
	type line struct{ flag, doc string }
	lines := []line{{"--config FILE", configDoc(o)}}
	withoutFlag := 0
	for _, f := range fields {
		if len(f.Flags) == 0 {
			withoutFlag++
			continue
		}
		name := "--" + f.Flags[0]
		if p := f.placeholder(); p != "" {
			name += " " + p
		}
		doc := f.usage()
		if len(f.Flags) > 1 {
			doc += "; also --" + strings.Join(f.Flags[1:], ", --")
		}
		lines = append(lines, line{name, doc})
	}
	lines = append(lines,
		line{"--check-config", "validate the configuration, print the effective values and exit"},
		line{"--help-config", "print every setting (YAML key, environment variable, flag, default) and exit"},
		line{"--version", "print the version and exit"},
		line{"-h, --help", "print this text and exit"})
	fmt.Fprintln(w, "\nFlags:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(tw, "  %s\t%s\n", l.flag, l.doc)
	}
	_ = tw.Flush()
	if n := withoutFlag + len(o.Vars); n > 0 {
		fmt.Fprintf(w, "\n%d more settings have no flag: set them in the environment or the YAML file; --help-config lists all %d.\n",
			n, len(fields)+len(o.Vars))
	} else {
		fmt.Fprintf(w, "\nEvery setting has a flag; --help-config lists all %d with their YAML keys.\n", len(fields))
	}
	fmt.Fprintln(w, "Precedence: defaults, then the file, then the environment, then flags.")
}

// WriteSettings writes every setting of dst as a table: YAML key,
// environment variables, flags, default and description, then the
// environment variables of o.Vars.
func WriteSettings(w io.Writer, dst any, o Options) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "YAML KEY\tENVIRONMENT\tFLAG\tDEFAULT\tDESCRIPTION")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, f := range Fields(dst) {
		flags := make([]string, len(f.Flags))
		for i, fl := range f.Flags {
			flags[i] = "--" + fl
		}
		def := f.defaultText()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Key, dash(strings.Join(f.Env, ",")), dash(strings.Join(flags, ",")), dash(def), f.Doc)
	}
	if o.ConfigEnv != "" {
		fmt.Fprintf(tw, "-\t%s\t--config\t-\t%s\n", o.ConfigEnv, "YAML configuration file")
	}
	for _, v := range o.Vars {
		fmt.Fprintf(tw, "%s\t%s\t-\t-\t%s\n", dash(strings.Join(v.Keys, ",")), v.Name, v.Doc)
	}
	_ = tw.Flush()
}

// Annotate returns err with each problem that is about an option (a
// message "config: KEY ...") followed by where that option was set, from
// fl.Sources: " [from SEALOCR_AUTH=yes]", " [from sidecar.yaml:12]" or
// " [from --listen]". Problems of other kinds, and options left at their
// default, are unchanged. nil stays nil.
func Annotate(err error, fl Flags) error {
	if err == nil || len(fl.Sources) == 0 {
		return err
	}
	keys := slices.Collect(maps.Keys(fl.Sources))
	slices.SortFunc(keys, func(a, b string) int { return len(b) - len(a) }) // longest first
	var out []error
	for _, e := range leaves(err) {
		msg := e.Error()
		rest, ok := strings.CutPrefix(msg, "config: ")
		if ok {
			for _, k := range keys {
				after, found := strings.CutPrefix(rest, k)
				if found && (after == "" || strings.ContainsRune(" :", rune(after[0]))) && !strings.Contains(fl.Sources[k], msg) {
					e = fmt.Errorf("%w [from %s]", e, fl.Sources[k])
					break
				}
			}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// leaves flattens errors.Join trees into their leaves, in order.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// Warn writes each warning on w as a line "program: warning: ...", for the
// warnings of a configuration that is refused before a logger exists.
func Warn(w io.Writer, program string, warnings []string) {
	for _, m := range warnings {
		fmt.Fprintf(w, "%s: warning: %s\n", program, m)
	}
}

// Informational answers the switches that ask only for information, in
// both binaries alike: --help (usage), --help-config (settings) and
// --version (the version line, when the configuration parsed). It writes
// the answer to w and reports whether fl asked for one.
func Informational(w io.Writer, fl Flags, loadErr error, usage, settings func(io.Writer), version string) bool {
	switch {
	case fl.Help:
		usage(w)
	case fl.HelpConfig:
		settings(w)
	case fl.Version && loadErr == nil:
		fmt.Fprintln(w, version)
	default:
		return false
	}
	return true
}
