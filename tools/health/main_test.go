package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// object builds a custom resource as JSON with the given generation and status JSON ("" for none)
// and extra metadata fields (e.g. `"deletionTimestamp":"..."`).
func object(generation int, extraMeta, statusJSON string) string {
	meta := `"name":"demo","namespace":"default","generation":` + strconv.Itoa(generation)
	if extraMeta != "" {
		meta += "," + extraMeta
	}
	s := `{"apiVersion":"speech.example.com/v1","kind":"WatsonSpeech","metadata":{` + meta + `},"spec":{"replicas":1}`
	if statusJSON != "" {
		s += `,"status":` + statusJSON
	}
	return s + "}"
}

const (
	readyTrue  = `{"type":"Ready","status":"True","reason":"Reconciled","message":"all good"}`
	readyFalse = `{"type":"Ready","status":"False","reason":"Deploying","message":"rolling out"}`
	stalled    = `{"type":"Stalled","status":"True","reason":"BadConfig","message":"model not found"}`
)

func statusOf(observed int, conds ...string) string {
	return `{"observedGeneration":` + strconv.Itoa(observed) + `,"conditions":[` + strings.Join(conds, ",") + `]}`
}

func TestKStatus(t *testing.T) {
	tests := []struct {
		name, obj, wantStatus, wantMessage string
		wantErr                            bool
	}{
		{"ready and observed", object(2, "", statusOf(2, readyTrue)), "Current", "Resource is Ready", false},
		{"ready but generation not observed", object(3, "", statusOf(2, readyTrue)), "InProgress",
			"WatsonSpeech generation is 3, but latest observed generation is 2", false},
		{"ready false", object(1, "", statusOf(1, readyFalse)), "InProgress", "rolling out", false},
		{"stalled", object(1, "", statusOf(1, readyFalse, stalled)), "Failed", "model not found", false},
		{"reconciling", object(1, "", statusOf(1, `{"type":"Reconciling","status":"True","reason":"Progressing","message":"working"}`)),
			"InProgress", "working", false},
		{"terminating", object(1, `"deletionTimestamp":"2024-01-01T00:00:00Z","finalizers":["x"]`, statusOf(1, readyTrue)),
			"Terminating", "Resource scheduled for deletion", false},
		{"no status", object(1, "", ""), "Current", "Resource is current", false},
		{"observedGeneration not an integer", object(1, "", `{"observedGeneration":1.5}`), "Unknown", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, err := DecodeObject([]byte(tt.obj))
			if err != nil {
				t.Fatal(err)
			}
			got := KStatus(obj)
			if got.Status != tt.wantStatus || got.Message != tt.wantMessage || (got.Error != "") != tt.wantErr {
				t.Errorf("KStatus = %+v, want status %q message %q error %v", got, tt.wantStatus, tt.wantMessage, tt.wantErr)
			}
		})
	}
}

func TestDecodeObject(t *testing.T) {
	obj, err := DecodeObject([]byte(object(7, "", `{"observedGeneration":7,"ratio":0.5}`)))
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := obj.Object["status"].(map[string]any)["observedGeneration"].(int64); !ok || g != 7 {
		t.Errorf("observedGeneration = %#v, want int64(7)", obj.Object["status"].(map[string]any)["observedGeneration"])
	}
	if r, ok := obj.Object["status"].(map[string]any)["ratio"].(float64); !ok || r != 0.5 {
		t.Errorf("ratio = %#v, want float64(0.5)", obj.Object["status"].(map[string]any)["ratio"])
	}
	for name, bad := range map[string]string{
		"empty":        "  \n",
		"not JSON":     "{",
		"no kind":      `{"apiVersion":"v1","metadata":{"name":"x"}}`,
		"a list":       `{"apiVersion":"v1","kind":"List","items":[]}`,
		"not a object": `[1,2]`,
	} {
		if _, err := DecodeObject([]byte(bad)); err == nil {
			t.Errorf("%s: DecodeObject(%q) succeeded, want an error", name, bad)
		}
	}
}

