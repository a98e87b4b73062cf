package configs

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

type inner struct {
	Names []string `yaml:"names" env:"T_NAMES" empty:"none" default:"a,b"`
	URL   string   `yaml:"url" redact:"url"`
}

type Group struct {
	Port int `yaml:"port" env:"T_PORT" flag:"port" default:"80" doc:"the port"`
}

type testConfig struct {
	Group  `yaml:",inline"`
	Name   string        `yaml:"name" alias:"old_name" env:"T_NAME,T_OLD_NAME" flag:"name,old-name" default:"nm" doc:"a name"`
	On     bool          `yaml:"on" env:"T_ON" flag:"on"`
	Big    int64         `yaml:"big" default:"1048576"`
	Wait   time.Duration `yaml:"wait" env:"T_WAIT" flag:"wait" default:"1m"`
	Dir    string        `yaml:"dir" env:"T_DIR" flag:"dir" defaultdoc:"<home>/d" doc:"a folder"`
	Inner  inner         `yaml:"inner"`
	Hidden string        `yaml:"-"`
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func file(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(args []string, e map[string]string) (testConfig, Flags, error) {
	var c testConfig
	SetDefaults(&c)
	fl, err := Load(&c, args, Options{Program: "t", ConfigEnv: "T_CONFIG", Getenv: env(e)})
	return c, fl, err
}

func TestDeclarations(t *testing.T) {
	var got []string
	for _, f := range Fields(&testConfig{}) {
		got = append(got, f.Key)
	}
	if want := []string{"port", "name", "on", "big", "wait", "dir", "inner.names", "inner.url"}; !reflect.DeepEqual(got, want) {
		t.Errorf("keys %q, want %q", got, want)
	}
	var c testConfig
	SetDefaults(&c)
	want := testConfig{Group: Group{Port: 80}, Name: "nm", Big: 1 << 20, Wait: time.Minute, Inner: inner{Names: []string{"a", "b"}}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults %+v, want %+v", c, want)
	}
	if got := EnvVars(&c, Options{Vars: []Var{{Name: "T_EXTRA"}}}); !reflect.DeepEqual(got, []string{"T_PORT", "T_NAME", "T_OLD_NAME", "T_ON", "T_WAIT", "T_DIR", "T_NAMES", "T_EXTRA"}) {
		t.Errorf("EnvVars %q", got)
	}
}

func TestSources(t *testing.T) {
	f := file(t, "port: 81\nname: file\ninner:\n  names: [x]\n")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want func(*testConfig)
	}{
		{"defaults", nil, nil, func(*testConfig) {}},
		{"file", []string{"--config", f}, nil, func(c *testConfig) { c.Port, c.Name, c.Inner.Names = 81, "file", []string{"x"} }},
		{"file by env", nil, map[string]string{"T_CONFIG": f}, func(c *testConfig) { c.Port, c.Name, c.Inner.Names = 81, "file", []string{"x"} }},
		{"env over file", []string{"--config", f}, map[string]string{"T_PORT": "82", "T_NAMES": " y, ,z "},
			func(c *testConfig) { c.Port, c.Name, c.Inner.Names = 82, "file", []string{"y", "z"} }},
		{"flag over env", []string{"--config", f, "--port", "83", "--on"}, map[string]string{"T_PORT": "82"},
			func(c *testConfig) { c.Port, c.Name, c.Inner.Names, c.On = 83, "file", []string{"x"}, true }},
		{"last flag wins", []string{"--name", "a", "--old-name", "b"}, nil, func(c *testConfig) { c.Name = "b" }},
		{"env alias", nil, map[string]string{"T_OLD_NAME": "old"}, func(c *testConfig) { c.Name = "old" }},
		{"canonical env over alias", nil, map[string]string{"T_OLD_NAME": "old", "T_NAME": "new"}, func(c *testConfig) { c.Name = "new" }},
		{"yaml alias", []string{"--config", file(t, "old_name: o\n")}, nil, func(c *testConfig) { c.Name = "o" }},
		{"empty word", nil, map[string]string{"T_NAMES": "none"}, func(c *testConfig) { c.Inner.Names = []string{} }},
		{"bool flag value", []string{"--on=false", "--wait", "2s"}, map[string]string{"T_ON": "true"}, func(c *testConfig) { c.Wait = 2 * time.Second }},
		{"empty file", []string{"--config", file(t, "# nothing\n")}, nil, func(*testConfig) {}},
		{"null document", []string{"--config", file(t, "---\n~\n")}, nil, func(*testConfig) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := load(tc.args, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			var want testConfig
			SetDefaults(&want)
			tc.want(&want)
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got %+v\nwant %+v", c, want)
			}
		})
	}
	_, fl, err := load([]string{"--check-config", "--version", "--config", f, "--port", "9"}, map[string]string{"T_WAIT": "2s"})
	want := Flags{ConfigFile: f, CheckConfig: true, Version: true, Sources: map[string]string{
		"port": "--port", "name": f + ":2", "inner.names": f + ":4", "wait": "T_WAIT=2s"}}
	if err != nil || !reflect.DeepEqual(fl, want) {
		t.Errorf("flags %+v, %v\nwant %+v", fl, err, want)
	}
	for _, h := range []string{"-h", "--help", "-help"} {
		if _, fl, err := load([]string{"--port", "1", h}, nil); err != nil || !fl.Help {
			t.Errorf("%s: help %v, %v; want Flags.Help and no error", h, fl.Help, err)
		}
		// Help is help whatever else is wrong.
		if _, fl, err := load([]string{"--port", "x", "--prot", "1", h}, map[string]string{"T_PORT": "y"}); err != nil || !fl.Help {
			t.Errorf("%s after mistakes: help %v, %v; want Flags.Help and no error", h, fl.Help, err)
		}
	}
	if _, fl, err := load([]string{"--help-config"}, nil); err != nil || !fl.HelpConfig {
		t.Errorf("--help-config: %+v, %v", fl, err)
	}
	if _, fl, _ := load([]string{"--port", "x", "--help-config", "--version"}, nil); !fl.HelpConfig || !fl.Version {
		t.Errorf("switches after a bad flag value not seen: %+v", fl)
	}
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		args []string
		env  map[string]string
		want []string
	}{
		{name: "two documents", file: "port: 1\n---\nport: 2\n", want: []string{"want one YAML document"}},
		{name: "empty second document", file: "port: 1\n---\n", want: []string{"want one YAML document"}},
		{name: "every unknown key, with the nearest", file: "port: 1\nprot: 2\ninner:\n  nmes: [a]\n  zzzzzz: 1\n",
			want: []string{"c.yaml:2: unknown key prot (did you mean port?)", "c.yaml:4: unknown key inner.nmes (did you mean inner.names?)",
				"c.yaml:5: unknown key inner.zzzzzz\n"}},
		{name: "alias and name", file: "name: a\nold_name: b\n", want: []string{"c.yaml:2: name set twice"}},
		{name: "inline section is not a key", file: "group:\n  port: 1\n", want: []string{"unknown key group"}},
		{name: "section not a mapping", file: "inner: 3\n", want: []string{"c.yaml:1: inner: want a mapping of keys"}},
		{name: "not a mapping", file: "- port\n", want: []string{"want a mapping"}},
		{name: "every wrong type, with key and line", file: "port: many\nwait: 5\non: maybe\ninner:\n  names: x\n",
			want: []string{`c.yaml:1: port: want a whole number (got "many")`, `c.yaml:2: wait: want a duration such as 500ms, 30s or 5m (got "5")`,
				`c.yaml:3: on: want true or false (got "maybe")`, `c.yaml:5: inner.names: want a list`}},
		{name: "redacted value not shown", file: "inner:\n  url: [\"http://u:secret@h/\"]\n", want: []string{"c.yaml:2: inner.url: want a string\n"}},
		{name: "hidden field", file: "hidden: x\n", want: []string{"unknown key hidden"}},
		{name: "bad env values", env: map[string]string{"T_PORT": "x", "T_ON": "maybe", "T_WAIT": "5"},
			want: []string{"T_PORT=x: want a whole number", "T_ON=maybe: want true or false", "T_WAIT=5: want a duration"}},
		{name: "bad flag value", args: []string{"--port", "x"}, want: []string{`config: --port=x: want a whole number`}},
		{name: "bad flag values", args: []string{"--port", "x", "--wait=5", "--on=maybe"},
			want: []string{"--port=x: want a whole number\n", "--wait=5: want a duration", "--on=maybe: want true or false"}},
		{name: "unknown flag", args: []string{"--prot", "1"}, want: []string{"unknown flag --prot (did you mean --port?)"}},
		{name: "flag without its value", args: []string{"--wait", "1s", "--port"}, want: []string{"config: --port: needs a value"}},
		{name: "bad flag syntax", args: []string{"---port", "--port", "x"}, want: []string{"bad flag syntax: ---port", "--port=x: want"}},
		// Issue 24, row 5: the flags' problems join the file's and the
		// environment's, whichever comes first on the command line.
		{name: "every source at once", file: "prot: 1\n", env: map[string]string{"T_WAIT": "5"},
			args: []string{"--port", "big", "--nmae", "n", "--wiat=1s", "--on", "extra"},
			want: []string{"c.yaml:1: unknown key prot (did you mean port?)", "T_WAIT=5: want a duration", "--port=big: want a whole number",
				"unknown flag --nmae (did you mean --name?)", "unknown flag --wiat (did you mean --wait?)", `unexpected arguments ["extra"]`}},
		{name: "unknown flag first", file: "port: x\n", env: map[string]string{"T_PORT": "y"}, args: []string{"--bogus", "--port", "z"},
			want: []string{`c.yaml:1: port: want a whole number (got "x")`, "T_PORT=y: want", "unknown flag --bogus;", "--port=z: want"}},
		{name: "argument", args: []string{"serve"}, want: []string{"unexpected arguments"}},
		{name: "missing file", args: []string{"--config", "/nonexistent/c.yaml"}, want: []string{"/nonexistent/c.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", file(t, tc.file)}, args...)
			}
			_, _, err := load(args, tc.env)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error()+"\n", w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "strconv") || strings.Contains(err.Error(), "cannot unmarshal") || strings.Contains(err.Error(), "!!") {
				t.Errorf("error %q carries a value or a parser's text", err)
			}
		})
	}
}

