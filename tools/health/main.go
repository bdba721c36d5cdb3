// Command wso-health judges the health of one live Kubernetes object the way GitOps tools do:
//
//   - kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute), as Flux and kpt use it;
//   - optionally an Argo CD Lua health check, run the way Argo CD's util/lua package runs it
//     (gopher-lua, the object as the global `obj`, the returned table read as {status, message}).
//
// Usage:
//
//	wso-health [--lua FILE] [--no-open-libs] < object.json
//
// It reads ONE object as JSON on stdin and prints ONE line of JSON on stdout:
//
//	{"kstatus":{"status":"Current","message":"..."},"argo":{"status":"Healthy","message":"..."}}
//
// "argo" is present only with --lua. Exit status 0 on success; 1 with a message on stderr for bad
// input or a Lua error; 2 for bad usage.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// Verdict is one tool's judgement.
type Verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	// Error is set only for kstatus when status.Compute failed; the status is then "Unknown",
	// which is what the kstatus poller (and so Flux/kpt) reports for such an object.
	Error string `json:"error,omitempty"`
}

// Report is the line printed on stdout.
type Report struct {
	KStatus Verdict  `json:"kstatus"`
	Argo    *Verdict `json:"argo,omitempty"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wso-health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	luaFile := fs.String("lua", "", "Argo CD Lua health script to run on the object (adds \"argo\" to the output)")
	noOpenLibs := fs.Bool("no-open-libs", false,
		"run the Lua script as Argo CD runs a resource.customizations override without useOpenLibs "+
			"(only package, base, table and the safe os functions); the default is Argo CD's built-in-script "+
			"mode, which opens gopher-lua's standard libraries")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: wso-health [--lua FILE] [--no-open-libs] < object.json")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "wso-health: unexpected argument %q (the object is read from stdin)\n", fs.Arg(0))
		fs.Usage()
		return 2
	}

	var script string
	if *luaFile != "" {
		b, err := os.ReadFile(*luaFile)
		if err != nil {
			fmt.Fprintf(stderr, "wso-health: reading Lua script: %v\n", err)
			return 1
		}
		script = string(b)
	}

	data, err := io.ReadAll(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "wso-health: reading stdin: %v\n", err)
		return 1
	}
	obj, err := DecodeObject(data)
	if err != nil {
		fmt.Fprintf(stderr, "wso-health: %v\n", err)
		return 1
	}

	rep := Report{KStatus: KStatus(obj)}
	if *luaFile != "" {
		v, err := ArgoHealth(obj, script, !*noOpenLibs)
		if err != nil {
			fmt.Fprintf(stderr, "wso-health: Lua health check %s: %v\n", *luaFile, err)
			return 1
		}
		rep.Argo = v
	}

	line, err := json.Marshal(rep)
	if err != nil {
		fmt.Fprintf(stderr, "wso-health: encoding the result: %v\n", err)
		return 1
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return 1
	}
	return 0
}

// DecodeObject decodes one object with apimachinery's unstructured JSON decoding, so whole
// numbers become int64 (as on a live object read through client-go) and other numbers float64.
func DecodeObject(data []byte) (*unstructured.Unstructured, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("no object on stdin: expected one Kubernetes object as JSON")
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("decoding the object on stdin: %w", err)
	}
	if obj.IsList() {
		return nil, fmt.Errorf("stdin holds a %s with items; pass one object", obj.GetKind())
	}
	return obj, nil
}

// KStatus computes the kstatus verdict. status.Compute does not modify the object.
func KStatus(obj *unstructured.Unstructured) Verdict {
	res, err := status.Compute(obj)
	if err != nil {
		return Verdict{Status: string(status.UnknownStatus), Error: err.Error()}
	}
	return Verdict{Status: string(res.Status), Message: res.Message}
}

// Messages and limits as in Argo CD's util/lua.
const (
	incorrectReturnType = "expect %s output from Lua script, not %s"
	invalidHealthStatus = "Lua returned an invalid health status"
	luaTimeout          = 1 * time.Second
)

// healthStatus mirrors Argo CD's health.HealthStatus, into which the returned table is decoded.
type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// ArgoHealth runs an Argo CD health script on obj as Argo CD's VM.ExecuteHealthLua does.
// openLibs is Argo CD's UseOpenLibs: true for its built-in scripts and for overrides with
// useOpenLibs set, false for other resource.customizations overrides.
//
// As in Argo CD (v2.12 and later): a table is encoded to JSON and decoded into {status, message};
// a status outside Healthy/Progressing/Degraded/Suspended/Missing/Unknown yields Unknown with
// "Lua returned an invalid health status"; returning nil, nothing, an empty table or a table of
// the wrong shape yields an empty status (Argo CD assigns no health); returning a non-table is an
// error, and so is a Lua error or running past one second.
func ArgoHealth(obj *unstructured.Unstructured, script string, openLibs bool) (*Verdict, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: !openLibs})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openSafeOs},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return nil, fmt.Errorf("opening Lua library %q: %w", lib.name, err)
		}
	}
	l.PreloadModule(lua.OsLibName, safeOsLoader)

	ctx, cancel := context.WithTimeout(context.Background(), luaTimeout)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decodeValue(l, obj.Object))
	if err := l.DoString(script); err != nil {
		return nil, err
	}

	ret := l.Get(-1)
	switch ret.Type() {
	case lua.LTNil:
		return &Verdict{}, nil
	case lua.LTTable:
	default:
		return nil, fmt.Errorf(incorrectReturnType, "table", ret.Type().String())
	}
	encoded, err := encodeJSON(ret)
	if err != nil {
		return nil, err
	}
	var hs healthStatus
	if err := json.Unmarshal(encoded, &hs); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return &Verdict{}, nil
		}
		return nil, err
	}
	switch hs.Status {
	case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
		return &Verdict{Status: hs.Status, Message: hs.Message}, nil
	}
	return &Verdict{Status: "Unknown", Message: invalidHealthStatus}, nil
}

// decodeValue converts a decoded object into Lua values as Argo CD's decodeValue does: maps
// become tables with string keys, slices tables with keys 1..n, numbers LNumber, json.Number a
// string, bools LBool, strings LString, null and anything else nil.
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}

// encodeJSON encodes a Lua value with the rules of layeh.com/gopher-json at the version Argo CD
// pins (v0.0.0-20201124131017-552bb3c4c3bf): an empty table is [], a table whose first key is a
// number must be the sequence 1..n, a table whose first key is a string must have only string
// keys, and a table may not appear twice.
func encodeJSON(v lua.LValue) ([]byte, error) {
	goValue, err := luaToGo(v, map[*lua.LTable]bool{})
	if err != nil {
		return nil, err
	}
	return json.Marshal(goValue)
}

func luaToGo(v lua.LValue, visited map[*lua.LTable]bool) (any, error) {
	switch x := v.(type) {
	case lua.LBool:
		return bool(x), nil
	case lua.LNumber:
		return float64(x), nil
	case *lua.LNilType:
		return nil, nil
	case lua.LString:
		return string(x), nil
	case *lua.LTable:
		if visited[x] {
			return nil, errors.New("cannot encode recursively nested tables to JSON")
		}
		visited[x] = true
		key, value := x.Next(lua.LNil)
		switch key.Type() {
		case lua.LTNil:
			return []any{}, nil
		case lua.LTNumber:
			arr := []any{}
			for want := lua.LNumber(1); key != lua.LNil; want++ {
				if key.Type() != lua.LTNumber {
					return nil, errors.New("cannot encode mixed or invalid key types")
				}
				if key != want {
					return nil, errors.New("cannot encode sparse array")
				}
				item, err := luaToGo(value, visited)
				if err != nil {
					return nil, err
				}
				arr = append(arr, item)
				key, value = x.Next(key)
			}
			return arr, nil
		case lua.LTString:
			obj := map[string]any{}
			for key != lua.LNil {
				if key.Type() != lua.LTString {
					return nil, errors.New("cannot encode mixed or invalid key types")
				}
				item, err := luaToGo(value, visited)
				if err != nil {
					return nil, err
				}
				obj[key.String()] = item
				key, value = x.Next(key)
			}
			return obj, nil
		default:
			return nil, errors.New("cannot encode mixed or invalid key types")
		}
	}
	return nil, fmt.Errorf("cannot encode %s to JSON", v.Type().String())
}

// The safe subset of the os library that Argo CD gives its scripts (its util/lua/oslib_safe.go):
// only time and date. Like Argo CD, openSafeOs registers them under the name it is called with
// through lua.RegisterModule(TabLibName, ...), i.e. into the `table` module, and the preloaded
// loader serves them to require("os") when the full os library is not open.
var safeOsFuncs = map[string]lua.LGFunction{
	"time": osTime,
	"date": osDate,
}

func openSafeOs(l *lua.LState) int {
	l.Push(l.RegisterModule(lua.TabLibName, safeOsFuncs))
	return 1
}

func safeOsLoader(l *lua.LState) int {
	l.Push(l.SetFuncs(l.NewTable(), safeOsFuncs))
	return 1
}

func osTime(l *lua.LState) int {
	if l.GetTop() == 0 {
		l.Push(lua.LNumber(time.Now().Unix()))
		return 1
	}
	tbl := l.CheckTable(1)
	field := func(name string, def int) int {
		if n, ok := tbl.RawGetString(name).(lua.LNumber); ok {
			return int(n)
		}
		return def
	}
	t := time.Date(field("year", -1), time.Month(field("month", -1)), field("day", -1),
		field("hour", 12), field("min", 0), field("sec", 0), 0, time.Local)
	l.Push(lua.LNumber(t.Unix()))
	return 1
}

func osDate(l *lua.LState) int {
	t := time.Now()
	format := "%c"
	if l.GetTop() >= 1 {
		format = l.CheckString(1)
		if strings.HasPrefix(format, "!") {
			t = time.Now().UTC()
			format = strings.TrimLeft(format, "!")
		}
		if l.GetTop() >= 2 {
			t = time.Unix(l.CheckInt64(2), 0)
		}
		if strings.HasPrefix(format, "*t") {
			ret := l.NewTable()
			ret.RawSetString("year", lua.LNumber(t.Year()))
			ret.RawSetString("month", lua.LNumber(t.Month()))
			ret.RawSetString("day", lua.LNumber(t.Day()))
			ret.RawSetString("hour", lua.LNumber(t.Hour()))
			ret.RawSetString("min", lua.LNumber(t.Minute()))
			ret.RawSetString("sec", lua.LNumber(t.Second()))
			ret.RawSetString("wday", lua.LNumber(t.Weekday()+1))
			ret.RawSetString("yday", lua.LNumber(0))
			ret.RawSetString("isdst", lua.LFalse)
			l.Push(ret)
			return 1
		}
	}
	l.Push(lua.LString(strftime(t, format)))
	return 1
}

// strftimeLayouts maps strftime conversions to Go layouts, with the same table as Argo CD
// (including its literal "mon" for %a).
var strftimeLayouts = map[byte]string{
	'a': "mon", 'A': "Monday", 'b': "Jan", 'B': "January", 'c': "02 Jan 06 15:04 MST", 'd': "02",
	'F': "2006-01-02", 'H': "15", 'I': "03", 'm': "01", 'M': "04", 'p': "PM", 'P': "pm", 'S': "05",
	'x': "15/04/05", 'X': "15:04:05", 'y': "06", 'Y': "2006", 'z': "-0700", 'Z': "MST",
}

func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i == len(format)-1 {
			b.WriteByte(c)
			continue
		}
		i++
		c = format[i]
		switch layout, ok := strftimeLayouts[c]; {
		case c == '%':
			b.WriteByte('%')
		case ok:
			b.WriteString(t.Format(layout))
		case c == 'w':
			fmt.Fprint(&b, int(t.Weekday()))
		default:
			b.WriteByte('%')
			b.WriteByte(c)
		}
	}
	return b.String()
}