func TestArgoHealth(t *testing.T) {
	readyLua, err := os.ReadFile(filepath.Join("testdata", "ready.lua"))
	if err != nil {
		t.Fatal(err)
	}
	ready := object(2, "", statusOf(2, readyTrue))
	tests := []struct {
		name, obj, script  string
		noOpenLibs         bool
		wantStatus, wantMs string
		wantErr            bool
	}{
		{name: "trivial healthy", obj: ready, script: `hs = {} hs.status = "Healthy" hs.message = "ok" return hs`,
			wantStatus: "Healthy", wantMs: "ok"},
		{name: "example ready", obj: ready, script: string(readyLua), wantStatus: "Healthy", wantMs: "all good"},
		{name: "example stalled", obj: object(1, "", statusOf(1, readyFalse, stalled)), script: string(readyLua),
			wantStatus: "Degraded", wantMs: "model not found"},
		{name: "example not observed", obj: object(3, "", statusOf(2, readyTrue)), script: string(readyLua),
			wantStatus: "Progressing", wantMs: "Waiting for generation 3 to be observed"},
		{name: "example no status", obj: object(1, "", ""), script: string(readyLua), noOpenLibs: true,
			wantStatus: "Progressing", wantMs: "Waiting for the object to be reconciled"},
		{name: "numbers, 1-based arrays, null", obj: object(2, "", `{"observedGeneration":2,"phase":null,"conditions":[`+readyTrue+`]}`),
			script:     `return {status = (obj.metadata.generation + 1 == 3 and obj.status.conditions[1].type == "Ready" and obj.status.phase == nil) and "Healthy" or "Degraded"}`,
			wantStatus: "Healthy"},
		{name: "invalid status", obj: ready, script: `return {status = "Ready"}`, wantStatus: "Unknown", wantMs: invalidHealthStatus},
		{name: "no status field", obj: ready, script: `return {message = "x"}`, wantStatus: "Unknown", wantMs: invalidHealthStatus},
		{name: "returns nothing", obj: ready, script: `local hs = {}`, wantStatus: ""},
		{name: "returns nil", obj: ready, script: `return nil`, wantStatus: ""},
		{name: "returns empty table", obj: ready, script: `return {}`, wantStatus: ""},
		{name: "status of the wrong type", obj: ready, script: `return {status = 1}`, wantStatus: ""},
		{name: "returns a number", obj: ready, script: `return 1`, wantErr: true},
		{name: "syntax error", obj: ready, script: `return {`, wantErr: true},
		{name: "runtime error", obj: ready, script: `return obj.nothere.x`, wantErr: true},
		{name: "function in the table", obj: ready, script: `return {status = "Healthy", f = print}`, wantErr: true},
		{name: "endless loop hits the timeout", obj: ready, script: `while true do end`, wantErr: true},
		{name: "string library with open libs", obj: ready, script: `return {status = string.upper("h") .. "ealthy"}`,
			wantStatus: "Healthy"},
		{name: "no string library without open libs", obj: ready, script: `return {status = string.upper("h")}`,
			noOpenLibs: true, wantErr: true},
		{name: "no os.getenv without open libs", obj: ready, script: `os.getenv("HOME")`, noOpenLibs: true, wantErr: true},
		{name: "safe os through require without open libs", obj: ready, noOpenLibs: true,
			script:     `local os = require("os") if os.time() > 0 and os.getenv == nil then return {status = "Healthy"} end`,
			wantStatus: "Healthy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, err := DecodeObject([]byte(tt.obj))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ArgoHealth(obj, tt.script, !tt.noOpenLibs)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ArgoHealth = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ArgoHealth: %v", err)
			}
			if got.Status != tt.wantStatus || got.Message != tt.wantMs {
				t.Errorf("ArgoHealth = %+v, want status %q message %q", got, tt.wantStatus, tt.wantMs)
			}
		})
	}
}

func TestRun(t *testing.T) {
	ready := object(2, "", statusOf(2, readyTrue))
	luaPath := filepath.Join("testdata", "ready.lua")
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"kstatus only", nil, ready, 0, `{"kstatus":{"status":"Current","message":"Resource is Ready"}}` + "\n", ""},
		{"with lua", []string{"--lua", luaPath}, ready, 0,
			`{"kstatus":{"status":"Current","message":"Resource is Ready"},"argo":{"status":"Healthy","message":"all good"}}` + "\n", ""},
		{"kstatus error", nil, object(1, "", `{"observedGeneration":"one"}`), 0,
			`{"kstatus":{"status":"Unknown","message":"","error":"looking up status.observedGeneration from resource: .status.observedGeneration accessor error: one is of the type string, expected int64"}}` + "\n", ""},
		{"bad JSON", nil, "{", 1, "", "decoding the object on stdin"},
		{"empty stdin", nil, "", 1, "", "no object on stdin"},
		{"missing lua file", []string{"--lua", filepath.Join("testdata", "nope.lua")}, ready, 1, "", "reading Lua script"},
		{"lua error", []string{"--lua", writeTemp(t, "return 1")}, ready, 1, "", "expect table output from Lua script, not number"},
		{"stray argument", []string{"object.json"}, ready, 2, "", "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, strings.NewReader(tt.stdin), &out, &errOut)
			if code != tt.wantCode || out.String() != tt.wantOut || !strings.Contains(errOut.String(), tt.wantErr) {
				t.Errorf("run(%q) = %d, stdout %q, stderr %q; want %d, %q, stderr containing %q",
					tt.args, code, out.String(), errOut.String(), tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}
}

func writeTemp(t *testing.T, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "health.lua")
	if err := os.WriteFile(p, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