func TestDump(t *testing.T) {
	var c testConfig
	SetDefaults(&c)
	c.Inner.Names = nil
	c.Inner.URL = "http://user:secret@host/"
	out := Dump(c, func(string) string { return "REDACTED" })
	for _, w := range []string{"port: 80\n", "name: nm\n", "wait: 1m0s\n", "names: []\n", "url: REDACTED\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("dump lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "secret") || strings.Contains(out, "hidden") || strings.Contains(out, "null") {
		t.Errorf("dump:\n%s", out)
	}
	if c.Inner.URL != "http://user:secret@host/" {
		t.Error("Dump changed its argument")
	}
	// The dump loads back to the same configuration.
	var back testConfig
	if _, err := Load(&back, []string{"--config", file(t, out)}, Options{Getenv: env(nil)}); err != nil {
		t.Fatal(err)
	}
	c.Inner.Names, c.Inner.URL = []string{}, "REDACTED"
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip %+v, want %+v", back, c)
	}
}

func TestUsage(t *testing.T) {
	f := Fields(&testConfig{})
	for i, want := range map[int]string{0: "the port (env T_PORT; default 80)", 2: "(env T_ON; default false)", 5: "a folder (env T_DIR; default <home>/d)"} {
		if got := f[i].usage(); got != want {
			t.Errorf("usage of %s %q, want %q", f[i].Key, got, want)
		}
	}
	var b strings.Builder
	o := Options{Program: "t", ConfigEnv: "T_CONFIG", Vars: []Var{{Name: "T_SWITCH", Keys: []string{"on"}, Doc: "a switch"}}}
	Usage(&b, "Usage: t [flags]\n", &testConfig{}, o)
	for _, want := range []string{"Usage: t [flags]\n", "--port N ", "--wait DURATION ", "--name VALUE ", "--on  ", "also --old-name",
		"--config FILE ", "--dir DIR ", "--help-config ", "4 more settings have no flag", "--help-config lists all 9."} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	WriteSettings(&b, &testConfig{}, o)
	for _, want := range []string{"YAML KEY", "port ", "T_PORT", "--port", "inner.url", "T_SWITCH", "false", "<home>/d "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("settings lack %q:\n%s", want, b.String())
		}
	}
	if n := strings.Count(b.String(), "\n"); n != 1+len(f)+2 {
		t.Errorf("%d lines, want a header, %d settings, the config file and one variable:\n%s", n, len(f), b.String())
	}
}

// TestAnnotate: a validation problem about an option says where the user set
// it; others are left alone.
func TestAnnotate(t *testing.T) {
	fl := Flags{Sources: map[string]string{"port": "T_PORT=0", "inner.names": "c.yaml:4", "on": "--on"}}
	err := Annotate(errors.Join(errors.New("config: port 0 out of range"), errors.New("config: inner.names: empty"),
		errors.New("config: ports are odd"), errors.New("config: name is bad"), errors.New("other")), fl)
	want := "config: port 0 out of range [from T_PORT=0]\nconfig: inner.names: empty [from c.yaml:4]\nconfig: ports are odd\nconfig: name is bad\nother"
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
	if Annotate(nil, fl) != nil {
		t.Error("nil annotated")
	}
}

// TestMisspelledEnv: a variable with the prefix that is not a setting but
// nearly one is named, with the setting, and never its value; the other
// variables with the prefix (another binary's) are left alone.
func TestMisspelledEnv(t *testing.T) {
	known := []string{"SEALOCR_MAX_CONCURRENT", "SEALOCR_MAX_CONCURRENT_PER_CLIENT", "SEALOCR_LISTEN", "SEALOCR_TLS_KEY"}
	environ := []string{
		"SEALOCR_MAX_CONCURENT=secret-3",   // one letter missing
		"SEALOCR_LSITEN=secret-a",          // two letters swapped
		"sealocr_listen=secret-b",          // another case
		"SEALOCR_TLS_KYE_X=secret-c",       // three edits: another program's, maybe
		"SEALOCR_CORE_LISTEN=secret-d",     // the other binary's
		"SEALOCR_LISTEN=secret-e",          // a setting
		"SEALOCR_MAX_CONCURRENT=secret-f",  // a setting
		"HOME=/home/u", "PATH=/bin", "X=1", // not ours
		"SEALOCR_TLS_KEY", // no "=": still a name
	}
	got := MisspelledEnv(environ, "SEALOCR_", known)
	want := []string{
		"config: SEALOCR_MAX_CONCURENT is not a setting (did you mean SEALOCR_MAX_CONCURRENT?)",
		"config: SEALOCR_LSITEN is not a setting (did you mean SEALOCR_LISTEN?)",
		"config: sealocr_listen is not a setting (did you mean SEALOCR_LISTEN?)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if strings.Contains(strings.Join(got, ""), "secret") {
		t.Error("a warning carries a value")
	}
	if got := MisspelledEnv(nil, "SEALOCR_", known); got != nil {
		t.Errorf("no environment: %q", got)
	}
}
